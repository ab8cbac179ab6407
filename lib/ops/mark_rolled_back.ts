import * as path from "node:path";
import { StateStore } from "../state/store.ts";
import { type Operation, param, storeParam } from "./operation.ts";

/**
 * The last step of a rollback: the apply that was rolled back gets the status rolled_back (its
 * snapshot rewritten atomically), and becomes the cluster's current apply again, so
 * `state show` and `plan resume` see it. Done when that status is recorded.
 */
export const markRolledBack: Operation = {
  async isDone(ctx) {
    const store = new StateStore(path.dirname(storeParam(ctx, "state_dir")));
    const st = await store.load(param(ctx, "state_id")).catch(() => undefined);
    return st?.status === "rolled_back";
  },
  async run(ctx) {
    const store = new StateStore(path.dirname(storeParam(ctx, "state_dir")));
    const st = await store.load(param(ctx, "state_id"));
    const at = new Date().toISOString();
    await store.writeSnapshot({
      ...st,
      status: "rolled_back",
      rolled_back_to: param(ctx, "checkpoint"),
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
