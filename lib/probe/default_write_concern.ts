/**
 * Whether a replica set has a cluster-wide default write concern (CWWC): getDefaultRWConcern
 * answers `defaultWriteConcernSource: "global"` once setDefaultRWConcern set one (MongoDB 5.0+;
 * manual: getDefaultRWConcern). Read-only.
 */
import * as path from "node:path";
import type { Document } from "mongodb";
import type { ExecutorFactory } from "../executor/executor.ts";
import type { MongoAccess } from "../mongo/client.ts";
import {
  checksImplicitDefault,
  checksShardImplicitDefault,
} from "../plan/implicit_write_concern.ts";
import {
  listProcesses,
  listReplicaSets,
  type ProcessSpec,
  type ReplicaSetSpec,
} from "../plan/processes.ts";
import { clusterAccess } from "../security/access.ts";
import type { ClusterMeta } from "../state/meta.ts";

/** The default write concern a server applies: `value` (absent: an implicit `{w: 1}`), `source`. */
export interface DefaultsReading {
  value?: Document;
  source: "global" | "implicit";
}

/**
 * getDefaultRWConcern of the first of `targets` (members or mongos) that answers, each asked in
 * turn within `timeoutMs`; undefined when none does. `source` "global": set cluster-wide
 * (setDefaultRWConcern); 4.4, which names no source, shows a value only once one is set.
 */
export async function readDefaults(
  access: MongoAccess,
  targets: { host: string; port: number }[],
  timeoutMs?: number,
): Promise<DefaultsReading | undefined> {
  for (const t of targets) {
    const r = await access.adminCommand(t.host, t.port, { getDefaultRWConcern: 1 }, timeoutMs)
      .catch(() => undefined);
    if (!r) continue;
    const wc = r.defaultWriteConcern as Document | undefined;
    const source = r.defaultWriteConcernSource ?? (wc ? "global" : "implicit");
    return { ...(wc ? { value: wc } : {}), source: source === "global" ? "global" : "implicit" };
  }
  return undefined;
}

/**
 * Asks the set's data-bearing `members` in turn (an arbiter holds no users to log in with) until
 * one answers; undefined when none does (the apply then meets the server's own refusal).
 */
export async function clusterWideWriteConcernSet(
  access: MongoAccess,
  members: ProcessSpec[],
): Promise<boolean | undefined> {
  const r = await readDefaults(access, members.filter((m) => !m.arbiterOnly));
  return r && r.source === "global";
}

/**
 * By replica set, whether a cluster-wide default write concern is set, for the sets `asked`
 * picks (those whose implicit default the plan may change): each set of a replica set cluster
 * on MongoDB 5.0+ asked itself; each shard of a sharded cluster on 5.1+ the cluster's, asked
 * once through a mongos (others: none asked). `clusterDir` holds the cluster's deploy directory.
 */
export async function setsWithClusterWideWriteConcern(
  meta: ClusterMeta,
  executors: ExecutorFactory,
  clusterDir: string,
  asked: (s: ReplicaSetSpec) => boolean,
): Promise<Record<string, boolean | undefined>> {
  const out: Record<string, boolean | undefined> = {};
  const procs = listProcesses(meta.topology, path.join(clusterDir, "deploy"));
  const access = clusterAccess(meta.name, meta.topology, executors);
  if (meta.kind === "replica_set" && checksImplicitDefault(meta.version)) {
    for (const s of listReplicaSets(procs).filter(asked)) {
      out[s.name] = await clusterWideWriteConcernSet(access, s.members);
    }
  }
  if (meta.kind === "sharded" && checksShardImplicitDefault(meta.version)) {
    const shards = listReplicaSets(procs).filter((s) => !s.configsvr && asked(s));
    const set = shards.length
      ? await clusterWideWriteConcernSet(access, procs.filter((p) => p.role === "mongos"))
      : undefined;
    for (const s of shards) out[s.name] = set;
  }
  return out;
}

/**
 * The cluster-wide default write concern cluster `meta` holds now (getDefaultRWConcern's
 * `defaultWriteConcern` where its source is "global"; null when none is set), asked of a
 * data-bearing member of its first replica set, or of a mongos; undefined when none answers or
 * the cluster is a standalone. For a reconfigure that sets back one changed outside mup.
 */
export async function liveDefaultWriteConcern(
  meta: ClusterMeta,
  executors: ExecutorFactory,
  clusterDir: string,
): Promise<Document | null | undefined> {
  if (meta.kind === "standalone") return undefined;
  const procs = listProcesses(meta.topology, path.join(clusterDir, "deploy"));
  const access = clusterAccess(meta.name, meta.topology, executors);
  const r = await readDefaults(
    access,
    meta.kind === "sharded"
      ? procs.filter((p) => p.role === "mongos")
      : procs.filter((p) => p.replicaSet && !p.arbiterOnly),
  );
  return r && (r.source === "global" && r.value ? r.value : null);
}
