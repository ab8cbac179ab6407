import * as path from "node:path";
import { MupError } from "../errors.ts";
import { pidAlive } from "../executor/local.ts";
import { FILE_MODE, privateDir, writeFileAtomic } from "./atomic.ts";
import { LockInfo, STATE_FORMAT_VERSION } from "./schema.ts";
import { userName } from "../util/user.ts";
import { shellQuote } from "../executor/shell_quote.ts";

/** The /proc start time of `pid` (undefined when it cannot be read): tells a recycled PID apart. */
export function procStart(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

export function lockPath(clusterDir: string): string {
  return path.join(clusterDir, "state", "lock.json");
}

/** The cluster's lock; undefined when there is none or it cannot be read (see lockFile). */
export async function readLock(clusterDir: string): Promise<LockInfo | undefined> {
  const f = await lockFile(clusterDir);
  return "lock" in f ? f.lock : undefined;
}

/**
 * The cluster's lock file as it is: absent, a lock, or unreadable (not JSON, not a lock of
 * this format: a file edited or damaged by hand; mup itself only ever puts a whole lock in
 * place) with why.
 */
export async function lockFile(
  clusterDir: string,
): Promise<{ absent: true } | { lock: LockInfo } | { unreadable: string }> {
  let text: string;
  try {
    text = await Deno.readTextFile(lockPath(clusterDir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { absent: true };
    return { unreadable: (e as Error).message };
  }
  try {
    const parsed = LockInfo.safeParse(JSON.parse(text));
    if (parsed.success) return { lock: parsed.data };
    const i = parsed.error.issues[0];
    return { unreadable: `${i.path.join(".") || "the file"}: ${i.message}` };
  } catch (e) {
    return { unreadable: `not JSON (${(e as Error).message})` };
  }
}

/** The error for a lock file mup cannot read: nothing may take it over or plan past it. */
function unreadableLock(clusterDir: string, why: string): MupError {
  const name = path.basename(clusterDir);
  return new MupError(
    `cluster ${name}'s lock ${lockPath(clusterDir)} cannot be read (${why}): mup cannot tell ` +
      "whether another mup is applying a plan to it",
    {
      hint: `if no mup is running on this cluster, remove it: \`mup state unlock ${name} --force\``,
      details: { check: "lock_unreadable", cluster: name },
    },
  );
}

/**
 * When the cluster's lock file cannot be read: its path, why, and a note for the views that
 * read state without taking the lock (`cluster display`, `cluster list`, `state show`), which
 * would otherwise say nothing while every plan and apply of the cluster is refused.
 */
export async function unreadableLockNote(
  clusterDir: string,
  /** The lock file as the caller read it already (lockFile), so it is not read again. */
  read?: Awaited<ReturnType<typeof lockFile>>,
): Promise<{ path: string; reason: string; note: string } | undefined> {
  const f = read ?? await lockFile(clusterDir);
  if (!("unreadable" in f)) return undefined;
  const name = path.basename(clusterDir);
  return {
    path: lockPath(clusterDir),
    reason: f.unreadable,
    note: `cluster ${name}'s lock ${lockPath(clusterDir)} cannot be read (${f.unreadable}): ` +
      "mup cannot tell whether an apply is running, and refuses to plan or apply until it is " +
      `removed; if no mup is running on this cluster: \`mup state unlock ${name} --force\``,
  };
}

/** True when the holder ran on this machine and is gone (or its PID now belongs to another process). */
export function isStale(l: LockInfo): boolean {
  if (l.host !== Deno.hostname()) return false;
  if (!pidAlive(l.pid)) return true;
  return l.pid_start !== undefined && procStart(l.pid) !== l.pid_start;
}

export function describeLock(l: LockInfo): string {
  return [
    "Lock Info:",
    `  ID:        ${l.id}`,
    `  Operation: ${l.operation}`,
    `  Who:       ${l.who}`,
    `  Host:      ${l.host}`,
    `  PID:       ${l.pid}`,
    `  Since:     ${l.created}`,
    ...(l.state_id ? [`  State:     ${l.state_id}`] : []),
  ].join("\n");
}

/**
 * The lock of `clusterDir` when a live mup holds it; undefined when there is none, it cannot be
 * read, or its holder is gone (a stale lock, which ClusterLock.acquire takes over).
 */
export async function liveHolder(clusterDir: string): Promise<LockInfo | undefined> {
  const holder = await readLock(clusterDir);
  return holder && !isStale(holder) ? holder : undefined;
}

/**
 * Throws the `lock_held` error when a live mup holds the cluster's lock; does nothing otherwise.
 * `planning` names the command being refused (e.g. "restart"): without it, the error is the one
 * ClusterLock.acquire throws (an apply or resume about to take the lock). Called before anything
 * reads the cluster's recorded state to plan or apply, which a running apply is still writing.
 */
export async function refuseWhileLocked(clusterDir: string, planning?: string): Promise<void> {
  const f = await lockFile(clusterDir);
  if ("unreadable" in f) throw unreadableLock(clusterDir, f.unreadable);
  if ("lock" in f && !isStale(f.lock)) throw lockHeld(clusterDir, f.lock, planning);
}

/** The `lock_held` error: names the holder (describeLock) and what to do. */
function lockHeld(clusterDir: string, holder: LockInfo, planning?: string): MupError {
  const name = path.basename(clusterDir);
  const head = planning === undefined
    ? `Error acquiring the state lock: cluster ${name} is locked by another mup process.`
    : `cluster ${name} is locked by another mup process, which is applying a plan to it: ` +
      `refusing to plan ${planning} from the state that apply is still changing; nothing was planned.`;
  return new MupError(
    `${head}\n\n${
      describeLock(holder)
    }\n\nmup holds this lock for a whole apply so that two runs never change a cluster at once.`,
    {
      hint: holder.pid_start === undefined && holder.host === Deno.hostname()
        // No start time, which mup's locks record: perhaps written by hand, its PID anything.
        ? `the lock records no start time, as mup's locks do: if process ${holder.pid} is not ` +
          `a mup applying a plan to ${name}, the lock was not written by mup: remove it ` +
          `yourself (\`rm ${shellQuote(lockPath(clusterDir))}\`)`
        : `wait for that apply to finish (\`mup state show ${name}\` shows its progress), then ` +
          `run this again; a lock whose mup died on this machine is taken over by itself; if its ` +
          `holder on another machine is certainly gone, run \`mup state unlock ${name} --force\``,
      details: {
        check: "lock_held",
        cluster: name,
        lock: holder,
        ...(holder.state_id ? { state_id: holder.state_id } : {}),
      },
    },
  );
}

/**
 * A per-cluster lock held for a whole apply or resume, created with O_EXCL so two processes can
 * never both hold it. A lock left by a dead process on this host is taken over.
 */
export class ClusterLock {
  private constructor(readonly clusterDir: string, readonly info: LockInfo) {}

  static async acquire(
    clusterDir: string,
    operation: string,
    stateId?: string,
  ): Promise<{ lock: ClusterLock; replacedStale?: LockInfo }> {
    const file = lockPath(clusterDir);
    await privateDir(path.dirname(file));
    const info: LockInfo = {
      format_version: STATE_FORMAT_VERSION,
      id: crypto.randomUUID(),
      operation,
      who: `${userName()}@${Deno.hostname()}`,
      host: Deno.hostname(),
      pid: Deno.pid,
      pid_start: procStart(Deno.pid),
      created: new Date().toISOString(),
      ...(stateId ? { state_id: stateId } : {}),
    };
    let replacedStale: LockInfo | undefined;
    // Written whole beside it, then linked into place: link() fails when the lock exists, so
    // taking it stays exclusive, and no reader ever sees a lock half written (which it could
    // not tell from a damaged one).
    const whole = `${file}.${Deno.pid}.${info.id}`;
    await writeFileAtomic(whole, JSON.stringify(info, null, 2), { mode: FILE_MODE });
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await Deno.link(whole, file);
          return { lock: new ClusterLock(clusterDir, info), replacedStale };
        } catch (e) {
          if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
        }
        const f = await lockFile(clusterDir);
        if ("absent" in f) continue; // released meanwhile
        if ("unreadable" in f) throw unreadableLock(clusterDir, f.unreadable);
        if (!isStale(f.lock)) throw lockHeld(clusterDir, f.lock);
        if (await removeIfStill(file, f.lock)) replacedStale = f.lock;
      }
    } finally {
      await Deno.remove(whole).catch(() => {});
    }
    throw new MupError(`could not acquire the lock ${file}`);
  }

  async setStateId(stateId: string): Promise<void> {
    this.info.state_id = stateId;
    // Replaced whole (rename), never rewritten in place: a reader must not see it half written.
    await writeFileAtomic(lockPath(this.clusterDir), JSON.stringify(this.info, null, 2), {
      mode: FILE_MODE,
    });
  }

  async release(): Promise<void> {
    const cur = await readLock(this.clusterDir);
    if (cur?.id === this.info.id) await Deno.remove(lockPath(this.clusterDir)).catch(() => {});
  }
}

