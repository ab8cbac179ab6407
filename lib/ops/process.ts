import type { Executor } from "../executor/executor.ts";

/** PID from a pid file if that process is alive and was started with `configPath`. */
export async function runningPid(
  ex: Executor,
  pidFile: string,
  configPath?: string,
): Promise<number | undefined> {
  const raw = await ex.readFile(pidFile);
  const pid = raw ? Number(new TextDecoder().decode(raw).trim()) : NaN;
  if (!Number.isInteger(pid) || pid <= 0 || !(await ex.processAlive(pid))) return undefined;
  if (configPath) {
    // Guard against a recycled PID: the process must be ours.
    const cmd = await ex.readFile(`/proc/${pid}/cmdline`);
    if (cmd && !new TextDecoder().decode(cmd).includes(configPath)) return undefined;
  }
  return pid;
}
