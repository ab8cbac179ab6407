/**
 * A remote host reached with the system's OpenSSH client. One multiplexed master connection per
 * host (ControlMaster/ControlPath/ControlPersist) carries every command, so an apply of hundreds
 * of operations opens one TCP connection per host. Every remote command is a fixed `sh -c` script
 * or an argv, each argument quoted by shellQuote: nothing from a topology reaches a shell unquoted.
 */
import { sweepDeadControlDirs } from "./ssh_sweep.ts";
import * as path from "node:path";
import { commandLineOf, namingArg } from "./command_line.ts";
import { MupError } from "../errors.ts";
import type { Executor, RunResult } from "./executor.ts";
import { sha256File } from "../util/file_hash.ts";
import { shellJoin } from "./shell_quote.ts";
import { classifySshFailure, lastLine, SshError } from "./ssh_errors.ts";
import { controlPath, sshArgs, type SshSettings } from "./ssh_settings.ts";
import { checkedPid, listeningPorts, randomSuffix, SCRIPTS } from "./ssh_scripts.ts";
import { forwardPort } from "./ssh_forward.ts";

/** Most sessions at once over one master (sshd's MaxSessions defaults to 10). */
const MAX_SESSIONS = 8;
/** Deadline of the small file and process commands (ms), beyond the connect timeout. */
const SMALL_OP_MS = 60_000;
/**
 * How long a host whose connection timed out, or whose name did not resolve, is answered with
 * that failure at once instead of tried again: a plan's pre-flight asks a host several times
 * (ports, directories, data), and a dead host cost --ssh-timeout at each (tester58).
 */
const DEAD_HOST_MEMORY_MS = 60_000;

interface SshRun {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** The host's side of the Executor interface, over SSH. */
export class SshExecutor implements Executor {
  private connecting?: Promise<{ connectMs: number }>;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private everConnected = false;
  private dirReady?: Promise<void>;
  private readonly forwards = new Map<string, Promise<number>>();
  /** The last connection that timed out or named an unknown host, and when (DEAD_HOST_MEMORY_MS). */
  private dead?: { error: SshError; at: number };

  /**
   * @param host the topology's host name, given to ssh as the destination
   * @param port this host's SSH port (per-host `ssh_port`, else `global.ssh_port`), or ssh's default
   */
  constructor(readonly host: string, private readonly s: SshSettings, readonly port?: number) {}

  /** Whether this executor connects as `settings` and `port` would (the same master). */
  reaches(settings: SshSettings, port?: number): boolean {
    return port === this.port &&
      controlPath(settings, this.host, port) === controlPath(this.s, this.host, this.port) &&
      settings.connectTimeoutS === this.s.connectTimeoutS;
  }

  private args(): string[] {
    return sshArgs(this.s, this.host, this.port);
  }