/**
 * Removes the stale lock `stale` at `file` unless it is no longer there: read again and removed
 * under an exclusive flock of the directory it is in, so two mups taking one stale lock over at
 * once never remove the lock one of them has just taken (only takeovers remove another's lock;
 * taking a free one is link()'s). The directory, not a file beside the lock: a guard file could
 * never be removed safely, and was left behind (tester42). True when `stale` was removed.
 */
export async function removeIfStill(file: string, stale: LockInfo): Promise<boolean> {
  const guard = await Deno.open(path.dirname(file), { read: true });
  try {
    await guard.lock(true);
    const now = await Deno.readTextFile(file).then((t) => JSON.parse(t)?.id).catch(() => undefined);
    if (now !== stale.id) return false;
    await Deno.remove(file);
    return true;
  } finally {
    guard.close(); // releases the flock
  }
}

/** Why an apply recorded as `running` is not running any more: its mup process is gone. */
export interface Interruption {
  /** PID of the mup process that held the lock, when its lock is still there. */
  pid?: number;
  reason: string;
}

/**
 * Whether an apply whose stored status is `running` was cut off (kill -9, crash): its cluster's
 * lock is gone, or held for it by a process on this host that no longer exists. Reads only; the
 * stored state is left as it is (`plan resume` continues it). Undefined when the apply is not
 * `running` or its holder is alive or on another host (it cannot be checked from here).
 */
export async function interruption(
  clusterDir: string,
  state: { status: string; state_id: string; cluster_name: string },
): Promise<Interruption | undefined> {
  if (state.status !== "running") return undefined;
  const f = await lockFile(clusterDir);
  // A lock that cannot be read says nothing of its holder: not called interrupted (see
  // unreadableLockNote, which the views show instead).
  if ("unreadable" in f) return undefined;
  const lock = "lock" in f ? f.lock : undefined;
  const resume = `\`mup plan resume ${state.cluster_name}\``;
  if (!lock || (lock.state_id !== undefined && lock.state_id !== state.state_id)) {
    return { reason: `no mup process holds the cluster's lock; ${resume}` };
  }
  if (!isStale(lock)) return undefined;
  return { pid: lock.pid, reason: `the mup process ${lock.pid} is gone; ${resume}` };
}
