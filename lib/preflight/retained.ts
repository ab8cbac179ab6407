/**
 * Pre-flight of a first deploy onto data that `mup cluster destroy --retain-data` kept. That data
 * holds the destroyed cluster's users (MongoDB keeps users in the data, admin.system.users), so a
 * newly generated admin password could never authenticate against it: replSetInitiate would fail
 * with "Authentication failed" half-way through the apply. The destroy moved the keyfile and the
 * password to its archive (`storage/archive/<name>-<plan-id>/secrets/`); this finds them, for the
 * planner to reuse, or fails the check, before anything starts, saying what to do.
 */
import * as path from "node:path";
import type { ExecutorFactory } from "../executor/executor.ts";
import { dataDirsInUse } from "./recorded_data.ts";
import type { ProcessSpec } from "../plan/processes.ts";
import type { CheckResult, ValidationIssue } from "../plan/schema.ts";
import { AdminCredentials } from "../security/secrets.ts";
import { firstFew } from "../util/format.ts";
import { hostKey } from "../topology/hosts.ts";
import { type RetainedData, retainedData, splitHostDir } from "../state/retained.ts";

/** The archived secrets a deploy onto retained data reuses (paths on the control machine). */
export interface RetainedSecrets {
  /** The destroy's archive directory. */
  archive: string;
  /** `<archive>/secrets/admin.json`. */
  admin: string;
  /** `<archive>/secrets/keyfile`, when the archive has one. */
  keyfile?: string;
}

/** What the check found: its result, and the secrets to reuse when there are some. */
export interface RetainedDataCheck {
  check: CheckResult;
  issue: ValidationIssue;
  reuse?: RetainedSecrets;
}

/**
 * The newest archive of cluster `name` under `archiveRoot` that holds the admin credentials (by
 * the time its archive marker was written); undefined when there is none.
 */
async function newestArchive(
  archiveRoot: string,
  name: string,
): Promise<{ dir: string; user: string; keyfile: boolean } | undefined> {
  const entries = await Array.fromAsync(Deno.readDir(archiveRoot)).catch(() => []);
  const found: { dir: string; user: string; keyfile: boolean; at: number }[] = [];
  for (const e of entries) {
    if (!e.isDirectory || !e.name.startsWith(`${name}-plan-`)) continue;
    const dir = path.join(archiveRoot, e.name);
    const text = await Deno.readTextFile(path.join(dir, "secrets", "admin.json")).catch(() => "");
    let parsed;
    try {
      parsed = AdminCredentials.safeParse(JSON.parse(text));
    } catch {
      continue;
    }
    if (!parsed.success) continue;
    const at = (await Deno.stat(path.join(dir, ".mup-archived")).catch(() => undefined))?.mtime;
    const keyfile = await Deno.stat(path.join(dir, "secrets", "keyfile")).then(
      () => true,
      () => false,
    );
    found.push({ dir, user: parsed.data.user, keyfile, at: at?.getTime() ?? 0 });
  }
  return found.sort((a, b) => b.at - a.at)[0];
}

/**
 * The newest archive directory of cluster `name` under `archiveRoot` whose `secrets/` holds
 * files but no admin.json newestArchive can read; undefined when there is none.
 */
async function archiveWithoutAdmin(archiveRoot: string, name: string): Promise<string | undefined> {
  const found: { dir: string; at: number }[] = [];
  for (const e of await Array.fromAsync(Deno.readDir(archiveRoot)).catch(() => [])) {
    if (!e.isDirectory || !e.name.startsWith(`${name}-plan-`)) continue;
    const dir = path.join(archiveRoot, e.name);
    const files = await Array.fromAsync(Deno.readDir(path.join(dir, "secrets"))).catch(() => []);
    if (!files.length) continue;
    const at = (await Deno.stat(path.join(dir, ".mup-archived")).catch(() => undefined))?.mtime;
    found.push({ dir, at: at?.getTime() ?? 0 });
  }
  return found.sort((a, b) => b.at - a.at)[0]?.dir;
}

/**
 * The cluster other than `cluster` whose `destroy --retain-data` (archived under `archiveRoot`)
 * kept one of `dirs`: a data directory named in two topologies, the data of the one destroyed.
 */
async function keptBy(
  archiveRoot: string,
  cluster: string,
  dirs: { host: string; dir: string }[],
): Promise<RetainedData | undefined> {
  const wanted = new Set(dirs.map((d) => `${hostKey(d.host)}:${d.dir}`));
  const kept = await retainedData(path.dirname(archiveRoot));
  return kept.find((r) =>
    r.name !== cluster && r.data_dirs.some((hd) => {
      const { host, dir } = splitHostDir(hd);
      return wanted.has(`${hostKey(host)}:${dir}`);
    })
  );
}

