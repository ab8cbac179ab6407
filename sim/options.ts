/** mongod/mongos options from the command line and from a YAML configuration file (-f). */
import { parse } from "yaml";

export interface ServerOptions {
  role: "mongod" | "mongos";
  version: string;
  variant: string;
  port: number;
  bindIp: string[];
  dbpath?: string;
  logpath?: string;
  logappend: boolean;
  fork: boolean;
  pidfilepath?: string;
  replSet?: string;
  clusterRole?: "configsvr" | "shardsvr";
  configdb?: string;
  keyFile?: string;
  showVersion: boolean;
  showHelp: boolean;
  argv: string[];
  /** What getCmdLineOpts reports as `parsed`. */
  parsed: Record<string, unknown>;
}

export class OptionsError extends Error {}

const FLAGS: Record<string, { key: string; value: boolean }> = {
  "--port": { key: "net.port", value: true },
  "--bind_ip": { key: "net.bindIp", value: true },
  "--bind_ip_all": { key: "net.bindIpAll", value: false },
  "--dbpath": { key: "storage.dbPath", value: true },
  "--logpath": { key: "systemLog.path", value: true },
  "--logappend": { key: "systemLog.logAppend", value: false },
  "--fork": { key: "processManagement.fork", value: false },
  "--pidfilepath": { key: "processManagement.pidFilePath", value: true },
  "--replSet": { key: "replication.replSetName", value: true },
  "--configsvr": { key: "sharding.clusterRole=configsvr", value: false },
  "--shardsvr": { key: "sharding.clusterRole=shardsvr", value: false },
  "--configdb": { key: "sharding.configDB", value: true },
  "--keyFile": { key: "security.keyFile", value: true },
  "--config": { key: "config", value: true },
  "-f": { key: "config", value: true },
  "--quiet": { key: "systemLog.quiet", value: false },
  "--setParameter": { key: "setParameter", value: true },
  "--wiredTigerCacheSizeGB": { key: "storage.wiredTiger.engineConfig.cacheSizeGB", value: true },
  "--oplogSize": { key: "replication.oplogSizeMB", value: true },
};

/** Configuration-file keys accepted beyond the ones the simulator acts on. */
const ACCEPTED_PREFIXES = [
  "net.maxIncomingConnections",
  "net.compression",
  "net.tls",
  "net.ipv6",
  "net.unixDomainSocket",
  "storage.wiredTiger",
  "storage.journal",
  "storage.engine",
  "storage.directoryPerDB",
  "storage.syncPeriodSecs",
  "systemLog.verbosity",
  "systemLog.quiet",
  "systemLog.component",
  "systemLog.timeStampFormat",
  "processManagement.timeZoneInfo",
  "security.authorization",
  "security.clusterAuthMode",
  "replication.oplogSizeMB",
  "replication.enableMajorityReadConcern",
  "operationProfiling",
  "setParameter",
  "sharding.archiveMovedChunks",
];

const KNOWN = new Set([
  "net.port",
  "net.bindIp",
  "net.bindIpAll",
  "storage.dbPath",
  "systemLog.destination",
  "systemLog.path",
  "systemLog.logAppend",
  "processManagement.fork",
  "processManagement.pidFilePath",
  "replication.replSetName",
  "sharding.clusterRole",
  "sharding.configDB",
  "security.keyFile",
]);

function flatten(
  obj: Record<string, unknown>,
  prefix = "",
  out: Record<string, unknown> = {},
): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v) && !key.startsWith("setParameter")) {
      flatten(v as Record<string, unknown>, key, out);
    } else out[key] = v;
  }
  return out;
}

function nest(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flat)) {
    const parts = k.split(".");
    let o = out;
    for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
    o[parts[parts.length - 1]] = v;
  }
  return out;
}

