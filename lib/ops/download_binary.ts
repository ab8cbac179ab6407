import * as path from "node:path";
import { privateDir, privateTree, writePrivateFile } from "../state/atomic.ts";
import { downloadVerified } from "../download/fetch.ts";
import { sha256File } from "../util/file_hash.ts";
import { type Operation, OperationError, param, storeParam } from "./operation.ts";

const MARKER = ".mup-complete";

/** The archive in the shared cache, verified, and unpacked next to it (once for all clusters). */
export const downloadBinary: Operation = {
  async isDone(ctx) {
    try {
      return (await Deno.readTextFile(path.join(storeParam(ctx, "extract_dir"), MARKER))).trim() ===
        param(ctx, "sha256");
    } catch {
      return false;
    }
  },
  async run(ctx) {
    const archive = storeParam(ctx, "archive");
    const sha = param(ctx, "sha256");
    let downloaded = 0;
    const cached = (await sha256File(archive)) === sha;
    if (!cached) {
      downloaded = await downloadVerified(param(ctx, "url"), archive, sha, (done, total) => {
        ctx.progress(
          total ? done / total : 0,
          `${(done / 1e6).toFixed(1)}/${(total / 1e6).toFixed(1)} MB`,
        );
      }, ctx.signal);
    }
    const dest = storeParam(ctx, "extract_dir");
    const work = `${dest}.unpack-${Deno.pid}`;
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await privateDir(work);
    // A session of its own (detached, with spawn): the terminal's Ctrl-C lets it finish.
    const tar = await new Deno.Command("tar", {
      args: ["-xzf", archive, "-C", work],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn().output();
    if (tar.code !== 0) {
      throw new OperationError(
        `cannot unpack ${archive}: ${new TextDecoder().decode(tar.stderr).trim()}`,
      );
    }
    // Official and Percona tarballs hold one top directory with bin/ inside.
    let root = work;
    for await (const e of Deno.readDir(work)) if (e.isDirectory) root = path.join(work, e.name);
    await Deno.stat(path.join(root, "bin", "mongod")).catch(() => {
      throw new OperationError(`${archive} has no bin/mongod: not a MongoDB server package`);
    });
    await privateTree(root);
    // The cache is shared by every cluster, and other mups may be installing from it right now:
    // a tree marked complete for this archive is never replaced, and any other tree there (an
    // unpacking cut short, or one about to be marked) is first set aside by rename, so that no
    // reader ever finds the release half gone.
    const complete = async () =>
      (await Deno.readTextFile(path.join(dest, MARKER)).catch(() => "")).trim() === sha;
    if (await complete()) {
      await Deno.remove(work, { recursive: true }).catch(() => {});
      return {
        output: `${archive} was unpacked meanwhile by another mup`,
        metadata: { downloaded_bytes: downloaded, cached },
      };
    }
    const aside = `${dest}.old-${Deno.pid}`;
    await Deno.rename(dest, aside).catch(() => {});
    await Deno.remove(aside, { recursive: true }).catch(() => {});
    await Deno.rename(root, dest).catch(async (e) => {
      // Another mup unpacking the same verified archive into the same cache got there first
      // (ENOTEMPTY/EEXIST): its tree is the same release, so it is used.
      const theirs = await Deno.stat(path.join(dest, "bin", "mongod")).then(
        () => true,
        () => false,
      );
      if (!theirs) throw e;
    });
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await writePrivateFile(path.join(dest, MARKER), sha + "\n");
    return {
      output: cached
        ? `using cached ${archive}`
        : `downloaded ${(downloaded / 1e6).toFixed(1)}MB to ${archive}`,
      metadata: { downloaded_bytes: downloaded, cached },
    };
  },
};
