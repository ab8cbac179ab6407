import { type Operation, param } from "./operation.ts";

/**
 * Removes a directory (or file) and everything in it; with if_empty, only an empty directory
 * (a parent of the layout that may still hold another cluster's or retained data).
 */
export const removeDirectory: Operation = {
  async isDone(ctx) {
    return !(await ctx.executors.forHost(ctx.op.target.host!).exists(param(ctx, "path")));
  },
  async run(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    const p = param(ctx, "path");
    if (ctx.op.target.params.if_empty === "true") {
      const r = await ex.run(["rmdir", "--", p]);
      return { output: r.code === 0 ? `removed ${p}` : `kept ${p}: not empty` };
    }
    await ex.remove(p);
    return { output: `removed ${p}` };
  },
};
