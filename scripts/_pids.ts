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

/** A live process: its pid and command line (arguments joined by spaces). */
export interface RunProcess {
  pid: number;
  args: string;
}

/** Every live process but zombies and this one (Linux /proc); kernel threads have no args. */
export function liveProcesses(): RunProcess[] {
  const out: RunProcess[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    const pid = Number(e.name);
    if (!pid || pid === Deno.pid) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      if (stat[stat.lastIndexOf(")") + 2] === "Z") continue;
      const args = Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ").trim();
      if (args) out.push({ pid, args });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/**
 * The live processes of one test run: those whose environment has `TMPDIR=<tmp>` (everything
 * the run started, daemonized servers included, inherits it) or whose command line names
 * `tmp` (a server started with a cleaned environment still has its paths there).
 */
export function processesOfRun(tmp: string): RunProcess[] {
  const mark = `TMPDIR=${tmp}`;
  return liveProcesses().filter((p) => {
    if (p.args.includes(tmp)) return true;
    try {
      return Deno.readTextFileSync(`/proc/${p.pid}/environ`).split("\0").includes(mark);
    } catch {
      return false; // gone, or not ours to read
    }
  });
}

/**
 * SIGKILLs every process of the run `tmp` (processesOfRun), and waits (at most `waitMs`) until
 * they are gone. Returns the ones it signalled.
 */
export async function sweepRun(tmp: string, waitMs = 10_000): Promise<RunProcess[]> {
  const victims = processesOfRun(tmp);
  for (const p of victims) {
    try {
      Deno.kill(p.pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
  const end = Date.now() + waitMs;
  while (victims.some((p) => alive(p.pid)) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return victims;
}

/** Whether `pid` is a live process (not gone, not a zombie). Linux /proc. */
export function alive(pid: number): boolean {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return s[s.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}
