import * as path from "node:path";
import type { Executor } from "../executor/executor.ts";
import { isProcessFile } from "../topology/layout.ts";
import { type Operation, param } from "./operation.ts";

/** The entries of a directory, or undefined when it cannot be listed (absent). */
async function entries(ex: Executor, dir: string): Promise<string[] | undefined> {
  const r = await ex.run(["ls", "-A", "--", dir], { timeoutMs: 30_000 });
  return r.code === 0 ? r.stdout.split("\n").filter(Boolean) : undefined;
}

/** Up to three names, and how many more. */
function named(list: string[]): string {
  return list.slice(0, 3).join(", ") + (list.length > 3 ? ` and ${list.length - 3} more` : "");
}

/**
 * Removes a directory (or file) and everything in it. With if_empty, only an empty directory
 * (a parent of the layout that may still hold another cluster's or retained data). With
 * process_files, only the files mup's processes write (isProcessFile: mongod.log and its rotated
 * copies, mongod.conf, mongod.pid), then the directory if nothing else is left: a deploy, log or
 * config directory the topology names itself may hold files that are not mup's, and
 * (retained_data: a JSON array of paths) the data `--retain-data` keeps. What stays is the
 * outcome's notice: `kept <host>:<dir>: it holds …`.
 */
export const removeDirectory: Operation = {
  async isDone(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    const p = param(ctx, "path");
    if (!(await ex.exists(p))) return true;
    if (ctx.op.target.params.process_files !== "true") return false;
    // Done once only other files are left (an empty directory still needs its rmdir).
    const left = await entries(ex, p);
    return left !== undefined && left.length > 0 && !left.some(isProcessFile);
  },
  async run(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    const p = param(ctx, "path");
    if (ctx.op.target.params.process_files === "true") {
      const all = (await entries(ex, p)) ?? [];
      const ours = all.filter(isProcessFile);
      for (const name of ours) await ex.remove(path.join(p, name));
      const others = all.filter((e) => !isProcessFile(e));
      if (!others.length) {
        const r = await ex.run(["rmdir", "--", p]);
        if (r.code === 0) return { output: `removed ${p}` };
      }
      const retained: string[] = JSON.parse(ctx.op.target.params.retained_data ?? "[]");
      const isData = (e: string) =>
        retained.some((d) =>
          d === p || d === path.join(p, e) || d.startsWith(path.join(p, e) + path.sep)
        );
      const removed = `removed ${ours.length} file${ours.length === 1 ? "" : "s"} of mup's`;
      const kept = [
        ...(others.some(isData) ? ["the retained data"] : []),
        ...(others.some((e) => !isData(e))
          ? [`files mup did not make (${named(others.filter((e) => !isData(e)))})`]
          : []),
      ];
      return {
        output: `${removed} from ${ctx.op.target.host}:${p}; kept the directory`,
        notice: `kept ${ctx.op.target.host}:${p}: ${
          kept.length ? `it holds ${kept.join(" and ")}` : "it could not be removed"
        }`,
      };
    }
    if (ctx.op.target.params.if_empty === "true") {
      const r = await ex.run(["rmdir", "--", p]);
      return { output: r.code === 0 ? `removed ${p}` : `kept ${p}: not empty` };
    }
    await ex.remove(p);
    return { output: `removed ${p}` };
  },
};
