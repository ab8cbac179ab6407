/**
 * `--wait-timeout` of the lifecycle commands: how long each of a plan's waits may take (a process
 * answering, a member back as SECONDARY and caught up, a primary elected, the cluster healthy),
 * recorded in each wait's `timeout_ms` so that a resume keeps it. Pure.
 */
import type { OperationType, Plan } from "./schema.ts";

/** The operations that wait for the cluster rather than act on it. */
const WAITS: ReadonlySet<OperationType> = new Set([
  "wait_for_process",
  "wait_for_member_state",
  "wait_for_primary",
  "verify_health",
  // A shard's draining (cluster scale-in): a wait for the balancer; a member's removal waits
  // for a primary and for each new config to reach a majority.
  "remove_shard",
  "remove_members",
  // setDefaultRWConcern waits for a majority of members to acknowledge it.
  "set_default_write_concern",
]);

/** `plan` with every wait's timeout set to `ms` (unchanged when `ms` is undefined). */
export function withWaitTimeout<P extends Omit<Plan, "content_hash">>(plan: P, ms?: number): P {
  if (ms === undefined) return plan;
  return {
    ...plan,
    phases: plan.phases.map((ph) => ({
      ...ph,
      operations: ph.operations.map((o) =>
        WAITS.has(o.type) ? { ...o, target: { ...o.target, timeout_ms: ms } } : o
      ),
    })),
  };
}
