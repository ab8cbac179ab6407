/**
 * Every startup option of mongod and mongos 6.0–8.0 (community), as a table.
 *
 * Transcribed from the server's option definitions (src/mongo/db/server_options_base.idl,
 * server_options_general.idl, server_options_nongeneral.idl, mongod_options_general.idl,
 * mongod_options_storage.idl, mongod_options_replication.idl, mongod_options_sharding.idl,
 * storage/wiredtiger/wiredtiger_global_options.idl, util/net/ssl_options_server.idl,
 * s/mongos_options.idl) and the configuration-file reference. Enterprise-only options (LDAP,
 * auditing, encryption at rest, inMemory, SNMP) are not here: a community binary refuses them too.
 *
 * Each row: the configuration-file key (`yaml`, dotted), the command-line names (`cli`, without
 * `--`), the value type, which binaries accept it, and the checks the server makes on the value.
 *
 * Two readers, one source: mup checks a topology's runtime_config against it before planning
 * (lib/topology/runtime_options.ts), and the simulator parses its options with it. `acted` and
 * `refused` are the simulator's: `acted` marks the options it acts on (every other accepted option
 * is logged as ignored at startup).
 */

import { OPTIONS } from "./server_option_rows.ts";

export { OPTIONS };

export type OptionType = "switch" | "bool" | "int" | "double" | "string" | "list" | "map";

export interface OptionSpec {
  /** Configuration-file key; also the key the option is canonicalised to. */
  yaml?: string;
  /** Command-line names, without the leading `--` (single letters take one `-`). */
  cli?: string[];
  type: OptionType;
  /** Binaries accepting it; both when absent. */
  roles?: ("mongod" | "mongos")[];
  /** Inclusive numeric bounds, checked like the IDL validators (gte/lte). */
  min?: number;
  max?: number;
  /** Allowed string values. */
  choices?: string[];
  /** For cli-only switches: the canonical key and value they set (e.g. --nounixsocket). */
  sets?: [string, unknown];
  /** Accepted on the command line only, not in the configuration file (e.g. --replSet). */
  cliOnly?: boolean;
  /** Command-line options this one may not be given with (the IDL's `conflicts`). */
  conflicts?: string[];
  /** Value taken when the option is given on the command line without one. */
  implicit?: unknown;
  /** The simulator acts on this option (others are accepted and logged as ignored). */
  acted?: boolean;
  /**
   * What the real server does with this option that the simulator does not (a one-off job, then
   * exit): the simulator refuses it rather than start as if the job had been done.
   */
  refused?: string;
  /** The first release series whose binaries know the option (earlier: "Unrecognized option"). */
  addedIn?: string;
  /**
   * The first release series whose binaries no longer know the option ("Unrecognized option"),
   * e.g. storage.journal.enabled, removed in 6.1 (journaling is always on).
   */
  removedIn?: string;
  /** A value the server refuses at startup although it parses, with the server's reason. */
  refusedValue?: { value: unknown; reason: string };
  /** Known to the parser but refused in a configuration file (storeMongodOptions), with why. */
  refusedInFile?: string;
  /**
   * Fixed when the data files are made: a running cluster's may not change (mongod refuses).
   * The value is the default, what an unset option means.
   */
  fixedAtInit?: { default: unknown };
}

/**
 * Whether `o` exists in `version` ("7.0.14", "7.0"): added in or before its series, and not
 * removed in or before it. Without a version: every option of the table.
 */
export function optionInVersion(o: OptionSpec, version: string | undefined): boolean {
  if (!version) return true;
  const series = (v: string) => v.split(".").slice(0, 2).map(Number);
  const before = (x: number[], y: number[]) => x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
  const v = series(version);
  if (o.addedIn && before(v, series(o.addedIn))) return false;
  return !o.removedIn || before(v, series(o.removedIn));
}

/**
 * A number as the server reads an option's text (parseNumberFromString, base detected): `0x1f`
 * hexadecimal, a leading 0 octal (`0700` is 448), else decimal; NaN when it is none of them.
 */
export function parseServerInt(text: string): number {
  const m = /^([+-]?)(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.exec(text.trim());
  if (!m) return NaN;
  const body = m[2];
  const n = /^0x/i.test(body)
    ? parseInt(body.slice(2), 16)
    : body.length > 1
    ? parseInt(body, 8)
    : parseInt(body, 10);
  return m[1] === "-" ? -n : n;
}

/** The int options' range: the server reads them as a C++ int. */
export const INT_MIN = -(2 ** 31);
export const INT_MAX = 2 ** 31 - 1;

/** Lookup tables built once from OPTIONS. */
export const BY_CLI = new Map<string, OptionSpec>();
export const BY_YAML = new Map<string, OptionSpec>();
for (const o of OPTIONS) {
  for (const c of o.cli ?? []) BY_CLI.set(c, o);
  if (o.yaml && !o.cliOnly) BY_YAML.set(o.yaml, o);
}

/** The key an option is stored under once parsed (what getCmdLineOpts reports). */
export function canonicalKey(o: OptionSpec): string {
  return o.sets?.[0] ?? o.yaml ?? o.cli![0];
}
