import * as path from "node:path";
import { commandLineOf } from "../executor/command_line.ts";
import type { Executor } from "../executor/executor.ts";
import type { OperationContext } from "./operation.ts";
import { type ClusterMeta, statusOfRunning } from "../state/meta.ts";

/** The PID a pid file holds, alive or not; undefined when there is none (or no file). */
export async function pidInFile(ex: Executor, pidFile: string): Promise<number | undefined> {
  const raw = await ex.readFile(pidFile);
  const pid = raw ? Number(new TextDecoder().decode(raw).trim()) : NaN;
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * PID of the process that runs with `configPath`: the one its pid file names, if alive and
 * started with `configPath`; else, given `port`, the one listening on it if its command line
 * names `configPath` (a pid file deleted or overwritten must not make a running server look
 * stopped: a stop would skip it, a destroy remove its data under it), or a mongod/mongos that
 * both its pid file names and listens on it (started with a copy of its configuration).
 * Undefined when none. Throws when the host cannot be asked.
 */
export async function runningPid(
  ex: Executor,
  pidFile: string,
  configPath?: string,
  port?: number,
): Promise<number | undefined> {
  const pid = await pidInFile(ex, pidFile);
  let other: string | undefined;
  if (pid !== undefined && (await ex.processAlive(pid))) {
    if (!configPath) return pid;
    // Guard against a recycled PID: the process must be ours.
    const cmd = await ex.readFile(`/proc/${pid}/cmdline`);
    if (!cmd) return pid;
    other = await commandLine(ex, pid, cmd);
    if (other.includes(configPath)) return pid;
  }
  if (port === undefined || !configPath || !ex.portHolder) return undefined;
  const holder = await ex.portHolder(port);
  if (holder?.command?.includes(configPath)) return holder.pid;
  // A server run with a copy of its configuration (an operator's edited file): it writes the
  // same pid file and listens on the same port, so it is this process all the same.
  return holder && holder.pid === pid && other !== undefined &&
      /(^|[ /])mongo[ds] /.test(`${other} `)
    ? pid
    : undefined;
}

/**
 * A start of the server run with `configPath` that is already under way: mup killed while a
 * `mongod -f configPath` it ran was still starting leaves that process (in a session of its
 * own) to come up without it, before it has written its pid file or listens. Waits, polling every
 * 100 ms for up to `timeoutMs`, until runningPid finds the server (`{ pid }`) or no process
 * with that argument is left (`undefined`: nothing is starting, as at once on a host that cannot
 * list processes). `{ starting }` (their PIDs and commands) when they still neither run nor end
 * by the deadline. Throws when the host cannot be asked.
 */
export async function earlierStart(
  ex: Executor,
  pidFile: string,
  configPath: string,
  port: number | undefined,
  timeoutMs: number,
): Promise<{ pid: number } | { starting: { pid: number; command: string }[] } | undefined> {
  if (!ex.processesWith) return undefined;
  for (const end = Date.now() + timeoutMs;;) {
    const starting = await serversWith(ex, configPath);
    if (!starting.length) return undefined;
    const pid = await runningPid(ex, pidFile, configPath, port);
    if (pid !== undefined) return { pid };
    if (Date.now() > end) return { starting };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The live mongod/mongos processes run with `configPath` as their configuration file
 * (runsServerWith), listening or not yet: a server started by hand that is still coming up is
 * among them before it has a pid file or a port. Empty on a host that cannot list processes.
 * Throws when the host cannot be asked.
 */
export async function serversWith(
  ex: Executor,
  configPath: string,
): Promise<{ pid: number; command: string }[]> {
  if (!ex.processesWith) return [];
  return (await ex.processesWith(configPath)).filter((p) => runsServerWith(p.command, configPath));
}

/**
 * Whether a command line (arguments joined by spaces) is a mongod or mongos run with
 * `configPath` as its configuration file (`-f`, `--config`), as mup starts them: not an editor
 * or a `tail -f` that an operator has open on that file.
 */
export function runsServerWith(command: string, configPath: string): boolean {
  const words = ` ${command} `;
  return /(^|[ /])mongo[ds] /.test(words) &&
    [` -f ${configPath} `, ` --config ${configPath} `, ` --config=${configPath} `].some((a) =>
      words.includes(a)
    );
}

/**
 * Process `pid`'s command line from its /proc cmdline bytes `raw`, arguments joined by spaces, a
 * relative configuration file made absolute against its working directory (command_line.ts).
 */
async function commandLine(ex: Executor, pid: number, raw: Uint8Array): Promise<string> {
  return await commandLineOf(
    new TextDecoder().decode(raw),
    async () => await ex.processCwd?.(pid).catch(() => undefined),
  );
}

/** A live mongod holding a data directory (lockHolder). */
export interface LockHolder {
  pid: number;
  /** Its command line, as /proc gives it ("" when it could not be read). */
  command: string;
}

/**
 * The live mongod that holds data directory `dir`: mongod writes its pid to `<dir>/mongod.lock`
 * while it runs and empties the file at a clean shutdown (as the simulator does). A pid that is
 * gone, or a live one whose command line names no mongod (a recycled pid), holds nothing.
 * Undefined when nothing holds it. Throws when the host cannot be asked.
 */
export async function lockHolder(ex: Executor, dir: string): Promise<LockHolder | undefined> {
  const raw = await ex.readFile(path.join(dir, "mongod.lock"));
  const pid = raw ? Number(new TextDecoder().decode(raw).trim()) : NaN;
  if (!Number.isInteger(pid) || pid <= 0 || !(await ex.processAlive(pid))) return undefined;
  const cmd = await ex.readFile(`/proc/${pid}/cmdline`).catch(() => undefined);
  const command = cmd ? await commandLine(ex, pid, cmd) : "";
  // A command line that cannot be read is taken as mongod's: keeping data errs on the safe side.
  if (cmd && !/mongod/.test(command)) return undefined;
  return { pid, command };
}

/** "mongod PID 123 (…its command line, shortened)". */
export function describeLockHolder(h: LockHolder): string {
  const cmd = h.command.length > 120 ? `${h.command.slice(0, 117)}…` : h.command;
  return `mongod PID ${h.pid}${cmd ? ` (${cmd})` : ""}`;
}

/**
 * The status `processes` are in, measured: how many run (runningPid of each, on its host) of
 * how many, and the metadata status that makes (running, partial, stopped). Throws when a host
 * cannot be asked.
 */
export async function measuredStatus(
  ctx: OperationContext,
  processes: ClusterMeta["processes"],
): Promise<{ status: ClusterMeta["status"]; running: number; total: number }> {
  const alive = await Promise.all(
    processes.map(async (p) =>
      (await runningPid(ctx.executors.forHost(p.host), p.pid_file, p.config, p.port)) !== undefined
    ),
  );
  const running = alive.filter(Boolean).length;
  return { status: statusOfRunning(running, alive.length), running, total: alive.length };
}

/**
 * Whether the operation's process (`pid_file` of its target, on its host; or the given ones)
 * started and has exited since: its pid file names a process that is no longer alive. No pid file, or a host that cannot be
 * asked, is no evidence: false.
 */
export async function processExited(
  ctx: OperationContext,
  host = ctx.op.target.host,
  pidFile = ctx.op.target.params.pid_file,
): Promise<boolean> {
  if (!pidFile || !host) return false;
  const ex = ctx.executors.forHost(host);
  const pid = await pidInFile(ex, pidFile).catch(() => undefined);
  return pid !== undefined && !(await ex.processAlive(pid).catch(() => true));
}

/**
 * The state `ps` gives process `pid` on the executor's host (`stat=`: "Sl", "Tsl" for stopped…),
 * or undefined when it cannot be read (gone, or no ps).
 */
export async function processState(ex: Executor, pid: number): Promise<string | undefined> {
  return (await ex.run(["ps", "-o", "stat=", "-p", String(pid)], { timeoutMs: 10_000 })
    .catch(() => undefined))?.stdout.trim();
}

/**
 * Whether a process listening on `addresses` (`127.0.0.1:27018`, `[::]:27018`, as the executors'
 * `listening` gives them) listens, but on no address of `port`: started on a configuration file
 * that names another net.port (edited on its host), it will never answer on its own.
 */
export function listensOnlyElsewhere(addresses: string[] | undefined, port: number): boolean {
  return !!addresses?.length && addresses.every((a) => !a.endsWith(`:${port}`));
}
