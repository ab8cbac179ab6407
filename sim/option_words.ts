/**
 * mongod/mongos options given as words: the command line, and the legacy INI configuration file
 * turned into words. Each word is checked against the option table the way boost's parser does
 * (unrecognised, repeated, missing or mistyped values, conflicting options).
 */
import {
  BY_CLI,
  canonicalKey,
  optionInVersion,
  type OptionSpec,
} from "../lib/mongo/server_options.ts";
import { OptionsError } from "./errors.ts";

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

interface ParsedArgs {
  cli: Record<string, unknown>;
  version: string;
  variant: string;
}

/**
 * Options given as words: the command line, or an INI configuration file turned into words
 * (`where` names it in messages, as boost's parser does).
 */
export function parseArgs(
  role: "mongod" | "mongos",
  args: string[],
  where: string,
  knownVersion?: string,
): ParsedArgs {
  let version = knownVersion ?? "7.0.5";
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
    if (!spec || (spec.roles && !spec.roles.includes(role)) || !optionInVersion(spec, version)) {
      throw unrecognised(arg);
    }
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

/**
 * The legacy INI configuration format mongod still reads when a file is not YAML: one
 * `name = value` per line with command-line names, `#` comments; a switch set to false is as if
 * absent.
 */
export function parseIni(
  role: "mongod" | "mongos",
  text: string,
  version?: string,
): Record<string, unknown> {
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
  const { cli } = parseArgs(role, words, "INI config file", version);
  if (cli["config"] !== undefined) {
    throw new OptionsError("Error parsing INI config file: unrecognised option 'config'");
  }
  return cli;
}
