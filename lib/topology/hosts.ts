/**
 * Host identity and addresses: which topology hosts are one machine, and how an address is
 * written. Every per-host concern (duplicate host:port, shared directories, one install per
 * machine, pre-flight, executors) goes through `hostKey`; every address mup builds (connection
 * strings, replica-set members, addShard seeds, messages) goes through `hostPort`.
 */

/** The key of the control machine itself, whatever name or address the topology used. */
export const LOCAL_MACHINE = "localhost";

let ownNames: Set<string> | undefined;

/**
 * The control machine's own host names (lower case, with and without the domain). Read once;
 * empty when the process may not ask.
 */
export function machineNames(): Set<string> {
  if (!ownNames) {
    ownNames = new Set();
    try {
      const h = Deno.hostname().toLowerCase().replace(/\.$/, "");
      if (h) ownNames.add(h).add(h.split(".")[0]);
    } catch {
      // No permission to read the host name: only loopback names are recognised.
    }
  }
  return ownNames;
}

/** True for an IPv6 literal, bracketed or not ("::1", "[fe80::1]", "2001:db8::1"). */
export function isIPv6(host: string): boolean {
  const h = unbracket(host);
  return h.includes(":") && /^[0-9a-fA-F:.]+(%.+)?$/.test(h);
}

function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * An IPv6 literal in its canonical text form (RFC 5952, as the WHATWG URL parser writes it):
 * lower case, zeros compressed; IPv4-mapped addresses (::ffff:a.b.c.d) become the IPv4 address.
 * Undefined when `host` is not a valid IPv6 literal.
 */
export function canonicalIPv6(host: string): string | undefined {
  const h = unbracket(host);
  if (!isIPv6(h) || h.includes("%")) return undefined;
  let canon: string;
  try {
    canon = new URL(`http://[${h}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canon);
  if (mapped) {
    const a = parseInt(mapped[1], 16), b = parseInt(mapped[2], 16);
    return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
  }
  return canon;
}

/**
 * The machine a topology host names, for every per-host concern. Loopback names and addresses
 * (localhost, 127.0.0.0/8, ::1, ::ffff:127.x.x.x) and this machine's own host name are all
 * LOCAL_MACHINE; IPv6 literals are canonicalised (so "0:0:0:0:0:0:0:1" and "[::1]" match);
 * names are compared case-insensitively without a trailing dot. Pure apart from reading the
 * machine's host name once.
 */
export function hostKey(host: string): string {
  let k = keys.get(host);
  if (k === undefined) {
    // Planning asks once per process and per concern; a topology names few distinct hosts.
    if (keys.size > 100_000) keys.clear();
    keys.set(host, k = computeHostKey(host));
  }
  return k;
}

const keys = new Map<string, string>();

/**
 * Two host names spelling the same host (case and a final dot aside), without asking which
 * machine they are (hostKey): each SSH host is reached, and lost, on its own, even where two
 * are one machine (the tests' 127.0.0.2 and 127.0.0.3).
 */
export function sameHostName(a: string, b: string): boolean {
  return hostName(a) === hostName(b);
}

/** A host name as written, without case or a final dot: the host as SSH reaches it. */
export function hostName(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, "");
}

function computeHostKey(host: string): string {
  let h = hostName(host);
  const v6 = canonicalIPv6(h);
  if (v6 !== undefined) h = v6;
  if (h === "::1" || h === "localhost" || h.endsWith(".localhost")) return LOCAL_MACHINE;
  if (h === "localhost.localdomain" || h === "ip6-localhost" || h === "ip6-loopback") {
    return LOCAL_MACHINE;
  }
  const v4 = IPV4.exec(h);
  if (v4) {
    if (v4.slice(1).some((o) => Number(o) > 255)) return h;
    h = v4.slice(1).map(Number).join(".");
    if (h.startsWith("127.")) return LOCAL_MACHINE;
  }
  if (machineNames().has(h)) return LOCAL_MACHINE;
  return h;
}

/** True when `host` is the control machine (served by the local executor, not SSH). */
export function isLocalMachine(host: string): boolean {
  return hostKey(host) === LOCAL_MACHINE;
}

/** Whether two topology hosts are one machine. */
export function sameMachine(a: string, b: string): boolean {
  return hostKey(a) === hostKey(b);
}

/**
 * MongoDB's own notion of a localhost address (HostAndPort::isLocalHost): "localhost",
 * 127.0.0.0/8 and ::1, but not the machine's host name. A replica set's members must be all
 * such addresses or none.
 */
export function isMongoLocalHost(host: string): boolean {
  const h = host.trim().toLowerCase();
  if (h === "localhost") return true;
  const v6 = canonicalIPv6(h);
  if (v6 === "::1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v6 ?? h);
}

/** A host as it appears in an address: IPv6 literals bracketed ("[::1]"), others as given. */
export function addressHost(host: string): string {
  const h = unbracket(host);
  return isIPv6(h) ? `[${h}]` : h;
}

/** "host:port" with IPv6 literals bracketed: "[::1]:27017", "db1:27017". */
export function hostPort(host: string, port: number | string): string {
  return `${addressHost(host)}:${port}`;
}

/** Splits "host:port" or "[v6]:port"; the host comes back without brackets. */
export function splitHostPort(hp: string): [string, number] {
  const i = hp.lastIndexOf(":");
  return [unbracket(hp.slice(0, i)), Number(hp.slice(i + 1))];
}

/** `host:port` as its machine and port: `localhost:P` and `127.0.0.1:P` give the same key. */
export function machinePort(hp: string): string {
  const [h, p] = splitHostPort(hp);
  return `${hostKey(h)}:${p}`;
}

/** The host to give a socket API (Deno.listen/connect): no brackets; localhost as 127.0.0.1. */
export function socketHost(host: string): string {
  const h = unbracket(host);
  return h === "localhost" ? "127.0.0.1" : h;
}
