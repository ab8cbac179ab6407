import * as path from "node:path";
import { FILE_MODE, privateDir, privateTree, writePrivateFile } from "../state/atomic.ts";
import { downloadVerified } from "../download/fetch.ts";
import { sha256File } from "../util/file_hash.ts";
import { pidAlive } from "../executor/local.ts";
import {
  type Operation,
  type OperationContext,
  OperationError,
  type OperationOutcome,
  param,
  storeParam,
} from "./operation.ts";

const MARKER = ".mup-complete";
/** The server binaries whose checksums the marker records (those present in the package). */
const BINARIES = ["bin/mongod", "bin/mongos"];

/**
 * Whether `dest` holds the archive `sha` unpacked, as it was unpacked: its marker names the
 * archive, then the sha256 of each server binary (`<sha256>  bin/mongod`) taken right after
 * unpacking, and the binaries still have them. A binary changed in the cache since (by accident
 * or by hand) would otherwise be installed, and recorded as the verified download's; a marker
 * written before mup recorded the binaries is not trusted either. Both lead to unpacking again
 * from the archive, whose own sha256 is checked first.
 */
async function unpackedIntact(dest: string, sha: string): Promise<boolean> {
  const text = await Deno.readTextFile(path.join(dest, MARKER)).catch(() => "");
  const [first, ...rest] = text.trim().split("\n");
  if (first?.trim() !== sha) return false;
  const files = rest.map((l) => /^([0-9a-f]{64}) {2}(bin\/mongo[ds])$/.exec(l.trim()))
    .filter((m) => m !== null);
  if (!files.length) return false;
  for (const [, want, rel] of files) {
    if ((await sha256File(path.join(dest, rel))) !== want) return false;
  }
  return true;
}

