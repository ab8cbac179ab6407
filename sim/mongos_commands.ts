/**
 * The commands a mongos answers: addShard and listShards, the sharding administration
 * (mongos_admin.ts), and CRUD, which goes to the config servers (the config database) or is
 * routed to the shards (mongos_routing.ts).
 */
import { mongosDbStats, shardedDataDistribution } from "./mongos_stats.ts";
import { type Document, Long, Timestamp } from "bson";
import { CommandError, errors } from "./errors.ts";
import { readCommands } from "./commands/read.ts";
import { adminShardingCommands } from "./mongos_admin.ts";
import type { Mongos } from "./mongos.ts";
import { routed } from "./mongos_routing.ts";
import { majorMinor } from "./fcv.ts";
import { implicitDefaultIsMajority, withRouterDefault } from "./rw_defaults.ts";
import type { CommandContext, Handler } from "./server.ts";

function mongos(ctx: CommandContext): Mongos {
  return ctx.server.router as Mongos;
}

const addShard: Handler = async (ctx) => {
  if (ctx.db !== "admin") {
    throw errors.unauthorized("addShard may only be run against the admin database.");
  }
  const m = mongos(ctx);
  const spec = String(ctx.body.addShard ?? "");
  const match = /^([^/]+)\/(.+)$/.exec(spec);
  if (!match) {
    throw errors.operationFailed(
      `Cannot add ${spec} as a shard: a shard must be a replica set; use <setName>/<host:port>[,...]`,
    );
  }
  const [, setName, seedList] = match;
  const seeds = seedList.split(",");
  let hello: Document | undefined;
  let reason = "";
  for (const h of seeds) {
    try {
      hello = await ctx.server.peers.run(h, "admin", { hello: 1 }, 3000);
      if (hello.setName !== setName) {
        throw errors.operationFailed(
          `in seed list ${spec}, host ${h} does not belong to replica set ${setName}; found { hosts: ${
            JSON.stringify(hello.hosts ?? [])
          }, setName: "${hello.setName ?? ""}" }`,
        );
      }
      break;
    } catch (e) {
      if (e instanceof CommandError) throw e;
      reason = (e as Error).message;
      hello = undefined;
    }
  }
  if (!hello) {
    throw new CommandError(
      `Connection refused: could not reach any host of ${spec} :: caused by :: ${reason}`,
      6,
      "HostUnreachable",
    );
  }
  // Like mongos's replica-set monitor: wait a while for the set to have a known primary.
  let primary: string | undefined = hello.isWritablePrimary
    ? seeds.find((s) => s.toLowerCase() === hello!.me) ?? hello.me
    : hello.primary;
  for (const end = Date.now() + 15_000; !primary && Date.now() < end;) {
    await new Promise((r) => setTimeout(r, 100));
    primary = await m.findPrimary(setName, [
      ...new Set([...seeds, ...((hello.hosts ?? []) as string[])]),
    ]);
  }
  if (!primary) {
    throw new CommandError(
      `Could not find host matching read preference { mode: "primary" } for set ${setName}`,
      133,
      "FailedToSatisfyReadPreference",
    );
  }
  const opts = await ctx.server.peers.run(primary, "admin", { getCmdLineOpts: 1 }, 3000);
  if (opts.parsed?.sharding?.clusterRole !== "shardsvr") {
    throw errors.operationFailed(
      `Cannot add ${spec} as a shard since it was not started with --shardsvr`,
    );
  }
  const name = String(ctx.body.name ?? setName);
  // The set's connection string as mongos's replica-set monitor knows it: electable and
  // priority-0 (passive) members alike.
  const members = [...(hello.hosts ?? []), ...(hello.passives ?? [])] as string[];
  const host = `${setName}/${members.join(",")}`;
  for (const s of await m.shards()) {
    const sameSet = String(s.host).split("/")[0] === setName;
    if (s._id === name && sameSet) return { shardAdded: name };
    if (s._id === name) throw errors.operationFailed(`A shard named ${name} already exists`);
    if (sameSet) {
      throw errors.operationFailed(
        `'${spec}' is already a member of the existing shard '${s.host}' (${s._id}).`,
      );
    }
  }
  // MongoDB 5.1+ (_validateHostAsShard): a shard whose implicit default write concern is
  // {w: 1} (its arbiters) joins only a cluster with a cluster-wide default write concern.
  if (Number(majorMinor(ctx.server.opts.version)) >= 5.1) {
    const shardConfig =
      (await ctx.server.peers.run(primary, "admin", { replSetGetConfig: 1 }, 5000))
        .config;
    const cwwc = await m.config("admin", { getDefaultRWConcern: 1 });
    if (!implicitDefaultIsMajority(shardConfig) && cwwc.defaultWriteConcernSource !== "global") {
      throw errors.operationFailed(
        `Cannot add ${spec} as a shard since the implicit default write concern on this shard ` +
          "is set to {w : 1}, because number of arbiters in the shard's configuration caused " +
          "the number of writable voting members not to be strictly more than the voting " +
          "majority. Change the shard configuration or set the cluster-wide write concern " +
          "using the setDefaultRWConcern command and try again.",
      );
    }
  }
  // As the config server's addShard does (MongoDB: _configsvrAddShard): the new shard is set
  // to the cluster's feature compatibility version before it is added; a binary that cannot
  // run at that version is refused.
  const fcv = (await m.config("admin", { getParameter: 1, featureCompatibilityVersion: 1 }))
    .featureCompatibilityVersion?.version as string | undefined;
  if (fcv) {
    try {
      await ctx.server.peers.run(primary, "admin", {
        setFeatureCompatibilityVersion: fcv,
        confirm: true,
      }, 30_000);
    } catch (e) {
      throw new CommandError(
        `Cannot add ${spec} as a shard since its binary version is not compatible with the ` +
          `cluster's featureCompatibilityVersion ${fcv} :: caused by :: ${(e as Error).message}`,
        166,
        "IncompatibleServerVersion",
      );
    }
  }
  // As the config server's _addShard does: the shard learns it is one, and where its config
  // servers are (admin.system.version's shardIdentity), before the registry lists it.
  const [version] = (await m.config("config", { find: "version", filter: {} })).cursor
    ?.firstBatch ?? [];
  await ctx.server.peers.run(primary, "admin", {
    update: "system.version",
    updates: [{
      q: { _id: "shardIdentity" },
      u: {
        _id: "shardIdentity",
        shardName: name,
        clusterId: version?.clusterId,
        configsvrConnectionString: ctx.server.opts.configdb,
      },
      upsert: true,
    }],
    writeConcern: { w: "majority", wtimeout: 30_000 },
  }, 35_000);
  await m.config("config", {
    insert: "shards",
    documents: [{ _id: name, host, state: 1, topologyTime: await nextTopologyTime(m) }],
    writeConcern: { w: "majority" },
  });
  ctx.server.log.info("SHARDING", 21920, "conn", "Added shard", { name, host });
  return { shardAdded: name };
};

