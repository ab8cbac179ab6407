import { commandLineOf } from "../executor/command_line.ts";
import { hostPort, socketHost } from "../topology/hosts.ts";

/** True when nothing listens on host:port (we can bind it). */
export function portFree(host: string, port: number): boolean {
  try {
    const l = Deno.listen({ hostname: socketHost(host), port });
    l.close();
    return true;
  } catch {
    return false;
  }
}

/** MongoDB's default port: where the ports `port: 0` is given from begin. */
const FIRST_PORT = 27017;

/**
 * The first port of the OS's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`, 32768 by
 * default): the local ports of outgoing connections come from there.
 */
function ephemeralLow(): number {
  try {
    const [low] = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim()
      .split(/\s+/).map(Number);
    if (Number.isInteger(low) && low > FIRST_PORT) return low;
  } catch {
    // Not Linux: the usual default.
  }
  return 32768;
}

/**
 * A port free on `host` now and not in `taken`, between 27017 and the OS's ephemeral range: a
 * port in that range could be an outgoing connection's while the server is stopped, and its
 * restart would then fail. The search starts at `from`, or at a random place (two deploys
 * planned at once in two stores then rarely meet), and wraps around; when nothing there is free,
 * the OS picks one.
 */
export function allocatePort(host: string, taken: ReadonlySet<number>, from?: number): number {
  const high = ephemeralLow() - 1;
  const span = high - FIRST_PORT + 1;
  const start = from !== undefined && from >= FIRST_PORT && from <= high
    ? from
    : FIRST_PORT + Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const port = FIRST_PORT + (start - FIRST_PORT + i) % span;
    if (!taken.has(port) && portFree(host, port)) return port;
  }
  const l = Deno.listen({ hostname: socketHost(host), port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** One listening TCP socket of this machine. */
export interface Listening {
  /** The address it is bound to: "127.0.0.1", "0.0.0.0", "::1", "::". */
  address: string;
  port: number;
  inode: string;
}

/**
 * Listening TCP sockets of this machine (all of them, or those on `port`), from /proc/net/tcp
 * and tcp6 (Linux). Empty where /proc cannot be read.
 */
export async function listeningSockets(port?: number): Promise<Listening[]> {
  const out: Listening[] = [];
  for (const [f, v6] of [["/proc/net/tcp", false], ["/proc/net/tcp6", true]] as const) {
    const text = await Deno.readTextFile(f).catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== "0A") continue; // 0A = LISTEN
      const [hex, portHex] = cols[1].split(":");
      const p = parseInt(portHex, 16);
      if (port !== undefined && p !== port) continue;
      out.push({ address: v6 ? procIPv6(hex) : procIPv4(hex), port: p, inode: cols[9] });
    }
  }
  return out;
}

/** /proc/net/tcp writes an IPv4 address as one little-endian 32-bit hex word. */
function procIPv4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join(".");
}

/** …and an IPv6 address as four little-endian 32-bit hex words. */
function procIPv6(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  try {
    return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
  } catch {
    return groups.join(":");
  }
}

/** The process holding a port: its PID and command line, as far as this machine shows them. */
export interface PortHolder {
  pid: number;
  command?: string;
}

/** PID (and command) listening on a TCP port, from /proc (Linux), for "in use by" messages. */
export async function portHolder(port: number): Promise<PortHolder | undefined> {
  try {
    const inodes = new Set((await listeningSockets(port)).map((l) => l.inode));
    if (inodes.size === 0) return undefined;
    for await (const e of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        for await (const fd of Deno.readDir(`/proc/${e.name}/fd`)) {
          const link = await Deno.readLink(`/proc/${e.name}/fd/${fd.name}`).catch(() => "");
          const m = /^socket:\[(\d+)\]$/.exec(link);
          if (m && inodes.has(m[1])) {
            const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "");
            const command = await commandLineOf(
              cmd,
              () => Deno.readLink(`/proc/${e.name}/cwd`).catch(() => undefined),
            );
            return { pid: Number(e.name), ...(command ? { command } : {}) };
          }
        }
      } catch {
        // Not ours to read.
      }
    }
  } catch {
    // Not Linux.
  }
  return undefined;
}

/** PID listening on a TCP port, from /proc (Linux), for "port in use by PID N" messages. */
export async function portOwner(port: number): Promise<number | undefined> {
  return (await portHolder(port))?.pid;
}

