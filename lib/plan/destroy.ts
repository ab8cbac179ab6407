/**
 * `mup cluster destroy`: stop every process at once when the data goes (nothing of it is kept to
 * be consistent), in `cluster stop`'s order when it is retained (so each set's data stays as a
 * clean shutdown leaves it, primary last), keep the cluster's
 * metadata, plans, apply states and process logs in an archive, remove data (unless
 * retainData), log, config and deploy directories and the installed binaries on every host,
 * then the metadata. Pure.
 */
import {
  hostCaPath,
  hostCertPath,
  hostKeyfilePath,
  hostSecretsDir,
  securityOf,
} from "../security/settings.ts";
import * as path from "node:path";
import { logFilePath } from "./mongo_config.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";
import type { ProcessSpec } from "./processes.ts";
import { change, op } from "./op_builders.ts";
import { clusterProcesses, EST, lifecyclePlan, type LifecyclePlanInput } from "./lifecycle.ts";
import { markedPhases, metadataOp } from "./lifecycle_ops.ts";
import { orderedStops } from "./stop.ts";
import { layoutParents } from "../topology/layout.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";
import { archiveDir } from "../state/archive_name.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { MARK_OP } from "./mark_op.ts";
import { goneHostWarning, onGoneHost } from "./gone_hosts.ts";

/**
 * How much of a directory goes: all of it (data); only if it is empty (a shared parent); or only
 * the processes' own files (a deploy, log or config directory) or the files mup installed (the
 * secrets directory, own_files), then the directory if nothing else is left.
 */
export type Removal = "all" | "if_empty" | "process_files" | "own_files";

/** What a removal leaves alone and names: see lib/ops/remove_directory.ts. */
export interface RemovalParams {
  /** Retained data directories at or inside it. */
  retained?: string[];
  /** The cluster's directories inside it, removed first (those kept report themselves). */
  inner?: string[];
  /** own_files: the basenames of the files mup installed there. */
  own?: string[];
}

export function removeOp(
  host: string,
  dir: string,
  what: string,
  deps: string[],
  mode: Removal = "all",
  { retained = [], inner = [], own = [] }: RemovalParams = {},
): PlannedOperation {
  const how = mode === "if_empty"
    ? `Remove ${what} ${host}:${dir} (if empty)`
    : mode === "process_files"
    ? `Remove the mongod/mongos files from ${what} ${host}:${dir}, and the directory itself if nothing else is left`
    : mode === "own_files"
    ? `Remove the files mup installed in ${what} ${host}:${dir}, and the directory itself if nothing else is left`
    : `Remove ${what} ${host}:${dir}`;
  return op({
    id: `rm-${host}-${dir}`,
    type: "remove_directory",
    description: how,
    target: {
      type: "host",
      name: host,
      host,
      params: {
        path: dir,
        ...(mode === "all" || mode === "own_files" ? {} : { [mode]: "true" }),
        // A destroy's shared parents say what keeps them (lib/ops/remove_directory.ts).
        ...(mode === "if_empty" ? { report_kept: "true" } : {}),
        ...(mode === "own_files" ? { own_files: JSON.stringify(own) } : {}),
        ...(retained.length ? { retained_data: JSON.stringify(retained) } : {}),
        ...(inner.length ? { inner: JSON.stringify(inner) } : {}),
      },
    },
    changes: [change("directory", `${host}:${dir}`, "delete")],
    depends_on: deps,
    estimated_ms: EST.remove,
  });
}

/** One directory of the processes' to remove, and how (processRemovals). */
interface DirRemoval {
  host: string;
  dir: string;
  what: string;
  mode: Removal;
  /** Removal op IDs of the cluster's directories inside this one: they go first. */
  deps: string[];
  /** Those directories' paths. */
  inner: string[];
  /** The retained data directories at or inside this one (process_files: they stay). */
  retained: string[];
}

/**
 * The processes' own directories to remove, once each: deploy, log and config (only mup's files:
 * the operator may have put files of their own in any of them, a default one included), and data
 * unless kept (`kept`: retained, or not the cluster's: whole: it is the data). A directory that is two of these
 * at once (a data_dir equal to a chosen log_dir) is removed whole if it is a data directory
 * that goes; one holding the cluster's own directories waits for their removal, so that what is
 * left in it (and reported kept) is what stays.
 */
