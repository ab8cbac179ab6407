/**
 * The cluster-wide default read and write concern (setDefaultRWConcern, getDefaultRWConcern) and
 * the implicit default write concern a replica set has without one, as MongoDB 5.0+ keeps them
 * (read_write_concern_defaults.cpp; manual: "Default MongoDB Read Concerns/Write Concerns"):
 * one `config.settings` document, written through the oplog like any other write, so every
 * member holds it and it survives restarts.
 */
import type { Document } from "bson";
import { CommandError, errors } from "./errors.ts";
import { majorMinor } from "./fcv.ts";
import { isVoter } from "./newly_added.ts";
import type { CommandContext, Handler, Server } from "./server.ts";
import { runWrite } from "./writes.ts";

const NS = { db: "config", coll: "settings" };
const ID = "ReadWriteConcernDefaults";

/** MongoDB 5.0 or later: the release that made the implicit default `{w: "majority"}`. */
export function implicitMajorityRelease(version: string): boolean {
  return Number(majorMinor(version)) >= 5;
}

/**
 * Whether `config`'s implicit default write concern is `{w: "majority"}`
 * (ReplSetConfig::isImplicitDefaultWriteConcernMajority): yes without voting arbiters, else
 * only while the voting data-bearing members outnumber a majority of the votes; otherwise
 * `{w: 1}`. A member still `newlyAdded` does not vote yet.
 */
export function implicitDefaultIsMajority(config: Document | undefined): boolean {
  const voters = ((config?.members ?? []) as Document[]).filter(isVoter);
  const writable = voters.filter((m) => !m.arbiterOnly).length;
  const majority = Math.floor(voters.length / 2) + 1;
  return writable === voters.length || writable > majority;
}

/** The stored defaults document, if setDefaultRWConcern ever ran on this set. */
function stored(server: Server): Document | undefined {
  return server.store.findById(NS.db, NS.coll, ID);
}

/** The cluster-wide default write concern (CWWC), if one is set. */
export function clusterWideWriteConcern(server: Server): Document | undefined {
  const wc = stored(server)?.defaultWriteConcern as Document | undefined;
  return wc && Object.keys(wc).length ? wc : undefined;
}

/**
 * The write concern a write without `w` gets, and its provenance: the CWWC ("customDefault"),
 * else the set's implicit default ("implicitDefault": `{w: "majority"}` or `{w: 1}` from 5.0,
 * `{w: 1}` before).
 */
export function defaultWriteConcern(
  server: Server,
  config: Document | undefined,
): { wc: Document; provenance: "customDefault" | "implicitDefault" } {
  const cwwc = clusterWideWriteConcern(server);
  if (cwwc) return { wc: cwwc, provenance: "customDefault" };
  const majority = implicitMajorityRelease(server.opts.version) &&
    implicitDefaultIsMajority(config);
  return { wc: { w: majority ? "majority" : 1, wtimeout: 0 }, provenance: "implicitDefault" };
}

/**
 * Refuses, as MongoDB 5.0+ does (force included), a reconfig from `cur` to `next` that changes
 * the implicit default write concern while no cluster-wide default (CWWC) is set:
 * NewReplicaSetConfigurationIncompatible (103). Manual: replSetReconfig, "Starting in MongoDB
 * 5.0, you must explicitly set the global default write concern before attempting to
 * reconfigure a non-sharded replica set with a configuration that would change the implicit
 * default write concern". A shard (5.1+) is held to it only once added to a cluster (its
 * shardIdentity), only for a change to `{w: 1}`, and against the cluster's CWWC, asked of its
 * config servers; none answering: ConfigServerUnreachable (replication_coordinator_impl.cpp,
 * doReplSetReconfig).
 */
