/**
 * mongod/mongos options from the command line and from a YAML configuration file (-f), checked
 * against the table of every real option (option_table.ts) the way the server checks them:
 * unknown options, missing or mistyped values and out-of-range values are refused (the caller
 * exits with code 2, EXIT_BADOPTIONS); options the simulator does not act on are accepted and
 * listed in `ignored` so that the server logs them. The command line's words (and an INI file's)
 * are read by option_words.ts.
 */
// js-yaml: one ES module, ~50 ms less start-up per process than `yaml` (loaded as CommonJS).
import { load as parseYaml } from "js-yaml";
import {
  BY_CLI,
  BY_YAML,
  INT_MAX,
  INT_MIN,
  optionInVersion,
  type OptionSpec,
  parseServerInt,
} from "../lib/mongo/server_options.ts";
import { OptionsError } from "./errors.ts";
import { parseArgs, parseIni } from "./option_words.ts";

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
  /** --outputConfig: print the resolved configuration and exit. */
  outputConfig: boolean;
  /** --shutdown: stop the mongod running on the dbpath and exit. */
  shutdown: boolean;
  argv: string[];
  /** What getCmdLineOpts reports as `parsed`. */
  parsed: Record<string, unknown>;
  /** Canonical keys of options given but not acted on by the simulator (logged at startup). */
  ignored: string[];
}

function flatten(
  obj: Record<string, unknown>,
  prefix = "",
  out: Record<string, unknown> = {},
): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v) && key !== "setParameter") {
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

/**
 * Converts a configuration-file value, or throws the server's message. mongod's YAML parser reads
 * every scalar as a string and parses it for the option's type (options_parser.cpp,
 * YAMLNodeToValue): `"true"` is a bool and `"5"` an int as well; a list option needs a YAML
 * sequence, a map option scalar values.
 */
function yamlValue(spec: OptionSpec, key: string, v: unknown): unknown {
  const bad = (type: string) =>
    new OptionsError(`Error parsing option "${key}" as ${type} in: ${JSON.stringify(v)}`);
  if (spec.type === "list") {
    if (!Array.isArray(v)) {
      throw new OptionsError(
        `Option: ${key} is of type StringVector, but value in YAML config is not a list type`,
      );
    }
    if (v.some((x) => Array.isArray(x))) {
      throw new OptionsError(`Option: ${key} has nested lists, which is not allowed`);
    }
    return v.map(String);
  }
  if (spec.type === "map") {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw new OptionsError(
        `Option: ${key} is of type StringMap, but value in YAML config is not a map type`,
      );
    }
    if (Object.values(v).some((x) => x !== null && typeof x === "object")) {
      throw new OptionsError(`${key} has a map with non scalar values, which is not allowed`);
    }
    return v;
  }
  if (v !== null && typeof v === "object") {
    throw new OptionsError(`Scalar option '${key}' must be a single value`);
  }
  switch (spec.type) {
    case "int": {
      const n = typeof v === "string" ? parseServerInt(v) : v;
      if (typeof n !== "number" || !Number.isInteger(n) || n < INT_MIN || n > INT_MAX) {
        throw bad("int");
      }
      return n;
    }
    case "double": {
      const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
      if (typeof n !== "number" || !Number.isFinite(n)) throw bad("double");
      return n;
    }
    case "switch":
    case "bool":
      if (v === "true" || v === "false") return v === "true";
      if (typeof v !== "boolean") throw bad("bool");
      return v;
    default:
      if (v === null) throw bad("string");
      return String(v);
  }
}

/** The server's post-parse checks: bounds (IDL gte/lte validators) and allowed values. */
function validate(key: string, spec: OptionSpec, v: unknown): void {
  if (typeof v === "number") {
    // The server's own words where it checks by hand (server_options_server_helpers.cpp).
    if (spec.min !== undefined && v < spec.min && key === "net.maxIncomingConnections") {
      throw new OptionsError("BadValue: maxConns has to be at least 5");
    }
    if (spec.min !== undefined && v < spec.min && key === "replication.oplogSizeMB") {
      throw new OptionsError(`BadValue: bad --oplogSize, arg must be greater than 0,found: ${v}`);
    }
    if (spec.min !== undefined && v < spec.min) {
      throw new OptionsError(`BadValue: ${key} must be greater than or equal to ${spec.min}`);
    }
    if (spec.max !== undefined && v > spec.max) {
      throw new OptionsError(`BadValue: ${key} must be less than or equal to ${spec.max}`);
    }
  }
  if (spec.choices && typeof v === "string" && !spec.choices.includes(v)) {
    throw new OptionsError(
      `BadValue: Bad value for ${key}: ${v}; supported values are: ${spec.choices.join(", ")}`,
    );
  }
  if (spec.refusedValue && v === spec.refusedValue.value) {
    throw new OptionsError(spec.refusedValue.reason);
  }
}

const NETWORK_COMPRESSORS = ["snappy", "zstd", "zlib", "noop"];

