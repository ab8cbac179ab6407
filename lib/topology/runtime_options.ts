/**
 * A topology's runtime_config checked against the options mongod and mongos accept
 * (lib/mongo/server_options.ts, transcribed from the server's IDL): a key the binary does not
 * know, a value of the wrong type, out of bounds or not among the allowed ones makes the server
 * exit with code 2 (BadOptions) at its start — in the middle of an apply. Found here, it is an
 * error at the key's line before anything is planned.
 *
 * Keys of `global.runtime_config` go to every process, so each must suit every role the topology
 * has (`storage.*` in global breaks mongos). The managed keys (net.port, storage.dbPath…) are
 * managed_keys.ts's to report. For Percona Server (`--variant percona`), whose binaries accept
 * options MongoDB Community does not (encryption at rest, audit log, inMemory), an unknown key is
 * a warning: mup cannot tell.
 */
import {
  BY_CLI,
  BY_YAML,
  INT_MAX,
  INT_MIN,
  optionInVersion,
  type OptionSpec,
  parseServerInt,
} from "../mongo/server_options.ts";
import { didYouMean, editDistance } from "../util/similar.ts";
import { isManagedKey, type RuntimeConfigSource, runtimeConfigSources } from "./managed_keys.ts";
import type { Topology } from "./schema.ts";
import type { Issue } from "./validate.ts";

type Role = "mongod" | "mongos";

/** A leaf of a runtime_config: its dotted key, the path segments as written, its value. */
interface Leaf {
  key: string;
  path: string[];
  value: unknown;
}

/**
 * The leaves of a runtime_config. A map-typed option (setParameter, systemLog.component) is one
 * leaf: its keys are the server's parameters, not options. `setParameter.x` written dotted is
 * inside such a map too.
 */
