import { writeFileAtomic } from "../state/atomic.ts";
import { type Operation, param } from "./operation.ts";

/** Writes the configuration rendered at plan time into the cluster's staging directory. */
export const generateConfig: Operation = {
  async isDone(ctx) {
    try {
      return (await Deno.readTextFile(param(ctx, "staged_path"))) === param(ctx, "content");
    } catch {
      return false;
    }
  },
  async run(ctx) {
    await writeFileAtomic(param(ctx, "staged_path"), param(ctx, "content"));
    return { output: `wrote ${param(ctx, "staged_path")}` };
  },
};
