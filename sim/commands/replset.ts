/** replSet* commands, with MongoDB's validation rules, messages and error codes. */
import { isVoter, markNewlyAdded, shownConfig } from "../newly_added.ts";
import { type Document, Int32 } from "bson";
import { CommandError, errors } from "../errors.ts";
import type { ReplSet } from "../replset.ts";
import type { CommandContext, Handler } from "../server.ts";
import { validateConfig } from "../replset_config.ts";
import { checkImplicitDefaultUnchanged } from "../rw_defaults.ts";
import { handOff } from "../handoff.ts";
import { replSetGetStatus } from "./repl_status.ts";
import { rollbackId } from "../rollback_id.ts";
import { typeName } from "../update_checks.ts";

export function repl(ctx: CommandContext): ReplSet {
  const r = (ctx.server as unknown as { repl?: ReplSet }).repl;
  if (!r) throw errors.noReplication();
  return r;
}

export function requireConfig(r: ReplSet): Document {
  if (!r.config) throw errors.notYetInitialized();
  return r.config;
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

const replSetGetConfig: Handler = (ctx) => ({
  // A forced config's term is -1 (compared by version alone) until the next reconfig.
  config: ((cfg) => ({ ...shownConfig(cfg), term: cfg.term === -1 ? -1 : repl(ctx).term }))(
    requireConfig(repl(ctx)),
  ),
});

const replSetReconfig: Handler = async (ctx) => {
  const r = repl(ctx);
  const cur = requireConfig(r);
  const force = Boolean(ctx.body.force);
  if (!force && r.state !== 1) throw errors.notPrimary();
  const next = ctx.body.replSetReconfig as Document;
  // A forced reconfig's version jumps by 10,000 plus up to 100,000 more, so that a config made
  // meanwhile elsewhere does not overtake it (manual: "Reconfigure a Replica Set with Unavailable
  // Members"; replication_coordinator_impl.cpp, incrementConfigVersionByRandom).
  const version = force
    ? Math.max(Number(next.version ?? 0), cur.version) + 10_000 +
      Math.floor(Math.random() * 100_000)
    : Number(next.version);
  if (!force && !(version > cur.version)) {
    throw new CommandError(
      `New config version ${version} must be greater than current config version ${cur.version}`,
      103,
      "NewReplicaSetConfigurationIncompatible",
    );
  }
  if ((next.members as Document[] | undefined)?.some?.((m) => m && "newlyAdded" in m)) {
    throw errors.invalidConfig("Cannot provide newlyAdded field to member config during reconfig.");
  }
  const valid = validateConfig(r, next, ctx, version);
  // A forced reconfig's new members vote at once; otherwise they wait for their data.
  const config = force ? { ...valid, term: -1 } : markNewlyAdded(cur, valid);
  await checkImplicitDefaultUnchanged(ctx.server, cur, config);
  // The primary must stay electable under a config it installs itself: MongoDB refuses, with
  // NodeNotElectable, a reconfig that gives it priority 0 (repl_set_config_checks.cpp,
  // checkElectable; manual: "MongoDB does not permit the current primary to have a priority of
  // 0", step it down first). A forced reconfig runs on a secondary and is not checked.
  const mine = (config.members as Document[]).find((m) => ctx.server.isSelf(m.host));
  if (!force && mine && !r.electable(mine)) {
    throw new CommandError(
      `This node, ${mine.host}, with _id ${mine._id} is not electable under the new ` +
        `configuration with {version: ${version}, term: ${r.term}} for replica set ${r.setName}`,
      104,
      "NodeNotElectable",
    );
  }
  const limit = Number(ctx.body.maxTimeMS ?? 0) > 0 ? Number(ctx.body.maxTimeMS) : Infinity;
  const installedOnMajority = (v: number) => () => {
    const me = r.self();
    const have =
      r.voters().filter((m) => m._id === me?._id || r.views.get(m._id)?.configVersion === v).length;
    return have * 2 > r.voters().length;
  };
  const deadline = Date.now() + limit;
  if (!force) {
    // The current config must be committed before another replaces it (MongoDB 4.4+ safe
    // reconfig): waited for within maxTimeMS, then refused with CurrentConfigNotCommittedYet.
    if (!(await r.waitFor(installedOnMajority(cur.version), limit))) {
      throw new CommandError(
        "New config is rejected :: caused by :: operation exceeded time limit",
        308,
        "CurrentConfigNotCommittedYet",
      );
    }
    // Meanwhile this member may have stepped down, or another reconfig taken the version.
    if (r.state !== 1) throw errors.notPrimary();
    if (requireConfig(r).version !== cur.version) {
      throw new CommandError(
        `New config version ${version} must be greater than current config version ${
          requireConfig(r).version
        }`,
        103,
        "NewReplicaSetConfigurationIncompatible",
      );
    }
    const votersOf = (c: Document) =>
      new Set(
        (c.members as Document[]).filter(isVoter).map((m) => m.host.toLowerCase()),
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
    // "By default, replSetReconfig waits indefinitely for the replica configuration to
    // propagate to a majority of replica set members" (MongoDB manual, replSetReconfig); a
    // maxTimeMS of 0 sets no limit either.
    const ok = await r.waitFor(
      installedOnMajority(version),
      Number.isFinite(limit) ? Math.max(1, deadline - Date.now()) : Infinity,
    );
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
  // repl_set_commands.cpp: 0 is the default period, 60 s; a negative one is refused.
  const secs = Number(ctx.body.replSetStepDown ?? 0) || 60;
  if (secs < 0) throw errors.badValue("stepdown period must be a positive integer");
  const force = Boolean(ctx.body.force);
  const catchUp = Number(ctx.body.secondaryCatchUpPeriodSecs ?? (force ? 0 : 10));
  if (secs < catchUp) {
    throw errors.badValue("stepdown period must be longer than secondaryCatchUpPeriodSecs");
  }
  r.server.log.info(
    "COMMAND",
    21579,
    "conn",
    "Attempting to step down in response to replSetStepDown command",
  );
  const outcome = await handOff(r, catchUp * 1000, secs * 1000);
  if (outcome === "no longer primary") {
    throw new CommandError(
      "Already stepped down from primary while processing step down request",
      10107,
      "NotWritablePrimary",
    );
  }
  if (outcome === "none caught up") {
    if (!force) {
      throw errors.exceededTimeLimit(
        `No electable secondaries caught up as of ${
          new Date().toISOString()
        }. Please use the replSetStepDown command with the argument {force: true} to force node to step down.`,
      );
    }
    r.stepDown(secs * 1000);
  }
  r.server.log.info("COMMAND", 21580, "conn", "replSetStepDown command completed");
  return {};
};

const replSetStepUp: Handler = async (ctx) => {
  const r = repl(ctx);
  requireConfig(r);
  if (r.state === 1) return {};
  // Frozen (replSetFreeze) or in its own step-down period, a member is unelectable
  // (topology_coordinator.cpp StepDownPeriodActive): a step-up request is refused like any
  // other, and a primary's handoff to it fails. replSetFreeze: 0 ends either.
  if (r.state !== 2 || !r.electable(r.self()) || Date.now() < r.stepDownUntil) {
    throw new CommandError("Election failed.", 125, "CommandFailed");
  }
  if (!(await r.election.stand("step up request", ctx.body.skipDryRun === true))) {
    throw new CommandError("Election failed.", 125, "CommandFailed");
  }
  return {};
};

const replSetHeartbeat: Handler = (ctx) => {
  unlessPartitioned(ctx);
  return repl(ctx).heartbeats.onHeartbeat(ctx.body);
};
const replSetRequestVotes: Handler = (ctx) => {
  unlessPartitioned(ctx);
  return repl(ctx).election.onRequestVotes(ctx.body);
};

/** Members' requests do not arrive across a partition (MUP_SIM_PARTITIONED; see PeerPool). */
function unlessPartitioned(ctx: CommandContext): void {
  if (ctx.server.peers.partitioned) {
    throw new CommandError("No route to host (simulated network partition)", 6, "HostUnreachable");
  }
}
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
  // As mongod's prepareFreezeResponse: 0 unfreezes; otherwise a freeze never shortens one
  // already in place (a step-down's).
  const secs = Number(ctx.body.replSetFreeze);
  if (secs === 0) {
    r.stepDownUntil = 0;
    r.wake();
    return { info: "unfreezing" };
  }
  r.stepDownUntil = Math.max(r.stepDownUntil, Date.now() + secs * 1000);
  return secs === 1 ? { warning: "you really want to freeze for only 1 second?" } : {};
};

/**
 * replSetGetRBID: `{ rbid: <int> }`, this member's rollback ID (sim/rollback_id.ts). Not on a
 * server started without --replSet (76); it needs the `internal` action (auth_roles.ts).
 */
const replSetGetRBID: Handler = (ctx) => ({ rbid: new Int32(rollbackId(repl(ctx).store)) });

/**
 * replSetMaintenance: true puts a secondary into RECOVERING (counted: each true needs its own
 * false), false takes it back to SECONDARY, as mongod's setMaintenanceMode does.
 */
const replSetMaintenance: Handler = (ctx) => {
  const r = repl(ctx);
  requireConfig(r);
  if (r.state === 1) {
    throw new CommandError("primaries can't modify maintenance mode", 95, "NotSecondary");
  }
  if (ctx.body.replSetMaintenance) r.enterMaintenance();
  else if (!r.leaveMaintenance()) throw errors.operationFailed("already out of maintenance mode");
  return {};
};

/**
 * replSetResizeOplog (resize_oplog.cpp, resize_oplog.idl): `size` (MB, 990 to 1 PB; 51024
 * outside) becomes the oplog's cap, kept across restarts, the oldest entries dropped now when it
 * is smaller; `minRetentionHours` (>= 0) keeps newer entries whatever the size until the next
 * restart. Admin only (13); a server without an oplog (no --replSet) is 26.
 */
const replSetResizeOplog: Handler = (ctx) => {
  if (ctx.db !== "admin") {
    throw errors.unauthorized("replSetResizeOplog may only be run against the admin database.");
  }
  const r = (ctx.server as unknown as { repl?: ReplSet }).repl;
  if (!r) throw new CommandError("oplog does not exist", 26, "NamespaceNotFound");
  const field = (name: string, lo: number, hi = Infinity): number | undefined => {
    const v = ctx.body[name];
    if (v === undefined) return undefined;
    if (typeof v !== "number") {
      throw new CommandError(
        `BSON field 'replSetResizeOplog.${name}' is the wrong type '${typeName(v)}', expected ` +
          "type 'double'",
        14,
        "TypeMismatch",
      );
    }
    if (!(v >= lo && v <= hi)) {
      throw new CommandError(
        `BSON field 'replSetResizeOplog.${name}' value must be ${
          v >= lo ? `<= ${hi}` : `>= ${lo}`
        }, actual value '${v}'`,
        51024,
        "Location51024",
      );
    }
    return v;
  };
  const sizeMB = field("size", 990, 1073741824);
  const hours = field("minRetentionHours", 0);
  if (sizeMB !== undefined) r.store.resizeOplog(Math.floor(sizeMB * 1024 * 1024));
  if (hours !== undefined) r.store.oplog.minRetentionMs = hours * 3_600_000;
  ctx.server.log.info("STORAGE", 20497, "conn", "replSetResizeOplog success", {
    size: r.store.oplog.capBytes,
    minRetentionHours: r.store.oplog.minRetentionMs / 3_600_000,
  });
  return {};
};

export const replSetCommands: Record<string, Handler> = {
  replSetResizeOplog,
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
  replSetMaintenance,
  replSetGetRBID,
};
