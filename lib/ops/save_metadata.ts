import * as path from "node:path";
import { readMeta, writeMeta } from "../state/meta.ts";
import { metaFromPlan } from "../state/meta_from_plan.ts";
import { type Operation, storeParam } from "./operation.ts";

/** meta.yaml: what later commands need to know, with lineage and serial for stale-plan checks. */
export const saveMetadata: Operation = {
  async isDone(ctx) {
    const meta = await readMeta(path.dirname(storeParam(ctx, "path"))).catch(() => undefined);
    return meta?.last_plan_id === ctx.plan.plan_id;
  },
  async run(ctx) {
    const dir = path.dirname(storeParam(ctx, "path"));
    const prev = await readMeta(dir);
    await writeMeta(dir, metaFromPlan(ctx.plan, dir, { prev, stateId: ctx.stateId }));
    return { output: `wrote ${ctx.op.target.params.path}` };
  },
};
