/** This process's own addresses: the one it reports, and the ones that refer to it. */
import type { ServerOptions } from "./options.ts";

let cachedHostName: string | undefined;
/** This machine's name, lower-cased; asked of the OS once (isSelf runs on every heartbeat). */
function hostName(): string {
  return cachedHostName ??= Deno.hostname().toLowerCase();
}

/** `host:port` as the process reports itself (`localhost` for a loopback or wildcard bind). */
export function ownAddress(opts: Pick<ServerOptions, "bindIp" | "port">): string {
  const host = opts.bindIp[0] === "0.0.0.0" || opts.bindIp[0] === "127.0.0.1"
    ? "localhost"
    : opts.bindIp[0];
  return `${host.includes(":") ? `[${host}]` : host}:${opts.port}`;
}

/** Whether `hostPort` refers to this process, for matching replica-set member entries. */
export function isOwnAddress(
  opts: Pick<ServerOptions, "bindIp" | "port">,
  hostPort: string,
): boolean {
  const i = hostPort.lastIndexOf(":");
  const host = hostPort.slice(0, i).toLowerCase().replace(/^\[(.*)\]$/, "$1");
  const port = Number(hostPort.slice(i + 1));
  if (port !== opts.port) return false;
  const names = new Set([...opts.bindIp, hostName()]);
  if (opts.bindIp.some((ip) => ip === "127.0.0.1" || ip === "localhost" || ip === "0.0.0.0")) {
    names.add("localhost").add("127.0.0.1");
  }
  return names.has(host) || opts.bindIp.includes("0.0.0.0");
}