export async function checkImplicitDefaultUnchanged(
  server: Server,
  cur: Document,
  next: Document,
): Promise<void> {
  if (!implicitMajorityRelease(server.opts.version)) return;
  const after = implicitDefaultIsMajority(next);
  if (implicitDefaultIsMajority(cur) === after) return;
  if (server.opts.clusterRole !== "shardsvr") {
    if (clusterWideWriteConcern(server)) return;
    throw new CommandError(
      "Reconfig attempted to install a config that would change the implicit default write " +
        "concern. Use the setDefaultRWConcern command to set a cluster-wide write concern and " +
        "try the reconfig again.",
      103,
      "NewReplicaSetConfigurationIncompatible",
    );
  }
  const identity = server.store.findById("admin", "system.version", "shardIdentity");
  if (after || !identity || Number(majorMinor(server.opts.version)) < 5.1) return;
  const change = "Reconfig attempted to install a config that would change the implicit " +
    "default write concern on the shard to {w: 1}";
  const hosts = String(identity.configsvrConnectionString ?? "").split("/")[1]?.split(",") ?? [];
  let failure = "no config server is known";
  for (const h of hosts) {
    const r = await server.peers.run(h, "admin", { getDefaultRWConcern: 1 }, 5000).catch((e) => {
      failure = (e as Error).message;
      return undefined;
    });
    if (!r) continue;
    if (r.defaultWriteConcernSource === "global") return;
    throw new CommandError(
      `${change}. Use the setDefaultRWConcern command to set a cluster-wide write concern on ` +
        "the cluster and try the reconfig again.",
      103,
      "NewReplicaSetConfigurationIncompatible",
    );
  }
  throw new CommandError(
    `${change}, but the shard can not check if CWWC is set on the cluster, as the request to ` +
      `the config server is failing with error: ${failure}`,
    56846,
    "ConfigServerUnreachable",
  );
}

/** setDefaultRWConcern and getDefaultRWConcern run on replica sets and config servers only. */
function requireSetMember(ctx: CommandContext, name: string): void {
  if (ctx.db !== "admin") {
    throw errors.unauthorized(`${name} may only be run against the admin database.`);
  }
  if (ctx.server.opts.role !== "mongod") return;
  // rwc_defaults_commands.cpp assertNotStandaloneOrShardServer: codes 51300 and 51301.
  if (!ctx.server.opts.replSet) {
    throw new CommandError(
      `'${name}' is not supported on standalone nodes.`,
      51300,
      "Location51300",
    );
  }
  if (ctx.server.opts.clusterRole === "shardsvr") {
    throw new CommandError(`'${name}' is not supported on shard nodes.`, 51301, "Location51301");
  }
}

/** The getDefaultRWConcern reply for the stored document and the set's config. */
function reply(server: Server, config: Document | undefined): Document {
  const doc = stored(server);
  const cwwc = clusterWideWriteConcern(server);
  const implicit = defaultWriteConcern(server, config);
  const rc = doc?.defaultReadConcern as Document | undefined;
  return {
    defaultReadConcern: rc && Object.keys(rc).length ? rc : { level: "local" },
    // Without a CWWC an implicit `{w: 1}` is not shown (ReadWriteConcernDefaults::getDefault).
    ...(cwwc
      ? { defaultWriteConcern: cwwc }
      : implicit.wc.w === "majority"
      ? { defaultWriteConcern: implicit.wc }
      : {}),
    ...(doc
      ? { updateOpTime: doc.updateOpTime, updateWallClockTime: doc.updateWallClockTime }
      : {}),
    defaultWriteConcernSource: cwwc ? "global" : "implicit",
    defaultReadConcernSource: rc && Object.keys(rc).length ? "global" : "implicit",
    localUpdateWallClockTime: new Date(),
  };
}

/** Checks a requested default write concern (checkSuitabilityAsDefault). */
function checkDefaultWriteConcern(wc: unknown): void {
  if (wc === undefined || wc === null) return;
  if (typeof wc !== "object") throw errors.badValue("defaultWriteConcern must be an object");
  const d = wc as Document;
  if (!Object.keys(d).length) return;
  if (d.w === undefined) throw errors.badValue("Default write concern must have 'w' field.");
  if (typeof d.w !== "string" && typeof d.w !== "object" && Number(d.w) === 0 && d.j !== true) {
    throw errors.badValue(
      "Unacknowledged write concern is not suitable for the default write concern",
    );
  }
}

/** A config server's reply as mongos passes it on: without the config server's own fields. */
function fromConfig(r: Document): Document {
  const { ok: _ok, operationTime: _t, $clusterTime: _c, ...rest } = r;
  return rest;
}

/** mongos's copy of the cluster-wide default write concern, read again after a second. */
let routerCache: { wc: Document | undefined; at: number } | undefined;

/**
 * A write through mongos without `w` gets the cluster-wide default, as mongos applies it before
 * it sends the write to the shards (which hold no copy of it); `body` as it was otherwise.
 */
export async function withRouterDefault(server: Server, body: Document): Promise<Document> {
  if (body.writeConcern?.w !== undefined) return body;
  if (!routerCache || Date.now() - routerCache.at > 1000) {
    const r = await server.router!.config("admin", { getDefaultRWConcern: 1 });
    routerCache = {
      wc: r.defaultWriteConcernSource === "global" ? r.defaultWriteConcern : undefined,
      at: Date.now(),
    };
  }
  const wc = routerCache.wc;
  return wc
    ? { ...body, writeConcern: { ...wc, ...body.writeConcern, provenance: "customDefault" } }
    : body;
}

