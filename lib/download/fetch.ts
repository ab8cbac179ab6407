import * as path from "node:path";
import { createHash } from "node:crypto";
import { MupError } from "../errors.ts";
import { FILE_MODE, privateDir } from "../state/atomic.ts";

/**
 * Downloads `url` (http, https, file://, or a path) into `dest` through a temp file, hashing as
 * it streams; the file appears under its name only when the sha256 matches.
 */
export async function downloadVerified(
  url: string,
  dest: string,
  sha256: string,
  onProgress: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<number> {
  await privateDir(path.dirname(dest));
  const tmp = `${dest}.part-${Deno.pid}`;
  let body: ReadableStream<Uint8Array>;
  let total = 0;
  if (/^https?:\/\//.test(url)) {
    const r = await fetch(url, { signal });
    if (!r.ok || !r.body) throw new MupError(`download of ${url} failed: HTTP ${r.status}`);
    total = Number(r.headers.get("content-length") ?? 0);
    body = r.body;
  } else {
    const file = url.startsWith("file://") ? new URL(url).pathname : url;
    const f = await Deno.open(file).catch((e) => {
      throw new MupError(`cannot read ${file}: ${e.message}`);
    });
    total = (await f.stat()).size;
    body = f.readable;
  }
  const hash = createHash("sha256");
  const out = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: FILE_MODE });
  await Deno.chmod(tmp, FILE_MODE);
  let done = 0;
  try {
    for await (const chunk of body) {
      hash.update(chunk);
      let off = 0;
      while (off < chunk.length) off += await out.write(chunk.subarray(off));
      done += chunk.length;
      onProgress(done, total);
    }
    await out.sync();
  } finally {
    out.close();
  }
  const got = hash.digest("hex");
  if (got !== sha256) {
    await Deno.remove(tmp).catch(() => {});
    throw new MupError(`checksum mismatch for ${url}: expected sha256 ${sha256}, got ${got}`, {
      hint: "the download is corrupt or the mirror is wrong; nothing was installed",
    });
  }
  await Deno.rename(tmp, dest);
  return done;
}
