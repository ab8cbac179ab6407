import * as path from "node:path";
import type { MongodServer, MongosServer, Topology } from "./schema.ts";

export type Role = "mongod" | "config" | "mongos";

export interface NodeDirs {
  deploy: string;
  data: string;
  log: string;
  config: string;
  /**
   * The deploy, log and config directories the entry names itself (its own `deploy_dir`,
   * `log_dir`, `config_dir`), rather than a `<role>-<port>` folder mup makes under a parent.
   * Such a directory may hold files mup did not make: destroy removes only mup's from it.
   */
  chosen: ("deploy" | "log" | "config")[];
}

/**
 * Directory layout of one process, TiUP style: node overrides win; relative paths are under the
 * global deploy_dir, and by default each process gets `<role>-<port>` subdirectories; an entry
 * that names its own deploy_dir holds its relative paths (its own, and the global relative
 * data/log/config dirs) inside it, as TiUP places an instance's.
 */
export function nodeDirs(
  t: Topology,
  node: MongodServer | MongosServer,
  role: Role,
  defaultDeployDir: string,
): NodeDirs {
  const g = t.global;
  const root = g.deploy_dir ?? defaultDeployDir;
  const under = (p: string) => (path.isAbsolute(p) ? p : path.join(root, p));
  const name = `${role}-${node.port}`;
  // An entry's own relative data_dir, log_dir, config_dir are under its own deploy_dir when it
  // names one (as TiUP places an instance's), else under the global deploy_dir.
  const nodeRoot = node.deploy_dir ? under(node.deploy_dir) : root;
  const underNode = (p: string) => (path.isAbsolute(p) ? p : path.join(nodeRoot, p));
  // An entry with its own deploy_dir keeps the global relative data/log/config dirs inside it
  // too (`<its deploy_dir>/data`), as TiUP does; an absolute global one is shared, per process.
  const pick = (own: string | undefined, global: string | undefined, dflt: string) =>
    own
      ? underNode(own)
      : node.deploy_dir && !path.isAbsolute(global ?? dflt)
      ? path.join(nodeRoot, global ?? dflt)
      : path.join(under(global ?? dflt), name);
  return {
    deploy: node.deploy_dir ? under(node.deploy_dir) : path.join(root, name),
    data: pick("data_dir" in node ? node.data_dir : undefined, g.data_dir, "data"),
    log: pick(node.log_dir, g.log_dir, "logs"),
    config: pick(node.config_dir, g.config_dir, "conf"),
    chosen: [
      ...(node.deploy_dir ? ["deploy" as const] : []),
      ...(node.log_dir ? ["log" as const] : []),
      ...(node.config_dir ? ["config" as const] : []),
    ],
  };
}

/**
 * The directories the layout makes between the deploy root and the processes' own directories
 * (`bin/`, and `data/`, `logs/`, `conf/` or the topology's relative data_dir, log_dir and
 * config_dir, with every level between), deepest first: what a destroy or a rollback removes if
 * empty. Never one outside the root (an absolute data_dir's parent is the operator's).
 */
export function layoutParents(root: string, dirs: NodeDirs[]): string[] {
  const out = new Set([path.join(root, "bin")]);
  for (const p of dirs) {
    for (const d of [p.deploy, p.data, p.log, p.config]) {
      for (let at = path.dirname(d); at.startsWith(root + path.sep); at = path.dirname(at)) {
        out.add(at);
      }
    }
  }
  return [...out].sort((a, b) => b.length - a.length || a.localeCompare(b));
}

/**
 * Whether a file name is one mup's processes write in their deploy, log or config directory:
 * `mongod.conf`/`mongos.conf`, `mongod.pid`/`mongos.pid`, `mongod.log`/`mongos.log` and the
 * files logRotate renames them to (`mongod.log.<timestamp>`, MongoDB's "rename" rotation).
 */
export function isProcessFile(name: string): boolean {
  return /^(mongod|mongos)\.(conf|pid)$|^(mongod|mongos)\.log(\..+)?$/.test(name);
}

/** Where one process's files live: what two processes on one machine must never share. */
export interface NodeFiles {
  /** The data directory (mongod only). */
  data?: string;
  log: string;
  config: string;
  pid: string;
}

/** The files of one process, from its directories (mongod.log, mongod.conf, mongod.pid…). */
export function nodeFiles(dirs: NodeDirs, role: Role): NodeFiles {
  const bin = role === "mongos" ? "mongos" : "mongod";
  return {
    ...(role === "mongos" ? {} : { data: dirs.data }),
    log: path.join(dirs.log, `${bin}.log`),
    config: path.join(dirs.config, `${bin}.conf`),
    pid: path.join(dirs.deploy, `${bin}.pid`),
  };
}

/** One process of a topology with its place in the file and the files it uses. */
export interface NodeClaim {
  section: "config_servers" | "mongod_servers" | "mongos_servers";
  index: number;
  role: Role;
  host: string;
  port: number;
  files: NodeFiles;
}

/** Every process of a topology with the files it uses, in file order. */
export function nodeClaims(t: Topology, defaultDeployDir: string): NodeClaim[] {
  const out: NodeClaim[] = [];
  const add = (
    section: NodeClaim["section"],
    role: Role,
    list: (MongodServer | MongosServer)[],
  ) =>
    list.forEach((n, index) =>
      out.push({
        section,
        index,
        role,
        host: n.host,
        port: n.port,
        files: nodeFiles(nodeDirs(t, n, role, defaultDeployDir), role),
      })
    );
  add("config_servers", "config", t.config_servers);
  add("mongod_servers", "mongod", t.mongod_servers);
  add("mongos_servers", "mongos", t.mongos_servers);
  return out;
}

/**
 * What a deploy root holds for the whole cluster on one machine, rather than for one process:
 * the installed binaries (`bin/`) and the keyfile and certificates (`secrets/`). Two clusters
 * sharing them would overwrite each other's keyfile, and a destroy of one would take the
 * other's binaries and secrets.
 */
export interface RootClaim {
  host: string;
  /** The deploy root: `global.deploy_dir`, or the cluster's default. */
  root: string;
  /** Its shared parts: `<root>/bin`, `<root>/secrets`. */
  parts: string[];
}

/** The subdirectories of a deploy root that the whole cluster shares (see RootClaim). */
export const SHARED_ROOT_PARTS = ["bin", "secrets"];

/** The deploy root of a topology on each of its hosts, once per host name. */
export function rootClaims(t: Topology, defaultDeployDir: string): RootClaim[] {
  const root = t.global.deploy_dir ?? defaultDeployDir;
  const hosts = new Set(
    [...t.config_servers, ...t.mongod_servers, ...t.mongos_servers].map((n) => n.host),
  );
  return [...hosts].map((host) => ({
    host,
    root,
    parts: SHARED_ROOT_PARTS.map((p) => path.join(root, p)),
  }));
}

/** Whether two paths are one, or one lies inside the other. */
export function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(b + path.sep) || b.startsWith(a + path.sep);
}
