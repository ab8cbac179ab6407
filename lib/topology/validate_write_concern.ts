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
export function writeConcernIssues(t: Topology): Issue[] {
  const c = t.global.default_write_concern;
  if (!c) return [];
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
  if (typeof w !== "number") return [];
  // Shards' members (config servers keep the default; they are not written to by clients).
  const data = new Map<string, number>();
  for (const s of t.mongod_servers) {
    if (s.replica_set) {
      data.set(s.replica_set, (data.get(s.replica_set) ?? 0) + (s.arbiter_only ? 0 : 1));
    }
  }
  return [...data].flatMap(([set, n]) => {
    const no = unsatisfiableW(w, set, n);
    return no
      ? [{
        severity: "error" as const,
        code: "default_write_concern",
        path: ["global", "default_write_concern", "w"],
        message: `${w} ${no.why}`,
        hint: no.fix,
      }]
      : [];
  });
}