export function processRemovals(
  procs: ProcessSpec[],
  kept: (p: ProcessSpec) => boolean,
): DirRemoval[] {
  const found = new Map<string, DirRemoval>();
  const want = (host: string, dir: string, what: string, mode: Removal) => {
    const had = found.get(`${host}:${dir}`);
    if (had && !(mode === "all" && had.mode !== "all")) return;
    found.set(`${host}:${dir}`, { host, dir, what, mode, deps: [], inner: [], retained: [] });
  };
  for (const p of procs) {
    want(p.host, p.dirs.deploy, "deploy directory", "process_files");
    want(p.host, p.dirs.log, "log directory", "process_files");
    want(p.host, p.dirs.config, "config directory", "process_files");
    if (!kept(p) && p.role !== "mongos") want(p.host, p.dirs.data, "data directory", "all");
  }
  const list = [...found.values()];
  const inside = (outer: string, d: string) => d.startsWith(outer + path.sep);
  for (const r of list) {
    const within = list.filter((o) => o.host === r.host && inside(r.dir, o.dir));
    r.deps = within.map((o) => `rm-${o.host}-${o.dir}`);
    r.inner = within.map((o) => o.dir);
    if (r.mode === "process_files") {
      r.retained = procs.filter((p) =>
        kept(p) && p.role !== "mongos" && p.host === r.host &&
        (p.dirs.data === r.dir || inside(r.dir, p.dirs.data))
      ).map((p) => p.dirs.data);
    }
  }
  return list;
}

