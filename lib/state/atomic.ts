import * as path from "node:path";

/**
 * Writes a file so that readers see either the old or the new content, never a torn one, even
 * after a crash: temp file in the same directory, fsync, rename, fsync of the directory.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array | readonly Uint8Array[],
  options: { mode?: number } = {},
): Promise<void> {
  const dir = path.dirname(file);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = path.join(
    dir,
    `.${path.basename(file)}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`,
  );
  const blocks = typeof data === "string"
    ? [new TextEncoder().encode(data)]
    : data instanceof Uint8Array
    ? [data]
    : data;
  const f = await Deno.open(tmp, { write: true, createNew: true, mode: options.mode ?? 0o644 });
  try {
    for (const bytes of blocks) {
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
    }
    await f.sync();
  } finally {
    f.close();
  }
  try {
    await Deno.rename(tmp, file);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await syncDir(dir);
}

export async function syncDir(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic there.
  }
}

export async function readJsonFile(file: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(file));
}

export async function exists(p: string): Promise<boolean> {
  try {
    await Deno.lstat(p);
    return true;
  } catch {
    return false;
  }
}
