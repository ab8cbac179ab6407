/**
 * Pre-flight of a first deploy onto data `mup cluster destroy --retain-data` kept, by what the
 * destroy's archive (`storage/archive/<cluster>-<plan-id>/meta.yaml`) records of each data
 * directory (checkRetainedArchives):
 * - its replica set: mongod started with `--replSet rsX` on data whose stored config
 *   (local.system.replset) names rs0 keeps that config and takes itself for no member of it
 *   (REMOVED, warning 21406 of MongoDB's repl/replication_coordinator_impl.cpp), so it never
 *   joins rsX;
 * - its FCV: a mongod starts only on data at its own or the previous release's FCV (recorded by
 *   `cluster upgrade`; the release's series when no upgrade recorded one);
 * - its set's members: the stored config names the members the set was destroyed with, and
 *   replSetInitiate is refused on data that holds one (AlreadyInitialized), so a member the
 *   topology adds never joins, and one it leaves out still counts in the set's majority.
 * Any of these would make the deploy fail once started, so it is refused before anything starts.
 * Data no archive records is left to the operations, which compare the set name each member
 * reports (lib/ops/set_name.ts).
 */
import * as path from "node:path";
import { parse } from "yaml";
import type { ExecutorFactory } from "../executor/executor.ts";
import { listProcesses, type ProcessSpec } from "../plan/processes.ts";
import type { CheckResult, ValidationIssue } from "../plan/schema.ts";
import { ClusterMeta } from "../state/meta.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";
import { dataDirsInUse } from "./recorded_data.ts";

/** Where a data directory was last deployed, as a destroy's archive recorded it. */
interface Recorded {
  /** The replica set; undefined for a standalone. */
  set?: string;
  /** The MongoDB version the cluster ran (e.g. "7.0.14"). */
  version: string;
  /** The featureCompatibilityVersion its data was left at (recorded, or the version's series). */
  fcv: string;
  cluster: string;
  archive: string;
  /** The set's members as the archive records them (`host:port`, sorted); [] for a standalone. */
  members: string[];
  /** Where each of those members kept its data (`host:port` → host and data directory). */
  memberDirs: Map<string, { host: string; dir: string }>;
}

const dirKey = (host: string, dir: string) => `${hostKey(host)}\0${path.resolve(dir)}`;

/**
 * `host\0dir` → what the newest archive (by its marker's time) that records the directory says
 * of it: the replica set and release it was deployed with. Archives without a readable
 * meta.yaml are skipped.
 */
async function recordedData(archiveRoot: string): Promise<Map<string, Recorded>> {
  const entries = await Array.fromAsync(Deno.readDir(archiveRoot)).catch(() => []);
  const archives: { dir: string; meta: ClusterMeta; at: number }[] = [];
  for (const e of entries) {
    if (!e.isDirectory) continue;
    const dir = path.join(archiveRoot, e.name);
    let meta;
    try {
      meta = ClusterMeta.safeParse(parse(await Deno.readTextFile(path.join(dir, "meta.yaml"))));
    } catch {
      continue;
    }
    if (!meta.success) continue;
    const at = (await Deno.stat(path.join(dir, ".mup-archived")).catch(() => undefined))?.mtime;
    archives.push({ dir, meta: meta.data, at: at?.getTime() ?? 0 });
  }
  const out = new Map<string, Recorded>();
  // Oldest first, so that the newest record of a directory wins.
  for (const a of archives.sort((x, y) => x.at - y.at)) {
    const procs = listProcesses(a.meta.topology, a.meta.deploy_dir);
    for (const p of procs) {
      if (p.role === "mongos") continue;
      out.set(dirKey(p.host, p.dirs.data), {
        set: p.replicaSet,
        version: a.meta.version,
        fcv: a.meta.feature_compatibility_version ?? seriesOf(a.meta.version),
        cluster: a.meta.name,
        archive: a.dir,
        members: p.replicaSet ? membersOf(procs, p.replicaSet) : [],
        memberDirs: new Map(
          procs.filter((q) => p.replicaSet && q.replicaSet === p.replicaSet)
            .map((q) => [hostPort(q.host, q.port), { host: q.host, dir: q.dirs.data }]),
        ),
      });
    }
  }
  return out;
}

/** The members of replica set `set` among `procs`, as `host:port`, sorted. */
function membersOf(procs: ProcessSpec[], set: string): string[] {
  return procs.filter((p) => p.replicaSet === set).map((p) => hostPort(p.host, p.port)).sort();
}

/** A data directory in use that an archive records, with what that archive says of it. */
type Retained = { host: string; dir: string; was: Recorded };

/**
 * Checks every data directory of a first deploy that holds MongoDB data against what the
 * destroy's archive records of it: it must be put in the replica set it was deployed in
 * (`retained_data_replica_set`), and mongod `version` must be able to start on it
 * (`retained_data_version`; without this the deploy passes pre-flight and mongod exits 62).
 * The directories are probed and the archives read once for both. A failed check per rule
 * broken, naming the directory, both sets or versions, the archive and the fix; none when
 * there is nothing to say.
 */
