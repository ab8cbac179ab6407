import type { Plan, PlannedOperation } from "../plan/schema.ts";
import { allOperations } from "../plan/schema.ts";
import { OPERATIONS } from "../ops/registry.ts";
import type { ApplyState } from "../state/schema.ts";
import type { ApplyOptions } from "./applier.ts";

/** Operation types whose isDone is no probe of an effect (it always answers "not done"). */
const NOT_RECHECKED = new Set(["verify_health"]);

/**
 * The completed operations of an apply whose effect is no longer in place (isDone, which looks
 * at the world, now says no): a resume runs them again. Asked `parallelism` at a time.
 */
export async function lostEffects(
  plan: Plan,
  state: ApplyState,
  opts: ApplyOptions,
  signal: AbortSignal,
): Promise<PlannedOperation[]> {
  const done = allOperations(plan).filter((o) =>
    state.operation_states[o.id]?.status === "completed" && !NOT_RECHECKED.has(o.type)
  );
  const lost: PlannedOperation[] = [];
  for (let i = 0; i < done.length; i += opts.parallelism) {
    const batch = done.slice(i, i + opts.parallelism);
    const inPlace = await Promise.all(batch.map((op) =>
      OPERATIONS[op.type].isDone({
        op,
        plan,
        stateId: state.state_id,
        executors: opts.executors,
        signal,
        progress: () => {},
        log: () => {},
      }).catch(() => false)
    ));
    batch.forEach((op, j) => inPlace[j] || lost.push(op));
  }
  return lost;
}
