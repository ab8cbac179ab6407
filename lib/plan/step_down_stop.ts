/**
 * A step-down and the stop it precedes, in a plan: a resume makes a step-down (and the wait for
 * the new primary after it) again while its stop has not begun, since a step-down lasts
 * step_down_secs only (lib/apply/recheck.ts lapsedStepDowns). Pure.
 */
import { allOperations, type Plan, type PlannedOperation } from "./schema.ts";

/** The stop that step-down `sd` precedes (the stop of its member), if the plan has one. */
export function stopAfterStepDown(plan: Plan, sd: PlannedOperation): PlannedOperation | undefined {
  return allOperations(plan).find((o) =>
    o.type === "stop_process" && o.target.name === sd.target.name
  );
}

/**
 * Whether a resume makes `op` again while the stop after it has not begun: a step-down with a
 * stop after it, or a wait for the new primary after such a step-down.
 */
export function madeAgainBeforeItsStop(plan: Plan, op: PlannedOperation): boolean {
  const ops = allOperations(plan);
  const steps = op.type === "step_down"
    ? [op]
    : op.type === "wait_for_primary"
    ? ops.filter((o) => o.type === "step_down" && op.depends_on.includes(o.id))
    : [];
  return steps.some((sd) => stopAfterStepDown(plan, sd) !== undefined);
}
