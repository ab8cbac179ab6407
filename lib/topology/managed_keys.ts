/**
 * Settings mup writes into every generated mongod/mongos configuration from the topology
 * itself: a `runtime_config` key that sets one of them would contradict the plan (a port the
 * pre-flight never checked, several members on one dbPath, a set name replSetInitiate refuses,
 * security the plan does not know of), so validation refuses it and names the field to use.
 */
import type { Topology } from "./schema.ts";
import type { TopologyIssue } from "./validate.ts";

/** Managed key prefixes (dotted) and the topology field that sets each instead. */
const MANAGED: [string, string][] = [
  ["net.port", "the entry's `port`"],
  // The TLS settings mup writes (mode: `mup cluster tls` steps through them); the others
  // (disabledProtocols, FIPSMode, CRLFile…) are the operator's.
  ["net.tls.mode", "`global.security.tls` (and `mup cluster tls`)"],
  ["net.tls.certificateKeyFile", "`global.security.tls` (mup issues each member's certificate)"],
  ["net.tls.CAFile", "`global.security.tls` (mup's CA)"],
  ["net.tls.allowConnectionsWithoutCertificates", "`global.security.tls` (mup logs in with SCRAM)"],
  ["net.ssl.mode", "`global.security.tls` (and `mup cluster tls`)"],
  ["net.ssl.PEMKeyFile", "`global.security.tls` (mup issues each member's certificate)"],
  ["net.ssl.CAFile", "`global.security.tls` (mup's CA)"],
  ["net.ssl.allowConnectionsWithoutCertificates", "`global.security.tls` (mup logs in with SCRAM)"],
  ["storage.dbPath", "the entry's or global `data_dir`"],
  ["systemLog.path", "the entry's or global `log_dir`"],
  ["systemLog.destination", "the entry's or global `log_dir` (mup logs to a file)"],
  ["processManagement.fork", "nothing: mup starts every process forked"],
  ["processManagement.pidFilePath", "nothing: mup keeps each pid file in the process's layout"],
  ["replication.replSetName", "the entry's `replica_set`"],
  ["sharding.clusterRole", "the section the entry is in (config_servers, mongod_servers)"],
  ["sharding.configDB", "nothing: mongos gets the config_servers replica set"],
  ["security.keyFile", "`global.security.keyfile`"],
  ["security.authorization", "`global.security.auth`"],
  ["security.clusterAuthMode", "`global.security`"],
  ["security.transitionToAuth", "`global.security.auth`"],
];

/** Whether a dotted runtime_config key sets (or is inside) a setting mup manages. */
export function isManagedKey(key: string): boolean {
  return MANAGED.some(([m]) => key === m || key.startsWith(`${m}.`));
}

/** Every leaf of a runtime_config as [dotted key, the path segments as written]. */
function leaves(rc: Record<string, unknown>, at: string[] = []): [string, string[]][] {
  return Object.entries(rc).flatMap(([k, v]) => {
    const path = [...at, k];
    return v !== null && typeof v === "object" && !Array.isArray(v)
      ? leaves(v as Record<string, unknown>, path)
      : [[path.join("."), path] as [string, string[]]];
  });
}

/** A runtime_config of a topology: where it is, the map, and the section it is in. */
export interface RuntimeConfigSource {
  path: (string | number)[];
  config: Record<string, unknown> | undefined;
  section: "global" | "config_servers" | "mongod_servers" | "mongos_servers";
}

/** Every runtime_config of `t`: global's, then each entry's, in the file's order of sections. */
export function runtimeConfigSources(t: Topology): RuntimeConfigSource[] {
  return [
    { path: ["global", "runtime_config"], config: t.global.runtime_config, section: "global" },
    ...(["config_servers", "mongod_servers", "mongos_servers"] as const).flatMap((section) =>
      t[section].map((n, i) => ({
        path: [section, i, "runtime_config"],
        config: n.runtime_config,
        section,
      }))
    ),
  ];
}

/** One error per runtime_config key (global or an entry's) that sets a managed setting. */
export function managedKeyIssues(t: Topology): Omit<TopologyIssue, "location">[] {
  const out: Omit<TopologyIssue, "location">[] = [];
  for (const { path: where, config: rc } of runtimeConfigSources(t)) {
    for (const [key, path] of leaves(rc ?? {})) {
      const hit = MANAGED.find(([m]) => key === m || key.startsWith(`${m}.`));
      if (!hit) continue;
      out.push({
        severity: "error",
        code: "managed_setting",
        path: [...where, ...path],
        message: (hit[1].startsWith("nothing: ")
          ? `${key} is set by mup (${hit[1].slice("nothing: ".length)})`
          : `${key} is set by mup from the topology (${hit[1]})`) +
          "; a runtime_config value would contradict the plan",
        hint: hit[1].startsWith("nothing: ")
          ? `remove ${key} from runtime_config (${hit[1].slice("nothing: ".length)})`
          : `remove ${key} from runtime_config and use ${hit[1]}`,
      });
    }
  }
  return out;
}