  private async slot<T>(f: () => Promise<T>): Promise<T> {
    while (this.running >= MAX_SESSIONS) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await f();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** Runs ssh itself; exit 255 (the connection failed) and timeouts become SshErrors. */
  private async raw(
    remote: string,
    opts: { stdin?: Uint8Array | string; stdinFile?: string; timeoutMs: number },
  ): Promise<SshRun> {
    if (this.dead && performance.now() - this.dead.at < DEAD_HOST_MEMORY_MS) throw this.dead.error;
    this.dirReady ??= Deno.mkdir(this.s.controlDir, { recursive: true, mode: 0o700 });
    await this.dirReady;
    // Not waited for: the masters a killed mup left end beside this connection.
    sweepDeadControlDirs(this.s.controlDir);
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, opts.timeoutMs + this.s.connectTimeoutS * 1000);
    try {
      const piped = opts.stdin !== undefined || opts.stdinFile !== undefined;
      const child = new Deno.Command("ssh", {
        // "--" first: a host is never read as an option, whatever it starts with.
        args: [...this.args(), "--", this.host, remote],
        stdin: piped ? "piped" : "null",
        stdout: "piped",
        stderr: "piped",
        signal: ac.signal,
        // A session of its own, so the terminal's Ctrl-C (which pauses the apply) does not end
        // a remote command, or the multiplexed master it starts, half way.
        detached: true,
      }).spawn();
      const feeding = piped ? this.feed(child.stdin, opts) : Promise.resolve();
      const [out] = await Promise.all([child.output(), feeding.catch(() => {})]);
      const stderr = new TextDecoder().decode(out.stderr);
      if (timedOut) {
        throw new SshError(
          this.host,
          "timeout",
          `${this.host} did not finish a command within ${
            Math.round(opts.timeoutMs / 1000 + this.s.connectTimeoutS)
          }s`,
          "check the host's load and network; --ssh-timeout sets the connect wait",
        );
      }
      if (out.code === 255) {
        const error = classifySshFailure(this.host, this.login(), 255, stderr);
        if (error.kind === "timeout" || error.kind === "unknown_host") {
          this.dead = { error, at: performance.now() };
        }
        throw error;
      }
      return { code: out.code, stdout: out.stdout, stderr };
    } catch (e) {
      if (e instanceof SshError) throw e;
      if (e instanceof Deno.errors.NotFound) {
        throw new MupError("the OpenSSH client (ssh) is not installed on this machine", {
          hint: "install it (Debian/Ubuntu: apt-get install openssh-client) to reach remote hosts",
        });
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private async feed(
    w: WritableStream<Uint8Array>,
    opts: { stdin?: Uint8Array | string; stdinFile?: string },
  ): Promise<void> {
    if (opts.stdinFile !== undefined) {
      const f = await Deno.open(opts.stdinFile);
      await f.readable.pipeTo(w);
      return;
    }
    const writer = w.getWriter();
    const d = opts.stdin!;
    await writer.write(typeof d === "string" ? new TextEncoder().encode(d) : d);
    await writer.close();
  }

  private login() {
    return {
      user: this.s.user,
      port: this.port,
      identityFile: this.s.identityFile,
      loginFrom: this.s.loginFrom,
      connectTimeoutS: this.s.connectTimeoutS,
      strictHostKeys: this.s.strictHostKeys,
      proxyJump: this.s.proxyJump,
    };
  }

  /**
   * Opens the host's master connection (once; again after a failure) and returns how long that
   * took. Throws SshError naming the host and what to do.
   */
  connect(): Promise<{ connectMs: number }> {
    this.connecting ??= (async () => {
      const t0 = performance.now();
      const r = await this.raw("exit 0", { timeoutMs: 10_000 });
      if (r.code !== 0) {
        throw new SshError(
          this.host,
          "unreachable",
          `${this.host} accepted the SSH connection but could not run a command (exit ${r.code}: ${
            lastLine(r.stderr)
          })`,
          "check the login shell of that user on the host",
        );
      }
      this.everConnected = true;
      return { connectMs: performance.now() - t0 };
    })();
    const p = this.connecting;
    p.catch(() => {
      if (this.connecting === p) this.connecting = undefined;
    });
    return p;
  }

  /**
   * Opens the connection if needed and measures one command's round trip over it (ms). Throws
   * SshError when the host cannot be reached.
   */
  async probe(): Promise<{ rttMs: number; connectMs: number }> {
    const { connectMs } = await this.connect();
    const t0 = performance.now();
    await this.slot(() => this.raw("exit 0", { timeoutMs: SMALL_OP_MS }));
    return { rttMs: performance.now() - t0, connectMs };
  }

  /** A fixed script with quoted arguments, over the master connection. */
  private async script(
    name: keyof typeof SCRIPTS,
    args: (string | number)[],
    opts: { stdin?: Uint8Array | string; stdinFile?: string; timeoutMs?: number } = {},
  ): Promise<SshRun> {
    await this.connect();
    const line = shellJoin(["sh", "-c", SCRIPTS[name], "mup", ...args.map(String)]);
    const r = await this.slot(() =>
      this.raw(line, { ...opts, timeoutMs: opts.timeoutMs ?? SMALL_OP_MS })
    );
    if (r.code === 127) {
      const cmd = /(?:^|\s)([\w.-]+): (?:command )?not found/.exec(r.stderr)?.[1] ?? "a command";
      throw new SshError(
        this.host,
        "command_not_found",
        `${cmd} is not installed on ${this.host} (${lastLine(r.stderr)})`,
        `install it on ${this.host} (mup needs a POSIX shell and coreutils there)`,
      );
    }
    return r;
  }

  private failed(what: string, r: SshRun): Error {
    return new Error(`${what} on ${this.host} failed (exit ${r.code}): ${lastLine(r.stderr)}`);
  }

  async run(
    argv: string[],
    options: { timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<RunResult> {
    await this.connect();
    const env = Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`);
    // With umask 077, as mup runs locally (main.ts): a server started here creates its data,
    // log and pid files for its owner alone, whatever sshd's umask (tester79). Through sh,
    // whatever the login shell.
    const line = shellJoin([
      "sh",
      "-c",
      'umask 077; exec "$@"',
      "mup",
      ...(env.length ? ["env", ...env, ...argv] : argv),
    ]);
    const r = await this.slot(() =>
      this.raw(line, { timeoutMs: options.timeoutMs ?? 5 * SMALL_OP_MS })
    );
    if (r.code === 127 && /not found/i.test(r.stderr)) {
      throw new SshError(
        this.host,
        "command_not_found",
        `${argv[0]} was not found on ${this.host} (${lastLine(r.stderr)})`,
        `install it on ${this.host}, or check the path (a binary is installed by the plan's install step)`,
      );
    }
    return { code: r.code, stdout: new TextDecoder().decode(r.stdout), stderr: r.stderr };
  }

  async writeFile(p: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
    const r = await this.script("write", [p, randomSuffix(), mode.toString(8)], { stdin: data });
    if (r.code !== 0) throw this.failed(`writing ${p}`, r);
  }

  async readFile(p: string): Promise<Uint8Array | undefined> {
    const r = await this.script("read", [p]);
    if (r.code === 3) return undefined;
    if (r.code !== 0) throw this.failed(`reading ${p}`, r);
    return r.stdout;
  }

  async sha256(p: string): Promise<string | undefined> {
    const r = await this.script("sha256", [p], { timeoutMs: 10 * SMALL_OP_MS });
    if (r.code === 3) return undefined;
    if (r.code !== 0) throw this.failed(`sha256sum ${p}`, r);
    return new TextDecoder().decode(r.stdout).split(/\s/)[0];
  }

  async mkdir(p: string, mode = 0o755): Promise<void> {
    const r = await this.script("mkdir", [p, mode.toString(8)]);
    if (r.code !== 0) throw this.failed(`mkdir ${p}`, r);
  }

  async exists(p: string): Promise<boolean> {
    const r = await this.script("exists", [p]);
    if (r.code > 1) throw this.failed(`checking ${p}`, r);
    return r.code === 0;
  }

  async remove(p: string): Promise<void> {
    const r = await this.script("remove", [p]);
    if (r.code !== 0) throw this.failed(`removing ${p}`, r);
  }

  /**
   * Installs files as executables (0755), each streamed only when the host's copy has another
   * sha256 (compared on the host), so a resume or a second cluster uploads nothing.
   */
  async upload(localDir: string, remoteDir: string, files?: string[]): Promise<void> {
    const names = files ?? [];
    if (!files) { for await (const e of Deno.readDir(localDir)) if (e.isFile) names.push(e.name); }
    for (const f of names) {
      const local = `${localDir}/${f}`;
      const sha = await sha256File(local);
      if (!sha) throw new Error(`cannot read ${local}`);
      const r = await this.script("install", [`${remoteDir}/${f}`, randomSuffix(), sha], {
        stdinFile: local,
        timeoutMs: 30 * SMALL_OP_MS,
      });
      if (r.code !== 0) throw this.failed(`installing ${f} into ${remoteDir}`, r);
    }
  }

  async freeDiskMb(p: string): Promise<number> {
    const r = await this.script("df", [p]);
    if (r.code !== 0) throw this.failed(`df ${p}`, r);
    const cols = new TextDecoder().decode(r.stdout).trim().split("\n").pop()?.split(/\s+/) ?? [];
    return Math.floor(Number(cols[3] ?? 0) / 1024);
  }

  /** No listener on `port`, on any of the host's addresses (`ss -ltn`, else /proc/net/tcp). */
  async portFree(port: number): Promise<boolean> {
    return !(await this.listeningPorts()).has(port);
  }

  /** Every TCP port in LISTEN state on the host (`ss -ltn`, else /proc/net/tcp). */
  async listeningPorts(): Promise<Set<number>> {
    const r = await this.script("listening", []);
    if (r.code !== 0) throw this.failed("listing listening ports", r);
    return listeningPorts(new TextDecoder().decode(r.stdout));
  }

  /** The process listening on `port` (the `holder` script), or undefined when none is found. */
  async portHolder(port: number): Promise<{ pid: number; command?: string } | undefined> {
    if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
    const r = await this.script("holder", [port]);
    if (r.code !== 0) return undefined;
    const out = new TextDecoder().decode(r.stdout);
    const at = out.indexOf("\n");
    const pid = Number(at < 0 ? out : out.slice(0, at));
    if (!(pid > 0)) return undefined;
    const command = await commandLineOf(
      at < 0 ? "" : out.slice(at + 1),
      () => this.processCwd(pid),
    );
    return { pid, ...(command ? { command } : {}) };
  }

  async processCwd(pid: number): Promise<string | undefined> {
    const r = await this.script("cwd", [checkedPid(pid)]);
    return r.code === 0 ? new TextDecoder().decode(r.stdout).replace(/\n$/, "") : undefined;
  }

  async processesWith(arg: string): Promise<{ pid: number; command: string }[]> {
    const r = await this.script("with_arg", [arg, path.posix.basename(arg)]);
    if (r.code !== 0) throw this.failed("listing processes", r);
    const found: { pid: number; command: string }[] = [];
    for (const rec of new TextDecoder().decode(r.stdout).split("\x1e")) {
      const [pid, cwd, ...rest] = rec.split("\n");
      if (!(Number(pid) > 0)) continue;
      const argv = rest.join("\n").split("\0").filter(Boolean);
      const command = await namingArg(argv, arg, () => Promise.resolve(cwd || undefined));
      if (command !== undefined) found.push({ pid: Number(pid), command });
    }
    return found;
  }

  async processAlive(pid: number): Promise<boolean> {
    const r = await this.script("alive", [checkedPid(pid)]);
    return r.code === 0;
  }

  async signal(pid: number, signal: Deno.Signal): Promise<void> {
    await this.script("signal", [checkedPid(pid), signal.replace(/^SIG/, "")]);
  }

  /** The host's OS and machine as `uname -sm` reports them, e.g. { os: "Linux", arch: "x86_64" }. */
  async platform(): Promise<{ os: string; arch: string }> {
    const r = await this.script("uname", []);
    if (r.code !== 0) throw this.failed("uname -sm", r);
    const [os, arch] = new TextDecoder().decode(r.stdout).trim().split(/\s+/);
    return { os, arch };
  }

  /** Whether a master connection was ever opened (for close). */
  get connected(): boolean {
    return this.everConnected;
  }

  /**
   * Forwards a port on this machine's 127.0.0.1 to `target:port` as the remote host sees it
   * (forwardPort, over the host's master): one forward per target for the executor's life;
   * `close` ends them with the master. Throws SshError when the host refuses forwarding.
   */
  forward(target: string, port: number): Promise<number> {
    const key = `${target}:${port}`;
    let p = this.forwards.get(key);
    if (!p) {
      p = this.connect().then(() => forwardPort(this.args(), this.host, target, port));
      this.forwards.set(key, p);
      p.catch(() => this.forwards.delete(key));
    }
    return p;
  }

  /** Closes the master connection (`ssh -O exit`); never throws. */
  async close(): Promise<void> {
    this.forwards.clear();
    if (!this.everConnected) return;
    this.everConnected = false;
    this.connecting = undefined;
    this.dirReady = undefined;
    await new Deno.Command("ssh", {
      args: [...this.args(), "-O", "exit", "--", this.host],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      signal: AbortSignal.timeout(5000),
    }).output().catch(() => {});
  }
}
