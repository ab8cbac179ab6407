import type { Hook } from "./schema.ts";
import { setLongTimeout } from "../util/timer.ts";

/** Lines of a hook's output shown as they come; the rest are counted. */
const SHOWN_LINES = 1000;
/** Lines of a hook's output kept for the execution log: the first and the last. */
const KEPT_HEAD = 100;
const KEPT_TAIL = 200;
/** Characters of one line of a hook's output kept (shown and logged); the rest are counted. */
const LINE_CHARS = 4000;

export interface HookRun {
  code: number;
  timedOut: boolean;
  ms: number;
  output: string;
}

/** The process groups of the hooks running now (each hook's `sh` leads its own group). */
const running = new Map<number, Promise<unknown>>();

/** A hook running now: its event and name, and when its timeout ends it (epoch ms). */
export interface RunningHook {
  event: string;
  name: string;
  /** The operation (or else the phase) it runs for, from its MUP_* context. */
  scope?: string;
  deadline: number;
}

const runningHooks = new Map<number, RunningHook>();

/** The hooks running now, for saying what a graceful stop waits for. */
export function hooksRunning(): RunningHook[] {
  return [...runningHooks.values()];
}

function killGroupOf(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(-pid, sig);
  } catch {
    // Group already gone.
  }
}

/** Whether process group `pid` has a process left (SIGCONT, harmless, finds out). */
export function groupExists(pid: number): boolean {
  try {
    Deno.kill(-pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends every hook still running, with its process group (what it started too): SIGTERM, then
 * SIGKILL once they are gone or `graceMs` has passed. For when mup stops at once (a second
 * Ctrl-C): a hook must not outlive it, as its own group does not get the terminal's SIGINT.
 */
export async function killRunningHooks(graceMs = 1000): Promise<void> {
  const groups = [...running.entries()];
  if (!groups.length) return;
  for (const [pid] of groups) killGroupOf(pid, "SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(groups.map(([, done]) => done)),
    new Promise((r) => timer = setTimeout(r, graceMs)),
  ]);
  clearTimeout(timer);
  // The group's other processes may outlive its leader: the whole group, whatever it did.
  for (const [pid] of groups) killGroupOf(pid, "SIGKILL");
}

/**
 * Runs a hook's command with `sh -c` in its own process group, with the context as MUP_*
 * environment variables. On timeout the whole group gets SIGTERM, then SIGKILL two seconds later;
 * killRunningHooks ends it the same way when mup stops at once. Once its `sh` exits, what it
 * left running in the group gets SIGTERM, then SIGKILL if it is still there a second later.
 */
export async function runHook(
  hook: Hook,
  env: Record<string, string>,
  onLine: (stream: "stdout" | "stderr", line: string) => void,
  /** Told of the hook's process group once it runs and once it ended (records.ts). */
  track?: { started(pid: number): Promise<void>; ended(pid: number): Promise<void> },
): Promise<HookRun> {
  const t0 = performance.now();
  // The command starts only once told to on its stdin (then closed: it reads end of file), so
  // that it is recorded first: a mup killed before then leaves no hook running unrecorded
  // (the pipe closes, `read` fails, the shell exits). `exec` keeps its PID: `$$` is its group.
  const child = new Deno.Command("sh", {
    args: ["-c", 'read -r _ || exit 0; exec sh -c "$1"', "sh", hook.command],
    cwd: hook.working_dir,
    env: { ...hook.environment, ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  running.set(child.pid, child.status.catch(() => {}));
  runningHooks.set(child.pid, {
    event: hook.event,
    name: hook.name,
    ...(env.MUP_OPERATION_ID || env.MUP_PHASE
      ? { scope: env.MUP_OPERATION_ID || env.MUP_PHASE }
      : {}),
    deadline: Date.now() + hook.timeout_ms,
  });
  await track?.started(child.pid);
  const stdin = child.stdin.getWriter();
  await stdin.write(new TextEncoder().encode("\n")).catch(() => {});
  await stdin.close().catch(() => {});
  let timedOut = false;
  const killGroup = (sig: Deno.Signal) => killGroupOf(child.pid, sig);
  let hard: ReturnType<typeof setTimeout> | undefined;
  // Waited in steps: a timeout longer than the runtime's 32-bit timer must not fire at once.
  const cancelTimer = setLongTimeout(() => {
    timedOut = true;
    killGroup("SIGTERM");
    hard = setTimeout(() => killGroup("SIGKILL"), 2000);
  }, hook.timeout_ms);
  // A hook may print without end: the first SHOWN_LINES are shown, and the execution log keeps
  // its first and last lines, so neither the terminal, the apply state nor the timeout (the
  // event loop busy with output) suffers from it.
  const head: string[] = [];
  let tail: string[] = [];
  let count = 0;
  const take = (name: "stdout" | "stderr", line: string) => {
    count++;
    if (head.length < KEPT_HEAD) head.push(line);
    else {
      tail.push(line);
      if (tail.length >= 2 * KEPT_TAIL) tail = tail.slice(-KEPT_TAIL);
    }
    if (count <= SHOWN_LINES) onLine(name, line);
  };
  // A line is cut at LINE_CHARS as it comes: one without an end (30 MB of one line) is never
  // held whole in memory, nor written whole into the apply state.
  const pump = async (stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr") => {
    let buf = "";
    let dropped = 0;
    const add = (s: string) => {
      const room = LINE_CHARS - buf.length;
      if (s.length <= room) buf += s;
      else {
        buf += s.slice(0, room);
        dropped += s.length - room;
      }
    };
    const flush = () => {
      take(name, dropped ? `${buf}… (${dropped} more characters of this line not kept)` : buf);
      buf = "";
      dropped = 0;
    };
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      let start = 0;
      for (let nl = chunk.indexOf("\n"); nl >= 0; nl = chunk.indexOf("\n", start)) {
        add(chunk.slice(start, nl));
        flush();
        start = nl + 1;
      }
      add(chunk.slice(start));
    }
    if (buf || dropped) flush();
  };
  // Output pipes close when the last process holding them exits; do not wait past the kill.
  const pumps = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")]);
  const status = await child.status.finally(() => {
    running.delete(child.pid);
    runningHooks.delete(child.pid);
  });
  cancelTimer();
  if (timedOut) {
    killGroup("SIGKILL");
    clearTimeout(hard);
  } else {
    // What the hook's sh left running in its group (`cmd &`) ends with it: no hook outlives
    // its shell, and its output pipes, which such a child held open, close (tester46: a
    // background sleep outlived the hook, and the apply waited 5 s on its pipe). A process
    // that must outlive the hook leaves the group itself (setsid).
    killGroup("SIGTERM");
    for (const until = Date.now() + 1000; groupExists(child.pid) && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 20));
    }
    killGroup("SIGKILL");
  }
  await track?.ended(child.pid);
  await Promise.race([pumps, new Promise((r) => setTimeout(r, timedOut ? 100 : 1000))]);
  tail = tail.slice(-KEPT_TAIL);
  const omitted = count - head.length - tail.length;
  if (count > SHOWN_LINES) {
    onLine(
      "stdout",
      `… ${count - SHOWN_LINES} more lines not shown (${count} in all; the execution log keeps ` +
        `the first ${KEPT_HEAD} and the last ${KEPT_TAIL})`,
    );
  }
  return {
    code: timedOut ? 124 : status.code,
    timedOut,
    ms: performance.now() - t0,
    output: [...head, ...(omitted > 0 ? [`… ${omitted} lines not kept …`] : []), ...tail]
      .join("\n"),
  };
}
