import { createHash } from "node:crypto";

const memo = new Map<string, { ino: number; size: number; mtime: number; sha256: string }>();

/**
 * sha256 of a local file, streamed, remembered per (path, inode, size, mtime) for the life of the
 * process: pre-flight, the download step and every install and start check ask about the same
 * archive and binaries, and these are 100+ MB files. undefined when the file cannot be read.
 */
export async function sha256File(path: string): Promise<string | undefined> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch {
    return undefined;
  }
  const mtime = stat.mtime?.getTime() ?? 0;
  const known = memo.get(path);
  const ino = stat.ino ?? 0;
  if (known && known.ino === ino && known.size === stat.size && known.mtime === mtime) {
    return known.sha256;
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return undefined;
  }
  const hash = createHash("sha256");
  for await (const chunk of file.readable) hash.update(chunk);
  const sha256 = hash.digest("hex");
  memo.set(path, { ino, size: stat.size, mtime, sha256 });
  return sha256;
}
