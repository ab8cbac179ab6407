import * as path from "node:path";
import type { Executor } from "../executor/executor.ts";
import { sha256File } from "../util/file_hash.ts";
import {
  type Operation,
  type OperationContext,
  OperationError,
  param,
  storeParam,
} from "./operation.ts";
import { secretPath } from "../security/secrets.ts";

/** The host's file has the local file's content (hashes computed where each file lives). */
async function same(local: string, ex: Executor, remote: string): Promise<boolean> {
  const want = await sha256File(local);
  return want !== undefined && want === (await ex.sha256(remote));
}

/**
 * The local file to copy: `source`, or the secret a plan names by reference (`secret`), read
 * from the cluster's secrets store so that the plan never holds its value.
 */
function source(ctx: OperationContext): string {
  const ref = ctx.op.target.params.secret;
  return ref ? secretPath(ctx.plan.cluster_name, ref) : storeParam(ctx, "source");
}

/** Copies a file (kind=file) or the server binaries (kind=binaries) to a host. */
export const uploadFile: Operation = {
  async isDone(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    if (ctx.op.target.params.kind === "binaries") {
      const src = storeParam(ctx, "source_dir");
      for (const f of param(ctx, "files").split(",")) {
        if (!(await same(path.join(src, f), ex, path.join(param(ctx, "dest_dir"), "bin", f)))) {
          return false;
        }
      }
      return true;
    }
    return await same(source(ctx), ex, param(ctx, "dest"));
  },
  async run(ctx) {
    const ex = ctx.executors.forHost(ctx.op.target.host!);
    if (ctx.op.target.params.kind === "binaries") {
      const files = param(ctx, "files").split(",");
      const src = storeParam(ctx, "source_dir");
      for (const f of files) {
        await Deno.stat(path.join(src, f)).catch(() => {
          throw new OperationError(`${f} is missing from the downloaded package at ${src}`);
        });
      }
      await ex.upload(src, path.join(param(ctx, "dest_dir"), "bin"), files);
      return { output: `installed ${files.join(", ")} into ${param(ctx, "dest_dir")}/bin` };
    }
    const data = await Deno.readFile(source(ctx));
    await ex.writeFile(param(ctx, "dest"), data, parseInt(ctx.op.target.params.mode ?? "0644", 8));
    return { output: `uploaded ${param(ctx, "dest")} (${data.length} bytes)` };
  },
};
