import { type Operation, param } from "./operation.ts";

/** Creates the data, log and configuration directories of a process. */
export const createDirectory: Operation = {
  async isDone(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    for (const p of JSON.parse(param(ctx, "paths")) as string[]) {
      if (!(await ex.exists(p))) return false;
    }
    return true;
  },
  async run(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    const mode = parseInt(ctx.op.target.params.mode ?? "0750", 8);
    const paths = JSON.parse(param(ctx, "paths")) as string[];
    for (const p of paths) await ex.mkdir(p, mode);
    return { output: `created ${paths.join(", ")}` };
  },
  async undo(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    for (const p of (JSON.parse(param(ctx, "paths")) as string[]).reverse()) await ex.remove(p);
  },
};
