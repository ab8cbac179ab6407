/**
 * What a stop takes away from the processes that keep running, as plan warnings: a replica set
 * that loses the majority of its voting members (MongoDB elects a primary only with a majority of
 * votes: the set has no primary and is read-only), a whole config server replica set stopped
 * under running shards or mongos (the sharded cluster's metadata is unavailable), a whole shard
 * (its data is unavailable), every mongos (clients have no router), a primary that steps down
 * (an election). A stop of the whole cluster says nothing: that is what was asked. Pure.
 */
import type { ProcessSpec, ReplicaSetSpec } from "./processes.ts";
import type { ProcessFact } from "./lifecycle.ts";
import type { ValidationIssue } from "./schema.ts";
import { hostPort } from "../topology/hosts.ts";
import { setVotes, votesUnknown } from "./votes.ts";

const warn = (code: string, message: string): ValidationIssue => ({
  code,
  severity: "warning",
  message,
});

/**
 * Warnings for stopping the processes `stopped` (IDs) of a cluster whose processes `procs` run as
 * `facts` say. Votes follow MongoDB's majority rule: more than half of all configured votes.
 */
export function stopWarnings(
  procs: ProcessSpec[],
  sets: ReplicaSetSpec[],
  facts: Record<string, ProcessFact>,
  stopped: Set<string>,
): ValidationIssue[] {
  const runningNow = (p: ProcessSpec) => facts[p.id]?.running === true;
  const runningAfter = (p: ProcessSpec) => runningNow(p) && !stopped.has(p.id);
  // Nothing keeps running: the whole cluster stops, as asked.
  if (stopped.size === 0 || !procs.some(runningAfter)) return [];
  const out: ValidationIssue[] = [];
  const sharded = procs.some((p) => p.role === "mongos");
  const names = (ps: ProcessSpec[]) => ps.map((p) => hostPort(p.host, p.port)).join(", ");
  for (const s of sets) {
    const stopping = s.members.filter((p) => stopped.has(p.id));
    if (!stopping.length) continue;
    const unknown = votesUnknown(
      s.name,
      s.members,
      facts,
      `${names(stopping)} ${stopping.length === 1 ? "stops" : "stop"}`,
    );
    if (unknown) {
      out.push(unknown);
      continue;
    }
    const { total, need, count: votes } = setVotes(s.members, facts);
    const before = votes(runningNow);
    const after = votes(runningAfter);
    const left = s.members.filter(runningAfter);
    if (!left.length) {
      if (s.configsvr && sharded) {
        out.push(warn(
          "config_servers_stopped",
          `Stops the whole config server replica set ${s.name} (${
            names(stopping)
          }) while other processes keep running: the sharded cluster's metadata becomes unavailable (mongos cannot route, no chunk migrates) until they start again`,
        ));
      } else if (sharded) {
        out.push(warn(
          "shard_stopped",
          `Stops every member of shard ${s.name} (${
            names(stopping)
          }): its data is unavailable through mongos until they start again`,
        ));
      } else if (before >= need) {
        out.push(warn(
          "replica_set_stopped",
          `Stops every member of replica set ${s.name} (${names(stopping)})`,
        ));
      }
      continue;
    }
    const primary = stopping.find((p) => facts[p.id]?.state === "PRIMARY");
    if (primary && after >= need) {
      out.push(warn(
        "primary_steps_down",
        `Stops ${hostPort(primary.host, primary.port)}, the primary of ${s.name}: it steps ` +
          "down first (replSetStepDown; an election, a brief pause in writes) and another member " +
          "becomes primary",
      ));
    }
    if (before >= need && after < need) {
      out.push(warn(
        "majority_lost",
        `Replica set ${s.name} loses its majority: ${after} of ${total} votes keep running (${need} needed; ${
          names(left)
        } ${
          left.length === 1 ? "stays" : "stay"
        } up), so it has no primary and is read-only until a member starts again`,
      ));
    }
  }
  const mongos = procs.filter((p) => p.role === "mongos");
  if (mongos.length && mongos.some(runningNow) && !mongos.some(runningAfter)) {
    out.push(warn(
      "mongos_stopped",
      `Stops every mongos (${
        names(mongos.filter(runningNow))
      }): clients cannot reach the sharded cluster until one starts again`,
    ));
  }
  return out;
}
