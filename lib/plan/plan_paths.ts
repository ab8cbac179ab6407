/**
 * The paths a plan's operations run, write, remove or read on its hosts, checked against the
 * directories the plan's own topology gives them. A plan file's content hash shows only that the
 * file was not changed after it was sealed, not who sealed it (see README, "not a signature"):
 * someone who edits an operation's `binary` and seals the file again would otherwise have
 * `plan apply` run any program. The directories come from where the planners take them
 * (lib/topology/layout.ts nodeDirs, the deploy root's `bin/<variant>-<version>` of
 * lib/plan/planner.ts and lifecycle_ops.ts binaryPath), so a plan any planner made passes.
 * Control-machine paths in mup's store (staging, metadata, the download cache, archives) are
 * proven inside the store when the operation runs (lib/ops/operation.ts storeParam).
 */
import { allowedTopology } from "./added_entries.ts";
import * as path from "node:path";
import { hostKey } from "../topology/hosts.ts";
import { isSystemDir, systemDirIssues } from "../topology/system_dirs.ts";
// js-yaml, as the simulator reads a server configuration (sim/options.ts); `yaml` asks the
// environment once per token, which costs seconds on a plan of thousands of processes.
import { load } from "js-yaml";
import { DIR_MODE, listProcesses, processDirs, type ProcessSpec } from "./processes.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";
import { firstFew } from "../util/format.ts";
import { commandOf } from "./command_of.ts";

/** The fix every refusal of an edited plan names: the command that makes a new plan. */
export function remakeFix(plan: Pick<Plan, "cluster_name" | "operation">): string {
  // The command of the plan's own operation (a restart's is `cluster restart`, tester72).
  const command = plan.operation === "deploy"
    ? `cluster deploy ${plan.cluster_name} <topology>`
    : commandOf(plan.operation, plan.cluster_name, undefined, undefined);
  return `Plans are made by mup, not edited: make a new one with \`mup ${command}\` and ` +
    "review it with `mup plan show`.";
}

/** Server binaries a plan may install and run. */
const BINARIES = new Set(["mongod", "mongos"]);

/** A version or variant that is one path segment (they name the binaries' directory). */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/**
 * Where the plan's binaries are installed on every host: `<deploy root>/bin/<variant>-<version>`
 * (the deploy root is the topology's `global.deploy_dir`, else the plan's `deploy_dir`).
 */
export function planBinDir(plan: Pick<Plan, "topology" | "deploy_dir" | "variant" | "version">) {
  const root = plan.topology.global.deploy_dir ?? plan.deploy_dir;
  return path.posix.join(root, "bin", `${plan.variant}-${plan.version}`);
}

/**
 * Every problem with the paths of `plan`'s operations, as validation errors (code `plan_path`),
 * each naming the operation ID, the parameter, the path, what it was expected to be (inside) and
 * the fix. Pure and lexical (paths are compared after normalising `.` and `..`; nothing is read
 * from disk). Checked:
 *
 * - `start_process` `binary`: exactly `<planBinDir>/bin/mongod` (mongos for a mongos), and, when
 *   the plan installs binaries, one its install operation puts on that host;
 * - `upload_file` of binaries: `dest_dir` is planBinDir, `files` only mongod and mongos,
 *   `source_dir` the `bin` directory of one of the plan's own downloads;
 * - every other path on a host — a process's config, log and pid file, directories made or
 *   removed, files uploaded, logs archived — lies inside the deploy root or a deploy, data, log
 *   or config directory of a process the topology places on that machine; on this machine also
 *   inside the cluster's directory in the store, `<storeRoot>/clusters/<cluster>`, when
 *   `storeRoot` ($MUP_HOME/storage) is given (destroy and rollback remove its staging and
 *   secrets);
 * - the topology's own directories are no system directories (as topology validation requires),
 *   nor is the deploy root, and the version names one directory.
 */
