import { type Operation, param } from "./operation.ts";

export const removeDirectory: Operation = {
  async isDone(ctx) {
    return !(await ctx.executors.forHost(ctx.op.target.host!).exists(param(ctx, "path")));
  },
  async run(ctx) {
    await ctx.executors.forHost(ctx.op.target.host!).remove(param(ctx, "path"));
    return { output: `removed ${param(ctx, "path")}` };
  },
};
