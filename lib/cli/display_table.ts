/** `cluster display`'s table of processes, and what it says of those that are down. */
import type { ClusterMeta } from "../state/meta.ts";
import { describeState, type ProcessStatus } from "../probe/live.ts";
import { securityOf } from "../security/settings.ts";
import { formatDuration, table } from "../util/format.ts";
import { versionLine } from "./display_release.ts";

/** serverStatus.uptime is whole seconds: a server up for less than one shows as "<1s". */
function uptime(s?: number): string {
  return s === undefined ? "-" : s < 1 ? "<1s" : formatDuration(s * 1000);
}

/**
 * "Security: access control on, TLS required (clients trust …/ca.pem)": what a client needs
 * (tester48: TLS showed only in the connection string), and a TLS switch under way.
 */
export function securityLine(meta: ClusterMeta, rows: ProcessStatus[] = []): string {
  const s = securityOf(meta.topology);
  // What the servers do, where it is not what the metadata records (tester59).
  const open = rows.filter((r) => r.no_access_control).map((r) => r.id);
  const asking = rows.filter((r) => r.asks_credentials).map((r) => r.id);
  const auth = s.auth
    ? `access control on${open.length ? ` (except ${open.join(", ")}: no credentials asked)` : ""}`
    : `no access control${
      asking.length
        ? ` recorded, but ${asking.join(", ")} ask${asking.length === 1 ? "s" : ""} for credentials`
        : ""
    }`;
  // While a switch is under way the members are between modes: neither "required" nor "off"
  // is what they are (tester52).
  if (meta.tls_switch) {
    return `Security: ${auth}, TLS switching ${s.tls ? "off" : "on"} (TLS ` +
      `${meta.tls_switch.action} under way: members may accept plain and TLS connections ` +
      "until it finishes)";
  }
  const tls = s.tls
    ? `TLS required (clients trust the cluster's CA: the connection string's tlsCAFile)`
    : "TLS off";
  return `Security: ${auth}, ${tls}`;
}

/** The cluster, its processes as a table, why each one down is, and how to connect. */
export function renderStatuses(
  meta: ClusterMeta,
  rows: ProcessStatus[],
  fcv?: string,
  /** The `Default write concern:` line (display_write_concern.ts), when it was read. */
  writeConcern?: string,
): string {
  const lines = [
    `Cluster: ${meta.name}`,
    `Kind: ${meta.kind.replace("_", " ")}`,
    versionLine(meta, fcv, rows),
    securityLine(meta, rows),
    ...(writeConcern ? [writeConcern] : []),
    "",
    table([24, 9, 12, 14, 8, 9, 10, 8], [
      ["ID", "ROLE", "REPLICA SET", "STATE", "LAG", "PID", "UPTIME", "VERSION", "DATA DIR"],
      ...rows.map((r) => [
        r.id,
        r.role,
        r.replica_set ?? "-",
        describeState(r),
        r.lag_s === undefined ? "-" : `${r.lag_s}s`,
        r.pid === undefined ? "-" : String(r.pid),
        uptime(r.uptime_s),
        r.version ?? "-",
        r.data_dir ?? "-",
      ]),
    ]),
  ];
  const down = rows.filter((r) => r.reason);
  if (down.length) {
    lines.push("", ...down.map((r) => `${r.id} ${r.state}: ${r.reason}`));
  }
  lines.push("", `Connection: ${meta.connection_string}`);
  if (securityOf(meta.topology).auth) {
    lines.push(`Password: run \`mup cluster credentials ${meta.name}\``);
  }
  return lines.join("\n");
}
