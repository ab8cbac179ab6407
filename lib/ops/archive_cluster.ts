import * as path from "node:path";
import { FILE_MODE, privateDir, writeFileAtomic, writePrivateFile } from "../state/atomic.ts";
import { type Operation, param, storeParam } from "./operation.ts";

const MARKER = ".mup-archived";

/** Copies a local directory tree (files and directories only), leaving out `skip` names. */
async function copyTree(from: string, to: string, skip: Set<string>): Promise<number> {
  let n = 0;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(from));
  } catch {
    return 0; // nothing to copy
  }
  await privateDir(to);
  for (const e of entries) {
    if (skip.has(e.name)) continue;
    if (e.isDirectory) n += await copyTree(path.join(from, e.name), path.join(to, e.name), skip);
    else if (e.isFile) {
      await Deno.copyFile(path.join(from, e.name), path.join(to, e.name));
      await Deno.chmod(path.join(to, e.name), FILE_MODE);
      n++;
    }
  }
  return n;
}

/**
 * Keeps what a destroyed cluster leaves for audit under `archive_dir`: its metadata, plans, apply
 * states (the destroy's own apply is moved there when it completes) and every process's log,
 * fetched from its host. Done when the archive's marker file exists.
 */
export const archiveCluster: Operation = {
  async isDone(ctx) {
    return await Deno.stat(path.join(storeParam(ctx, "archive_dir"), MARKER)).then(
      () => true,
      () => false,
    );
  },
  async run(ctx) {
    const src = storeParam(ctx, "cluster_dir");
    const dst = storeParam(ctx, "archive_dir");
    let files = 0;
    await privateDir(dst);
    await Deno.copyFile(path.join(src, "meta.yaml"), path.join(dst, "meta.yaml")).then(
      async () => {
        await Deno.chmod(path.join(dst, "meta.yaml"), FILE_MODE);
        files++;
      },
      () => {},
    );
    // The durations measured on its hosts too: a later deploy there (onto its kept data, or
    // another cluster) is estimated from them (tester52).
    await Deno.copyFile(path.join(src, "history.json"), path.join(dst, "history.json")).then(
      async () => {
        await Deno.chmod(path.join(dst, "history.json"), FILE_MODE);
        files++;
      },
      () => {},
    );
    files += await copyTree(path.join(src, "plans"), path.join(dst, "plans"), new Set());
    files += await copyTree(
      path.join(src, "state"),
      path.join(dst, "state"),
      new Set(["lock.json"]),
    );
    const logs = JSON.parse(param(ctx, "logs")) as { host: string; path: string; name: string }[];
    for (const l of logs) {
      const data = await ctx.executors.forHost(l.host).readFile(l.path);
      if (!data) continue;
      await writePrivateFile(path.join(dst, "logs", l.name), data);
      files++;
    }
    await writeFileAtomic(path.join(dst, MARKER), `${ctx.plan.plan_id}\n`);
    return { output: `archived ${files} files to ${dst}`, metadata: { archive_dir: dst } };
  },
};