function leaves(rc: Record<string, unknown>, at: string[] = []): Leaf[] {
  return Object.entries(rc).flatMap(([k, value]): Leaf[] => {
    const path = [...at, k];
    const key = path.join(".");
    const parts = key.split(".");
    for (let n = 1; n < parts.length; n++) {
      const head = parts.slice(0, n).join(".");
      if (BY_YAML.get(head)?.type === "map") {
        return [{ key: head, path, value: { [key.slice(head.length + 1)]: value } }];
      }
    }
    if (BY_YAML.get(key)?.type === "map") return [{ key, path, value }];
    return isPlainObject(value) ? leaves(value, path) : [{ key, path, value }];
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

const ACCEPTS = (role: Role) => (o: OptionSpec) => !o.roles || o.roles.includes(role);

/** Every configuration-file key `role` accepts. */
function yamlKeys(role: Role): string[] {
  return [...BY_YAML.entries()].filter(([, o]) => ACCEPTS(role)(o)).map(([k]) => k);
}

/**
 * The key a misspelt one most likely meant: the same key in another case, the file key of a
 * command-line name written as one (`net.maxConns` → net.maxIncomingConnections), or the
 * nearest by edit distance.
 */
function suggestion(key: string, role: Role): string | undefined {
  const known = yamlKeys(role);
  const sameCase = known.find((k) => k.toLowerCase() === key.toLowerCase());
  if (sameCase) return sameCase;
  const last = key.split(".").pop()!;
  const cli = BY_CLI.get(last);
  if (cli?.yaml && !cli.cliOnly && ACCEPTS(role)(cli)) return cli.yaml;
  // Within the key's own section (storage., net.…), or a slip of a character or two: a key of
  // another section (Percona's auditLog.destination) is not a misspelt systemLog.destination.
  const section = key.split(".")[0];
  const guess = didYouMean(key, known);
  return guess && (guess.split(".")[0] === section || editDistance(guess, key) <= 2)
    ? guess
    : undefined;
}

const TYPE_WORDS: Record<OptionSpec["type"], [string, string]> = {
  switch: ["true or false", "true"],
  bool: ["true or false", "true"],
  int: ["a whole number", "100"],
  double: ["a number", "0.5"],
  string: ["a string", '"value"'],
  list: ["a list", "[a, b]"],
  map: ["a mapping", "{ name: value }"],
};

/**
 * What is wrong with `v` as the value of `spec` (the server's own parse and checks), if anything,
 * and what to write instead.
 */
function valueProblem(
  key: string,
  spec: OptionSpec,
  v: unknown,
): { message: string; hint: string } | undefined {
  const shown = JSON.stringify(v) ?? String(v);
  const [words, example] = TYPE_WORDS[spec.type];
  const range = spec.min !== undefined && spec.max !== undefined
    ? ` from ${spec.min} to ${spec.max}`
    : spec.min !== undefined
    ? ` of at least ${spec.min}`
    : spec.max !== undefined
    ? ` of at most ${spec.max}`
    : "";
  const fix = spec.choices
    ? `use one of: ${spec.choices.join(", ")}`
    : `write ${words}${range} (e.g. ${key}: ${range ? (spec.min ?? spec.max) : example})`;
  // mongod reads every YAML scalar as a string and parses it for the option's type
  // (options_parser.cpp, YAMLNodeToValue): "true" is a bool, "5" an int; a list option needs a
  // YAML sequence of scalars, a map option scalar values.
  const scalar = v === null || typeof v !== "object";
  const typeOk = (() => {
    switch (spec.type) {
      case "int": {
        const n = typeof v === "string" ? parseServerInt(v) : v;
        return Number.isInteger(n) && (n as number) >= INT_MIN && (n as number) <= INT_MAX;
      }
      case "double":
        return Number.isFinite(typeof v === "string" && v.trim() !== "" ? Number(v) : v);
      case "switch":
      case "bool":
        return typeof v === "boolean" || v === "true" || v === "false";
      case "list":
        return Array.isArray(v) && v.every((x) => x === null || typeof x !== "object");
      case "map":
        // setParameter is a map of single values; systemLog.component nests components (its
        // leaves are checked below).
        return isPlainObject(v) && (key === "systemLog.component" ||
          Object.entries(v).every(([k, x]) => k !== "" && (x === null || typeof x !== "object")));
      default:
        return v !== null && scalar;
    }
  })();
  if (!typeOk) {
    const what = spec.type === "int" && typeof v === "number" && Number.isInteger(v)
      ? `a whole number the server can hold (${INT_MIN} to ${INT_MAX})`
      : spec.type === "map"
      ? "a mapping of names to single values (no lists or mappings in it, no empty name)"
      : spec.type === "list"
      ? "a list of single values (a YAML sequence, even for one value)"
      : words;
    return { message: `${key} must be ${what}, not ${shown}`, hint: fix };
  }
  const n = typeof v === "string" && spec.type === "int"
    ? parseServerInt(v)
    : typeof v === "string" && spec.type !== "string"
    ? Number(v)
    : v;
  if (typeof n === "number" && range) {
    if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
      return { message: `${key} must be ${words}${range}, not ${shown}`, hint: fix };
    }
  }
  if (spec.choices && typeof v === "string" && !spec.choices.includes(v)) {
    return { message: `${key} must be one of ${spec.choices.join(", ")}, not ${shown}`, hint: fix };
  }
  if (spec.refusedInFile) {
    return { message: spec.refusedInFile, hint: `remove ${key} from runtime_config` };
  }
  const refused = spec.refusedValue;
  if (refused && (v === refused.value || String(v) === String(refused.value))) {
    return {
      message: `${key}: ${shown} is refused by every supported server ("${refused.reason}")`,
      hint: `remove ${key} from runtime_config`,
    };
  }
  // mongod checks each compressor name (transport_layer; the simulator's list).
  if (key === "net.compression.compressors" && typeof v === "string" && v !== "disabled") {
    const bad = v.split(",").map((c) => c.trim()).filter((c) => !COMPRESSORS.includes(c));
    if (bad.length) {
      return {
        message: `net.compression.compressors names ${bad.join(", ")}, which mongod does not ` +
          `have ("Invalid network message compressor specified in configuration")`,
        hint: `name some of ${COMPRESSORS.join(", ")}, or disabled`,
      };
    }
  }
  if (key === "systemLog.component" && isPlainObject(v)) {
    const bad = leaves(v).find((l) =>
      !/^\w[^.]*(\.\w[^.]*)*\.verbosity$/.test(l.key) ||
      !Number.isInteger(
        typeof l.value === "string" && /^[+-]?\d+$/.test(l.value) ? Number(l.value) : l.value,
      )
    );
    if (bad) {
      return {
        message: `systemLog.component.${bad.key} is not a component's verbosity`,
        hint: "write systemLog.component.<component>.verbosity: <a whole number> " +
          "(e.g. systemLog.component.replication.verbosity: 1)",
      };
    }
  }
  return undefined;
}

const MANUAL = "https://www.mongodb.com/docs/manual/reference/configuration-options/";

/** The network compressors mongod knows (net.compression.compressors). */
const COMPRESSORS = ["snappy", "zstd", "zlib", "noop"];

/**
 * Errors (warnings for keys a non-MongoDB variant may know) for every runtime_config key that
 * the binaries it goes to would refuse at start.
 *
 * @param variant the server distribution of the deploy (`mongo`, `percona`); undefined: mongo.
 * @returns issues with field paths (`global.runtime_config.<key as written>`, or an entry's).
 */
export function runtimeOptionIssues(
  t: Topology,
  variant = "mongo",
  version?: string,
): Issue[] {
  const mongodRoles = t.mongod_servers.length + t.config_servers.length > 0;
  const globalRoles: Role[] = [
    ...(mongodRoles ? ["mongod" as const] : []),
    ...(t.mongos_servers.length ? ["mongos" as const] : []),
  ];
  const rolesOf = (section: RuntimeConfigSource["section"]): Role[] =>
    section === "global" ? globalRoles : section === "mongos_servers" ? ["mongos"] : ["mongod"];
  const out: Issue[] = [];
  for (const { path: where, config: rc, section } of runtimeConfigSources(t)) {
    const roles = rolesOf(section);
    if (!rc) continue;
    const isGlobal = where[0] === "global";
    const seen = new Set<string>();
    const values = new Map<string, unknown>();
    for (const leaf of leaves(rc)) {
      if (isManagedKey(leaf.key)) continue;
      const at = [...where, ...leaf.path];
      // Written dotted and nested in one map: one of them would silently win.
      const dotted = leaf.key === "setParameter" || leaf.key === "systemLog.component"
        ? leaf.path.join(".")
        : leaf.key;
      if (leaf.path.some((k) => k === "<<" || k.startsWith("<<."))) {
        out.push({
          severity: "error",
          code: "yaml_merge_key",
          path: at,
          message: "no server option is named `<<`: quoted, it is a plain key, not a merge key",
          hint: "write it unquoted to merge an anchored mapping (`<<: *options`), or write the " +
            "keys out (global.runtime_config is what every process gets)",
        });
        continue;
      }
      if (seen.has(dotted)) {
        out.push({
          severity: "error",
          code: "option_twice",
          path: at,
          message: `${dotted} is written twice in this runtime_config (dotted and nested): only ` +
            "one value would count",
          hint: `keep one of the two ${dotted}`,
        });
        continue;
      }
      seen.add(dotted);
      values.set(dotted, leaf.value);
      if (
        (leaf.key === "net.bindIp" || leaf.key === "net.bindIpAll") &&
        values.has("net.bindIp") && values.has("net.bindIpAll")
      ) {
        const all = values.get("net.bindIpAll");
        if (all === true || all === "true") {
          out.push({
            severity: "error",
            code: "option_conflict",
            path: at,
            message: "net.bindIp and net.bindIpAll are mutually exclusive: mongod would refuse " +
              "to start (BadValue)",
            hint: "keep one of them",
          });
          continue;
        }
      }
      const spec = BY_YAML.get(leaf.key);
      if (spec && !optionInVersion(spec, version)) {
        out.push({
          severity: "error",
          code: "option_removed",
          path: at,
          message: `${leaf.key} is not a ${roles.join(" or ")} ${version} option (${
            spec.addedIn && !optionInVersion({ ...spec, removedIn: undefined }, version)
              ? `new in ${spec.addedIn}`
              : `removed in ${spec.removedIn}`
          }): ${roles.join(" and ")} would refuse to start ("Unrecognized option: ${leaf.key}")`,
          hint: `remove ${leaf.key} from runtime_config`,
        });
        continue;
      }
      const refusing = roles.filter((r) => !spec || !ACCEPTS(r)(spec));
      if (refusing.length) {
        // An unknown section (`storag: {dbPath: …}`) is the section key's fault: placed there.
        const wrong = spec ? at : [...where, ...leaf.path.slice(0, firstUnknown(leaf.path))];
        out.push(unknownIssue(leaf.key, wrong, refusing, spec, isGlobal, variant, hasRole(t)));
        continue;
      }
      if (
        leaf.key === "storage.journal.enabled" && String(leaf.value) === "false" &&
        inReplicaSet(t, where)
      ) {
        out.push({
          severity: "error",
          code: "option_value",
          path: at,
          message: "storage.journal.enabled: false in a replica-set member: mongod refuses to " +
            'start ("Running wiredTiger without journaling in a replica set is not supported")',
          hint: "remove storage.journal.enabled: a replica-set member always journals",
        });
        continue;
      }
      const problem = valueProblem(leaf.key, spec!, leaf.value);
      if (problem) {
        out.push({
          severity: "error",
          code: "option_value",
          path: at,
          message: `${problem.message}: ${roles.join(" and ")} would refuse to start`,
          hint: problem.hint,
        });
      }
    }
  }
  return out;
}

/**
 * Whether the runtime_config at `where` (["global", …] or [section, index, …]) reaches a
 * replica-set member: global any when there is one, a config server always, a mongod entry
 * with a replica_set.
 */
function inReplicaSet(t: Topology, where: (string | number)[]): boolean {
  if (where[0] === "config_servers") return true;
  if (where[0] === "mongod_servers") return !!t.mongod_servers[Number(where[1])]?.replica_set;
  if (where[0] === "global") {
    return t.config_servers.length > 0 || t.mongod_servers.some((m) => m.replica_set);
  }
  return false;
}

/** Every section of a known option name: `storage`, `storage.journal`, … */
const SECTIONS = new Set(
  [...BY_YAML.keys()].flatMap((k) =>
    k.split(".").slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join("."))
  ),
);

/**
 * How many keys of a path as written (`["storag", "dbPath"]`, `["storag.dbPath"]`) reach the
 * first one whose dotted name is no known option's section: that key is where an unknown option
 * is wrong. The whole path when every section above the option is known.
 */
function firstUnknown(written: string[]): number {
  let name = "";
  for (let i = 0; i < written.length - 1; i++) {
    name = name ? `${name}.${written[i]}` : written[i];
    if (!SECTIONS.has(name)) return i + 1;
  }
  return written.length;
}

/** Whether the topology has processes of `role` (config servers are mongod). */
const hasRole = (t: Topology) => (role: Role): boolean =>
  role === "mongos"
    ? t.mongos_servers.length > 0
    : t.mongod_servers.length + t.config_servers.length > 0;

function unknownIssue(
  key: string,
  path: (string | number)[],
  refusing: Role[],
  spec: OptionSpec | undefined,
  isGlobal: boolean,
  variant: string,
  has: (role: Role) => boolean,
): Issue {
  const role = refusing[0];
  const starts = `${refusing.join(" and ")} would refuse to start ("Unrecognized option: ${key}")`;
  if (spec) {
    // Known, but to the other binary only.
    const owner = role === "mongos" ? "mongod" : "mongos";
    return {
      severity: "error",
      code: "option_role",
      path,
      message: `${key} is a ${owner} option, which ${role} does not accept: ${starts}`,
      hint: !has(owner)
        ? `remove ${key}: this topology has no ${owner}`
        : isGlobal
        ? `global.runtime_config goes to every process: move ${key} to the runtime_config of each ${
          owner === "mongod" ? "mongod_servers and config_servers" : "mongos_servers"
        } entry`
        : `remove ${key} from this ${role} entry's runtime_config`,
    };
  }
  const guess = suggestion(key, role);
  const known = variant === "mongo";
  return {
    severity: known ? "error" : "warning",
    code: "unknown_option",
    path,
    message: known
      ? `${key} is not a ${refusing.join(" or ")} option: ${starts}`
      : `${key} is not a MongoDB Community ${role} option; mup cannot tell whether ${variant}'s ${role} accepts it`,
    hint: guess ? `did you mean ${guess}?` : `see the configuration file options at ${MANUAL}`,
  };
}

/**
 * The paths of the int options in a topology's runtime_configs, with their values: where a value
 * written with a leading zero (`0700`) means octal to mongod (it parses numbers with their base:
 * a leading 0 is octal) but a decimal to YAML 1.2, which mup reads (loader's check).
 */
export function intOptionPaths(t: Topology): { path: (string | number)[]; value: number }[] {
  return runtimeConfigSources(t).flatMap(({ path: where, config: rc }) =>
    leaves(rc ?? {}).filter((l) =>
      BY_YAML.get(l.key)?.type === "int" && typeof l.value === "number"
    ).map((l) => ({ path: [...where, ...l.path], value: l.value as number }))
  );
}
