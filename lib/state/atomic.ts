import * as path from "node:path";

/**
 * Writes a file so that readers see either the old or the new content, never a torn one, even
 * after a crash: temp file in the same directory, fsync, rename, fsync of the directory.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number } = {},
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  await writeFileAtomicWith(file, (write) => write(bytes), options);
}

/**
 * writeFileAtomic() for content produced piece by piece: `produce` is given a function that
 * appends bytes to the file, so large content need not be held whole. Returns what `produce`
 * returns; if it throws, the file is left as it was.
 */
export async function writeFileAtomicWith<T>(
  file: string,
  produce: (write: (bytes: Uint8Array) => void) => T,
  options: { mode?: number } = {},
): Promise<T> {
  const dir = path.dirname(file);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = path.join(
    dir,
    `.${path.basename(file)}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`,
  );
  const f = await Deno.open(tmp, { write: true, createNew: true, mode: options.mode ?? 0o644 });
  let result: T;
  try {
    result = produce((bytes) => {
      let off = 0;
      while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
    });
    await f.sync();
  } catch (e) {
    f.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  f.close();
  try {
    await Deno.rename(tmp, file);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await syncDir(dir);
  return result;
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

export async function exists(p: string): Promise<boolean> {
  try {
    await Deno.lstat(p);
    return true;
  } catch {
    return false;
  }
}