export function planPathIssues(plan: Plan, opts: { storeRoot?: string } = {}): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const fix = remakeFix(plan);
  const error = (message: string, host?: string) =>
    issues.push({
      code: "plan_path",
      severity: "error",
      message: `${message}. ${fix}`,
      ...(host ? { host } : {}),
    });

  for (const t of systemDirIssues(plan.topology)) {
    error(`topology.${(t.path ?? []).join(".")}: ${t.message}`);
  }
  const root = norm(plan.topology.global.deploy_dir ?? plan.deploy_dir);
  if (isSystemDir(root)) {
    error(
      `deploy_dir: ${root} is a system directory; mup keeps a cluster in a directory of its own`,
    );
  }
  if (!SEGMENT.test(plan.version) || plan.version.includes("..")) {
    error(`version: ${JSON.stringify(plan.version)} is not a MongoDB version`);
  }
  if (issues.length) return issues; // the directories below would be derived from them

  const binDir = planBinDir(plan);
  const roots = hostRoots(plan, root, opts.storeRoot);
  const downloads = new Set(
    plan.phases.flatMap((p) => p.operations)
      .filter((o) => o.type === "download_binary" && o.target.params.extract_dir)
      .map((o) => norm(path.posix.join(o.target.params.extract_dir, "bin"))),
  );
  // What each machine's install puts in place (by hostKey; empty: the plan installs nothing, as
  // a start or restart does), made when the first start is checked.
  let installed: Map<string, Set<string>> | undefined;
  // The topology's processes by machine and port, made when the first create_directory is.
  let procs: Map<string, ProcessSpec> | undefined;

  const where = (o: PlannedOperation, name: string, value: string) =>
    `operation ${o.id} (${o.type}): parameter "${name}" is ${value}`;
  const inside = (o: PlannedOperation, name: string, p: string | undefined, host?: string) => {
    if (p === undefined) return;
    const h = host ?? o.target.host;
    const r = roots(h);
    if (typeof p === "string" && p !== "" && r.has(p)) return;
    error(
      `${where(o, name, JSON.stringify(p))}, which is not inside the directories this plan's ` +
        `topology gives ${h ?? "its hosts"}: ${r.describe()}`,
      h,
    );
  };

  for (const ph of plan.phases) {
    for (const o of ph.operations) {
      const params = o.target.params;
      switch (o.type) {
        case "start_process": {
          const name = params.role === "mongos" ? "mongos" : "mongod";
          const want = path.posix.join(binDir, "bin", name);
          installed ??= installs(plan);
          const onHost = installed.size ? installed.get(hostKey(o.target.host ?? "")) : undefined;
          if (params.binary !== want) {
            error(
              `${
                where(o, "binary", JSON.stringify(params.binary))
              }; expected ${want}: the ${name} of this plan's MongoDB ${plan.version} ` +
                `(${plan.variant}), installed under its deploy root ${root}`,
              o.target.host,
            );
          } else if (installed.size && !onHost?.has(name)) {
            error(
              `${where(o, "binary", want)}, which no install operation of this plan puts on ` +
                `${o.target.host}`,
              o.target.host,
            );
          }
          for (const k of ["config", "pid_file", "log"]) inside(o, k, params[k]);
          break;
        }
        case "stop_process":
        case "wait_for_process":
          inside(o, "pid_file", params.pid_file);
          if (params.config !== undefined) inside(o, "config", params.config);
          break;
        case "create_directory": {
          const list = jsonList(params.paths);
          if (!list) {
            error(`${where(o, "paths", JSON.stringify(params.paths))}: not a list of paths`);
            break;
          }
          for (const p of list) inside(o, "paths", p);
          // Exactly its process's directories, private to mup's user (prepare_steps.ts): an
          // extra one would be made unseen by the review, a wider mode would open the data.
          procs ??= new Map(
            listProcesses(plan.topology, plan.deploy_dir).map((p) => [
              `${hostKey(p.host)}:${p.port}`,
              p,
            ]),
          );
          const proc = procs.get(`${hostKey(o.target.host ?? "")}:${o.target.port}`);
          const want = proc && processDirs(proc);
          if (!want || JSON.stringify(list) !== JSON.stringify(want)) {
            error(
              `${where(o, "paths", JSON.stringify(params.paths))}; expected ${
                want
                  ? `${JSON.stringify(want)}, the directories of ${proc!.id}`
                  : `the directories of a process of this plan's topology at ${o.target.host}:${o.target.port}, which has none`
              }`,
              o.target.host,
            );
          }
          if (params.mode !== DIR_MODE) {
            error(
              `${where(o, "mode", JSON.stringify(params.mode))}; expected "${DIR_MODE}": a ` +
                "process's directories are its user's alone",
              o.target.host,
            );
          }
          break;
        }
        case "remove_directory":
          inside(o, "path", params.path);
          break;
        case "upload_file":
          if (params.kind === "binaries") {
            if (norm(params.dest_dir ?? "") !== binDir) {
              error(
                `${where(o, "dest_dir", JSON.stringify(params.dest_dir))}; expected ${binDir}, ` +
                  `where this plan's MongoDB ${plan.version} (${plan.variant}) is installed`,
                o.target.host,
              );
            }
            const files = (params.files ?? "").split(",");
            if (!files.every((f) => BINARIES.has(f))) {
              error(`${where(o, "files", JSON.stringify(params.files))}; expected mongod, mongos`);
            }
            if (!downloads.has(norm(params.source_dir ?? ""))) {
              error(
                `${where(o, "source_dir", JSON.stringify(params.source_dir))}; expected the bin ` +
                  `directory of one of this plan's downloads (${[...downloads].join(", ")})`,
              );
            }
          } else inside(o, "dest", params.dest);
          break;
        case "generate_config": {
          const found = configPaths(params.content);
          if (!found) error(`${where(o, "content", "not a YAML configuration document")}`);
          else for (const [key, value] of found) inside(o, `content: ${key}`, value);
          break;
        }
        case "archive_cluster": {
          const logs = jsonList<{ host: string; path: string }>(
            params.logs,
            (l) =>
              typeof (l as { host?: unknown })?.host === "string" &&
              typeof (l as { path?: unknown }).path === "string",
          );
          if (!logs) error(where(o, "logs", "not a list of host log files"));
          else for (const l of logs) inside(o, "logs", l.path, l.host);
          break;
        }
      }
    }
  }
  return issues;
}

