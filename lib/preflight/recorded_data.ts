/**
 * Pre-flight of what starts a recorded cluster's processes again (a repair deploy, `cluster
 * start`, `cluster restart`, a rollback's start): mongod started on a data directory that holds
 * no data begins empty. A member whose replica set still has another member with data copies
 * it from there (MongoDB's initial sync: "Resync a Member of a Replica Set"); a standalone, or a
 * replica set of which no member holds data (a whole shard, the whole config server set), would
 * come back as a new, empty database with a newly created admin user, while the plan says only
 * "start". That is refused here, naming the members, their directories and the ways out.
 */
import type { ExecutorFactory } from "../executor/executor.ts";
import type { ProcessSpec } from "../plan/processes.ts";
import type { CheckResult, ValidationIssue } from "../plan/schema.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";
import { listDirs } from "./list_dirs.ts";

/**
 * Files the storage engine writes in mongod's dbPath at its first start and keeps (WiredTiger's
 * version file, the engine metadata `storage.bson`): a directory with one of them holds MongoDB
 * data. `mongod.lock` alone is not data: mongod creates it before anything else, so a start that
 * failed (or a stray `touch`) leaves it in a directory that holds nothing.
 */
export const DATA_MARKERS = ["storage.bson", "WiredTiger"];

/** Whether a directory with these entries holds MongoDB data (DATA_MARKERS). */
export function holdsData(entries: string[]): boolean {
  return entries.some((e) => DATA_MARKERS.includes(e));
}

/** What a data directory holds: MongoDB data, nothing of it, or no directory at all. */
export type DataDirState = "data" | "empty" | "missing";

/**
 * What data directory `dir` on `host` holds; undefined when the host cannot be asked (left to
 * the connectivity check, or to the operation that needs the host). Only MongoDB's own files
 * count (DATA_MARKERS): a directory holding none of them (a new volume's lost+found, a stray
 * file) starts mongod as empty as an empty one does.
 */
export async function dataDirState(
  executors: ExecutorFactory,
  host: string,
  dir: string,
): Promise<DataDirState | undefined> {
  try {
    const ex = executors.forHost(host);
    if (!(await ex.exists(dir))) return "missing";
    const r = await ex.run(["ls", "-A", "--", dir], { timeoutMs: 10_000 });
    if (r.code !== 0) return undefined;
    const entries = r.stdout.split("\n").filter(Boolean);
    return holdsData(entries) ? "data" : "empty";
  } catch {
    return undefined;
  }
}

/**
 * dataDirState of every process's data directory, listed in one command per host (listDirs); a
 * directory that cannot be listed is asked whether it exists. Absent from the map: a process
 * whose host cannot be asked.
 */
async function dataDirStates(
  procs: ProcessSpec[],
  executors: ExecutorFactory,
): Promise<Map<string, DataDirState | undefined>> {
  const byHost = new Map<string, ProcessSpec[]>();
  for (const p of procs) byHost.set(hostKey(p.host), [...(byHost.get(hostKey(p.host)) ?? []), p]);
  const found = await Promise.all([...byHost.values()].map(async (list) => {
    const ex = executors.forHost(list[0].host);
    const listed = await listDirs(ex, list.map((p) => p.dirs.data)).catch(() => undefined);
    if (!listed) return [];
    return await Promise.all(list.map(async (p) => {
      const entries = listed.get(p.dirs.data);
      const state: DataDirState | undefined = entries
        ? holdsData(entries) ? "data" : "empty"
        : await ex.exists(p.dirs.data).then(
          (there) => there ? undefined : "missing",
          () => undefined,
        );
      return [p.id, state] as const;
    }));
  }));
  return new Map(found.flat());
}

/**
 * `host:dir` of each data directory (mongod and config servers) that holds MongoDB data,
 * sorted; one listing per host (dataDirStates). Unreachable hosts are left to the connectivity
 * check.
 */
export async function dataDirsInUse(
  procs: ProcessSpec[],
  executors: ExecutorFactory,
): Promise<{ host: string; dir: string }[]> {
  const bearing = procs.filter((p) => p.role !== "mongos");
  const states = await dataDirStates(bearing, executors);
  return bearing.filter((p) => states.get(p.id) === "data")
    .map((p) => ({ host: p.host, dir: p.dirs.data }))
    .sort((a, b) => `${a.host}${a.dir}`.localeCompare(`${b.host}${b.dir}`));
}

