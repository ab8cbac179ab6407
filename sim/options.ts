/**
 * mongod/mongos options from the command line and from a YAML configuration file (-f), checked
 * against the table of every real option (option_table.ts) the way the server checks them:
 * unknown options, missing or mistyped values and out-of-range values are refused (the caller
 * exits with code 2, EXIT_BADOPTIONS); options the simulator does not act on are accepted and
 * listed in `ignored` so that the server logs them.
 */
// js-yaml: one ES module, ~50 ms less start-up per process than `yaml` (loaded as CommonJS).
import { load as parseYaml } from "js-yaml";
import { BY_CLI, BY_YAML, canonicalKey, type OptionSpec } from "./option_table.ts";

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

/** A refused option; `message` is what the server prints before exiting with code 2. */
export class OptionsError extends Error {}

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

const BOOL_WORDS: Record<string, boolean> = {
  true: true,
  false: false,
  yes: true,
  no: false,
  on: true,
  off: false,
  "1": true,
  "0": false,
};

/** Converts a command-line value; undefined when it does not fit the type (boost's check). */
function cliValue(spec: OptionSpec, raw: string): unknown {
  switch (spec.type) {
    case "int":
      return /^[+-]?\d+$/.test(raw) ? Number(raw) : undefined;
    case "double":
      return raw.trim() !== "" && Number.isFinite(Number(raw)) ? Number(raw) : undefined;
    case "bool":
      return BOOL_WORDS[raw.toLowerCase()];
    default:
      return raw;
  }
}

/** Converts a configuration-file value, or throws the server's type-mismatch message. */
function yamlValue(spec: OptionSpec, key: string, v: unknown): unknown {
  const bad = (type: string) =>
    new OptionsError(`Error parsing option "${key}" as ${type} in: ${JSON.stringify(v)}`);
  switch (spec.type) {
    case "int": {
      const n = typeof v === "string" && /^[+-]?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== "number" || !Number.isInteger(n)) throw bad("int");
      return n;
    }
    case "double": {
      const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
      if (typeof n !== "number" || !Number.isFinite(n)) throw bad("double");
      return n;
    }
    case "switch":
    case "bool":
      if (typeof v !== "boolean") throw bad("bool");
      return v;
    case "list":
      if (Array.isArray(v)) return v.map(String);
      if (typeof v === "string") return [v];
      throw bad("string vector");
    case "map":
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw bad("map");
      return v;
    default:
      if (v === null || typeof v === "object") throw bad("string");
      return String(v);
  }
}

