/** replSet* commands, with MongoDB's validation rules, messages and error codes. */
import { type Document, Timestamp } from "bson";
import { CommandError, errors } from "../errors.ts";
import { type ReplSet, STATE_NAMES } from "../replset.ts";
import type { CommandContext, Handler } from "../server.ts";

function repl(ctx: CommandContext): ReplSet {
  const r = (ctx.server as unknown as { repl?: ReplSet }).repl;
  if (!r) throw errors.noReplication();
  return r;
}

function requireConfig(r: ReplSet): Document {
  if (!r.config) throw errors.notYetInitialized();
  return r.config;
}

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
    if ((m.votes ?? 1) === 0 && (m.priority ?? 1) > 0) {
      throw errors.invalidConfig(`priority must be 0 when non-voting (votes:0)`);
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
      ...(cfg.settings ?? {}),
    },
  };
}

const replSetInitiate: Handler = async (ctx) => {
  const r = repl(ctx);
  ctx.server.log.info("REPL", 21356, "conn", "replSetInitiate admin command received from client");
  if (r.config) throw errors.alreadyInitialized();
  if (Deno.env.get("MUP_SIM_REFUSE_INITIATE")) {
    throw errors.operationFailed(
      "replSetInitiate refused (simulated fault MUP_SIM_REFUSE_INITIATE)",
    );
  }
  let cfg = ctx.body.replSetInitiate;
  if (!cfg || typeof cfg !== "object" || Object.keys(cfg).length === 0) {
    ctx.server.log.info(
      "REPL",
      21357,
      "conn",
      "no configuration specified. Using a default configuration for the set",
    );
    cfg = {
      _id: r.setName,
      ...(ctx.server.opts.clusterRole === "configsvr" ? { configsvr: true } : {}),
      members: [{ _id: 0, host: ctx.server.address() }],
    };
  }
  const config = validateConfig(r, cfg, ctx, 1);
  // Quorum check: every proposed member must answer and be an empty node of the same set.
  const failures: string[] = [];
  await Promise.all(
    (config.members as Document[]).filter((m) => !ctx.server.isSelf(m.host)).map(async (m) => {
      try {
        await ctx.server.peers.run(m.host, "admin", {
          replSetHeartbeat: r.setName,
          checkEmpty: true,
          configVersion: -2,
          term: 0,
          from: ctx.server.address(),
          fromId: -1,
        }, 5000);
      } catch (e) {
        failures.push(`${m.host} failed with ${(e as Error).message}`);
      }
    }),
  );
  if (failures.length) {
    throw errors.nodeNotFound(
      `replSetInitiate quorum check failed because not all proposed set members responded affirmatively: ${
        failures.join(", ")
      }`,
    );
  }
  r.noop("initiating set");
  r.installConfig(config);
  return {};
};

const replSetGetStatus: Handler = (ctx) => {
  const r = repl(ctx);
  const cfg = requireConfig(r);
  if (!r.self()) {
    throw errors.invalidConfig("Our replica set config is invalid or we are not a member of it");
  }
  const now = new Date();
  const me = r.self();
  const optime = (ts?: Timestamp) => ({ ts: ts ?? new Timestamp({ t: 0, i: 0 }), t: r.term });
  const members = (cfg.members as Document[]).map((m) => {
    if (m._id === me?._id) {
      return {
        _id: m._id,
        name: m.host,
        health: 1,
        state: r.state,
        stateStr: STATE_NAMES[r.state],
        uptime: Math.floor((Date.now() - ctx.server.startedAt) / 1000),
        optime: optime(r.lastApplied()),
        optimeDate: new Date((r.lastApplied()?.high ?? 0) * 1000),
        syncSourceHost: r.state === 2 ? r.sync.syncSource ?? "" : "",
        configVersion: cfg.version,
        configTerm: r.term,
        self: true,
        ...(r.state === 1
          ? {
            electionTime: new Timestamp({
              t: Math.floor((r.electionDate?.getTime() ?? 0) / 1000),
              i: 1,
            }),
            electionDate: r.electionDate,
          }
          : {}),
      };
    }
    const v = r.views.get(m._id);
    const state = v?.health === 1 ? v.state : v ? 8 : 6;
    return {
      _id: m._id,
      name: m.host,
      health: v?.health ?? 0,
      state,
      stateStr: STATE_NAMES[state] ?? "UNKNOWN",
      uptime: v?.health === 1 ? Math.floor((Date.now() - v.since) / 1000) : 0,
      optime: optime(v?.optime),
      optimeDate: new Date((v?.optime?.high ?? 0) * 1000),
      lastHeartbeat: v?.lastHeartbeat ?? new Date(0),
      pingMs: v?.pingMs ?? 0,
      syncSourceHost: "",
      configVersion: v?.configVersion ?? -1,
      configTerm: v?.term ?? -1,
    };
  });
  const last = optime(r.lastApplied());
  return {
    set: cfg._id,
    date: now,
    myState: r.state,
    term: r.term,
    heartbeatIntervalMillis: r.heartbeatMs,
    majorityVoteCount: Math.floor(r.voters().length / 2) + 1,
    writeMajorityCount: Math.floor(r.voters().length / 2) + 1,
    votingMembersCount: r.voters().length,
    writableVotingMembersCount: r.voters().filter((m) => !m.arbiterOnly).length,
    optimes: { lastCommittedOpTime: last, appliedOpTime: last, durableOpTime: last },
    members,
  };
};

