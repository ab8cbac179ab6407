import * as path from "node:path";
import { StateStore } from "../state/store.ts";
import { type Operation, param, storeParam } from "./operation.ts";

/**
 * The last step of a rollback: the apply that was rolled back gets the status rolled_back (its
 * snapshot rewritten atomically, naming this rollback's apply), and becomes the cluster's current
 * apply again, so `state show` and `plan resume` see it once this rollback has recorded its end
 * (StateStore.newest). Done when that status is recorded and the cluster points at it.
 */
export const markRolledBack: Operation = {
  async isDone(ctx) {
    const store = new StateStore(path.dirname(storeParam(ctx, "state_dir")));
    const st = await store.load(param(ctx, "state_id")).catch(() => undefined);
    // A resume of this rollback points the cluster at the rollback first: pointed back again.
    return st?.status === "rolled_back" && (await store.readPointer()).id === st.state_id;
  },
  async run(ctx) {
    const store = new StateStore(path.dirname(storeParam(ctx, "state_dir")));
    const st = await store.load(param(ctx, "state_id"));
    if (st.status === "rolled_back" && st.rolled_back_by === ctx.stateId) {
      await store.setCurrent(st.state_id);
      return { output: `apply ${st.state_id} is rolled_back (already recorded)` };
    }
    const at = new Date().toISOString();
    await store.writeSnapshot({
      ...st,
      status: "rolled_back",
      rolled_back_to: param(ctx, "checkpoint"),
      rolled_back_by: ctx.stateId,
      updated_at: at,
      completed_at: at,
      execution_log: [...st.execution_log, {
        timestamp: at,
        level: "info",
        phase: st.current_phase,
        message: `rolled back to ${
          param(ctx, "checkpoint")
        } by ${ctx.plan.plan_id} (${ctx.stateId})`,
      }],
    });
    await store.setCurrent(st.state_id);
    return { output: `apply ${st.state_id} is rolled_back` };
  },
};
