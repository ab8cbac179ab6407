/**
 * Real OpenSSH servers for the tests: Debian's sshd started as `sshd -D -f <own config>` on
 * 127.0.0.2 and 127.0.0.3 (distinct loopback addresses on Linux), with a host key and an
 * authorized key generated into a temp dir. Nothing touches the machine's own sshd or ~/.ssh:
 * mup is given `--ssh-config /dev/null` and its own known_hosts file.
 */
import * as path from "node:path";
import { stringify } from "yaml";
import { deadline, trackChild, trackDir } from "./fixture.ts";
import { deployArgs, mup, output, testMirror } from "./helpers.ts";

const SSHD = "/usr/sbin/sshd";

async function sh(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: exit ${out.code}: ${dec.decode(out.stderr)}`);
  }
  return dec.decode(out.stdout);
}

/** A free TCP port on `addr`. */
export function freePortOn(addr: string): number {
  const l = Deno.listen({ hostname: addr, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Waits until something on addr:port answers with an SSH banner. */
async function waitForBanner(addr: string, port: number, ms = deadline(20_000)): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const c = await Deno.connect({ hostname: addr, port });
      try {
        const buf = new Uint8Array(64);
        const n = await c.read(buf);
        if (n && new TextDecoder().decode(buf.subarray(0, n)).startsWith("SSH-")) return;
      } finally {
        c.close();
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd on ${addr}:${port} did not answer within ${ms / 1000}s`);
}

/** Every descendant of `pid` (children before parents' parents), from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e.name)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      walk(c);
      out.push(c);
    }
  };
  walk(pid);
  return out;
}

/** One sshd listening on addr:port. */
export class TestSshd {
  private child?: Deno.ChildProcess;

  constructor(
    readonly addr: string,
    readonly port: number,
    private readonly config: string,
    readonly hostKey: string,
    private readonly log: string,
  ) {}

  /** Connections this sshd accepted (authenticated), from its log. */
  async acceptedConnections(): Promise<number> {
    const text = await Deno.readTextFile(this.log).catch(() => "");
    return text.split("\n").filter((l) => l.includes("Accepted publickey")).length;
  }

  async start(): Promise<void> {
    this.child = trackChild(
      new Deno.Command(SSHD, {
        args: ["-D", "-f", this.config, "-E", this.log],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn(),
      `sshd ${this.addr}:${this.port}`,
    );
    await waitForBanner(this.addr, this.port);
  }

  /**
   * Kills sshd and every session it serves (SIGKILL), as a crash or a power cut would: the
   * multiplexed connections drop too. Processes that detached from their session (forked
   * servers) are not descendants and live on.
   */
  async kill(): Promise<void> {
    if (!this.child) return;
    const pid = this.child.pid;
    for (const p of [...descendants(pid), pid]) {
      try {
        Deno.kill(p, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await this.child.status;
    this.child = undefined;
  }

  /** A new host key: the next connection sees a changed key. */
  async changeHostKey(): Promise<void> {
    await Deno.remove(this.hostKey);
    await Deno.remove(`${this.hostKey}.pub`);
    await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", this.hostKey]);
  }
}

export interface SshFixture {
  dir: string;
  /** Private key whose public half the servers accept. */
  key: string;
  /** A key the servers do not accept. */
  otherKey: string;
  knownHosts: string;
  user: string;
  servers: TestSshd[];
  /** mup flags that reach these servers: user, key, own known_hosts, no ssh config. */
  flags(extra?: { key?: string }): string[];
  close(): Promise<void>;
}

/**
 * Starts one sshd per address (default 127.0.0.2 and 127.0.0.3), each on a free port. Creates
 * /run/sshd (sshd's privilege separation directory) when it is missing. Close it in `finally`.
 */
export async function startSshFixture(
  addrs = ["127.0.0.2", "127.0.0.3"],
): Promise<SshFixture> {
  const dir = trackDir(await Deno.makeTempDir({ prefix: "mup-sshd-" }));
  await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const key = path.join(dir, "id_ed25519");
  const otherKey = path.join(dir, "other_ed25519");
  await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey]);
  await Deno.copyFile(`${key}.pub`, path.join(dir, "authorized_keys"));
  const knownHosts = path.join(dir, "known_hosts");
  const user = (await sh("id", ["-un"])).trim();
  const servers: TestSshd[] = [];
  const fixture: SshFixture = {
    dir,
    key,
    otherKey,
    knownHosts,
    user,
    servers,
    flags: (extra = {}) => [
      "--user",
      user,
      "-i",
      extra.key ?? key,
      "--ssh-config",
      "/dev/null",
      "--ssh-option",
      `UserKnownHostsFile=${knownHosts}`,
      "--ssh-timeout",
      "20s", // generous: the full suite loads the 2 cores heavily
    ],
    async close() {
      for (const s of servers) await s.kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  try {
    for (const addr of addrs) {
      const hostKey = path.join(dir, `host_key_${addr}`);
      await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
      const port = freePortOn(addr);
      const config = path.join(dir, `sshd_${addr}.conf`);
      await Deno.writeTextFile(
        config,
        [
          `ListenAddress ${addr}:${port}`,
          `HostKey ${hostKey}`,
          `PidFile ${path.join(dir, `sshd_${addr}.pid`)}`,
          `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
          "UsePAM no",
          "StrictModes no",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "PubkeyAuthentication yes",
          "PermitRootLogin prohibit-password",
          "MaxSessions 30",
          "MaxStartups 200",
          "LogLevel INFO",
          // Debian's bash sources ~/.bashrc for ssh commands of a top-level shell; this machine's
          // root .bashrc runs `pyenv init` (≈150 ms a command). SHLVL=1 makes the login shell a
          // nested one, so it does not: the figures measure mup and ssh, not that file.
          "SetEnv SHLVL=1",
          "",
        ].join("\n"),
      );
      const s = new TestSshd(addr, port, config, hostKey, path.join(dir, `sshd_${addr}.log`));
      servers.push(s);
      await s.start();
    }
  } catch (e) {
    await fixture.close();
    throw e;
  }
  return fixture;
}

/** Processes whose command line mentions `needle` (an ssh master names its ControlPath). */
export function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(needle)) {
        out.push(Number(e.name));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** A host entry of the test topology: 127.0.0.1 is local, the others go through their sshd. */
export function entry(
  f: SshFixture,
  host: string,
  port: number,
  extra: Record<string, unknown> = {},
) {
  const sshd = f.servers.find((s) => s.addr === host);
  return { host, port, ...(sshd ? { ssh_port: sshd.port } : {}), ...extra };
}

export async function topologyFile(home: string, doc: unknown): Promise<string> {
  const file = path.join(home, "topo.yaml");
  await Deno.writeTextFile(file, stringify(doc));
  return file;
}

/** The three addresses of the SSH tests' replica sets: one local host, two behind their sshd. */
export const SET_HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];

/**
 * Deploys cluster `name`: replica set rs0 with a member on each of SET_HOSTS, on `ports` in that
 * order. Returns its topology file. Throws (an assertion, with mup's output) when it fails.
 */
export async function deploySetAcross(
  home: string,
  f: SshFixture,
  ports: number[],
  name = "c1",
): Promise<string> {
  const topo = await topologyFile(home, {
    mongod_servers: SET_HOSTS.map((h, i) => entry(f, h, ports[i], { replica_set: "rs0" })),
  });
  const r = await mup(
    deployArgs(name, topo, await testMirror(), ["--auto-approve", ...f.flags()]),
    { home },
  );
  if (r.code !== 0) throw new Error(`deploy of ${name} failed:\n${output(r)}`);
  return topo;
}
