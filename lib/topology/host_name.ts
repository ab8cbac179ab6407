/**
 * What is wrong with a topology's host, if anything, in words a user can act on. A host is
 * passed to ssh, put in connection strings and becomes part of process and file names, so it
 * must be a host name (RFC 1123 labels; `_` allowed, as some internal names have it), an IPv4
 * address (four numbers up to 255) or an IPv6 literal (bare or in brackets, with an optional
 * zone). Pure.
 */
import { HOST_PATTERN, HOST_RULE } from "../util/ident.ts";

/** The problem and its fix, or undefined for a good host. */
export function hostProblem(host: string): { problem: string; fix: string } | undefined {
  const q = JSON.stringify(host);
  if (!host) return { problem: "is empty", fix: "write the host's name or address" };
  if (!HOST_PATTERN.test(host)) {
    const bad = [...host].find((c) => !/[A-Za-z0-9_.:%\[\]-]/.test(c));
    return {
      problem: bad === undefined
        ? `is longer than 253 characters`
        : `${q} holds ${bad === " " ? "a space" : JSON.stringify(bad)}, which no host name has`,
      fix: `write ${HOST_RULE}`,
    };
  }
  // ssh, and most tools after it, would read it as an option.
  if (host.startsWith("-")) {
    return {
      problem: `${q} starts with "-", which ssh would read as an option`,
      fix: "write the host's name or address",
    };
  }
  // `db1:27017`: a port written into the host.
  const withPort = /^([^:\[\]]+):(\d{1,5})$/.exec(host);
  if (withPort) {
    return {
      problem: `${q} holds a port: the host is ${withPort[1]}, and its port goes in port:`,
      fix: `write host: ${withPort[1]} and port: ${withPort[2]}`,
    };
  }
  if (host.includes(":") || host.startsWith("[")) return ipv6Problem(host);
  if (/^[0-9.]+$/.test(host)) {
    const parts = host.split(".");
    const over = parts.find((p) => p !== "" && Number(p) > 255);
    if (parts.length !== 4 || parts.some((p) => p === "") || over !== undefined) {
      return {
        problem: over !== undefined
          ? `${q} is not an IPv4 address: ${over} is over 255`
          : `${q} is not an IPv4 address: it takes four numbers from 0 to 255, separated by dots`,
        fix: "write the address as four numbers (for example 10.0.0.12), or the host's name",
      };
    }
    return undefined;
  }
  const labels = host.split(".");
  if (labels.some((l) => l === "")) {
    return {
      problem: `${q} has an empty label (two dots in a row, or a dot at an end)`,
      fix: "remove the extra dot",
    };
  }
  const long = labels.find((l) => l.length > 63);
  if (long) {
    return {
      problem: `${q} has a label longer than 63 characters (${long.slice(0, 20)}…)`,
      fix: "write the host's name as DNS knows it",
    };
  }
  const dashed = labels.find((l) => l.startsWith("-") || l.endsWith("-"));
  if (dashed) {
    return {
      problem: `${q} has a label that starts or ends with "-" (${dashed})`,
      fix: "write the host's name as DNS knows it",
    };
  }
  if (host.includes("%") || host.includes("[") || host.includes("]")) {
    return {
      problem: `${q} holds "%", "[" or "]", which only an IPv6 literal has`,
      fix: `write ${HOST_RULE}`,
    };
  }
  return undefined;
}

/** An IPv6 literal: hex groups and colons (at most one `::`), an optional %zone, brackets. */
function ipv6Problem(host: string): { problem: string; fix: string } | undefined {
  const inner = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const [addr, zone, more] = inner.split("%");
  // Eight groups of 16 bits (an IPv4 tail counts for two), fewer where `::` stands for zeros.
  const groups = addr.split(":").filter((g) => g !== "");
  const bits = groups.reduce((n, g) => n + (g.includes(".") ? 2 : 1), 0);
  const ok = (addr.includes("::") ? bits <= 7 : bits === 8) && more === undefined &&
    (zone === undefined || /^[A-Za-z0-9_.-]+$/.test(zone)) &&
    /^[0-9A-Fa-f:.]+$/.test(addr) && addr.includes(":") &&
    (addr.match(/::/g) ?? []).length <= 1 && !/:::/.test(addr) &&
    addr.split(":").every((g) => g.length <= 4 || /^\d+\.\d+\.\d+\.\d+$/.test(g));
  return ok ? undefined : {
    problem: `${JSON.stringify(host)} is not an IPv6 literal (a host name holds no ":")`,
    fix: "write the IPv6 address as hex groups separated by colons (for example fd00::12), " +
      "or the host's name",
  };
}