/** The machines' allowed directories: `roots(host).has(path)` says whether path is inside one. */
function hostRoots(plan: Plan, root: string, storeRoot?: string) {
  const byHost = new Map<string, Set<string>>();
  for (const p of listProcesses(plan.topology, plan.deploy_dir)) {
    const k = hostKey(p.host);
    const s = byHost.get(k) ?? byHost.set(k, new Set()).get(k)!;
    for (const d of [p.dirs.deploy, p.dirs.data, p.dirs.log, p.dirs.config]) s.add(norm(d));
  }
  const store = storeRoot ? norm(path.posix.join(storeRoot, "clusters", plan.cluster_name)) : "";
  const local = hostKey("localhost");
  const made = new Map<string, { has(p: string): boolean; describe(): string }>();
  return (host: string | undefined) => {
    const k = hostKey(host ?? "");
    let r = made.get(k);
    if (r) return r;
    const own = byHost.get(k) ?? new Set<string>();
    const inStore = store !== "" && k === local;
    let described: string | undefined;
    r = {
      has: (p: string) => {
        const n = norm(p);
        return under(n, root) || (inStore && under(n, store)) || someAncestor(n, own);
      },
      /** The outermost directories (those under the deploy root add nothing), at most five. */
      describe: () => {
        if (described === undefined) {
          const all = [root, ...own];
          const outer = all.filter((d) => !all.some((e) => e !== d && under(d, e)));
          described = firstFew(outer, 5) +
            (inStore
              ? `; on this machine also the cluster's directory in mup's store, ${store}`
              : "");
        }
        return described;
      },
    };
    made.set(k, r);
    return r;
  };
}