/** How the way out of a refusal is worded: the cluster and how it was deployed. */
export interface RecordedDataContext {
  cluster: string;
  /** The recorded server version, for the deploy command a fresh start needs. */
  version?: string;
  /** The recorded server variant (mongo, percona), likewise. */
  variant?: string;
  /** The recorded topology file, likewise. */
  topologyFile?: string;
  /** True when the cluster has more than this replica set's data (other shards, config set). */
  sharded?: boolean;
}

/**
 * The check (`data_dirs_present`), its errors and its warnings, over every recorded data-bearing
 * process in `procs` (mongod and config servers; mongos hold no data). `only`: the IDs of the
 * processes that are to start (a lifecycle plan); without it every one is checked (a repair).
 * The other members of their replica sets are asked too, as the source an emptied member copies
 * from.
 *
 * - error `data_lost`: a standalone whose directory is empty or missing, or a replica set none of
 *   whose data-bearing members (arbiters hold no data) still holds data: one error per
 *   standalone or set, naming each member and directory, that the data is gone from them, and
 *   the ways out (restore it; or destroy and deploy anew to start empty);
 * - error `data_dir_missing`: a member's directory is missing while others in its set hold data
 *   (a missing directory may be an unmounted volume: it is never recreated silently);
 * - warning `initial_sync`: a member's directory is empty while others in its set hold data,
 *   the normal way to resync a member: it will copy its data from them (initial sync); such
 *   members are also returned in `resync`, for the plan's start to say so.
 *
 * Hosts that cannot be asked are left to the connectivity check.
 */
export async function checkRecordedData(
  procs: ProcessSpec[],
  executors: ExecutorFactory,
  ctx: RecordedDataContext,
  only?: ReadonlySet<string>,
): Promise<{
  check: CheckResult;
  issues: ValidationIssue[];
  warnings: ValidationIssue[];
  /** The members that will copy their data from their set: ID → the members they copy from. */
  resync: Map<string, string>;
}> {
  const t0 = performance.now();
  const bearing = procs.filter((p) => p.role !== "mongos");
  // Only the sets (and standalones) of the processes that start need asking.
  const groupOf = (p: ProcessSpec) => p.replicaSet ? `set ${p.replicaSet}` : `one ${p.id}`;
  const wanted = new Set(bearing.filter((p) => !only || only.has(p.id)).map(groupOf));
  const asked = bearing.filter((p) => wanted.has(groupOf(p)));
  const states = await dataDirStates(asked, executors);
  const groups = new Map<string, ProcessSpec[]>();
  for (const p of asked) groups.set(groupOf(p), [...(groups.get(groupOf(p)) ?? []), p]);
  const issues: ValidationIssue[] = [];
  const warnings: ValidationIssue[] = [];
  const resync = new Map<string, string>();
  for (const members of groups.values()) {
    const checked = members.filter((p) => !only || only.has(p.id));
    const gone = checked.filter((p) => ["empty", "missing"].includes(states.get(p.id) ?? ""));
    if (!gone.length) continue;
    // A member that cannot be asked may hold data: the set is not known to have lost it.
    const holders = members.filter((p) =>
      !p.arbiterOnly && states.get(p.id) !== "empty" && states.get(p.id) !== "missing"
    );
    if (!holders.length) {
      issues.push(lostIssue(members, gone, states, ctx));
      continue;
    }
    const from = holders.map((p) => hostPort(p.host, p.port)).join(", ");
    for (const p of gone) {
      if (states.get(p.id) === "missing") {
        issues.push({
          code: "data_dir_missing",
          severity: "error",
          host: p.host,
          message: `data directory ${p.host}:${p.dirs.data} of ${p.id} is missing (an ` +
            `unmounted volume?): restore it, or, for the member to copy its data from the ` +
            `other members of ${p.replicaSet} (${from}; initial sync), create it empty, owned ` +
            `by the user mongod runs as, and plan again`,
        });
      } else if (p.arbiterOnly) {
        warnings.push({
          code: "initial_sync",
          severity: "warning",
          host: p.host,
          message: `data directory ${p.host}:${p.dirs.data} of arbiter ${p.id} is empty: once ` +
            `started, it takes the configuration of ${p.replicaSet} from the other members again`,
        });
      } else {
        resync.set(p.id, from);
        warnings.push({
          code: "initial_sync",
          severity: "warning",
          host: p.host,
          message: `data directory ${p.host}:${p.dirs.data} of ${p.id} holds no data: once ` +
            `started, ${p.id} copies its data from the other members of ${p.replicaSet} ` +
            `(${from}; initial sync) and serves no reads until that is done`,
        });
      }
    }
  }
  issues.sort((a, b) => a.message.localeCompare(b.message));
  warnings.sort((a, b) => a.message.localeCompare(b.message));
  const n = issues.length;
  const lost = issues.filter((i) => i.code === "data_lost").length;
  const missing = n - lost;
  return {
    check: {
      name: "data_dirs_present",
      status: n ? "failed" : "passed",
      message: n
        ? [
          ...(lost
            ? [`the data of ${lost} standalone or replica set${lost === 1 ? " is" : "s are"} gone`]
            : []),
          ...(missing
            ? [`${missing} recorded data director${missing === 1 ? "y is" : "ies are"} missing`]
            : []),
        ].join("; ")
        : warnings.length
        ? `every recorded data directory is in place (${warnings.length} to resync from ` +
          "its replica set)"
        : "every recorded data directory is in place",
      duration: Math.round(performance.now() - t0),
    },
    issues,
    warnings,
    resync,
  };
}