export function parseOptions(role: "mongod" | "mongos", args: string[]): ServerOptions {
  let version = "7.0.5";
  let variant = "mongo";
  const cli: Record<string, unknown> = {};
  let configFile: string | undefined;
  let showVersion = false;
  let showHelp = false;
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    let inline: string | undefined;
    if (a.startsWith("--") && a.includes("=")) {
      [a, inline] = [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)];
    }
    if (a === "--sim-version") {
      version = args[++i];
      continue;
    }
    if (a === "--sim-variant") {
      variant = args[++i];
      continue;
    }
    if (a === "--version") {
      showVersion = true;
      continue;
    }
    if (a === "--help" || a === "-h") {
      showHelp = true;
      continue;
    }
    const f = FLAGS[a];
    if (
      !f || (role === "mongos" && ["storage.dbPath", "replication.replSetName"].includes(f.key)) ||
      (role === "mongod" && f.key === "sharding.configDB")
    ) {
      throw new OptionsError(`Error parsing command line: unrecognised option '${a}'`);
    }
    let value: unknown = true;
    if (f.value) {
      value = inline ?? args[++i];
      if (value === undefined) {
        throw new OptionsError(
          `Error parsing command line: the required argument for option '${a}' is missing`,
        );
      }
    }
    if (f.key === "config") configFile = String(value);
    else if (f.key.includes("=")) {
      const [k, v] = f.key.split("=");
      cli[k] = v;
    } else cli[f.key] = value;
  }
  let file: Record<string, unknown> = {};
  if (configFile) {
    let text: string;
    try {
      text = Deno.readTextFileSync(configFile);
    } catch (e) {
      throw new OptionsError(
        `Error reading config file: ${
          (e as Error).name === "NotFound" ? "No such file or directory" : (e as Error).message
        }`,
      );
    }
    let doc: unknown;
    try {
      doc = parse(text);
    } catch (e) {
      throw new OptionsError(
        `Error parsing YAML config file: ${(e as Error).message.split("\n")[0]}`,
      );
    }
    if (doc !== null && (typeof doc !== "object" || Array.isArray(doc))) {
      throw new OptionsError("Error parsing YAML config file: the document is not a mapping");
    }
    file = flatten((doc ?? {}) as Record<string, unknown>);
    for (const k of Object.keys(file)) {
      if (!KNOWN.has(k) && !ACCEPTED_PREFIXES.some((p) => k === p || k.startsWith(p + "."))) {
        throw new OptionsError(`Error parsing YAML config file: Unrecognized option: ${k}`);
      }
    }
  }
  // The command line wins over the file, as with mongod.
  const o: Record<string, unknown> = { ...file, ...cli };
  if (configFile) o["config"] = configFile;
  const clusterRole = o["sharding.clusterRole"] as ServerOptions["clusterRole"];
  if (clusterRole && !["configsvr", "shardsvr"].includes(clusterRole)) {
    throw new OptionsError(`Bad value for sharding.clusterRole: ${clusterRole}`);
  }
  const portRaw = o["net.port"] ??
    (clusterRole === "configsvr" ? 27019 : clusterRole === "shardsvr" ? 27018 : 27017);
  const port = Number(portRaw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new OptionsError(`Error parsing command line: bad value for option 'port': ${portRaw}`);
  }
  const bindIp = o["net.bindIpAll"]
    ? ["0.0.0.0"]
    : String(o["net.bindIp"] ?? "localhost").split(",").map((s) => s.trim()).filter(Boolean);
  if (
    o["systemLog.destination"] !== undefined && o["systemLog.destination"] !== "file" &&
    o["systemLog.destination"] !== "syslog"
  ) {
    throw new OptionsError(`Bad value for systemLog.destination: ${o["systemLog.destination"]}`);
  }
  return {
    role,
    version,
    variant,
    port,
    bindIp,
    dbpath: role === "mongod" ? String(o["storage.dbPath"] ?? "/data/db") : undefined,
    logpath: o["systemLog.path"] as string | undefined,
    logappend: Boolean(o["systemLog.logAppend"]),
    fork: Boolean(o["processManagement.fork"]),
    pidfilepath: o["processManagement.pidFilePath"] as string | undefined,
    replSet: o["replication.replSetName"] as string | undefined,
    clusterRole,
    configdb: o["sharding.configDB"] as string | undefined,
    keyFile: o["security.keyFile"] as string | undefined,
    showVersion,
    showHelp,
    argv: [
      role,
      ...args.filter((a, i) =>
        a !== "--sim-version" && a !== "--sim-variant" && args[i - 1] !== "--sim-version" &&
        args[i - 1] !== "--sim-variant"
      ),
    ],
    parsed: nest(
      Object.fromEntries(
        Object.entries(o).filter(([k]) => k !== "config").concat(
          configFile ? [["config", configFile]] : [],
        ),
      ),
    ),
  };
}