export async function checkRetainedArchives(input: {
  procs: ProcessSpec[];
  /** dataDirsInUse(procs) when the caller has it already. */
  inUse?: Awaited<ReturnType<typeof dataDirsInUse>>;
  /** The release the plan deploys (e.g. "8.0.4"). */
  version: string;
  /** `storage/archive` under $MUP_HOME, where `cluster destroy` archives. */
  archiveRoot: string;
  executors: ExecutorFactory;
}): Promise<{ check: CheckResult; issue: ValidationIssue }[]> {
  const t0 = performance.now();
  const inUse = input.inUse ?? await dataDirsInUse(input.procs, input.executors);
  if (!inUse.length) return [];
  const partial = setsWithoutData(input.procs, inUse);
  const recorded = await recordedData(input.archiveRoot);
  if (!recorded.size) return partial ? [refusal(partial.code, partial.message, t0)] : [];
  const retained = inUse.flatMap((d) => {
    const was = recorded.get(dirKey(d.host, d.dir));
    return was ? [{ ...d, was }] : [];
  });
  const planned = new Map(
    input.procs.filter((p) => p.role !== "mongos").map((p) => [dirKey(p.host, p.dirs.data), p]),
  );
  const refusals = [
    otherSet(retained.flatMap((r) => {
      const now = planned.get(dirKey(r.host, r.dir))?.replicaSet;
      return r.was.set && now && r.was.set !== now ? [{ ...r, set: r.was.set, now }] : [];
    })),
    otherRelease(
      retained.filter((r) => !startsOnDataOf(input.version, r.was.fcv)),
      input.version,
    ),
    otherMembers(retained, input.procs),
    partial,
  ];
  return refusals.flatMap((r) => r ? [refusal(r.code, r.message, t0)] : []);
}

/**
 * Retained data of some of the cluster's sets only: a set (or standalone) none of whose
 * data-bearing members holds data, beside sets that do. Deployed, that set would start empty
 * (a config server set initiated anew forgets every database and chunk the shards' data belongs
 * to; an emptied shard loses its part) while the deploy reports success. `inUse`: the data
 * directories holding data.
 */
function setsWithoutData(procs: ProcessSpec[], inUse: { host: string; dir: string }[]) {
  const holds = new Set(inUse.map((d) => dirKey(d.host, d.dir)));
  const bearing = procs.filter((p) => p.role !== "mongos" && !p.arbiterOnly);
  const sets = new Map<string, ProcessSpec[]>();
  for (const p of bearing) {
    const k = p.replicaSet ?? p.id;
    sets.set(k, [...(sets.get(k) ?? []), p]);
  }
  const empty = [...sets].filter(([, ms]) =>
    !ms.some((m) => holds.has(dirKey(m.host, m.dirs.data)))
  );
  if (!empty.length || empty.length === sets.size) return undefined;
  const name = ([k, ms]: [string, ProcessSpec[]]) =>
    ms[0].role === "config"
      ? `the config server set ${k}`
      : ms[0].replicaSet
      ? `replica set ${k}`
      : k;
  const dirs = empty.flatMap(([, ms]) => ms.map((m) => `${m.host}:${m.dirs.data}`));
  return {
    code: "retained_data_partial",
    message: `${empty.map(name).join(", ")} ${empty.length === 1 ? "holds" : "hold"} no data ` +
      `(${dirs.join(", ")}), while the cluster's other data directories hold retained data: ` +
      `deployed, ${empty.length === 1 ? "it" : "they"} would start empty${
        empty.some(([, ms]) => ms[0].role === "config")
          ? " and the shards' data would belong to no database the cluster knows"
          : ", and that part of the cluster's data would be gone"
      }. Restore the data of ${empty.length === 1 ? "that set" : "those sets"} into ${
        empty.length === 1 && empty[0][1].length === 1 ? "its directory" : "their directories"
      } first; to start the whole cluster empty, remove the retained data: ${removal(inUse)}`,
  };
}

/** Data of replica set `set` that the topology puts in set `now`. */
function otherSet(wrong: (Retained & { set: string; now: string })[]) {
  if (!wrong.length) return undefined;
  const [w] = wrong;
  return {
    code: "retained_data_replica_set",
    message: `data directory ${w.host}:${w.dir} holds data of replica set ${w.set}${
      more(wrong)
    }, deployed by cluster ${w.was.cluster} (archived in ${w.was.archive}), but the topology puts it in replica set ${w.now}: mongod would keep ${w.set}'s stored config and never join ${w.now}. To deploy onto this data, set replica_set: ${w.set} for these members; to start ${w.now} empty, remove the data first: ${
      removal(wrong)
    }`,
  };
}

/**
 * Retained data of a replica set whose recorded members are not the ones the topology gives that
 * set: the stored config keeps the recorded members (replSetInitiate answers AlreadyInitialized
 * on it), so an added member would never join and a left-out one still counts in the majority.
 */
