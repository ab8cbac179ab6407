import type { Hook } from "./schema.ts";
import { setLongTimeout } from "../util/timer.ts";

export interface HookRun {
  code: number;
  timedOut: boolean;
  ms: number;
  output: string;
}

/**
 * Runs a hook's command with `sh -c` in its own process group, with the context as MUP_*
 * environment variables. On timeout the whole group gets SIGTERM, then SIGKILL two seconds later.
 */
export async function runHook(
  hook: Hook,
  env: Record<string, string>,
  onLine: (stream: "stdout" | "stderr", line: string) => void,
): Promise<HookRun> {
  const t0 = performance.now();
  const child = new Deno.Command("sh", {
    args: ["-c", hook.command],
    cwd: hook.working_dir,
    env: { ...hook.environment, ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  let timedOut = false;
  const killGroup = (sig: Deno.Signal) => {
    try {
      Deno.kill(-child.pid, sig);
    } catch {
      // Group already gone.
    }
  };
  let hard: ReturnType<typeof setTimeout> | undefined;
  // Waited in steps: a timeout longer than the runtime's 32-bit timer must not fire at once.
  const cancelTimer = setLongTimeout(() => {
    timedOut = true;
    killGroup("SIGTERM");
    hard = setTimeout(() => killGroup("SIGKILL"), 2000);
  }, hook.timeout_ms);
  const lines: string[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr") => {
    let buf = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        onLine(name, line);
      }
    }
    if (buf) {
      lines.push(buf);
      onLine(name, buf);
    }
  };
  // Output pipes close when the last process holding them exits; do not wait past the kill.
  const pumps = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")]);
  const status = await child.status;
  cancelTimer();
  if (timedOut) {
    killGroup("SIGKILL");
    clearTimeout(hard);
  }
  await Promise.race([pumps, new Promise((r) => setTimeout(r, timedOut ? 100 : 5000))]);
  return {
    code: timedOut ? 124 : status.code,
    timedOut,
    ms: performance.now() - t0,
    output: lines.join("\n"),
  };
}
