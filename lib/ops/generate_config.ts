import { writeFileAtomic } from "../state/atomic.ts";
import { type Operation, param, storeParam } from "./operation.ts";

/** Writes the configuration rendered at plan time into the cluster's staging directory. */
export const generateConfig: Operation = {
  async isDone(ctx) {
    try {
      return (await Deno.readTextFile(storeParam(ctx, "staged_path"))) === param(ctx, "content");
    } catch {
      return false;
    }
  },
  async run(ctx) {
    await writeFileAtomic(storeParam(ctx, "staged_path"), param(ctx, "content"));
    return { output: `wrote ${storeParam(ctx, "staged_path")}` };
  },
};
