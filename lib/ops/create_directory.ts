import { type Operation, param } from "./operation.ts";

/**
 * Creates the data, log and configuration directories of a process. Its outcome's metadata
 * lists (`created`) the directories that did not exist before, so a rollback removes only
 * what this operation made and never a directory, or files in it, that were there before.
 */
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
    const created: string[] = [];
    for (const p of paths) {
      if (await ex.exists(p)) continue;
      await ex.mkdir(p, mode);
      created.push(p);
    }
    const kept = paths.filter((p) => !created.includes(p));
    return {
      output: `created ${created.join(", ") || "nothing"}${
        kept.length ? `; already there: ${kept.join(", ")}` : ""
      }`,
      metadata: { created },
    };
  },
};