const listShards: Handler = async (ctx) => {
  if (ctx.db !== "admin") {
    throw errors.unauthorized("listShards may only be run against the admin database.");
  }
  // The server's replica set monitors keep each shard's connection string current as its set
  // changes; the simulator compares them when asked (each shard's primary, at most once a second).
  const m = mongos(ctx);
  const before = await m.shards();
  // A shard that does not answer is not waited for: listShards answers from config.shards.
  await Promise.race([
    Promise.all(before.map((s) => m.shardPrimary(s).catch(() => undefined))),
    new Promise((r) => setTimeout(r, 500)),
  ]);
  return { shards: await m.shards() };
};

/**
 * The namespace a cursor-returning command reads, as the server reports it in `cursor.ns`:
 * `db.coll` for find/aggregate on a collection, `db.$cmd.<command>` otherwise.
 */
function cursorNs(db: string, body: Document): string {
  const name = Object.keys(body)[0];
  const target = body[name];
  return typeof target === "string" && name !== "listCollections"
    ? `${db}.${target}`
    : `${db}.$cmd.${name}`;
}

/**
 * The `config` database lives on the config servers, as with a real mongos; CRUD on other
 * databases is routed to the database's primary shard or the shards owning the chunks.
 */
const forward: Handler = async (ctx) => {
  // lsid and txnNumber go along, as from a real mongos: retryable writes stay retryable.
  const { $db: _db, $clusterTime: _c, $readPreference: _r, ...cmd } = ctx.body;
  const name = Object.keys(ctx.body)[0];
  // The cluster's users are the config servers' admin.system.users, as mongos's own are.
  const usersColl = ctx.db === "admin" &&
    (name === "getMore" ? ctx.body.collection : ctx.body[name]) === "system.users";
  if (ctx.db === "config" || usersColl) return await mongos(ctx).config(ctx.db, cmd);
  const shards = await mongos(ctx).shards();
  if (shards.length === 0) {
    // No shard holds any database yet: reads see nothing, writes have nowhere to go.
    if (name === "listDatabases") return { databases: [], totalSize: 0, totalSizeMb: 0 };
    if (name === "count") return { n: 0 };
    if (["find", "aggregate", "listCollections"].includes(name)) {
      return { cursor: { firstBatch: [], id: Long.ZERO, ns: cursorNs(ctx.db, ctx.body) } };
    }
    throw new CommandError(
      "Database has no primary shard: no shards have been added to the cluster",
      70,
      "ShardNotFound",
    );
  }
  if (name === "listDatabases") return await listDatabases(mongos(ctx), shards, cmd);
  if (name === "dbStats") return await mongosDbStats(mongos(ctx), ctx.db, cmd);
  if (name === "aggregate" && cmd.pipeline?.[0]?.$shardedDataDistribution !== undefined) {
    const docs = await shardedDataDistribution(mongos(ctx), ctx.db, cmd);
    return ctx.server.newCursor(`${ctx.db}.$cmd.aggregate`, docs, docs.length || 1);
  }
  if (name === "dropDatabase") return await dropDatabase(mongos(ctx), ctx.db, shards);
  if (name === "insert" || name === "update" || name === "delete" || name === "findAndModify") {
    return await routed({ ...ctx, body: await withRouterDefault(ctx.server, ctx.body) });
  }
  return await routed(ctx);
};

