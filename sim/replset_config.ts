/**
 * The rules replSetInitiate and replSetReconfig check a replica-set config against, with
 * MongoDB's messages and error codes (repl/repl_set_config.cpp, member_config.cpp): known
 * fields only, member ids and hosts unique, voting and priority limits, settings' types.
 */
import { type Document, ObjectId } from "bson";
import { CommandError, errors } from "./errors.ts";
import type { ReplSet } from "./replset.ts";
import type { CommandContext } from "./server.ts";

const CONFIG_FIELDS = new Set([
  "_id",
  "version",
  "term",
  "protocolVersion",
  "writeConcernMajorityJournalDefault",
  "configsvr",
  "members",
  "settings",
]);
const MEMBER_FIELDS = new Set([
  "_id",
  "host",
  "arbiterOnly",
  "buildIndexes",
  "hidden",
  "priority",
  "tags",
  "secondaryDelaySecs",
  "votes",
]);
const NUMERIC_SETTINGS = [
  "heartbeatIntervalMillis",
  "heartbeatTimeoutSecs",
  "electionTimeoutMillis",
  "catchUpTimeoutMillis",
  "catchUpTakeoverDelayMillis",
];
const SETTINGS_FIELDS = new Set([
  ...NUMERIC_SETTINGS,
  "chainingAllowed",
  "getLastErrorModes",
  "getLastErrorDefaults",
  "replicaSetId",
]);

/** MongoDB 7.0 parses the config strictly (IDL): unknown fields and wrong types are refused. */
function checkFields(cfg: Document): void {
  const unknown = (where: string, k: string) =>
    new CommandError(`BSON field '${where}.${k}' is an unknown field.`, 40415, "Location40415");
  for (const k of Object.keys(cfg)) if (!CONFIG_FIELDS.has(k)) throw unknown("ReplSetConfig", k);
  for (const m of (Array.isArray(cfg.members) ? cfg.members : []) as Document[]) {
    for (const k of Object.keys(m ?? {})) {
      if (!MEMBER_FIELDS.has(k)) throw unknown("MemberConfig", k);
    }
  }
  const st = (cfg.settings ?? {}) as Document;
  for (const k of Object.keys(st)) {
    if (!SETTINGS_FIELDS.has(k)) throw unknown("ReplSetConfigSettings", k);
  }
  for (const k of NUMERIC_SETTINGS) {
    const v = st[k];
    if (v !== undefined && typeof v !== "number" && typeof v?.toNumber !== "function") {
      throw new CommandError(
        `BSON field 'ReplSetConfigSettings.${k}' is the wrong type '${typeof v}', expected types '[long, int, decimal, double]'`,
        14,
        "TypeMismatch",
      );
    }
  }
  for (const k of ["heartbeatIntervalMillis", "electionTimeoutMillis"]) {
    if (st[k] !== undefined && !(Number(st[k]) > 0)) {
      throw errors.badValue(`${k} field value must be positive, but found ${st[k]}`);
    }
  }
  if (st.chainingAllowed !== undefined && typeof st.chainingAllowed !== "boolean") {
    throw new CommandError(
      `BSON field 'ReplSetConfigSettings.chainingAllowed' is the wrong type '${typeof st
        .chainingAllowed}', expected type 'bool'`,
      14,
      "TypeMismatch",
    );
  }
}

/** A number as BSON gives it: a JS number, or a Long/Int32/Double/Decimal128. */
function isNumber(v: unknown): boolean {
  return typeof v === "number" || typeof (v as { toNumber?: unknown })?.toNumber === "function";
}

/**
 * One member's own fields as MongoDB's MemberConfig parser checks them (member_config.idl and
 * member_config.cpp, 7.0): `_id` a number not below 0; `votes` 0 or 1 (a fraction is truncated,
 * as safeInt64 reads it); `priority` 0 to 1000; string tag values; a member that does not build
 * indexes cannot be elected. Refused as the reconfig refuses a config it cannot parse
 * (InvalidReplicaSetConfig, 93). Normalizes `votes` in place.
 * @throws CommandError 93; 115 for buildIndexes: false, which the simulator does not simulate.
 */