/**
 * "PID 123 (mongod -f /x/mongod.conf)", the command on one line (an argument's newlines and
 * other control characters shown as spaces) and cut to a readable length.
 */
export function describeHolder(h: PortHolder): string {
  // deno-lint-ignore no-control-regex
  const one = h.command?.replace(/[\x00-\x1f\x7f]+/g, " ").replace(/ {2,}/g, " ").trim();
  return `PID ${h.pid}${one ? ` (${shortCommand(one)})` : ""}`;
}

/**
 * A command line of at most 120 characters: its program, then its end, which says what the
 * process serves (a server's `-f …/mongod.conf` comes last), with "…" where it was cut.
 */
function shortCommand(one: string): string {
  if (one.length <= 120) return one;
  const exe = one.split(" ")[0];
  const program = exe.length > 40 ? `…/${exe.split("/").pop()}` : exe;
  return `${program} …${one.slice(-(120 - program.length - 2))}`;
}

/** /proc/net/tcp's connection states (include/net/tcp_states.h), as `ss` names them. */
const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN-SENT",
  "03": "SYN-RECV",
  "04": "FIN-WAIT-1",
  "05": "FIN-WAIT-2",
  "06": "TIME-WAIT",
  "07": "CLOSE",
  "08": "CLOSE-WAIT",
  "09": "LAST-ACK",
  "0B": "CLOSING",
};

/**
 * What uses a port that nothing listens on: a connection whose local end is that port (the
 * ephemeral port of an outgoing connection, or one still closing), e.g. "a TIME-WAIT
 * connection 127.0.0.1:41234 → 127.0.0.1:27017 (closing: the kernel frees the port within a
 * minute)". An outgoing connection's TIME-WAIT holds its port even against a bind with
 * SO_REUSEADDR (Linux lets two sockets share a port only when both asked for it, and a
 * client's socket does not). A port inside the ephemeral range (`net.ipv4.ip_local_port_range`)
 * is said to be: any outgoing connection may take it. From /proc/net/tcp and tcp6 (Linux);
 * undefined when nothing is found.
 */
export async function portConnection(port: number): Promise<string | undefined> {
  // A live connection says more than one closing: it is named first.
  let closing: string | undefined;
  for (const [f, v6] of [["/proc/net/tcp", false], ["/proc/net/tcp6", true]] as const) {
    const text = await Deno.readTextFile(f).catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] === "0A") continue;
      const [lhex, lport] = cols[1].split(":");
      if (parseInt(lport, 16) !== port) continue;
      const [rhex, rport] = cols[2].split(":");
      const addr = (hex: string, p: string) =>
        hostPort(v6 ? procIPv6(hex) : procIPv4(hex), parseInt(p, 16));
      const state = TCP_STATES[cols[3]] ?? `state ${cols[3]}`;
      const ends = `${addr(lhex, lport)} → ${addr(rhex, rport)}`;
      if (state === "TIME-WAIT") {
        closing ??= `a TIME-WAIT connection ${ends} (closing: the kernel frees the port within ` +
          "a minute)";
        continue;
      }
      return `the local end of a${state === "ESTABLISHED" ? "n" : ""} ${state} connection ` +
        ends + ephemeralNote(port);
    }
  }
  return closing && closing + ephemeralNote(port);
}

/** "; port P is inside the ephemeral range …" for a port outgoing connections may take. */
function ephemeralNote(port: number): string {
  const low = ephemeralLow();
  if (port < low) return "";
  return `; port ${port} is inside this host's ephemeral range (from ${low}, ` +
    "net.ipv4.ip_local_port_range), where outgoing connections take their local ports: a port " +
    "below it avoids this";
}

/** The addresses a process listens on ("127.0.0.1:27017", "[::1]:27017"), from /proc (Linux). */
export async function listeningOf(pid: number): Promise<string[]> {
  const mine = new Set<string>();
  try {
    for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
      const link = await Deno.readLink(`/proc/${pid}/fd/${fd.name}`).catch(() => "");
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m) mine.add(m[1]);
    }
  } catch {
    return [];
  }
  return (await listeningSockets()).filter((l) => mine.has(l.inode)).map((l) =>
    hostPort(l.address, l.port)
  );
}
