/**
 * The hooks an apply has running, recorded on disk (one file per hook in the cluster's
 * `state/hooks/`): a hook runs in a process group of its own, so a mup killed with SIGKILL
 * leaves it running, its timeout no longer enforced. The next apply of the cluster (a resume,
 * or any other once the lock is taken over) waits for what such a mup left to end, and ends it
 * at its timeout, before it runs a hook again: no hook runs twice at once, none outlives its
 * timeout, and what one was doing is not cut short (an after_phase hook is not run again by a
 * resume). A hook's command starts only once its record is written (runner.ts), so none runs
 * unrecorded.
 */
import * as path from "node:path";
import { z } from "zod";
import { FILE_MODE, privateDir, writeFileAtomic } from "../state/atomic.ts";
import { procStart } from "../state/lock.ts";
import { groupExists } from "./runner.ts";

export const HOOK_RECORD_FORMAT_VERSION = 1;

/** A running hook as recorded: its process group (its `sh`'s PID) and what it is. */
export const HookRecord = z.object({
  format_version: z.literal(HOOK_RECORD_FORMAT_VERSION),
  pid: z.number().int().positive(),
  /** /proc start time of the PID: tells a recycled PID apart. */
  start: z.string().optional(),
  event: z.string(),
  name: z.string(),
  command: z.string(),
  /** The apply it ran for. */
  state_id: z.string(),
  /** Operation or phase it ran for. */
  scope: z.string().optional(),
  started_at: z.string(),
  /** When its timeout ends it (epoch ms). */
  deadline: z.number(),
});
export type HookRecord = z.infer<typeof HookRecord>;

/** A hook left running by a mup that died, as awaitLeft found it. */
export type HookLeft = Pick<
  HookRecord,
  "pid" | "event" | "name" | "command" | "state_id" | "scope" | "deadline"
>;

/** The records of one cluster's running hooks, in `dir` (its `state/hooks`). */
export class HookRecords {
  constructor(readonly dir: string) {}

  private file(pid: number): string {
    return path.join(this.dir, `${pid}.json`);
  }

  /** Records a hook just started. Failures are ignored: recording must not fail the hook. */
  async started(pid: number, r: Omit<HookRecord, "format_version" | "pid" | "start">) {
    const start = procStart(pid);
    const rec: HookRecord = {
      format_version: HOOK_RECORD_FORMAT_VERSION,
      pid,
      ...(start ? { start } : {}),
      ...r,
    };
    await privateDir(this.dir).catch(() => {});
    await writeFileAtomic(this.file(pid), JSON.stringify(rec, null, 2) + "\n", {
      mode: FILE_MODE,
    }).catch(() => {});
  }

  /** Forgets a hook that ended. */
  async ended(pid: number): Promise<void> {
    await Deno.remove(this.file(pid)).catch(() => {});
  }

  /**
   * Waits for every recorded hook still running to end; one still running at its deadline, or
   * when `signal` aborts, is ended with its whole process group (SIGTERM, then SIGKILL after
   * `graceMs`). `found` is told of each before the wait, `done` of how each ended. Every record
   * is forgotten; one whose PID now belongs to another process (its start time differs) is only
   * forgotten. Called with the cluster's lock held, so no live mup's hook is among them.
   */
  async awaitLeft(
    found: (h: HookLeft) => void | Promise<void>,
    done: (h: HookLeft, outcome: "ended" | "killed") => void | Promise<void>,
    signal?: AbortSignal,
    graceMs = 2000,
  ): Promise<void> {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(this.dir)) {
        if (e.isFile && /^\d+\.json$/.test(e.name)) names.push(e.name);
      }
    } catch {
      return;
    }
    for (const n of names) {
      const file = path.join(this.dir, n);
      const parsed = HookRecord.safeParse(
        await Deno.readTextFile(file).then(JSON.parse).catch(() => undefined),
      );
      if (parsed.success && groupIsTheHook(parsed.data)) {
        const { pid, event, name, command, state_id, scope, deadline } = parsed.data;
        const h = { pid, event, name, command, state_id, ...(scope ? { scope } : {}), deadline };
        await found(h);
        while (groupExists(pid) && Date.now() < deadline && !signal?.aborted) {
          await new Promise((r) => setTimeout(r, 100));
        }
        let outcome: "ended" | "killed" = "ended";
        if (groupExists(pid)) {
          outcome = "killed";
          signalGroup(pid, "SIGTERM");
          const end = Date.now() + graceMs;
          while (Date.now() < end && groupExists(pid)) {
            await new Promise((r) => setTimeout(r, 50));
          }
          signalGroup(pid, "SIGKILL");
        }
        await done(h, outcome);
      }
      await Deno.remove(file).catch(() => {});
    }
  }
}

/**
 * Whether the process group of `r` is still the hook's: its leader alive with the recorded
 * start time, or the leader gone and the group still there (Linux hands out no PID equal to a
 * process group ID in use, so the group is the one the hook's `sh` led).
 */
function groupIsTheHook(r: HookRecord): boolean {
  const now = procStart(r.pid);
  if (now !== undefined) return r.start === undefined || now === r.start;
  return groupExists(r.pid);
}

function signalGroup(pgid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(-pgid, sig);
  } catch {
    // Gone already.
  }
}