function checkMemberFields(m: Document): void {
  if (!isNumber(m._id)) {
    throw errors.invalidConfig(
      `Element for MemberId was not a number: _id: ${JSON.stringify(m._id ?? null)}`,
    );
  }
  if (Number(m._id) < 0) {
    throw errors.invalidConfig(`_id field value of ${Number(m._id)} can't be a negative number`);
  }
  const bound = (field: string, v: number, lo: number, hi: number) => {
    if (v < lo || v > hi) {
      throw errors.invalidConfig(
        `BSON field 'MemberConfig.${field}' value must be ${v < lo ? `>= ${lo}` : `<= ${hi}`}, ` +
          `actual value '${v}'`,
      );
    }
  };
  if (m.votes !== undefined) {
    m.votes = Math.trunc(Number(m.votes));
    bound("votes", m.votes, 0, 1);
  }
  if (m.priority !== undefined) bound("priority", Number(m.priority), 0, 1000);
  for (const [k, v] of Object.entries((m.tags ?? {}) as Document)) {
    if (typeof v !== "string") {
      throw errors.invalidConfig(
        `tags.${k} field has non-string value of type ${
          typeof v === "number" ? (Number.isInteger(v) ? "int" : "double") : typeof v
        }`,
      );
    }
  }
  if (m.buildIndexes === false) {
    if ((m.priority ?? 1) !== 0) {
      throw errors.invalidConfig("priority must be 0 when buildIndexes=false");
    }
    throw new CommandError(
      "buildIndexes: false is not supported by this server (the simulator builds every index " +
        "on every member)",
      115,
      "CommandNotSupported",
    );
  }
}

/** The checks replSetInitiate and replSetReconfig share. */
export function validateConfig(
  r: ReplSet,
  cfg: Document,
  ctx: CommandContext,
  version: number,
): Document {
  if (typeof cfg !== "object" || cfg === null) {
    throw errors.badValue("Replica set configuration must be an object");
  }
  checkFields(cfg);
  if (cfg._id !== r.setName) {
    throw errors.invalidConfig(
      `Attempting to initiate a replica set with name ${cfg._id}, but command line reports ${r.setName}; rejecting`,
    );
  }
  const members = cfg.members as Document[] | undefined;
  if (!Array.isArray(members) || members.length === 0) {
    throw errors.invalidConfig("Replica set configuration must contain at least one member");
  }
  if (members.length > 50) {
    throw errors.invalidConfig(
      `Replica set configuration contains ${members.length} members, but must have at most 50`,
    );
  }
  const ids = new Set<number>();
  const hosts = new Set<string>();
  for (const m of members) {
    checkMemberFields(m);
    if (typeof m.host !== "string" || !/^([^:\[\]]+|\[[0-9a-fA-F:.]+\]):\d+$/.test(m.host)) {
      throw errors.badValue(`member host "${m.host}" is not of the form host:port`);
    }
    if (ids.has(m._id)) {
      throw errors.invalidConfig(
        `Found two member configurations with same _id field, members.${m._id}._id == ${m._id}`,
      );
    }
    if (hosts.has(m.host.toLowerCase())) {
      throw errors.invalidConfig(`Found two member configurations with same host field, ${m.host}`);
    }
    ids.add(m._id);
    hosts.add(m.host.toLowerCase());
    if (m.hidden && (m.priority ?? 1) !== 0) {
      throw errors.invalidConfig(`priority must be 0 when hidden=true`);
    }
    if (m.arbiterOnly && (m.priority ?? 0) !== 0) {
      throw errors.invalidConfig(`priority must be 0 when arbiterOnly=true`);
    }
    if (m.arbiterOnly && (m.votes ?? 1) === 0) {
      throw errors.invalidConfig("Arbiter must vote (cannot have 0 votes)");
    }
    if ((m.votes ?? 1) === 0 && (m.priority ?? 1) > 0) {
      throw errors.invalidConfig(`priority must be 0 when non-voting (votes:0)`);
    }
    if (Number(m.secondaryDelaySecs ?? 0) > 0 && (m.priority ?? 1) > 0) {
      throw errors.invalidConfig(`priority must be 0 when secondaryDelaySecs is used`);
    }
  }
  const voting = members.filter((m) => (m.votes ?? 1) > 0).length;
  if (voting < 1 || voting > 7) {
    throw errors.invalidConfig(
      `Replica set configuration contains ${voting} voting members, but must be at least 1 and no more than 7`,
    );
  }
  if (!members.some((m) => (m.priority ?? 1) > 0 && !m.arbiterOnly)) {
    throw errors.invalidConfig("This config is not valid because no members are electable");
  }
  if (cfg.configsvr) {
    // ReplSetConfig::validate (repl_set_config.cpp): config server sets' own rules, all BadValue.
    if (members.some((m) => m.arbiterOnly)) {
      throw errors.badValue(
        "Arbiters are not allowed in replica set configurations being used for config servers",
      );
    }
    if (members.some((m) => m.buildIndexes === false)) {
      throw errors.badValue(
        "Members in replica set configurations being used for config servers must build indexes",
      );
    }
    if (members.some((m) => Number(m.secondaryDelaySecs ?? 0) !== 0)) {
      throw errors.badValue(
        "Members in replica set configurations being used for config servers cannot have a non-zero secondaryDelaySecs",
      );
    }
  }
  // ReplSetConfig::validate (5.3+): a second arbiter needs every node started with
  // setParameter allowMultipleArbiters (manual, "Concerns with Multiple Arbiters"). The message
  // is the server's, its doubled "with" included.
  if (members.filter((m) => m.arbiterOnly).length > 1 && !multipleArbitersAllowed(ctx)) {
    throw errors.badValue(
      "Multiple arbiters are not allowed unless all nodes were started with with " +
        "--setParameter 'allowMultipleArbiters=true'",
    );
  }
  const role = ctx.server.opts.clusterRole;
  if (cfg.configsvr && role !== "configsvr") {
    throw errors.invalidConfig(
      "Nodes being used for config servers must be started with the --configsvr flag",
    );
  }
  if (!cfg.configsvr && role === "configsvr") {
    throw errors.invalidConfig(
      "Nodes started with the --configsvr flag must have configsvr:true in their config",
    );
  }
  if (!members.some((m) => ctx.server.isSelf(m.host))) {
    throw errors.nodeNotFound(
      `No host described in new configuration with {version: ${version}, term: ${r.term}} for replica set ${r.setName} maps to this node`,
    );
  }
  return {
    _id: cfg._id,
    version,
    term: r.term,
    ...(cfg.configsvr ? { configsvr: true } : {}),
    members: members.map((m) => ({
      _id: m._id,
      host: m.host,
      arbiterOnly: m.arbiterOnly ?? false,
      buildIndexes: true,
      hidden: m.hidden ?? false,
      priority: m.priority ?? (m.arbiterOnly ? 0 : 1),
      tags: m.tags ?? {},
      secondaryDelaySecs: m.secondaryDelaySecs ?? 0,
      votes: m.votes ?? 1,
    })),
    protocolVersion: 1,
    writeConcernMajorityJournalDefault: true,
    settings: {
      chainingAllowed: true,
      heartbeatIntervalMillis: r.defaultHeartbeatMs,
      heartbeatTimeoutSecs: 10,
      electionTimeoutMillis: r.defaultElectionTimeoutMs,
      catchUpTimeoutMillis: -1,
      catchUpTakeoverDelayMillis: 30_000,
      getLastErrorModes: {},
      getLastErrorDefaults: { w: 1, wtimeout: 0 },
      ...(cfg.settings ?? {}),
      replicaSetId: replicaSetId(r, cfg),
    },
  };
}