/** The marker of a tree just unpacked from the archive `sha`: the archive and its binaries. */
async function markerText(dest: string, sha: string): Promise<string> {
  const lines = [sha];
  for (const rel of BINARIES) {
    const h = await sha256File(path.join(dest, rel));
    if (h) lines.push(`${h}  ${rel}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * Removes what a mup killed mid-download left beside `archive` and `dest` in the shared cache:
 * `<archive>.part-<pid>` (a partial download), `<dest>.unpack-<pid>[.<n>]` and
 * `<dest>.old-<pid>[.<n>]` (an unpacking cut short), each only when no process `<pid>` runs any more (a live one may be
 * another mup at work on it). Returns the paths removed.
 */
export async function removeLeftovers(archive: string, dest: string): Promise<string[]> {
  const patterns = [
    { dir: path.dirname(archive), re: leftover(path.basename(archive), ["part"]) },
    { dir: path.dirname(dest), re: leftover(path.basename(dest), ["unpack", "old"]) },
  ];
  const removed: string[] = [];
  for (const { dir, re } of patterns) {
    for (const e of await Array.fromAsync(Deno.readDir(dir)).catch(() => [])) {
      const m = re.exec(e.name);
      if (!m || pidAlive(Number(m[1]))) continue;
      const p = path.join(dir, e.name);
      await Deno.remove(p, { recursive: true }).then(() => removed.push(p), () => {});
    }
  }
  return removed;
}

const leftover = (base: string, kinds: string[]) =>
  new RegExp(
    `^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(?:${kinds.join("|")})-(\\d+)(?:\\.\\d+)?$`,
  );

/**
 * Moves the marked tree `root` to `dest`, unless a tree intact for `sha` is there already
 * (another mup's, or this one's from a parallel operation), which is then left in place: the
 * cache is shared by every cluster, and others may be installing from it right now. A tree
 * there that is not intact (a binary changed by hand, a tree from before markers) is first set
 * aside by rename; should that have taken another mup's tree placed in the meantime, it is put
 * back. Returns whether `root` was placed; throws the rename's error if `dest` cannot be made.
 */
async function placeTree(root: string, dest: string, sha: string): Promise<boolean> {
  for (let attempt = 0;; attempt++) {
    // rename(2) of a directory replaces an empty one and fails on one with content.
    const err = await Deno.rename(root, dest).then(() => null, (e: Error) => e);
    if (!err) return true;
    if (await unpackedIntact(dest, sha)) return false;
    if (attempt === 3) throw err;
    const aside = `${dest}.old-${Deno.pid}${nextSuffix()}`;
    if (await Deno.rename(dest, aside).then(() => false, () => true)) continue;
    if (await unpackedIntact(aside, sha)) {
      await Deno.rename(aside, dest).catch(() => {});
    }
    await Deno.remove(aside, { recursive: true }).catch(() => {});
  }
}

/** Distinguishes the work trees of parallel unpackings within one mup (`.<n>` after the PID). */
let suffixes = 0;
const nextSuffix = () => `.${++suffixes}`;

/**
 * Runs `work` holding the exclusive flock(2) of `<archive>.lock` in the shared cache, so that mups
 * deploying the same release at once download and unpack it once: the others wait, then find it
 * in place. `waiting` is called when another holds it. The lock goes with its holder's process
 * (a mup killed mid-download frees it). An abort while waiting ends the wait (AbortError).
 */
async function holdingCacheLock<T>(
  archive: string,
  signal: AbortSignal,
  waiting: () => void,
  work: () => Promise<T>,
): Promise<T> {
  await privateDir(path.dirname(archive));
  const f = await Deno.open(`${archive}.lock`, { write: true, create: true, mode: FILE_MODE });
  try {
    const locked = f.lock(true);
    locked.catch(() => {}); // a wait given up on closes the file, failing the lock call
    const shown = setTimeout(waiting, 200);
    try {
      await new Promise<void>((resolve, reject) => {
        const abort = () => reject(signal.reason ?? new DOMException("aborted", "AbortError"));
        if (signal.aborted) return abort();
        signal.addEventListener("abort", abort, { once: true });
        locked.then(() => {
          signal.removeEventListener("abort", abort);
          resolve();
        }, reject);
      });
    } finally {
      clearTimeout(shown);
    }
    return await work();
  } finally {
    f.close(); // releases the flock
  }
}

/** The archive in the shared cache, verified, and unpacked next to it (once for all clusters). */
export const downloadBinary: Operation = {
  isDone(ctx) {
    return unpackedIntact(storeParam(ctx, "extract_dir"), param(ctx, "sha256"));
  },
  run(ctx) {
    const archive = storeParam(ctx, "archive");
    return holdingCacheLock(
      archive,
      ctx.signal,
      () =>
        ctx.progress(0, `waiting for another mup that is downloading ${path.basename(archive)}`),
      () => fetchAndUnpack(ctx, archive),
    );
  },
};

/** downloadBinary's work, under the cache lock: what another mup did meanwhile is not redone. */
async function fetchAndUnpack(ctx: OperationContext, archive: string): Promise<OperationOutcome> {
  const sha = param(ctx, "sha256");
  const dest = storeParam(ctx, "extract_dir");
  await removeLeftovers(archive, dest);
  if (await unpackedIntact(dest, sha)) {
    // In place once the lock was ours: shown as "already downloaded", not "Downloaded (1KB)".
    return {
      output: `${archive} was unpacked meanwhile by another mup`,
      metadata: { downloaded_bytes: 0, cached: true },
      inPlace: true,
    };
  }
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
  const work = `${dest}.unpack-${Deno.pid}${nextSuffix()}`;
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
  // Marked before it takes its name: a tree under `dest` is complete from the instant it
  // appears, so another mup never takes one for an unpacking cut short.
  await writePrivateFile(path.join(root, MARKER), await markerText(root, sha));
  const placed = await placeTree(root, dest, sha);
  await Deno.remove(work, { recursive: true }).catch(() => {});
  if (!placed) {
    return {
      output: `${archive} was unpacked meanwhile by another mup`,
      metadata: { downloaded_bytes: downloaded, cached },
    };
  }
  return {
    output: cached
      ? `using cached ${archive}`
      : `downloaded ${(downloaded / 1e6).toFixed(1)}MB to ${archive}`,
    metadata: { downloaded_bytes: downloaded, cached },
  };
}