/** The configuration keys mup sets to paths on the process's host (mongo_config.ts renderConfig). */
const CONFIG_PATHS = [
  "systemLog.path",
  "storage.dbPath",
  "processManagement.pidFilePath",
  "security.keyFile",
  "net.tls.certificateKeyFile",
  "net.tls.CAFile",
];

/**
 * The paths a generated mongod/mongos configuration makes the server write or read, by dotted
 * key; a key whose value is not a string gives its JSON (which is then refused). Undefined when
 * the document does not parse as YAML.
 */
function configPaths(content: string | undefined): [string, string][] | undefined {
  let doc: unknown;
  try {
    doc = load(content ?? "");
  } catch {
    return undefined;
  }
  const out: [string, string][] = [];
  for (const key of CONFIG_PATHS) {
    let v: unknown = doc;
    for (const k of key.split(".")) v = (v as Record<string, unknown> | null)?.[k];
    if (v !== undefined) out.push([key, typeof v === "string" ? v : JSON.stringify(v)]);
  }
  return out;
}

/** Which binaries each machine's install operation puts in place (by hostKey). */
function installs(plan: Plan): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const o of plan.phases.flatMap((p) => p.operations)) {
    if (o.type !== "upload_file" || o.target.params.kind !== "binaries") continue;
    const k = hostKey(o.target.host ?? "");
    const s = out.get(k) ?? out.set(k, new Set()).get(k)!;
    for (const f of (o.target.params.files ?? "").split(",")) s.add(f);
  }
  return out;
}

/** A path with `.`, `..` and repeated or trailing slashes resolved, lexically. */
function norm(p: string): string {
  // Most paths are written normalised already (the planners join them): no work for those.
  if (!UNNORMAL.test(p)) return p;
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}
const UNNORMAL = /(^|\/)\.\.?(\/|$)|\/\/|.\/$|^$/;

/** Whether normalised `p` is `dir` or lies below it (normalised too). */
function under(p: string, dir: string): boolean {
  if (dir === ".") return !p.startsWith("/") && p !== ".." && !p.startsWith("../");
  return p === dir || p.startsWith(dir === "/" ? "/" : `${dir}/`);
}

/** Whether normalised `p` or a directory above it is in `dirs`. */
function someAncestor(p: string, dirs: Set<string>): boolean {
  for (let d = p; d !== "";) {
    if (dirs.has(d)) return true;
    const cut = d.lastIndexOf("/");
    d = cut > 0 ? d.slice(0, cut) : cut === 0 && d !== "/" ? "/" : "";
  }
  return false;
}

/** A JSON list of strings (or of items `ok` accepts); undefined when it is not one. */
function jsonList<T = string>(
  text: string | undefined,
  ok: (v: unknown) => boolean = (v) => typeof v === "string",
): T[] | undefined {
  try {
    const v = JSON.parse(text ?? "");
    return Array.isArray(v) && v.every(ok) ? v as T[] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * planPathIssues against the cluster as recorded in its metadata rather than as the plan says:
 * a plan for a recorded cluster may only run and write where that cluster lives, so a plan whose
 * topology, deploy root or version was edited along with its paths is refused too. `recorded`
 * is the metadata's topology, deploy_dir, variant and version; an upgrade plan runs the newer
 * release it installs (its own version, of the recorded variant). Pure.
 */
export function recordedPathIssues(
  plan: Plan,
  recorded: Pick<Plan, "topology" | "deploy_dir" | "variant" | "version">,
  opts: { storeRoot?: string } = {},
): ValidationIssue[] {
  const asRecorded: Plan = {
    ...plan,
    topology: allowedTopology(plan, recorded.topology),
    deploy_dir: recorded.deploy_dir,
    variant: recorded.variant,
    version: plan.operation === "upgrade" ? plan.version : recorded.version,
  };
  return planPathIssues(asRecorded, opts).map((i) => ({
    ...i,
    message: `cluster ${plan.cluster_name} as recorded in its metadata: ${i.message}`,
  }));
}
