/**
 * The SSH masters of mup processes that are gone. Each mup keeps its control sockets in a
 * directory named after its PID (ssh_settings.ts controlDirFor) and closes its masters when it
 * ends; one killed (kill -9) leaves them running for ControlPersist and the directory for good
 * (tester45: 21 masters and 14 directories after a morning of kills). The next mup to open an
 * SSH connection ends them and removes the directories.
 */
import * as path from "node:path";

/** Control directories swept in this process (once each). */
const swept = new Map<string, Promise<void>>();

/**
 * Once per process and `controlDir`: for each sibling directory named as `controlDir` is but
 * with another PID (`<pid>`, or `<prefix>-<pid>` under /tmp) whose process no longer runs,
 * asks each master there to exit (`ssh -O exit`, which talks to the socket alone) and removes
 * the directory. A PID that runs (another mup, or a process that took the PID since) is left
 * alone. Never throws.
 */
export function sweepDeadControlDirs(controlDir: string): Promise<void> {
  let done = swept.get(controlDir);
  if (!done) {
    done = sweep(controlDir).catch(() => {});
    swept.set(controlDir, done);
  }
  return done;
}

async function sweep(controlDir: string): Promise<void> {
  const own = path.basename(controlDir);
  const m = /^(.*?)(\d+)$/.exec(own);
  if (!m) return;
  const prefix = m[1];
  const parent = path.dirname(controlDir);
  for await (const e of Deno.readDir(parent)) {
    if (!e.isDirectory || e.name === own || !e.name.startsWith(prefix)) continue;
    const pid = e.name.slice(prefix.length);
    if (!/^\d+$/.test(pid) || await alive(Number(pid))) continue;
    const dir = path.join(parent, e.name);
    for await (const s of Deno.readDir(dir)) {
      await new Deno.Command("ssh", {
        args: [
          "-F",
          "/dev/null",
          "-o",
          `ControlPath=${path.join(dir, s.name)}`,
          "-O",
          "exit",
          "--",
          "mup-sweep",
        ],
        stdin: "null",
        stdout: "null",
        stderr: "null",
        signal: AbortSignal.timeout(5000),
      }).output().catch(() => {});
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Whether process `pid` runs (and is not a zombie); true where that cannot be told. */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/s.test(stat);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    return true;
  }
}
