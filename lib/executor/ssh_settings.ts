/**
 * How mup reaches remote hosts: SSH settings from the topology and the command line, the
 * ssh(1) arguments they become, and the ControlPath of each host's multiplexed master.
 */
import * as path from "node:path";
import { sha256Hex } from "../util/hash.ts";
import { shellQuote } from "./shell_quote.ts";

/** SSH settings shared by every remote host (per-host ports aside). */
export interface SshSettings {
  /** Remote login (`--user`, else `global.user`); undefined: ssh's own default. */
  user?: string;
  /** Port for hosts without their own `ssh_port` (`global.ssh_port`); undefined: ssh's default. */
  port?: number;
  /** `-i/--identity-file` (else `global.ssh_identity_file`). */
  identityFile?: string;
  /**
   * Where the user and the key came from ("--user", "the topology's global.user"…), for a
   * refused login's advice to name what to fix.
   */
  loginFrom?: { user?: string; key?: string };
  /** `--ssh-timeout`: seconds to establish a connection (ssh's ConnectTimeout). */
  connectTimeoutS: number;
  /** `--ssh-option K=V`, each passed as `-o K=V`, after mup's own (ssh keeps the first value). */
  options: string[];
  /** `--ssh-proxy`: a jump host, `[user@]host[:port]`, reached with the same settings. */
  proxyJump?: string;
  /** `--strict-host-keys`: refuse unknown host keys (StrictHostKeyChecking=yes, not accept-new). */
  strictHostKeys: boolean;
  /** `--ssh-config`: an ssh_config file instead of ~/.ssh/config (`/dev/null` for none). */
  configFile?: string;
  /** Directory for the control sockets (created 0700). */
  controlDir: string;
  /** Seconds a master stays up with no client (if mup dies without closing it). */
  controlPersistS: number;
}

/**
 * Seconds an idle master outlives its last command: long enough to span an apply's quiet
 * stretches (waiting for elections, syncs); mup closes the masters itself when it exits.
 */
export const CONTROL_PERSIST_S = 300;

/** Default connect timeout (seconds) when --ssh-timeout is not given. */
export const DEFAULT_SSH_TIMEOUT_S = 10;

/** Unix socket paths hold at most 108 bytes (104 on BSD); ssh adds a 17-byte temporary suffix. */
const MAX_SOCKET_PATH = 104 - 17;

/**
 * Where the control sockets of this mup process live: `$MUP_HOME/ssh/<pid>`, or a short directory
 * under /tmp when that path would make socket names too long for a Unix socket.
 */
export function controlDirFor(mupHome: string, pid = Deno.pid): string {
  const preferred = path.join(mupHome, "ssh", String(pid));
  // A socket is <dir>/<16 hex digits>.
  if (preferred.length + 1 + 16 <= MAX_SOCKET_PATH) return preferred;
  const uid = Deno.uid() ?? 0;
  return path.join("/tmp", `mup-ssh-${uid}`, `${sha256Hex(mupHome).slice(0, 8)}-${pid}`);
}

/**
 * The control socket of one host. Everything that makes a connection another one (user,
 * address, port, jump host, key, options, config file) makes a distinct master: closing a
 * master made with other settings never ends one still in use.
 */
export function controlPath(s: SshSettings, host: string, port?: number): string {
  const key = JSON.stringify([
    s.user ?? "",
    host,
    port ?? "",
    s.proxyJump ?? "",
    s.identityFile ?? "",
    s.options,
    s.configFile ?? "",
    s.strictHostKeys,
  ]);
  return path.join(s.controlDir, sha256Hex(key).slice(0, 16));
}

const o = (kv: string) => ["-o", kv];

/** Options every connection gets, the jump host's included. */
function commonArgs(s: SshSettings): string[] {
  return [
    ...(s.configFile ? ["-F", s.configFile] : []),
    // The user's own -o first: for most options ssh keeps the first value it is given.
    ...s.options.flatMap(o),
    ...o("BatchMode=yes"),
    ...o(`ConnectTimeout=${s.connectTimeoutS}`),
    ...o(`StrictHostKeyChecking=${s.strictHostKeys ? "yes" : "accept-new"}`),
    ...(s.identityFile ? ["-i", s.identityFile, ...o("IdentitiesOnly=yes")] : []),
  ];
}

/** `[user@]host[:port]` of --ssh-proxy. */
export function parseJump(spec: string): { user?: string; host: string; port?: number } {
  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s]+)(?::(\d{1,5}))?$/.exec(spec);
  if (!m || (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > 65535))) {
    throw new Error(`--ssh-proxy "${spec}" is not [user@]host[:port] (for example ops@bastion:22)`);
  }
  return {
    user: m[1],
    host: m[2].replace(/^\[(.*)\]$/, "$1"),
    port: m[3] ? Number(m[3]) : undefined,
  };
}

/**
 * The jump host as a ProxyCommand (`ssh … -W %h:%p jump`) rather than ProxyJump, so that the
 * jump connection gets the same key, known_hosts, BatchMode and host-key policy as the others
 * (ProxyJump passes on none of the command line's -i/-o). ssh runs it with the user's shell:
 * every argument is shell-quoted, and `%` escaped from ssh's own % expansion.
 */
function proxyCommand(s: SshSettings, jump: string): string {
  const j = parseJump(jump);
  const user = j.user ?? s.user;
  const argv = [
    "ssh",
    ...commonArgs(s),
    ...o("ControlMaster=no"),
    ...o("ControlPath=none"),
    ...(j.port ? ["-p", String(j.port)] : []),
    ...(user ? ["-l", user] : []),
    "-W",
    "%h:%p",
    "--",
    j.host,
  ];
  return argv.map((a) => (a === "%h:%p" ? a : shellQuote(a).replaceAll("%", "%%"))).join(" ");
}

/** ssh(1) arguments before the destination, for one host. Never runs anything. */
export function sshArgs(s: SshSettings, host: string, port?: number): string[] {
  return [
    ...commonArgs(s),
    ...o("ControlMaster=auto"),
    ...o(`ControlPath=${controlPath(s, host, port)}`),
    ...o(`ControlPersist=${s.controlPersistS}`),
    // A cut network is noticed within about 3 × 5 s instead of TCP's minutes.
    ...o("ServerAliveInterval=5"),
    ...o("ServerAliveCountMax=3"),
    ...o("LogLevel=ERROR"),
    ...(port ? ["-p", String(port)] : []),
    ...(s.user ? ["-l", s.user] : []),
    ...(s.proxyJump ? o(`ProxyCommand=${proxyCommand(s, s.proxyJump)}`) : []),
  ];
}

/** Parses `--ssh-option K=V` values; throws a message naming the bad one. */
export function parseSshOptions(values: string[]): string[] {
  for (const v of values) {
    if (!/^[A-Za-z][A-Za-z0-9]*=.+$/s.test(v) || /[\n\r]/.test(v)) {
      throw new Error(
        `--ssh-option "${v}" is not KEY=VALUE (for example --ssh-option ServerAliveInterval=10)`,
      );
    }
  }
  return values;
}