function otherMembers(retained: Retained[], procs: ProcessSpec[]) {
  for (const r of retained) {
    const set = r.was.set;
    if (!set || !r.was.members.length) continue;
    const planned = membersOf(procs, set);
    if (!planned.length) continue; // another set now: otherSet's refusal says so
    const key = (m: string) => m.toLowerCase();
    const added = planned.filter((m) => !r.was.members.some((x) => key(x) === key(m)));
    const dropped = r.was.members.filter((m) => !planned.some((x) => key(x) === key(m)));
    if (!added.length && !dropped.length) continue;
    const diff = [
      ...(added.length ? [`adds ${added.join(", ")}`] : []),
      ...(dropped.length ? [`leaves out ${dropped.join(", ")}`] : []),
    ].join(" and ");
    const dirs = retained.filter((x) => x.was.set === set && x.was.archive === r.was.archive);
    // A left-out member's data is the set's too: removing the set's data removes it as well.
    const leftOut = dropped.flatMap((m) => {
      const d = r.was.memberDirs.get(m);
      return d && !dirs.some((x) => dirKey(x.host, x.dir) === dirKey(d.host, d.dir)) ? [d] : [];
    });
    return {
      code: "retained_data_members",
      message: `data directory ${r.host}:${r.dir} holds data of replica set ${set}${
        more(dirs)
      }, deployed by cluster ${r.was.cluster} (archived in ${r.was.archive}) with members ${
        r.was.members.join(", ")
      }, but the topology ${diff}: the data keeps ${set}'s stored config, so ${
        added.length ? "an added member would never join the set" : ""
      }${added.length && dropped.length ? " and " : ""}${
        dropped.length ? "a left-out member would still count in its majority" : ""
      }. mup deploys onto retained data only with the members it was destroyed with: deploy ${set} with members ${
        r.was.members.join(", ")
      }, or remove the data first: ${
        removal([...dirs, ...leftOut])
      } (once deployed, \`mup cluster scale-out\` and \`scale-in\` change its members)`,
    };
  }
  return undefined;
}

/** Data of a release mongod `version` cannot start on. */
function otherRelease(wrong: Retained[], version: string) {
  if (!wrong.length) return undefined;
  const [w] = wrong;
  return {
    code: "retained_data_version",
    message: `data directory ${w.host}:${w.dir} holds data of MongoDB ${w.was.version} at ` +
      `featureCompatibilityVersion ${w.was.fcv}${
        more(wrong)
      }, deployed by cluster ${w.was.cluster} (archived in ${w.was.archive}): mongod ${version} cannot start on it (a release starts only on data at its own or the previous release's featureCompatibilityVersion). Deploy onto it with --version ${
        releasesFor(w.was.fcv)
      }, or remove the data first: ${removal(wrong)}`,
  };
}

const more = (wrong: unknown[]) =>
  wrong.length > 1 ? ` (so do ${wrong.length - 1} more of this topology's)` : "";

/** The end of both messages: how to remove the data, or avoid it. */
function removal(wrong: { host: string; dir: string }[]): string {
  return `\`rm -rf ${wrong.map((x) => x.dir).join(" ")}\`${
    wrong.some((x) => x.host !== "localhost") ? " (on each host)" : ""
  }; or give the cluster other data_dir paths`;
}

/** A failed pre-flight check and its error, both saying `message`. */
function refusal(
  code: string,
  message: string,
  t0: number,
): { check: CheckResult; issue: ValidationIssue } {
  return {
    check: { name: code, status: "failed", message, duration: Math.round(performance.now() - t0) },
    issue: { code, severity: "error", message },
  };
}

/** MongoDB's release series in order (rapid releases are never deployed by mup). */
const SERIES = ["4.4", "5.0", "6.0", "7.0", "8.0"];
const seriesOf = (version: string) => version.split(".").slice(0, 2).join(".");

/**
 * Whether mongod `version` starts on data at featureCompatibilityVersion `dataFcv` ("7.0"; a full
 * version is read as its series): a binary accepts its own series' FCV and the previous one's,
 * whichever binary wrote the data (MongoDB docs: "Upgrade a Standalone/Replica Set", one release
 * at a time; "Downgrade" sets the FCV down first, then runs the older binary on the data).
 */
export function startsOnDataOf(version: string, dataFcv: string): boolean {
  const [to, from] = [SERIES.indexOf(seriesOf(version)), SERIES.indexOf(seriesOf(dataFcv))];
  if (to < 0 || from < 0) return seriesOf(version) === seriesOf(dataFcv);
  return to === from || to === from + 1;
}

/** The --version values that start on data at `fcv`: "7.0" or "8.0" for "7.0". */
function releasesFor(fcv: string): string {
  const next = SERIES[SERIES.indexOf(seriesOf(fcv)) + 1];
  return next && SERIES.includes(seriesOf(fcv)) ? `${seriesOf(fcv)} or ${next}` : seriesOf(fcv);
}
