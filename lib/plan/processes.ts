import { type NodeDirs, nodeDirs, type Role } from "../topology/layout.ts";
import { type Topology, topologyKind } from "../topology/schema.ts";
import { hostPort } from "../topology/hosts.ts";
import { securityOf } from "../security/settings.ts";

/** One mongod or mongos process of a topology, with everything derived from it. */
export interface ProcessSpec {
  id: string;
  role: Role;
  host: string;
  port: number;
  replicaSet?: string;
  priority: number;
  votes: number;
  hidden: boolean;
  arbiterOnly: boolean;
  dirs: NodeDirs;
  runtimeConfig: Record<string, unknown>;
}

export function processId(role: Role, host: string, port: number): string {
  return `${role}-${host}-${port}`;
}

export function listProcesses(t: Topology, deployDir: string): ProcessSpec[] {
  const out: ProcessSpec[] = [];
  const mongod = (role: Role) => (s: Topology["mongod_servers"][number]) => {
    const passive = s.hidden || s.arbiter_only;
    out.push({
      id: processId(role, s.host, s.port),
      role,
      host: s.host,
      port: s.port,
      replicaSet: s.replica_set,
      priority: s.priority ?? (passive || s.votes === 0 ? 0 : 1),
      votes: s.votes ?? 1,
      hidden: s.hidden ?? false,
      arbiterOnly: s.arbiter_only ?? false,
      dirs: nodeDirs(t, s, role, deployDir),
      runtimeConfig: mergeConfig(t.global.runtime_config, s.runtime_config),
    });
  };
  t.config_servers.forEach(mongod("config"));
  t.mongod_servers.forEach(mongod("mongod"));
  for (const s of t.mongos_servers) {
    out.push({
      id: processId("mongos", s.host, s.port),
      role: "mongos",
      host: s.host,
      port: s.port,
      priority: 0,
      votes: 0,
      hidden: false,
      arbiterOnly: false,
      dirs: nodeDirs(t, s, "mongos", deployDir),
      runtimeConfig: mergeConfig(t.global.runtime_config, s.runtime_config),
    });
  }
  return out;
}

export interface ReplicaSetSpec {
  name: string;
  configsvr: boolean;
  members: ProcessSpec[];
}

/** mongos's `sharding.configDB`: `<config set>/<host:port>,…`; undefined without a config set. */
export function configDbString(cfgSet: ReplicaSetSpec | undefined): string | undefined {
  return cfgSet
    ? `${cfgSet.name}/${cfgSet.members.map((m) => hostPort(m.host, m.port)).join(",")}`
    : undefined;
}

export function listReplicaSets(procs: ProcessSpec[]): ReplicaSetSpec[] {
  const sets = new Map<string, ReplicaSetSpec>();
  for (const p of procs) {
    if (!p.replicaSet) continue;
    const s = sets.get(p.replicaSet) ??
      { name: p.replicaSet, configsvr: p.role === "config", members: [] };
    s.members.push(p);
    sets.set(p.replicaSet, s);
  }
  return [...sets.values()];
}

/** The URI an application uses: mongos list, the replica set, or the standalone. */
/**
 * The cluster's connection string. With access control it names the admin user but never the
 * password (mongosh asks for it; `mup cluster credentials` prints it). With TLS, `caFile` (the
 * cluster CA's path on the control machine: lib/security/access.ts clusterConnectionString)
 * becomes `tlsCAFile`, so the string works as printed.
 */
export function connectionString(t: Topology, caFile?: string): string {
  const kind = topologyKind(t);
  const sec = securityOf(t);
  const user = sec.auth ? `${encodeURIComponent(sec.adminUser)}@` : "";
  const opts: string[] = [];
  let hosts: string;
  if (kind === "sharded") {
    hosts = t.mongos_servers.map((s) => hostPort(s.host, s.port)).join(",");
  } else if (kind === "replica_set") {
    // The seed list names the members clients use: an arbiter holds no data and a hidden
    // member is invisible to drivers (MongoDB's connection string guidance).
    const seeds = t.mongod_servers.filter((s) => !s.arbiter_only && !s.hidden);
    hosts = (seeds.length ? seeds : t.mongod_servers).map((s) => hostPort(s.host, s.port))
      .join(",");
    opts.push(`replicaSet=${t.mongod_servers[0].replica_set}`);
  } else {
    hosts = hostPort(t.mongod_servers[0].host, t.mongod_servers[0].port);
  }
  if (sec.auth) opts.push("authSource=admin");
  if (sec.tls) {
    opts.push("tls=true");
    if (caFile) opts.push(`tlsCAFile=${encodeURIComponent(caFile)}`);
  }
  return `mongodb://${user}${hosts}/${opts.length ? `?${opts.join("&")}` : ""}`;
}

/** Deep-merges runtime_config maps; dotted keys (`net.maxIncomingConnections`) become nesting. */
export function mergeConfig(
  ...layers: (Record<string, unknown> | undefined)[]
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer ?? {})) setDeep(out, k.split("."), v);
  }
  return out;
}

function setDeep(target: Record<string, unknown>, keys: string[], value: unknown): void {
  const [head, ...rest] = keys;
  if (rest.length === 0) {
    if (isPlainObject(value) && isPlainObject(target[head])) {
      for (const [k, v] of Object.entries(value)) {
        setDeep(target[head] as Record<string, unknown>, k.split("."), v);
      }
    } else if (isPlainObject(value)) {
      target[head] = {};
      for (const [k, v] of Object.entries(value)) {
        setDeep(target[head] as Record<string, unknown>, k.split("."), v);
      }
    } else target[head] = value;
    return;
  }
  if (!isPlainObject(target[head])) target[head] = {};
  setDeep(target[head] as Record<string, unknown>, rest, value);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The mode of the directories mup makes for a process: its user's alone. */
export const DIR_MODE = "0700";

/**
 * The directories a deploy makes for process `p`, in the order it makes them: its deploy root,
 * data (a mongod's), log and configuration directories.
 */
export function processDirs(p: ProcessSpec): string[] {
  return p.role === "mongos"
    ? [p.dirs.deploy, p.dirs.log, p.dirs.config]
    : [p.dirs.deploy, p.dirs.data, p.dirs.log, p.dirs.config];
}
