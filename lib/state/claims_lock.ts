/**
 * A lock over the whole storage root, held only for the moment an apply checks what the other
 * clusters hold and records its own claim (its apply state), so that two applies started at
 * once cannot both pass that check and share out the same ports between them.
 */
import * as path from "node:path";
import { MupError } from "../errors.ts";
import { FILE_MODE, privateDir } from "./atomic.ts";
import { describeLock, isStale, procStart, removeIfStill } from "./lock.ts";
import { LockInfo, STATE_FORMAT_VERSION } from "./schema.ts";
import { userName } from "../util/user.ts";

/** `<storage root>/claims.lock`. */
export function claimsLockPath(storeRoot: string): string {
  return path.join(storeRoot, "claims.lock");
}

async function readHolder(file: string): Promise<LockInfo | undefined> {
  try {
    return LockInfo.parse(JSON.parse(await Deno.readTextFile(file)));
  } catch {
    return undefined;
  }
}

/**
 * Runs `fn` holding the storage root's claims lock. The lock file appears whole or not at all
 * (written aside, then hard-linked into place, which fails if it exists); a lock left by a dead
 * process on this host is removed; a live holder is waited for, up to `waitMs` milliseconds,
 * after which a MupError names it. `signal` (a Ctrl-C) ends the wait: a MupError with exit code
 * 130 and `details.interrupted`, and `fn` does not run. The lock is released whatever `fn` does.
 */
export async function withClaimsLock<T>(
  storeRoot: string,
  operation: string,
  fn: () => Promise<T>,
  waitMs = 60_000,
  signal?: AbortSignal,
): Promise<T> {
  await privateDir(storeRoot);
  const file = claimsLockPath(storeRoot);
  const info: LockInfo = {
    format_version: STATE_FORMAT_VERSION,
    id: crypto.randomUUID(),
    operation,
    who: `${userName()}@${Deno.hostname()}`,
    host: Deno.hostname(),
    pid: Deno.pid,
    pid_start: procStart(Deno.pid),
    created: new Date().toISOString(),
  };
  const aside = `${file}.${info.id}`;
  await Deno.writeTextFile(aside, JSON.stringify(info, null, 2), { mode: FILE_MODE });
  const deadline = Date.now() + waitMs;
  try {
    while (true) {
      if (signal?.aborted) {
        throw new MupError("interrupted while waiting for the claims lock", {
          exitCode: 130,
          details: { interrupted: true },
        });
      }
      try {
        await Deno.link(aside, file);
        break;
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
      const holder = await readHolder(file);
      if (holder && isStale(holder)) {
        // Only if it is still that one: another mup may have just taken it over.
        await removeIfStill(file, holder);
        continue;
      }
      if (Date.now() > deadline) {
        throw new MupError(
          `the claims lock ${file} has been held for more than ${
            Math.round(waitMs / 1000)
          }s by another mup process${holder ? `:\n\n${describeLock(holder)}` : ""}`,
          {
            hint:
              "mup holds it only while an apply checks which ports and directories other clusters hold; if that process is certainly gone, remove the file",
            details: { check: "claims_lock_held", ...(holder ? { lock: holder } : {}) },
          },
        );
      }
      // The holder needs it for a few file reads and writes: look again shortly.
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await Deno.remove(aside).catch(() => {});
  }
  try {
    return await fn();
  } finally {
    const cur = await readHolder(file);
    if (cur?.id === info.id) await Deno.remove(file).catch(() => {});
  }
}