const setDefaultRWConcern: Handler = async (ctx) => {
  requireSetMember(ctx, "setDefaultRWConcern");
  if (ctx.server.opts.role === "mongos") {
    routerCache = undefined;
    return fromConfig(await ctx.server.router!.config("admin", ctx.body));
  }
  const rc = ctx.body.defaultReadConcern as Document | undefined;
  const wc = ctx.body.defaultWriteConcern as Document | undefined;
  if (rc === undefined && wc === undefined) {
    throw errors.badValue(
      'At least one of the "defaultReadConcern" or "defaultWriteConcern" fields must be present',
    );
  }
  checkDefaultWriteConcern(wc);
  if (rc?.level === "snapshot" || rc?.level === "linearizable") {
    throw errors.badValue(`level: '${rc.level}' is not suitable for the default read concern`);
  }
  const current = stored(ctx.server);
  if (wc && !Object.keys(wc).length && clusterWideWriteConcern(ctx.server)) {
    throw errors.illegalOperation(
      "The global default write concern cannot be unset once it is set.",
    );
  }
  const r = ctx.server.role as unknown as { config?: Document; lastOpTime?: () => unknown };
  const next: Document = {
    _id: ID,
    ...(rc !== undefined
      ? (Object.keys(rc).length ? { defaultReadConcern: rc } : {})
      : current?.defaultReadConcern
      ? { defaultReadConcern: current.defaultReadConcern }
      : {}),
    ...(wc !== undefined
      ? (Object.keys(wc).length
        ? { defaultWriteConcern: { ...wc, wtimeout: wc.wtimeout ?? 0 } }
        : {})
      : current?.defaultWriteConcern
      ? { defaultWriteConcern: current.defaultWriteConcern }
      : {}),
    updateOpTime: r.lastOpTime?.() ?? null,
    updateWallClockTime: new Date(),
  };
  // A default this set cannot satisfy is refused (replCoord->validateWriteConcern), except on
  // config servers, whose default is for the shards.
  if (wc && Object.keys(wc).length && ctx.server.opts.clusterRole !== "configsvr") {
    satisfiable(wc, r.config);
  }
  // Written with the command's own write concern, else the default (opCtx's write concern); a
  // write concern not met is answered as MongoDB answers it: ok, with its writeConcernError.
  const written = await runWrite(
    ctx,
    (apply) => {
      apply({ op: "u", ns: `${NS.db}.${NS.coll}`, o: next, o2: { _id: ID } });
      return {};
    },
  );
  return {
    ...reply(ctx.server, r.config),
    ...(written.writeConcernError ? { writeConcernError: written.writeConcernError } : {}),
  };
};

const getDefaultRWConcern: Handler = async (ctx) => {
  requireSetMember(ctx, "getDefaultRWConcern");
  if (ctx.server.opts.role === "mongos") {
    return fromConfig(await ctx.server.router!.config("admin", ctx.body));
  }
  const r = ctx.server.role as unknown as { config?: Document };
  return { ...reply(ctx.server, r.config), ...(ctx.body.inMemory ? { inMemory: true } : {}) };
};

/**
 * Throws what MongoDB's validateWriteConcern answers for a `w` the set `config` cannot meet:
 * more data-bearing members than it has (100), a mode its settings.getLastErrorModes lacks (79).
 */
function satisfiable(wc: Document, config: Document | undefined): void {
  const members = ((config?.members ?? []) as Document[]).filter((m) => !m.arbiterOnly);
  const w = wc.w;
  if (typeof w === "number" || (typeof w === "object" && w !== null && "toNumber" in w)) {
    if (Number(w) > members.length) {
      throw new CommandError("Not enough data-bearing nodes", 100, "UnsatisfiableWriteConcern");
    }
  } else if (typeof w === "string" && w !== "majority") {
    if (!config?.settings?.getLastErrorModes?.[w]) {
      throw new CommandError(
        `No write concern mode named '${w}' found in replica set configuration`,
        79,
        "UnknownReplWriteConcern",
      );
    }
  }
}

/** The commands, registered on mongod and mongos alike. */
export const rwDefaultsCommands: Record<string, Handler> = {
  setDefaultRWConcern,
  getDefaultRWConcern,
};
