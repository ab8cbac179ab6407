/**
 * `mup cluster stop`: mongos first, then the shards' members, then the config servers; in each
 * replica set the secondaries before the primary, so no set holds an election on its way down.
 * Pure: the facts (which processes run, which is primary) were probed before.
 */
import type { ProcessSpec } from "./processes.ts";
import type { Plan, PlannedOperation } from "./schema.ts";
import { selectProcesses } from "./select.ts";
import {
  clusterProcesses,
  EST,
  lifecyclePlan,
  type LifecyclePlanInput,
  statusNow,
} from "./lifecycle.ts";
import { markedPhases, metadataOp, stopOp } from "./lifecycle_ops.ts";
import { PRIMARY_SHUTDOWN_SECS } from "./stop_timing.ts";
import { stopWarnings } from "./stop_warnings.ts";
import { MONGOS_QUIESCE_SECS } from "./quiesce.ts";

/**
 * Stop operations for the running (or starting) processes of `chosen`, stage after stage (mongos, shard
 * members, config servers); within a set the primary waits for its secondaries.
 */
export function orderedStops(
  input: LifecyclePlanInput,
  chosen: ProcessSpec[],
  force = false,
): PlannedOperation[] {
  // One still starting is stopped too: left alone it would come up after the stop.
  const running = chosen.filter((p) => input.facts[p.id]?.running || input.facts[p.id]?.starting);
  const all = clusterProcesses(input).procs;
  const ops: PlannedOperation[] = [];
  let before: string[] = [];
  const stage = (group: ProcessSpec[]) => {
    const ids: string[] = [];
    const bySet = new Map<string, ProcessSpec[]>();
    for (const p of group) {
      if (!p.replicaSet) {
        // A mongos stopped while another goes on routing quiesces first, so that drivers move
        // to the other one (MONGOS_QUIESCE_SECS); the last ones to stop have nowhere to send them.
        const routes = p.role === "mongos" &&
          all.some((q) =>
            q.role === "mongos" && input.facts[q.id]?.running && !running.some((r) => r.id === q.id)
          );
        ops.push(stopOp(p, before, force, undefined, routes ? MONGOS_QUIESCE_SECS : undefined));
        ids.push(`stop-${p.id}`);
      } else bySet.set(p.replicaSet, [...(bySet.get(p.replicaSet) ?? []), p]);
    }
    for (const members of bySet.values()) {
      const isPrimary = (p: ProcessSpec) => input.facts[p.id]?.state === "PRIMARY";
      const secondaries = members.filter((p) => !isPrimary(p));
      // A secondary stopped on its own spends no quiesce period (its set keeps the primary).
      for (const p of secondaries) ops.push(stopOp(p, before, force, undefined, 0));
      const after = secondaries.map((p) => `stop-${p.id}`);
      // A primary whose set stops whole has no one to step down to: it is shut down with force
      // (without, MongoDB's shutdown command refuses on a primary that cannot step down).
      const whole = !all.some((p) =>
        p.replicaSet === members[0].replicaSet && input.facts[p.id]?.running &&
        !members.some((m) => m.id === p.id)
      );
      for (const p of members.filter(isPrimary)) {
        const stop = stopOp(p, [...before, ...after], force || whole);
        // Its progress line would otherwise sit there for seconds unexplained (tester109).
        if (!force && !whole) {
          stop.description += ` (the primary: it waits up to ${PRIMARY_SHUTDOWN_SECS} s for a ` +
            `secondary to catch up and take over, then quiesces for ${PRIMARY_SHUTDOWN_SECS} s, ` +
            "as MongoDB's shutdown does)";
          // Estimated as that, not as the stops of secondaries mup measured (applyMeasured).
          stop.target.params.hands_over = "true";
          stop.estimated_ms = EST.stop + PRIMARY_SHUTDOWN_SECS * 1000;
        }
        ops.push(stop);
        after.push(`stop-${p.id}`);
      }
      ids.push(...after);
    }
    if (ids.length) before = ids;
  };
  stage(running.filter((p) => p.role === "mongos"));
  stage(running.filter((p) => p.role === "mongod"));
  stage(running.filter((p) => p.role === "config"));
  return ops;
}

/**
 * Pure: the stop Plan. No operations at all when none of the chosen processes runs and meta
 * already records the status the cluster is in.
 */
export function planStop(input: LifecyclePlanInput): Omit<Plan, "content_hash"> {
  const { procs, sets } = clusterProcesses(input);
  const stops = orderedStops(input, selectProcesses(procs, input.filter, input.meta.name));
  const stopped = new Set(stops.map((o) => o.target.name));
  const record = stops.length > 0 || input.meta.status !== statusNow(input, procs);
  return lifecyclePlan(
    input,
    "stop",
    markedPhases(input, [
      {
        name: "stop",
        description: "Stop mongos, then shard members, then config servers",
        ops: stops,
      },
      {
        name: "finalize",
        description: "Record the cluster's status",
        ops: record ? [metadataOp(input, "auto")] : [],
      },
    ]),
    { warnings: stopWarnings(procs, sets, input.facts, stopped) },
  );
}
