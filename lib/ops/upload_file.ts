import * as path from "node:path";
import { sha256Hex } from "../util/hash.ts";
import { type Operation, OperationError, param } from "./operation.ts";

function same(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return !!a && !!b && a.length === b.length && sha256Hex(a) === sha256Hex(b);
}

/** Copies a file (kind=file) or the server binaries (kind=binaries) to a host. */
export const uploadFile: Operation = {
  async isDone(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    if (ctx.op.target.params.kind === "binaries") {
      const src = param(ctx, "source_dir");
      for (const f of param(ctx, "files").split(",")) {
        const local = await Deno.readFile(path.join(src, f)).catch(() => undefined);
        if (!(same(local, await ex.readFile(path.join(param(ctx, "dest_dir"), "bin", f))))) {
          return false;
        }
      }
      return true;
    }
    const local = await Deno.readFile(param(ctx, "source")).catch(() => undefined);
    return same(local, await ex.readFile(param(ctx, "dest")));
  },
  async run(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    if (ctx.op.target.params.kind === "binaries") {
      const files = param(ctx, "files").split(",");
      const src = param(ctx, "source_dir");
      for (const f of files) {
        await Deno.stat(path.join(src, f)).catch(() => {
          throw new OperationError(`${f} is missing from the downloaded package at ${src}`);
        });
      }
      await ex.upload(src, path.join(param(ctx, "dest_dir"), "bin"), files);
      return { output: `installed ${files.join(", ")} into ${param(ctx, "dest_dir")}/bin` };
    }
    const data = await Deno.readFile(param(ctx, "source"));
    await ex.writeFile(param(ctx, "dest"), data, parseInt(ctx.op.target.params.mode ?? "0644", 8));
    return { output: `uploaded ${param(ctx, "dest")} (${data.length} bytes)` };
  },
  async undo(ctx) {
    if (ctx.op.target.params.kind !== "binaries") {
      await ctx.executors.forHost(ctx.op.target.host!).remove(param(ctx, "dest"));
    }
  },
};