/** Pure: the destroy Plan. */
export function planDestroy(input: LifecyclePlanInput): Omit<Plan, "content_hash"> {
  const all = clusterProcesses(input).procs;
  // A --host-gone host's processes are forgotten: nothing is stopped or removed there.
  const procs = all.filter((p) => !onGoneHost(input.goneHosts, p.host));
  const lost = all.filter((p) => onGoneHost(input.goneHosts, p.host));
  const meta = input.meta;
  // Kept: all data with --retain-data; else what a failed first deploy found and never used.
  const foreign = new Set(input.foreignData ?? []);
  const kept = (p: ProcessSpec) => input.retainData === true || foreign.has(p.id);
  const archive = archiveDir(input.clusterDir, meta.name, input.planId);
  // Without --retain-data, an unclean stop's data is removed anyway: no journal recovery follows.
  // Kept data is stopped as `cluster stop` stops it: mongos, then each set's secondaries before
  // its primary (no election on the way down), config servers last, unforced where a member
  // can still hand over.
  const stops = orderedStops(input, procs, !input.retainData).map((o) => ({
    ...o,
    depends_on: input.retainData ? o.depends_on : [],
    target: {
      ...o.target,
      params: { ...o.target.params, ...(input.retainData ? {} : { data_removed: "true" }) },
    },
  }));
  const archiveOp = op({
    id: "archive-cluster",
    type: "archive_cluster",
    description: `Archive metadata, plans, apply states and logs to ${archive}`,
    target: {
      type: "cluster",
      name: meta.name,
      params: {
        cluster_dir: input.clusterDir,
        archive_dir: archive,
        logs: JSON.stringify(
          procs.map((p) => ({ host: p.host, path: logFilePath(p), name: `${p.id}.log` })),
        ),
      },
    },
    changes: [change("directory", archive, "create")],
    depends_on: [],
    parallel: false,
    estimated_ms: EST.archive,
  });
  const removes: PlannedOperation[] = [];
  const seen = new Set<string>();
  const add = (
    host: string,
    dir: string,
    what: string,
    deps: string[] = [],
    mode?: Removal,
    params?: RemovalParams,
  ) => {
    if (seen.has(`${host}:${dir}`)) return;
    seen.add(`${host}:${dir}`);
    removes.push(removeOp(host, dir, what, deps, mode, params));
  };
  // Data an earlier scale-in kept (--retain-data) stays too, and is named as what it is.
  const earlier = meta.retained_data ?? [];
  const earlierIn = (host: string, d: string) =>
    earlier.filter((r) =>
      hostKey(r.host) === hostKey(host) && (r.path === d || r.path.startsWith(d + path.sep))
    ).map((r) => r.path);
  for (const r of processRemovals(procs, kept)) {
    const retainedHere = [...r.retained, ...earlierIn(r.host, r.dir)];
    removes.push(
      removeOp(r.host, r.dir, r.what, r.deps, r.mode, { retained: retainedHere, inner: r.inner }),
    );
    seen.add(`${r.host}:${r.dir}`);
  }
  const root = meta.deploy_dir;
  const sec = securityOf(meta.topology);
  const secured = sec.auth || sec.tls;
  // Only what the deploy installed there (security_steps.ts): the operator may keep files too.
  // Every process's certificate: two host names of the cluster may be one machine.
  const own = [
    hostKeyfilePath(root),
    hostCaPath(root),
    ...procs.map((p) => hostCertPath(root, p.id)),
  ]
    .map((f) => path.basename(f));
  const retained = procs.filter((p) => p.role !== "mongos" && kept(p)).map((p) => p.dirs.data);
  // One machine, one set of shared directories, however many names it has (localhost, 127.0.0.1).
  const machines = new Map<string, string>();
  for (const p of procs) if (!machines.has(hostKey(p.host))) machines.set(hostKey(p.host), p.host);
  for (const [machine, host] of machines) {
    const parents = layoutParents(
      root,
      procs.filter((p) => hostKey(p.host) === machine).map((p) => p.dirs),
    );
    for (const r of [`${meta.variant}-${meta.version}`, ...(meta.earlier_releases ?? [])]) {
      add(host, path.join(root, "bin", r), "binaries");
    }
    if (secured) add(host, hostSecretsDir(root), "keyfile directory", [], "own_files", { own });
    // The layout's parents, if nothing else (another cluster, retained data) is in them.
    const before = removes.filter((o) => hostKey(o.target.host!) === machine).map((o) => o.id);
    // What in them is this cluster's (on any of its host names) is not reported as foreign.
    const keeps = (d: string) => ({
      retained: [...retained.filter((r) => r.startsWith(d + path.sep)), ...earlierIn(host, d)],
      inner: [...new Set([...removes.map((o) => o.target.params.path), ...parents])]
        .filter((i) => i.startsWith(d + path.sep)),
    });
    // Deepest first: a parent waits for the parents inside it.
    for (const d of parents) {
      const inner = parents.filter((i) => i.startsWith(d + path.sep)).map((i) => `rm-${host}-${i}`);
      add(host, d, "directory", [...before, ...inner], "if_empty", keeps(d));
    }
    add(
      host,
      root,
      "deploy root",
      [...before, ...parents.map((d) => `rm-${host}-${d}`)],
      "if_empty",
      keeps(root),
    );
  }
  add("localhost", path.join(input.clusterDir, "staging"), "staged configuration files");
  // The keyfile and password go with the cluster; retained data (this destroy's, or what a
  // scale-in kept) keeps its users, so their password is kept too (moved to the archive with
  // the records, still 0600).
  if (secured && !input.retainData && !earlier.length) {
    add("localhost", path.join(input.clusterDir, "secrets"), "secrets (keyfile, admin password)");
  }
  // Led by "status unknown": a destroy cut off mid-way must not leave `running` recorded.
  const phases = markedPhases(input, [
    { name: "stop", description: "Stop every process at once", ops: stops },
    {
      name: "archive",
      description: "Keep metadata, plans, states and logs for audit",
      ops: [archiveOp],
    },
    {
      name: "remove",
      description: `Remove directories${input.retainData ? " (data kept)" : ""}${
        input.unrecorded ? "" : " and metadata"
      }`,
      // A cluster never recorded (what a failed first deploy left) has no meta.yaml to remove.
      ops: input.unrecorded
        ? removes
        : [...removes, metadataOp(input, "removed", removes.map((o) => o.id))],
    },
  ]);
  // Kept data is judged by its FCV when deployed onto again: the archive records it as the
  // members report it before they stop (it may have been changed outside mup).
  const mark = phases[0]?.ops.find((o) => o.id === MARK_OP);
  const bearing = procs.filter((p) => p.role !== "mongos" && !p.arbiterOnly);
  if (input.retainData && mark && bearing.length) {
    mark.target.params.read_fcv = JSON.stringify(bearing.map((p) => hostPort(p.host, p.port)));
  }
  const warnings = [
    ...(input.retainData
      ? [keptDataWarning(procs, meta.name)]
      : foreign.size
      ? [foreignDataWarning(procs.filter((p) => foreign.has(p.id)), meta.name)]
      : []),
    ...(earlier.length ? [scaledInDataWarning(earlier, secured)] : []),
    ...(input.archivedSecrets?.length && !input.retainData
      ? [archivedSecretsWarning(input.archivedSecrets, meta.name)]
      : []),
    ...(meta.forgotten?.length ? [forgottenWarning(meta.forgotten)] : []),
    ...[...new Set(lost.map((p) => p.host))].map((h) =>
      goneHostWarning(h, lost.filter((p) => p.host === h), "destroy", meta.deploy_dir)
    ),
  ];
  return lifecyclePlan(input, "destroy", phases, warnings.length ? { warnings } : {});
}