/** The server's post-parse checks: bounds (IDL gte/lte validators) and allowed values. */
function validate(key: string, spec: OptionSpec, v: unknown): void {
  if (typeof v === "number") {
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
}

const NETWORK_COMPRESSORS = ["snappy", "zstd", "zlib", "noop"];

interface ParsedArgs {
  cli: Record<string, unknown>;
  version: string;
  variant: string;
}

/**
 * Options given as words: the command line, or an INI configuration file turned into words
 * (`where` names it in messages, as boost's parser does).
 */
function parseArgs(role: "mongod" | "mongos", args: string[], where: string): ParsedArgs {
  let version = "7.0.5";
  let variant = "mongo";
  const cli: Record<string, unknown> = {};
  const seen = new Set<OptionSpec>();
  const unrecognised = (a: string) =>
    new OptionsError(`Error parsing ${where}: unrecognised option '${a}'`);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--sim-version" || arg === "--sim-variant") {
      if (arg === "--sim-version") version = args[++i];
      else variant = args[++i];
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    } else if (arg.startsWith("-") && arg.length > 1) {
      name = arg.slice(1, 2);
      // -vvv is -v repeated; -fpath is -f with its value attached.
      if (/^v+$/.test(arg.slice(1))) name = arg.slice(1);
      else if (arg.length > 2) inline = arg.slice(2);
    } else if (arg === "run" && !cli["command"]) {
      cli["command"] = ["run"];
      continue;
    } else {
      throw new OptionsError(
        `Error parsing ${where}: too many positional options have been specified on the command line`,
      );
    }
    const spec = BY_CLI.get(name);
    if (!spec || (spec.roles && !spec.roles.includes(role))) throw unrecognised(arg);
    const shown = arg.startsWith("--") ? `--${name}` : `-${name}`;
    if (spec.refused) {
      throw new OptionsError(
        `Error: the mup simulator does not implement '${shown}': ${spec.refused} in a real ${role}`,
      );
    }
    if (seen.has(spec) && spec.type !== "list" && spec.type !== "map") {
      throw new OptionsError(
        `Error parsing ${where}: option '${shown}' cannot be specified more than once`,
      );
    }
    seen.add(spec);
    const key = canonicalKey(spec);
    if (spec.type === "switch") {
      if (inline !== undefined) {
        throw new OptionsError(
          `Error parsing ${where}: option '${shown}' does not take any arguments`,
        );
      }
      cli[key] = spec.sets ? spec.sets[1] : true;
      continue;
    }
    let raw = inline;
    // An option with an implicit value takes the next word only if it is a value of its type
    // (--networkMessageCompressors snappy, --enableMajorityReadConcern false, --verbose vv).
    const next = args[i + 1];
    if (
      raw === undefined && spec.implicit !== undefined && next !== undefined &&
      !next.startsWith("-") && next !== "run" &&
      (spec.type === "bool"
        ? cliValue(spec, next) !== undefined
        : name !== "verbose" && name !== "v" || /^v+$/.test(next))
    ) {
      raw = next;
      i++;
    }
    if (raw === undefined && spec.implicit === undefined) {
      raw = args[i + 1];
      const negativeNumber = raw !== undefined && /^-\d/.test(raw) &&
        (spec.type === "int" || spec.type === "double");
      if (raw === undefined || (raw.startsWith("-") && !negativeNumber)) {
        throw new OptionsError(
          `Error parsing ${where}: the required argument for option '${shown}' is missing`,
        );
      }
      i++;
    }
    if (raw === undefined) {
      cli[key] = spec.implicit;
      continue;
    }
    if (spec.type === "map") {
      const eq = raw.indexOf("=");
      if (eq <= 0) {
        throw new OptionsError(`Error parsing ${where}: Illegal option assignment: "${raw}"`);
      }
      const map = (cli[key] ??= {}) as Record<string, string>;
      map[raw.slice(0, eq)] = raw.slice(eq + 1);
      continue;
    }
    if (spec.type === "list") {
      ((cli[key] ??= []) as string[]).push(raw);
      continue;
    }
    const value = cliValue(spec, raw);
    if (value === undefined) {
      throw new OptionsError(
        `Error parsing ${where}: the argument ('${raw}') for option '${shown}' is invalid`,
      );
    }
    if (name === "profile") {
      cli["operationProfiling.mode"] = ["off", "slowOp", "all"][value as number];
    }
    cli[key] = value;
  }

  const given = new Set([...seen].flatMap((o) => o.cli ?? []));
  for (const spec of seen) {
    for (const other of spec.conflicts ?? []) {
      if (given.has(other)) {
        throw new OptionsError(
          `BadValue: ${other} is not allowed when ${spec.cli![0]} is specified`,
        );
      }
    }
  }
  return { cli, version, variant };
}

/** Reads the command line, then the configuration file; the command line wins, as with mongod. */
export function parseOptions(role: "mongod" | "mongos", args: string[]): ServerOptions {
  const { cli, version, variant } = parseArgs(role, args, "command line");
  const configFile = cli["config"] as string | undefined;
  const file = configFile ? readConfigFile(role, configFile) : {};
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

function readConfigFile(role: "mongod" | "mongos", configFile: string): Record<string, unknown> {
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
    return parseIni(role, text);
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
    if (!spec && k.startsWith("systemLog.component.") && k.endsWith(".verbosity")) {
      if (typeof v !== "number" || !Number.isInteger(v)) {
        throw new OptionsError(`Error parsing option "${k}" as int in: ${JSON.stringify(v)}`);
      }
      out[k] = v;
      continue;
    }
    if (!spec || (spec.roles && !spec.roles.includes(role))) {
      throw new OptionsError(`Error parsing YAML config file: Unrecognized option: ${k}`);
    }
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

/**
 * The legacy INI configuration format mongod still reads when a file is not YAML: one
 * `name = value` per line with command-line names, `#` comments; a switch set to false is as if
 * absent.
 */
function parseIni(role: "mongod" | "mongos", text: string): Record<string, unknown> {
  const words: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const eq = line.indexOf("=");
    const name = (eq < 0 ? line : line.slice(0, eq)).trim();
    const value = eq < 0 ? undefined : line.slice(eq + 1).trim();
    const spec = BY_CLI.get(name);
    if (spec?.type === "switch") {
      if (value === undefined || /^(true|1|yes|on)$/i.test(value)) words.push(`--${name}`);
      continue;
    }
    words.push(`--${name}`, ...(value === undefined ? [] : [value]));
  }
  const { cli } = parseArgs(role, words, "INI config file");
  if (cli["config"] !== undefined) {
    throw new OptionsError("Error parsing INI config file: unrecognised option 'config'");
  }
  return cli;
}
