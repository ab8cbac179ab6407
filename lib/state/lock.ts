import * as path from "node:path";
import { MupError } from "../errors.ts";
import { pidAlive } from "../executor/local.ts";
import { FILE_MODE, privateDir, writePrivateFile } from "./atomic.ts";
import { LockInfo, STATE_FORMAT_VERSION } from "./schema.ts";
import { userName } from "../util/user.ts";

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

export async function readLock(clusterDir: string): Promise<LockInfo | undefined> {
  try {
    return LockInfo.parse(JSON.parse(await Deno.readTextFile(lockPath(clusterDir))));
  } catch {
    return undefined;
  }
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
  const holder = await liveHolder(clusterDir);
  if (holder) throw lockHeld(clusterDir, holder, planning);
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
      hint: `wait for that apply to finish (\`mup state show ${name}\` shows its progress), then ` +
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
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const f = await Deno.open(file, { write: true, createNew: true, mode: FILE_MODE });
        await Deno.chmod(file, FILE_MODE);
        await f.write(new TextEncoder().encode(JSON.stringify(info, null, 2)));
        await f.sync();
        f.close();
        return { lock: new ClusterLock(clusterDir, info), replacedStale };
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
      const holder = await readLock(clusterDir);
      if (holder && !isStale(holder)) throw lockHeld(clusterDir, holder);
      replacedStale = holder;
      await Deno.remove(file).catch(() => {});
    }
    throw new MupError(`could not acquire the lock ${file}`);
  }

  async setStateId(stateId: string): Promise<void> {
    this.info.state_id = stateId;
    await writePrivateFile(lockPath(this.clusterDir), JSON.stringify(this.info, null, 2));
  }

  async release(): Promise<void> {
    const cur = await readLock(this.clusterDir);
    if (cur?.id === this.info.id) await Deno.remove(lockPath(this.clusterDir)).catch(() => {});
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
  const lock = await readLock(clusterDir);
  const resume = `\`mup plan resume ${state.cluster_name}\``;
  if (!lock || (lock.state_id !== undefined && lock.state_id !== state.state_id)) {
    return { reason: `no mup process holds the cluster's lock; ${resume}` };
  }
  if (!isStale(lock)) return undefined;
  return { pid: lock.pid, reason: `the mup process ${lock.pid} is gone; ${resume}` };
}