/**
 * The set's identity (settings.replicaSetId): made at its initiation, the same in every later
 * configuration; a reconfig naming another is refused, NewReplicaSetConfigurationIncompatible
 * (103), as ReplSetConfig's compatibility check does.
 */
function replicaSetId(r: ReplSet, cfg: Document): ObjectId {
  const now = r.config?.settings?.replicaSetId as ObjectId | undefined;
  const asked = cfg.settings?.replicaSetId as ObjectId | undefined;
  if (now && asked && !now.equals(asked)) {
    throw new CommandError(
      `New and old configurations differ in replica set ID; old was ${now.toHexString()}, and ` +
        `new is ${asked.toHexString?.() ?? String(asked)}`,
      103,
      "NewReplicaSetConfigurationIncompatible",
    );
  }
  return now ?? asked ?? new ObjectId();
}

/** Whether this node takes a config with several arbiters: before 5.3, or with the parameter. */
function multipleArbitersAllowed(ctx: CommandContext): boolean {
  const [major, minor] = (ctx.server.opts.version || "0").split(".").map(Number);
  if (major > 0 && (major < 5 || (major === 5 && minor < 3))) return true;
  const v = (ctx.server.opts.parsed.setParameter as Record<string, unknown> | undefined)
    ?.allowMultipleArbiters;
  return v === true || v === "true" || v === 1 || v === "1";
}
