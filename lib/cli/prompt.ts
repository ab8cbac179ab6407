import type { SafetyDecision } from "../apply/run_operation.ts";

/** One line from standard input (works with a terminal and with a pipe); undefined at EOF. */
export async function readLine(
  prompt: string,
  to: "stdout" | "stderr" = "stdout",
): Promise<string | undefined> {
  const out = to === "stderr" ? Deno.stderr : Deno.stdout;
  await out.write(new TextEncoder().encode(prompt));
  // Ctrl-C at a question is an answer (no): the caller then says what was kept, rather than the
  // process ending with 130 and saying nothing.
  let interrupted!: () => void;
  const sigint = new Promise<undefined>((resolve) => {
    interrupted = () => resolve(undefined);
  });
  Deno.addSignalListener("SIGINT", interrupted);
  try {
    const line = await Promise.race([readStdinLine(), sigint]);
    if (line === undefined) await out.write(new TextEncoder().encode("\n"));
    return line;
  } finally {
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
 * is in raw mode there, so it comes as a key, not as SIGINT) pauses the apply, as Ctrl-C does
 * elsewhere.
 */
export async function askSafetyDecision(): Promise<SafetyDecision> {
  try {
    return await askMenu();
  } catch (e) {
    if ((e as Error)?.name === "ExitPromptError") return "pause";
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