/** What earlier `cluster scale-in --host-gone` runs left on their gone hosts: left again. */
function forgottenWarning(forgotten: NonNullable<ClusterMeta["forgotten"]>): ValidationIssue {
  return {
    code: "forgotten_kept",
    severity: "warning",
    message: `not removed: what \`cluster scale-in --host-gone\` left on hosts taken as gone ` +
      `for good: ${
        forgotten.map((f) => `${f.id} on ${f.host} (${f.paths.join(", ")})`).join("; ")
      }. mup does not reach those hosts: should one come back, stop its processes and remove ` +
      "those directories yourself",
  };
}

/** Data directories that `cluster scale-in --retain-data` kept: a destroy leaves them too. */
function scaledInDataWarning(
  kept: NonNullable<ClusterMeta["retained_data"]>,
  secured: boolean,
): ValidationIssue {
  const one = kept.length === 1;
  return {
    code: "scaled_in_data_kept",
    severity: "warning",
    message: `not removed: the data ${one ? "directory" : "directories"} that \`cluster ` +
      `scale-in --retain-data\` kept: ${
        kept.map((r) => `${r.host}:${r.path} (${r.id}, scaled in ${r.at.slice(0, 10)})`).join(", ")
      }. mup leaves ${one ? "it" : "them"} where ${one ? "it is" : "they are"}${
        secured ? " (the keyfile and admin password its users need are kept in the archive)" : ""
      }: remove ${one ? "it" : "them"} yourself if no longer needed`,
  };
}

/**
 * Copies of the cluster's secrets that earlier `destroy --retain-data` runs archived for the
 * data they kept: "Remove secrets" removes the cluster's own, not these (tester52).
 */
function archivedSecretsWarning(dirs: string[], cluster: string): ValidationIssue {
  const one = dirs.length === 1;
  return {
    code: "archived_secrets_kept",
    severity: "warning",
    message: `not removed: ${one ? "a copy" : `${dirs.length} copies`} of cluster ${cluster}'s ` +
      `secrets (keyfile, admin password) that an earlier \`destroy --retain-data\` archived ` +
      `for the data it kept: ${dirs.join(", ")}. Data deployed onto again with them needs ` +
      `${one ? "it" : "them"}; otherwise remove ${one ? "it" : "them"} yourself (\`rm -rf ` +
      `${dirs.join(" ")}\`)`,
  };
}

/** The data directories a failed first deploy found in place and never ran a mongod on. */
function foreignDataWarning(procs: ProcessSpec[], cluster: string): ValidationIssue {
  const dirs = procs.map((p) => `${p.host}:${p.dirs.data} (${p.id})`);
  return {
    code: "data_not_ours",
    severity: "warning",
    message: `not removed: data ${dirs.length === 1 ? "directory" : "directories"} ${
      dirs.join(", ")
    }, which no apply of cluster ${cluster} created or ran a mongod on (${
      dirs.length === 1 ? "it was" : "they were"
    } there before its first deploy, which did not complete): ${
      dirs.length === 1 ? "it is" : "they are"
    } not this cluster's. Remove ${dirs.length === 1 ? "it" : "them"} yourself if no longer needed`,
  };
}

/** What `--retain-data` keeps, named: the review and the plan say where the data stays. */
function keptDataWarning(procs: ProcessSpec[], cluster: string): ValidationIssue {
  const dirs = procs.filter((p) => p.role !== "mongos").map((p) => `${p.host}:${p.dirs.data}`);
  return {
    code: "data_kept",
    severity: "warning",
    message:
      `data kept (--retain-data) in ${dirs.length} director${dirs.length === 1 ? "y" : "ies"}: ${
        dirs.join(", ")
      }. A later \`mup cluster deploy ${cluster}\` with these data_dir paths ` +
      "reuses the data (and the archived admin password); remove them yourself when no longer needed",
  };
}