/**
 * Checks the data directories of a cluster's first deploy (secured, with no secrets of its own
 * yet). Undefined when none holds MongoDB data (nothing to say). Otherwise a warning that names the
 * archive whose secrets the plan reuses, or a failure naming the data, the archives looked in and
 * the commands that let the deploy proceed.
 */
export async function checkRetainedData(input: {
  cluster: string;
  procs: ProcessSpec[];
  /** dataDirsInUse(procs) when the caller has it already. */
  inUse?: Awaited<ReturnType<typeof dataDirsInUse>>;
  adminUser: string;
  /** `storage/archive` under $MUP_HOME, where `cluster destroy` archives. */
  archiveRoot: string;
  executors: ExecutorFactory;
}): Promise<RetainedDataCheck | undefined> {
  const t0 = performance.now();
  const dirs = input.inUse ?? await dataDirsInUse(input.procs, input.executors);
  if (!dirs.length) return undefined;
  const named = dirs.map((d) => `${d.host}:${d.dir}`);
  const listed = firstFew(named);
  const what = `data directory ${named[0]} holds MongoDB data${
    named.length > 1 ? ` (so do ${named.length - 1} more of this cluster's)` : ""
  }`;
  const done = (status: CheckResult["status"], message: string, reuse?: RetainedSecrets) => {
    const check: CheckResult = {
      name: "retained_data",
      status,
      message,
      duration: Math.round(performance.now() - t0),
    };
    const issue: ValidationIssue = {
      code: "retained_data",
      severity: status === "failed" ? "error" : "warning",
      message,
    };
    return { check, issue, ...(reuse ? { reuse } : {}) };
  };
  const found = await newestArchive(input.archiveRoot, input.cluster);
  const removeAll = `rm -rf ${dirs.map((d) => d.dir).join(" ")}`;
  const onEach = dirs.some((d) => d.host !== "localhost") ? " (on each host)" : "";
  const other = found ? undefined : await keptBy(input.archiveRoot, input.cluster, dirs);
  if (other) {
    return done(
      "failed",
      `${what}, which \`mup cluster destroy ${other.name} --retain-data\` kept: its users were created with the secrets of cluster ${other.name} (archived in ${other.archive}), which a cluster named ${input.cluster} does not reuse. To deploy onto this data, deploy it as ${other.name} (\`mup cluster deploy ${other.name} <topology>\`); to start empty, remove the data first: \`${removeAll}\`${onEach}; or give the cluster other data_dir paths`,
    );
  }
  // An archive of this cluster with its secrets/ but no readable admin.json: the password is
  // what is missing, and saying so lets one who knows it write it back (tester52).
  const halfKept = found ? undefined : await archiveWithoutAdmin(input.archiveRoot, input.cluster);
  if (halfKept) {
    const admin = path.join(halfKept, "secrets", "admin.json");
    return done(
      "failed",
      `${what}; the archive ${halfKept} of cluster ${input.cluster} holds its secrets, but ${admin} (the admin password its users were created with) is missing or cannot be read: a new admin password would not authenticate against them. Put admin.json back from a backup, or write it with the password you know (\`{"format_version":1,"user":"${input.adminUser}","password":"…","db":"admin"}\`, mode 0600), then plan again; to start empty, remove the data first: \`${removeAll}\`${onEach}`,
    );
  }
  if (!found) {
    return done(
      "failed",
      `${what}, but no archive of cluster ${input.cluster} in ${input.archiveRoot} holds the secrets its users were created with (the secrets/ directory \`mup cluster destroy ${input.cluster} --retain-data\` archives): a new admin password would not authenticate against them. To deploy onto this data, put that archive back in ${input.archiveRoot}; to start empty, remove the data first: \`${removeAll}\`${onEach}; or give the cluster other data_dir paths`,
    );
  }
  if (found.user !== input.adminUser) {
    return done(
      "failed",
      `${what}, whose admin user is ${found.user} (archived in ${found.dir}), but the topology names ${input.adminUser}: set global.security.admin_user: ${found.user} to deploy onto it, or remove the data first: \`${removeAll}\``,
    );
  }
  return done(
    "warning",
    `Retained data found (${listed}): the keyfile and the password of ${found.user} that \`cluster destroy --retain-data\` archived in ${found.dir} are reused, so the users in the data still authenticate`,
    {
      archive: found.dir,
      admin: path.join(found.dir, "secrets", "admin.json"),
      ...(found.keyfile ? { keyfile: path.join(found.dir, "secrets", "keyfile") } : {}),
    },
  );
}