/** Reads the command line, then the configuration file; the command line wins, as with mongod. */
export function parseOptions(role: "mongod" | "mongos", args: string[]): ServerOptions {
  const { cli, version, variant } = parseArgs(role, args, "command line");
  const configFile = cli["config"] as string | undefined;
  const file = configFile ? readConfigFile(role, configFile, version) : {};
  const o: Record<string, unknown> = { ...file, ...cli };
  if (file.setParameter && cli.setParameter) {
    o.setParameter = { ...file.setParameter as object, ...cli.setParameter as object };
  }
  if (o["systemLog.path"] !== undefined && o["systemLog.destination"] === undefined) {
    o["systemLog.destination"] = "file";
  }
  for (const [k, v] of Object.entries(o)) {
    const spec = BY_YAML.get(k) ?? BY_CLI.get(k);
    if (spec) validate(k, spec, v);
  }
  return resolve(role, args, o, version, variant);
}

function readConfigFile(
  role: "mongod" | "mongos",
  configFile: string,
  version: string,
): Record<string, unknown> {
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
  // Not YAML but the legacy INI format ("name = value" per line, command-line names)?
  const ini = text.split("\n").map((l) => l.replace(/#.*$/, "").trim()).filter(Boolean);
  if (ini.length && ini.every((l) => /^[A-Za-z_][\w.]*\s*(=|$)/.test(l) && !/^[\w.]+:/.test(l))) {
    return parseIni(role, text, version);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new OptionsError(
      `Error parsing YAML config file: ${(e as Error).message.split("\n")[0]}`,
    );
  }
  if (doc !== null && (typeof doc !== "object" || Array.isArray(doc))) {
    throw new OptionsError("Error parsing YAML config file: the document is not a mapping");
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flatten((doc ?? {}) as Record<string, unknown>))) {
    const spec = BY_YAML.get(k);
    if (!spec && /^systemLog\.component\.\w.*\.verbosity$/.test(k)) {
      if (!Number.isInteger(typeof v === "string" && /^[+-]?\d+$/.test(v) ? Number(v) : v)) {
        throw new OptionsError(`Error parsing option "${k}" as int in: ${JSON.stringify(v)}`);
      }
      out[k] = v;
      continue;
    }
    if (!spec || (spec.roles && !spec.roles.includes(role)) || !optionInVersion(spec, version)) {
      throw new OptionsError(`Error parsing YAML config file: Unrecognized option: ${k}`);
    }
    if (spec.refusedInFile) throw new OptionsError(`BadValue: ${spec.refusedInFile}`);
    out[k] = yamlValue(spec, k, v);
  }
  return out;
}

function resolve(
  role: "mongod" | "mongos",
  args: string[],
  o: Record<string, unknown>,
  version: string,
  variant: string,
): ServerOptions {
  const clusterRole = o["sharding.clusterRole"] as ServerOptions["clusterRole"];
  const port = (o["net.port"] as number | undefined) ??
    (clusterRole === "configsvr" ? 27019 : clusterRole === "shardsvr" ? 27018 : 27017);
  const compressors = o["net.compression.compressors"];
  if (typeof compressors === "string" && compressors !== "disabled") {
    for (const c of compressors.split(",").map((s) => s.trim())) {
      if (!NETWORK_COMPRESSORS.includes(c)) {
        throw new OptionsError(
          `Invalid network message compressor specified in configuration: ${c}`,
        );
      }
    }
  }
  const oplog = o["replication.oplogSizeMB"];
  if (typeof oplog === "number" && oplog <= 0) {
    throw new OptionsError(`BadValue: bad --oplogSize, arg must be greater than 0,found: ${oplog}`);
  }
  if (o["systemLog.destination"] === "syslog" && o["systemLog.path"] !== undefined) {
    throw new OptionsError(
      "BadValue: Can only use systemLog.path if systemLog.destination is to a file",
    );
  }
  if (o["net.bindIpAll"] && o["net.bindIp"] !== undefined) {
    throw new OptionsError("BadValue: net.bindIp and net.bindIpAll are mutually exclusive");
  }
  const bindIp = o["net.bindIpAll"]
    ? ["0.0.0.0"]
    : String(o["net.bindIp"] ?? "localhost").split(",").map((s) => s.trim()).filter(Boolean);
  const ignored = Object.keys(o).filter((k) => {
    const spec = BY_YAML.get(k) ?? BY_CLI.get(k);
    return k !== "command" && !spec?.acted;
  });
  const parsed: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === "config") continue;
    parsed[k] = v;
  }
  if (o["config"] !== undefined) parsed["config"] = o["config"];
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
    replSet: (o["replication.replSetName"] ?? o["replication.replSet"]) as string | undefined,
    clusterRole,
    configdb: o["sharding.configDB"] as string | undefined,
    keyFile: o["security.keyFile"] as string | undefined,
    showVersion: Boolean(o["version"]),
    showHelp: Boolean(o["help"]),
    outputConfig: Boolean(o["outputConfig"]),
    shutdown: Boolean(o["shutdown"]),
    argv: [
      role,
      ...args.filter((a, i) =>
        a !== "--sim-version" && a !== "--sim-variant" && args[i - 1] !== "--sim-version" &&
        args[i - 1] !== "--sim-variant"
      ),
    ],
    parsed: nest(parsed),
    ignored,
  };
}

/** Whether the server runs without a journal (--nojournal, storage.journal.enabled: false; 6.0). */
export function journalOff(opts: Pick<ServerOptions, "parsed">): boolean {
  const storage = opts.parsed.storage as { journal?: { enabled?: unknown } } | undefined;
  return storage?.journal?.enabled === false;
}
