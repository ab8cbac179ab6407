/**
 * The rules of `global.default_write_concern` a topology file alone decides (validate.ts), so
 * that `mup topology validate` and a plan's load refuse them at their line: a standalone has no
 * cluster-wide default (setDefaultRWConcern refuses it, code 51300), and a numeric `w` above a
 * set's data-bearing members is never acknowledged (UnsatisfiableWriteConcern). The planners
 * check the same words against the sets a plan leaves (plan/default_write_concern.ts).
 * MongoDB manual: setDefaultRWConcern, "Write Concern" (w: <number>).
 */
import { type Topology, topologyKind } from "./schema.ts";
import type { Issue } from "./validate.ts";
import { releaseBefore } from "./release.ts";

/** Why a standalone cannot have one. */
export const STANDALONE_DEFAULT_WRITE_CONCERN =
  "a standalone mongod has no cluster-wide default write concern (setDefaultRWConcern runs on " +
  "replica sets and through mongos only); remove it";

/**
 * Why `w` (a number of members) cannot be acknowledged by set `set` of `dataBearing` members
 * (arbiters hold no data and acknowledge nothing) and what to give instead, as `why` "needs 3
 * data-bearing members … rs0 would have 2 …" and `fix` "give w: …"; undefined when it can.
 */
export function unsatisfiableW(
  w: number,
  set: string,
  dataBearing: number,
): { why: string; fix: string } | undefined {
  if (w <= dataBearing) return undefined;
  return {
    why: `needs ${w} data-bearing members to acknowledge each write, and ${set} would have ` +
      `${dataBearing}: MongoDB would refuse every write that names no write concern ` +
      "(UnsatisfiableWriteConcern)",
    fix: `give w: "majority" or at most ${dataBearing} (on a running cluster, ` +
      "`mup cluster reconfigure` changes it first)",
  };
}

/** The issues of `t`'s default_write_concern, at its place in the file. */
export function writeConcernIssues(t: Topology, version?: string): Issue[] {
  const c = t.global.default_write_concern;
  if (!c) return shardsNeedingOne(t, version);
  if (topologyKind(t) === "standalone") {
    return [{
      severity: "error",
      code: "default_write_concern",
      path: ["global", "default_write_concern"],
      message: STANDALONE_DEFAULT_WRITE_CONCERN,
      hint: "remove global.default_write_concern, or deploy a replica set",
    }];
  }
  const w = c.w;
  return [...mongodSets(t)].flatMap(([set, n]): Issue[] => {
    const no = typeof w === "number" ? unsatisfiableW(w, set, n.data) : undefined;
    if (no) {
      return [{
        severity: "error",
        code: "default_write_concern",
        path: ["global", "default_write_concern", "w"],
        message: `${w} ${no.why}`,
        hint: no.fix,
      }];
    }
    // Every data-bearing member must acknowledge: one down (a restart, a failure) and writes
    // that name no write concern wait (MongoDB manual, "Mitigate Performance Issues with PSA
    // Replica Set"; writeMajorityCount caps a majority at the voting data-bearing members).
    const writeMajority = Math.min(Math.floor(n.voters / 2) + 1, n.votingData);
    const all = w === "majority" ? writeMajority >= n.votingData : w >= n.data;
    if (!all || n.data < 2) return [];
    return [{
      severity: "warning",
      code: "default_write_concern_all_members",
      path: ["global", "default_write_concern", "w"],
      message:
        `${w === "majority" ? '"majority"' : w} needs every ${
          w === "majority" ? "voting " : ""
        }data-bearing member of ${set} (${
          w === "majority" ? n.votingData : n.data
        }) to acknowledge a write: while one is down or restarting, writes that name no write ` +
        `concern wait${c.wtimeout ? " until wtimeout, then fail" : ", with no end"}${
          n.voters > n.votingData ? " (its arbiters vote but hold no data)" : ""
        }`,
      hint:
        `give w: ${
          w === "majority" ? 1 : Math.max(1, n.data - 1)
        } to keep writing with a member down, or a wtimeout so that writes fail instead of ` +
        "waiting, or add a data-bearing member",
    }];
  });
}

/**
 * Without a default write concern: each shard whose implicit default is `{w: 1}` (its arbiters
 * leave its voting data-bearing members no more than a majority), which MongoDB 5.1+'s
 * addShard refuses until the cluster has a cluster-wide one. A warning at its arbiter: a
 * cluster whose default was set outside mup may take it (the deploy and scale-out plans say).
 */
function shardsNeedingOne(t: Topology, version?: string): Issue[] {
  if (releaseBefore(version, "5.1") || topologyKind(t) !== "sharded") return [];
  return [...mongodSets(t)].flatMap(([set, n]): Issue[] => {
    const majority = Math.floor(n.voters / 2) + 1;
    if (n.arbiter === undefined || n.votingData === n.voters || n.votingData > majority) return [];
    return [{
      severity: "warning",
      code: "shard_needs_default_write_concern",
      path: ["mongod_servers", n.arbiter, "arbiter_only"],
      message: `shard ${set}'s implicit default write concern is {w: 1} (its arbiters leave ` +
        `${n.votingData} voting data-bearing members of ${n.voters}): MongoDB 5.1+ adds such a shard ` +
        "(addShard) only once the cluster has a cluster-wide default write concern",
      hint: "give global.default_write_concern: a deploy sets it through mongos before it adds " +
        "the shards",
    }];
  });
}

/**
 * The replica sets of `mongod_servers` (a replica set cluster's, or the shards: config servers
 * keep the default and take no client writes), each with its data-bearing members, voters,
 * voting data-bearing members and the index of its first arbiter.
 */
function mongodSets(t: Topology) {
  const sets = new Map<
    string,
    { data: number; voters: number; votingData: number; arbiter?: number }
  >();
  t.mongod_servers.forEach((s, i) => {
    if (!s.replica_set) return;
    const n = sets.get(s.replica_set) ?? { data: 0, voters: 0, votingData: 0 };
    const votes = (s.votes ?? 1) > 0;
    n.data += s.arbiter_only ? 0 : 1;
    n.voters += votes ? 1 : 0;
    n.votingData += votes && !s.arbiter_only ? 1 : 0;
    if (s.arbiter_only && n.arbiter === undefined) n.arbiter = i;
    sets.set(s.replica_set, n);
  });
  return sets;
}
