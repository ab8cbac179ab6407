/**
 * Helpers for the lock tests: a lock left by a mup that is gone, and scripts run with the
 * project's imports (several processes racing for one lock).
 */

/** Writes at `file` a lock held by a process of this machine that has exited: a stale lock. */
export async function writeStaleLock(file: string, id = "left-by-dead"): Promise<void> {
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      format_version: 1,
      id,
      operation: "apply plan-dead",
      who: "test",
      host: Deno.hostname(),
      pid: gone.pid,
      created: new Date().toISOString(),
    }),
  );
}

/** `deno run` of `script` with the project's import map, so it may import lib/ modules. */
export function projectScript(script: string): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-check",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      script,
    ],
    stdout: "piped",
    stderr: "piped",
  });
}

/** The `import { name } from "<lib module>"` line of a script (`module` relative to lib/). */
export function libImport(name: string, module: string): string {
  return `import { ${name} } from ${
    JSON.stringify(new URL(`../lib/${module}`, import.meta.url).href)
  };\n`;
}