/** Databases of every shard, sizes summed per name. */
async function listDatabases(m: Mongos, shards: Document[], cmd: Document): Promise<Document> {
  const by = new Map<string, Document>();
  for (const s of shards) {
    const r = await m.server.peers.get(await m.shardPrimary(s)).command("admin", cmd, 30_000);
    for (const d of (r.databases ?? []) as Document[]) {
      const prev = by.get(d.name);
      by.set(d.name, prev ? { ...prev, sizeOnDisk: prev.sizeOnDisk + d.sizeOnDisk } : { ...d });
    }
  }
  const databases = [...by.values()];
  const totalSize = databases.reduce((a, d) => a + Number(d.sizeOnDisk ?? 0), 0);
  return cmd.nameOnly
    ? { databases: databases.map((d) => ({ name: d.name })) }
    : { databases, totalSize, totalSizeMb: Math.floor(totalSize / 1048576) };
}

/** Drops the database on every shard, then its sharding metadata. */
async function dropDatabase(m: Mongos, db: string, shards: Document[]): Promise<Document> {
  for (const s of shards) {
    await m.server.peers.run(await m.shardPrimary(s), db, { dropDatabase: 1 }, 30_000);
  }
  const colls = await m.config("config", {
    find: "collections",
    filter: { _id: { $regex: `^${db.replace(/[^A-Za-z0-9_]/g, "\\$&")}\\.` } },
  });
  for (const c of (colls.cursor?.firstBatch ?? []) as Document[]) {
    await m.config("config", { delete: "chunks", deletes: [{ q: { uuid: c.uuid }, limit: 0 }] });
  }
  await m.config("config", {
    delete: "collections",
    deletes: [{
      q: { _id: { $in: colls.cursor.firstBatch.map((c: Document) => c._id) } },
      limit: 0,
    }],
  });
  await m.config("config", {
    delete: "databases",
    deletes: [{ q: { _id: db }, limit: 1 }],
    writeConcern: { w: "majority" },
  });
  return { dropped: db };
}

export const mongosCommands: Record<string, Handler> = {
  addShard,
  listShards,
  ...adminShardingCommands,
  // Cursors of routed reads live on mongos (results merged here), so getMore is answered here.
  getMore: readCommands.getMore,
  killCursors: readCommands.killCursors,
  ...Object.fromEntries(
    [
      "insert",
      "find",
      "findAndModify",
      "distinct",
      "createIndexes",
      "listIndexes",
      "dropIndexes",
      "count",
      "delete",
      "update",
      "drop",
      "create",
      "dropDatabase",
      "listDatabases",
      "listCollections",
      "aggregate",
      "dbStats",
    ].map((c) => [c, forward]),
  ),
};

/**
 * A new shard's topologyTime: the config server's time of the change, later than every other
 * shard's (each addShard has its own, as MongoDB's does; two in one second had one).
 */
async function nextTopologyTime(m: Mongos): Promise<Timestamp> {
  const now = new Timestamp({ t: Math.floor(Date.now() / 1000), i: 1 });
  const latest = (await m.shards()).map((s) => s.topologyTime).filter((t): t is Timestamp =>
    t instanceof Timestamp
  ).reduce<Timestamp | undefined>((a, t) => !a || t.greaterThan(a) ? t : a, undefined);
  return latest && !now.greaterThan(latest)
    ? new Timestamp({ t: latest.high, i: latest.low + 1 })
    : now;
}
