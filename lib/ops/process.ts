import type { Executor } from "../executor/executor.ts";

/**
 * PID of the process that runs with `configPath`: the one its pid file names, if alive and
 * started with `configPath`; else, given `port`, the one listening on it if its command line
 * names `configPath` (a pid file deleted or overwritten must not make a running server look
 * stopped: a stop would skip it, a destroy remove its data under it). Undefined when neither.
 * Throws when the host cannot be asked.
 */
export async function runningPid(
  ex: Executor,
  pidFile: string,
  configPath?: string,
  port?: number,
): Promise<number | undefined> {
  const raw = await ex.readFile(pidFile);
  const pid = raw ? Number(new TextDecoder().decode(raw).trim()) : NaN;
  if (Number.isInteger(pid) && pid > 0 && (await ex.processAlive(pid))) {
    if (!configPath) return pid;
    // Guard against a recycled PID: the process must be ours.
    const cmd = await ex.readFile(`/proc/${pid}/cmdline`);
    if (!cmd || new TextDecoder().decode(cmd).includes(configPath)) return pid;
  }
  if (port === undefined || !configPath || !ex.portHolder) return undefined;
  const holder = await ex.portHolder(port);
  return holder?.command?.includes(configPath) ? holder.pid : undefined;
}
