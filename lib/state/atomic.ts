import * as path from "node:path";

/** Mode of every file mup writes under $MUP_HOME (and of staged files): the owner's alone. */
export const FILE_MODE = 0o600;
/** Mode of every directory mup creates under $MUP_HOME. */
export const DIR_MODE = 0o700;

/**
 * Creates `dir` and its missing parents with mode 0700, set explicitly (chmod) on each directory
 * created, whatever the process's umask. Directories that exist are left as they are.
 */
export function privateDir(dir: string): Promise<void> {
  return makeDirs(dir, DIR_MODE);
}

/** Creates `dir` and its missing parents, setting `mode` on each one created (chmod). */
export async function makeDirs(dir: string, mode: number): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !(await exists(d)); d = path.dirname(d)) {
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  if (!missing.length) return;
  await Deno.mkdir(dir, { recursive: true, mode });
  for (const d of missing) await Deno.chmod(d, mode).catch(() => {});
}

/**
 * Makes a tree mup unpacked (a release) its owner's alone: directories 0700, executables 0700,
 * other files 0600 (tar running as root keeps the archive's modes, whatever the umask).
 */
export async function privateTree(dir: string): Promise<void> {
  await Deno.chmod(dir, DIR_MODE);
  for await (const e of Deno.readDir(dir)) {
    const p = path.join(dir, e.name);
    if (e.isDirectory) await privateTree(p);
    else if (e.isFile) {
      const exec = ((await Deno.stat(p)).mode ?? 0) & 0o111;
      await Deno.chmod(p, exec ? 0o700 : FILE_MODE);
    }
  }
}

/** Writes a small file with mode 0600 (set explicitly), not atomically (locks, logs). */
export async function writePrivateFile(file: string, data: string | Uint8Array): Promise<void> {
  await privateDir(path.dirname(file));
  if (typeof data === "string") await Deno.writeTextFile(file, data, { mode: FILE_MODE });
  else await Deno.writeFile(file, data, { mode: FILE_MODE });
  await Deno.chmod(file, FILE_MODE);
}

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
  await privateDir(dir);
  const tmp = path.join(
    dir,
    `.${path.basename(file)}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`,
  );
  const mode = options.mode ?? FILE_MODE;
  const f = await Deno.open(tmp, { write: true, createNew: true, mode });
  let result: T;
  try {
    // Set, not left to the umask: every file mup keeps is its owner's alone.
    await Deno.chmod(tmp, mode);
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
