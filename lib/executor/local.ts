import { namingArg } from "./command_line.ts";
import * as path from "node:path";
import {
  listeningOf,
  listeningSockets,
  portConnection,
  portFree,
  type PortHolder,
  portHolder,
} from "../preflight/ports.ts";
import { sha256File } from "../util/file_hash.ts";
import type { Executor, RunResult } from "./executor.ts";
import { setLongTimeout } from "../util/timer.ts";
import { makeDirs, privateDir } from "../state/atomic.ts";

/** The control machine itself: subprocesses and the filesystem. */
export class LocalExecutor implements Executor {
  constructor(readonly host = "localhost") {}

  /**
   * Runs argv to completion. The process starts in a session of its own (setsid, through
   * `detached`), so the terminal's Ctrl-C never reaches it: a `mongod --fork` that mup starts
   * finishes starting and keeps running while mup saves a paused state.
   */
  async run(
    argv: string[],
    options: { timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<RunResult> {
    const ac = new AbortController();
    const cancel = options.timeoutMs
      ? setLongTimeout(() => ac.abort(), options.timeoutMs)
      : undefined;
    try {
      const out = await new Deno.Command(argv[0], {
        args: argv.slice(1),
        env: options.env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: ac.signal,
        // Only spawn() honours detached (Command.output() ignores it).
        detached: true,
      }).spawn().output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    } catch (e) {
      return { code: 127, stdout: "", stderr: (e as Error).message };
    } finally {
      cancel?.();
    }
  }

  async writeFile(p: string, data: Uint8Array | string, mode = 0o600): Promise<void> {
    await privateDir(path.dirname(p));
    const tmp = `${p}.mup-tmp`;
    if (typeof data === "string") await Deno.writeTextFile(tmp, data, { mode });
    else await Deno.writeFile(tmp, data, { mode });
    await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, p);
  }

  async readFile(p: string): Promise<Uint8Array | undefined> {
    try {
      return await Deno.readFile(p);
    } catch {
      return undefined;
    }
  }

  sha256(p: string): Promise<string | undefined> {
    return sha256File(p);
  }

  async mkdir(p: string, mode = 0o700): Promise<void> {
    await makeDirs(p, mode);
  }

  async exists(p: string): Promise<boolean> {
    try {
      await Deno.stat(p);
      return true;
    } catch {
      return false;
    }
  }

  async remove(p: string): Promise<void> {
    await Deno.remove(p, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }

  async upload(localDir: string, remoteDir: string, files?: string[]): Promise<void> {
    await privateDir(remoteDir);
    const names = files ?? [];
    if (!files) { for await (const e of Deno.readDir(localDir)) names.push(e.name); }
    for (const f of names) {
      const dest = path.join(remoteDir, f);
      const tmp = `${dest}.mup-tmp`;
      await Deno.copyFile(path.join(localDir, f), tmp);
      await Deno.chmod(tmp, 0o700);
      await Deno.rename(tmp, dest);
    }
  }

  async freeDiskMb(p: string): Promise<number> {
    let dir = p;
    while (!(await this.exists(dir)) && dir !== path.dirname(dir)) dir = path.dirname(dir);
    const r = await this.run(["df", "-Pk", dir]);
    const cols = r.stdout.trim().split("\n").pop()?.split(/\s+/) ?? [];
    return Math.floor(Number(cols[3] ?? 0) / 1024);
  }

  /**
   * Free on this machine: bindable on the address the topology names, and no socket listens on
   * the port on any other address (127.0.0.1, ::1, 0.0.0.0…), since every loopback name is this
   * one machine.
   */
  async portFree(port: number): Promise<boolean> {
    return portFree(this.host, port) && (await listeningSockets(port)).length === 0;
  }

  portHolder(port: number): Promise<PortHolder | undefined> {
    return portHolder(port);
  }

  portConnection(port: number): Promise<string | undefined> {
    return portConnection(port);
  }

  listening(pid: number): Promise<string[]> {
    return listeningOf(pid);
  }

  async processesWith(arg: string): Promise<{ pid: number; command: string }[]> {
    const found: { pid: number; command: string }[] = [];
    if (!(await this.exists("/proc/self"))) return found; // not Linux: nothing to see
    for await (const e of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
      const argv = await Deno.readTextFile(`/proc/${e.name}/cmdline`).then(
        (c) => c.split("\0").filter(Boolean),
        () => [] as string[],
      );
      const command = await namingArg(
        argv,
        arg,
        () => Deno.readLink(`/proc/${e.name}/cwd`).catch(() => undefined),
      );
      if (command !== undefined && pidAlive(Number(e.name))) {
        found.push({ pid: Number(e.name), command });
      }
    }
    return found;
  }

  processCwd(pid: number): Promise<string | undefined> {
    return Deno.readLink(`/proc/${pid}/cwd`).catch(() => undefined);
  }

  processAlive(pid: number): Promise<boolean> {
    return Promise.resolve(pidAlive(pid));
  }

  signal(pid: number, signal: Deno.Signal): Promise<void> {
    try {
      Deno.kill(pid, signal);
    } catch {
      // Already gone.
    }
    return Promise.resolve();
  }
}

/** Alive and not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    try {
      Deno.kill(pid, "SIGCONT");
      return true;
    } catch {
      return false;
    }
  }
}
