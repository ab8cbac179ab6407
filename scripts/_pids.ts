import * as path from "node:path";

/**
 * Signals every process whose pid file lies under `dir` (what a test, the demo or a benchmark
 * deployed there). Returns how many were signalled.
 */
export async function signalPidFiles(dir: string, signal: Deno.Signal): Promise<number> {
  let n = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await Array.fromAsync(Deno.readDir(d)).catch(() => [] as Deno.DirEntry[])) {
      const p = path.join(d, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.name.endsWith(".pid")) {
        const pid = Number((await Deno.readTextFile(p).catch(() => "")).trim());
        try {
          if (pid > 0) {
            Deno.kill(pid, signal);
            n++;
          }
        } catch {
          // Already gone.
        }
      }
    }
  };
  await walk(dir);
  return n;
}