const replSetGetConfig: Handler = (ctx) => ({
  config: { ...requireConfig(repl(ctx)), term: repl(ctx).term },
});

const replSetReconfig: Handler = async (ctx) => {
  const r = repl(ctx);
  const cur = requireConfig(r);
  const force = Boolean(ctx.body.force);
  if (!force && r.state !== 1) throw errors.notPrimary();
  const next = ctx.body.replSetReconfig as Document;
  const version = force
    ? Math.max(Number(next.version ?? 0), cur.version + 1)
    : Number(next.version);
  if (!force && !(version > cur.version)) {
    throw new CommandError(
      `New config version ${version} must be greater than current config version ${cur.version}`,
      103,
      "NewReplicaSetConfigurationIncompatible",
    );
  }
  const config = validateConfig(r, next, ctx, version);
  if (!force) {
    const votersOf = (c: Document) =>
      new Set(
        (c.members as Document[]).filter((m) => (m.votes ?? 1) > 0).map((m) =>
          m.host.toLowerCase()
        ),
      );
    const a = votersOf(cur), b = votersOf(config);
    const changed = [...a].filter((h) => !b.has(h)).length + [...b].filter((h) => !a.has(h)).length;
    if (changed > 1) {
      throw new CommandError(
        "Non force replica set reconfig can only add or remove at most 1 voting member.",
        103,
        "NewReplicaSetConfigurationIncompatible",
      );
    }
  }
  r.installConfig(config);
  if (!force) {
    const ok = await r.waitFor(() => {
      const me = r.self();
      const have = r.voters().filter((m) =>
        m._id === me?._id || r.views.get(m._id)?.configVersion === version
      ).length;
      return have * 2 > r.voters().length;
    }, Number(ctx.body.maxTimeMS ?? 10_000));
    if (!ok) {
      throw new CommandError(
        "Current config is not yet committed to a majority of nodes",
        50,
        "MaxTimeMSExpired",
      );
    }
  }
  return {};
};

const replSetStepDown: Handler = async (ctx) => {
  const r = repl(ctx);
  requireConfig(r);
  if (r.state !== 1) {
    throw new CommandError("not primary so can't step down", 10107, "NotWritablePrimary");
  }
  const secs = Number(ctx.body.replSetStepDown ?? 60);
  const force = Boolean(ctx.body.force);
  const catchUp = Number(ctx.body.secondaryCatchUpPeriodSecs ?? (force ? 0 : 10));
  if (secs < catchUp) {
    throw errors.badValue("stepdown period must be longer than secondaryCatchUpPeriodSecs");
  }
  const handed = await r.handOff(catchUp * 1000, secs * 1000);
  if (!handed) {
    if (!force) {
      throw errors.exceededTimeLimit(
        `No electable secondaries caught up as of ${
          new Date().toISOString()
        }. Please use the replSetStepDown command with the argument {force: true} to force node to step down.`,
      );
    }
    r.stepDown(secs * 1000);
  }
  return {};
};

const replSetStepUp: Handler = async (ctx) => {
  const r = repl(ctx);
  requireConfig(r);
  if (r.state === 1) return {};
  if (r.state !== 2 || !r.electable(r.self())) {
    throw new CommandError("Election failed.", 125, "CommandFailed");
  }
  r.stepDownUntil = 0;
  if (!(await r.election.stand("step up request"))) {
    throw new CommandError("Election failed.", 125, "CommandFailed");
  }
  return {};
};

const replSetHeartbeat: Handler = (ctx) => repl(ctx).heartbeats.onHeartbeat(ctx.body);
const replSetRequestVotes: Handler = (ctx) => repl(ctx).election.onRequestVotes(ctx.body);
const replSetUpdatePosition: Handler = (ctx) => repl(ctx).onUpdatePosition(ctx.body);
const replSetFreeze: Handler = (ctx) => {
  const r = repl(ctx);
  if (r.state === 1) {
    throw new CommandError(
      "cannot freeze node when primary or running for election. state: Primary",
      95,
      "NotSecondary",
    );
  }
  r.stepDownUntil = Date.now() + Number(ctx.body.replSetFreeze) * 1000;
  return {};
};

export const replSetCommands: Record<string, Handler> = {
  replSetInitiate,
  replSetGetStatus,
  replSetGetConfig,
  replSetReconfig,
  replSetStepDown,
  replSetStepUp,
  replSetHeartbeat,
  replSetRequestVotes,
  replSetUpdatePosition,
  replSetFreeze,
};
