import type { SafetyDecision } from "../apply/run_operation.ts";

/**
 * One press of Ctrl-C can arrive as several SIGINTs within a millisecond: the terminal signals the
 * whole foreground group, and `npx`/`npm exec` forward theirs to the child too. Signals within
 * this many ms of the first count as that same press.
 */
export const SAME_PRESS_MS = 500;

/** The signals that interrupt an apply: the first lets running operations finish, the next stops. */
export const INTERRUPTS = ["SIGINT", "SIGTERM"] as const;

/**
 * A SIGINT listener: `first` on the first Ctrl-C, `second` on the next press (repeats of the
 * first one within SAME_PRESS_MS ignored), nothing after that.
 */
export function interruptHandler(
  on: { first: () => void; second: () => void | Promise<void> },
  now: () => number = () => performance.now(),
): () => void {
  let presses = 0;
  let firstAt = 0;
  return () => {
    const t = now();
    if (presses === 1 && t - firstAt < SAME_PRESS_MS) return;
    presses++;
    if (presses === 1) {
      firstAt = t;
      on.first();
    } else if (presses === 2) void on.second();
  };
}

/**
 * After a Ctrl-C that mup answered (a "no" at a question, a cancel before an apply starts): the
 * copies of that same press still on their way must not end mup (the default action, exit 130)
 * before it has said what was kept. A later press still stops it at once. The command ends
 * right after, so the listener stays.
 */
function absorbPress(): void {
  const at = performance.now();
  const later = () => {
    if (performance.now() - at >= SAME_PRESS_MS) Deno.exit(130);
  };
  for (const s of INTERRUPTS) Deno.addSignalListener(s, later);
}

/**
 * `work`, unless Ctrl-C (or SIGTERM) comes first: then undefined, at once (the work is left to
 * the exit). For the moments between a confirmation and the start of an apply, when nothing has
 * changed yet and the caller can say so.
 */
export async function unlessInterrupted<T>(work: Promise<T>): Promise<{ value: T } | undefined> {
  let interrupted!: () => void;
  const signal = new Promise<undefined>((resolve) => {
    interrupted = () => resolve(undefined);
  });
  INTERRUPTS.forEach((s) => Deno.addSignalListener(s, interrupted));
  try {
    const r = await Promise.race([work.then((value) => ({ value })), signal]);
    if (!r) absorbPress();
    return r;
  } finally {
    INTERRUPTS.forEach((s) => Deno.removeSignalListener(s, interrupted));
  }
}

/** One line from standard input (works with a terminal and with a pipe); undefined at EOF. */
export async function readLine(
  prompt: string,
  to: "stdout" | "stderr" = "stdout",
): Promise<string | undefined> {
  return (await readAnswer(prompt, to)).line;
}

/**
 * One line from standard input, as readLine, and whether Ctrl-C (SIGINT) ended the question
 * instead: `{ line: undefined, interrupted: true }` then, so that the caller can exit 130 as an
 * interrupted command does, after saying what was kept.
 */
export async function readAnswer(
  prompt: string,
  to: "stdout" | "stderr" = "stdout",
): Promise<{ line?: string; interrupted: boolean }> {
  const out = to === "stderr" ? Deno.stderr : Deno.stdout;
  // Ctrl-C at a question is an answer (no): the caller then says what was kept, rather than the
  // process ending with 130 and saying nothing. Listening before the question is shown.
  let interrupted!: () => void;
  let pressed = false;
  const sigint = new Promise<undefined>((resolve) => {
    interrupted = () => {
      pressed = true;
      resolve(undefined);
    };
  });
  Deno.addSignalListener("SIGINT", interrupted);
  try {
    await out.write(new TextEncoder().encode(prompt));
    const line = await Promise.race([readStdinLine(), sigint]);
    if (line === undefined) await out.write(new TextEncoder().encode("\n"));
    return { line, interrupted: pressed };
  } finally {
    if (pressed) absorbPress();
    Deno.removeSignalListener("SIGINT", interrupted);
  }
}

/** One line of standard input (without its newline); undefined at end of input. */
async function readStdinLine(): Promise<string | undefined> {
  const buf = new Uint8Array(1);
  const bytes: number[] = [];
  while (true) {
    const n = await Deno.stdin.read(buf);
    if (n === null) {
      return bytes.length ? new TextDecoder().decode(new Uint8Array(bytes)) : undefined;
    }
    if (buf[0] === 10) break;
    bytes.push(buf[0]);
  }
  return new TextDecoder().decode(new Uint8Array(bytes)).replace(/\r$/, "");
}

export function interactive(): boolean {
  return Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
}

/**
 * The specification's four choices; skipping must be confirmed. Ctrl-C at the menu (the terminal
 * is in raw mode there, so it comes as a key, not as SIGINT) answers "interrupted": the caller
 * treats it as the Ctrl-C it is (the apply pauses, exit 130).
 */
export async function askSafetyDecision(): Promise<SafetyDecision | "interrupted"> {
  try {
    return await askMenu();
  } catch (e) {
    if ((e as Error)?.name === "ExitPromptError") return "interrupted";
    throw e;
  }
}

async function askMenu(): Promise<SafetyDecision> {
  // Loaded on first use, like the MongoDB driver: most commands never prompt.
  const { confirm, select } = await import("@inquirer/prompts");
  while (true) {
    const choice = await select<SafetyDecision>({
      message: "Options:",
      choices: [
        { name: "1. Fix the issue and retry operation", value: "retry" },
        { name: "2. Skip this operation (dangerous)", value: "skip" },
        { name: "3. Abort apply", value: "abort" },
        { name: "4. Pause apply (resume later with `mup plan resume`)", value: "pause" },
      ],
    });
    if (choice !== "skip") return choice;
    if (
      await confirm({
        message:
          "Skipping leaves this operation undone and may break what depends on it. Skip anyway?",
        default: false,
      })
    ) return "skip";
  }
}