/** The refusal of a standalone, or of a replica set of which no member holds data any more. */
function lostIssue(
  members: ProcessSpec[],
  gone: ProcessSpec[],
  states: ReadonlyMap<string, DataDirState | undefined>,
  ctx: RecordedDataContext,
): ValidationIssue {
  const p0 = members[0];
  const what = !p0.replicaSet
    ? `standalone ${p0.id}`
    : p0.role === "config"
    ? `the config server replica set ${p0.replicaSet}`
    : ctx.sharded
    ? `shard ${p0.replicaSet} (every member)`
    : `replica set ${p0.replicaSet} (every member)`;
  const dirs = members.filter((p) => ["empty", "missing"].includes(states.get(p.id) ?? "")).map((
    p,
  ) =>
    `data directory ${p.host}:${p.dirs.data} of ${p.id} is ${
      states.get(p.id) === "missing" ? "missing" : "empty"
    }`
  ).join("; ");
  const deploy = `mup cluster deploy ${ctx.cluster} ${ctx.topologyFile ?? "<topology>"} ` +
    `--version ${ctx.version ?? "<version>"}` +
    (ctx.variant && ctx.variant !== "mongo" ? ` --variant ${ctx.variant}` : "");
  return {
    code: "data_lost",
    severity: "error",
    host: p0.host,
    message:
      `the data of ${what} is gone: ${dirs}, and ${
        p0.replicaSet
          ? "no other member of the set holds data to copy it from"
          : "a standalone has no other member to copy it from"
      }. Started again, it would begin as a new, empty database with a newly created ` +
      `admin user, and the data would not come back. Restore the data (from a backup or ` +
      `snapshot) into ${gone.length === 1 ? "that directory" : "those directories"} and plan ` +
      `again; or, to start this cluster empty on purpose, destroy it (\`mup cluster destroy ` +
      `${ctx.cluster}\`${
        !ctx.sharded
          ? ""
          : p0.role === "config"
          ? ", which removes the data of every shard too"
          : ", which removes the data of the other shards too"
      }) and deploy it anew (\`${deploy}\`)`,
  };
}

/**
 * Warnings (`data_gone_while_running`) for the processes a stop plan stops, by ID in
 * `stopping`, whose data directory no longer holds data (emptied or removed while the server
 * ran): once stopped, such a server cannot start on it (start refuses a standalone or a set
 * with no data left; a member of a set that holds data copies it again). Stopping is not
 * refused: the operator may mean it. Hosts that cannot be asked give no warning.
 */
export async function stoppedDataWarnings(
  procs: ProcessSpec[],
  executors: ExecutorFactory,
  stopping: ReadonlySet<string>,
): Promise<ValidationIssue[]> {
  const asked = procs.filter((p) => p.role !== "mongos" && !p.arbiterOnly && stopping.has(p.id));
  if (!asked.length) return [];
  const states = await dataDirStates(asked, executors);
  return asked.filter((p) => ["empty", "missing"].includes(states.get(p.id) ?? "")).map((p) => ({
    code: "data_gone_while_running",
    severity: "warning" as const,
    host: p.host,
    message:
      `data directory ${p.host}:${p.dirs.data} of ${p.id} ${
        states.get(p.id) === "missing" ? "is missing" : "holds no data"
      } while ${p.id} runs: once stopped, it cannot start on it (\`cluster start\` refuses a ` +
      "standalone or a replica set with no data left; a member of a set that still holds data " +
      "copies it again, initial sync). Copy out what it still serves first (mongodump) if you " +
      "need it",
  })).sort((a, b) => a.message.localeCompare(b.message));
}
