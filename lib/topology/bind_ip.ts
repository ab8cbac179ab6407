/**
 * net.bindIp in a topology: the addresses a node ends up listening on (its own runtime_config,
 * else global's) and whether the host the topology names is among them. Pure.
 */
import { canonicalIPv6, isIPv6 } from "./hosts.ts";

/** The net.bindIp a node ends up with, and where the topology sets it. */
function bindIpSetting(
  global: Record<string, unknown> | undefined,
  node: Record<string, unknown> | undefined,
): { value: string; key: string; fromNode: boolean; all: boolean } | undefined {
  const read = (rc: Record<string, unknown> | undefined) => {
    if (!rc) return undefined;
    const net = (typeof rc.net === "object" && rc.net !== null ? rc.net : {}) as Record<
      string,
      unknown
    >;
    const all = rc["net.bindIpAll"] ?? net.bindIpAll;
    const value = rc["net.bindIp"] ?? net.bindIp;
    const key = "net.bindIp" in rc ? "net.bindIp" : "net";
    if (value === undefined && all === undefined) return undefined;
    return { value: value === undefined ? undefined : String(value), all: all === true, key };
  };
  const n = read(node);
  const g = read(global);
  const all = !!(n?.all || g?.all);
  if (n?.value !== undefined) return { value: n.value, key: n.key, fromNode: true, all };
  if (g?.value !== undefined) return { value: g.value, key: g.key, fromNode: false, all };
  return undefined;
}

/**
 * Whether a node's net.bindIp lets it be reached at the host the topology names (MongoDB
 * listens only on the listed addresses; docs: net.bindIp). 0.0.0.0 covers IPv4 addresses and
 * names, :: IPv6 ones; localhost and 127.0.0.1 stand for each other.
 */
export function bindIpProblem(
  host: string,
  global: Record<string, unknown> | undefined,
  node: Record<string, unknown> | undefined,
): { value: string; key: string; fromNode: boolean; add: string } | undefined {
  const b = bindIpSetting(global, node);
  if (!b || b.all) return undefined;
  const entries = b.value.split(",").map((e) => e.trim().toLowerCase()).filter(Boolean);
  const v6 = isIPv6(host);
  const same = (e: string) => {
    if (e === "0.0.0.0" && !v6) return true;
    if (e === "::" || e === "[::]") return true;
    const a = canonicalIPv6(e) ?? e, h = canonicalIPv6(host.toLowerCase()) ?? host.toLowerCase();
    if (a === h) return true;
    const loop4 = (x: string) => x === "localhost" || x === "127.0.0.1";
    return loop4(a) && loop4(h);
  };
  if (entries.some(same)) return undefined;
  const add = host === "localhost" ? "127.0.0.1" : host.replace(/^\[(.*)\]$/, "$1");
  return { value: b.value, key: b.key, fromNode: b.fromNode, add };
}
