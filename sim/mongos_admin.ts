/**
 * mongos sharding administration (MongoDB 7.0 commands on admin): enableSharding, moveChunk,
 * split, movePrimary, removeShard (draining), and the balancer's switch and status (its rounds:
 * balancer.ts; chunk moves and splits: chunk_ops.ts; shardCollection: shard_collection.ts).
 */
import { type Document, Long } from "bson";
import { CommandError, errors } from "./errors.ts";
import { text } from "./update_checks.ts";
import type { Mongos } from "./mongos.ts";
import { bounds, cfg, copyIndexes, copyTo, MAJ, migrate, ok, splitChunkAt } from "./chunk_ops.ts";
import { collMeta, dbPrimary } from "./mongos_routing.ts";
import { drain, onShard } from "./mongos_shard_call.ts";
import type { CommandContext, Handler } from "./server.ts";
import { shardCollection } from "./shard_collection.ts";
import { type Chunk, compareKeys, docKey, owningChunk, splitPoint } from "./sharding.ts";

export function mongos(ctx: CommandContext): Mongos {
  return ctx.server.router as Mongos;
}

export function adminOnly(ctx: CommandContext, name: string): void {
  if (ctx.db !== "admin") {
    throw errors.unauthorized(`${name} may only be run against the admin database.`);
  }
}

const enableSharding: Handler = async (ctx) => {
  adminOnly(ctx, "enableSharding");
  const db = String(ctx.body.enableSharding ?? "");
  if (!db || db === "admin" || db === "local" || db.includes(".")) {
    throw new CommandError(`Invalid db name specified: ${db}`, 73, "InvalidNamespace");
  }
  const m = mongos(ctx);
  const want = ctx.body.primaryShard as string | undefined;
  // A primary shard that does not exist: refused before the database is made (tester90).
  if (want !== undefined && !(await m.shards()).some((s) => s._id === want)) {
    throw new CommandError(`Shard ${want} not found`, 70, "ShardNotFound");
  }
  const primary = await dbPrimary(m, db, true);
  if (want && want !== primary) {
    throw new CommandError(
      `Database ${db} already exists with primary shard ${primary}`,
      117,
      "ConflictingOperationInProgress",
    );
  }
  return {};
};

const moveChunk: Handler = async (ctx) => {
  adminOnly(ctx, "moveChunk");
  const m = mongos(ctx);
  const ns = String(ctx.body.moveChunk ?? "");
  const to = String(ctx.body.to ?? "");
  const meta = await collMeta(m, ns);
  if (!meta) {
    throw new CommandError(`Collection ${ns} is not sharded.`, 118, "NamespaceNotSharded");
  }
  if (!(await m.shards()).some((s) => s._id === to)) {
    throw new CommandError(`Shard ${to} not found`, 70, "ShardNotFound");
  }
  let chunk: Chunk | undefined;
  if (ctx.body.find) {
    chunk = owningChunk(meta, docKey(ctx.body.find, meta.key));
  } else if (Array.isArray(ctx.body.bounds)) {
    const [lo] = bounds(meta, { min: ctx.body.bounds[0], max: ctx.body.bounds[1] } as Chunk);
    chunk = meta.chunks.find((c) => compareKeys(bounds(meta, c)[0], lo) === 0);
  }
  if (!chunk) throw errors.operationFailed("no chunk found for the given bounds");
  const start = Date.now();
  await migrate(m, ns, chunk._id, to);
  return { millis: Date.now() - start };
};

/**
 * split: `{split: ns, middle: {<key>: v}}` splits the chunk holding `middle` there (values in the
 * chunk space: a hashed field takes the hash); `{split: ns, find: doc}` splits the chunk holding
 * `doc` at the median key of its documents.
 */
const split: Handler = async (ctx) => {
  adminOnly(ctx, "split");
  const m = mongos(ctx);
  const ns = String(ctx.body.split ?? "");
  await m.locks.exclusive(ns, async () => {
    const meta = await collMeta(m, ns);
    if (!meta) {
      throw new CommandError(`Collection ${ns} is not sharded.`, 118, "NamespaceNotSharded");
    }
    const fields = Object.keys(meta.key);
    let mid: unknown[] | undefined;
    let chunk: Chunk;
    if (ctx.body.middle) {
      // A split point names every shard key field, and only those (tester90: {zz: 1} made
      // empty chunk bounds).
      const given = Object.keys(ctx.body.middle);
      if (given.length !== fields.length || !fields.every((f) => given.includes(f))) {
        throw new CommandError(
          `new split key ${text(ctx.body.middle)} is not valid for shard key ${text(meta.key)}`,
          72,
          "InvalidOptions",
        );
      }
      mid = fields.map((f) => ctx.body.middle[f]);
      chunk = owningChunk(meta, mid);
    } else if (ctx.body.find) {
      chunk = owningChunk(meta, docKey(ctx.body.find, meta.key));
      const [lo, hi] = bounds(meta, chunk);
      const db = ns.slice(0, ns.indexOf(".")), coll = ns.slice(ns.indexOf(".") + 1);
      const docs = await drain(
        m,
        chunk.shard,
        db,
        await onShard(m, chunk.shard, db, { find: coll, filter: {}, batchSize: 1_000_000 }),
      );
      mid = splitPoint(
        docs.map((d) => docKey(d, meta.key)).filter((k) =>
          compareKeys(lo, k) <= 0 && compareKeys(k, hi) < 0
        ),
      );
    } else {
      throw new CommandError("need to specify the split point: middle or find", 2, "BadValue");
    }
    const [lo, hi] = bounds(meta, chunk);
    if (!mid || compareKeys(lo, mid) >= 0 || compareKeys(mid, hi) >= 0) {
      throw new CommandError(
        `cannot split chunk ${JSON.stringify(chunk.min)} -->> ${JSON.stringify(chunk.max)} at ${
          JSON.stringify(mid)
        }: not strictly inside it`,
        2,
        "BadValue",
      );
    }
    await splitChunkAt(m, meta, chunk, mid);
  });
  return {};
};

async function setBalancer(ctx: CommandContext, stopped: boolean): Promise<Document> {
  adminOnly(ctx, stopped ? "balancerStop" : "balancerStart");
  await mongos(ctx).config("config", {
    update: "settings",
    updates: [{
      q: { _id: "balancer" },
      u: { $set: { stopped, mode: stopped ? "off" : "full" } },
      upsert: true,
    }],
    writeConcern: MAJ,
  });
  if (!stopped) mongos(ctx).kickBalancer();
  return {};
}

const balancerStatus: Handler = async (ctx) => {
  adminOnly(ctx, "balancerStatus");
  const m = mongos(ctx);
  const [doc] = await cfg(m, "settings", { _id: "balancer" });
  return {
    mode: doc?.stopped || doc?.mode === "off" ? "off" : "full",
    inBalancerRound: m.inBalancerRound,
    numBalancerRounds: m.balancerRounds,
  };
};

const movePrimary: Handler = async (ctx) => {
  adminOnly(ctx, "movePrimary");
  const m = mongos(ctx);
  const db = String(ctx.body.movePrimary ?? "");
  const to = String(ctx.body.to ?? "");
  if (db === "admin" || db === "config" || db === "local") {
    throw new CommandError(`Can't move primary for ${db} database`, 72, "InvalidOptions");
  }
  const [d] = await cfg(m, "databases", { _id: db });
  if (!d) throw new CommandError(`Database ${db} not found`, 26, "NamespaceNotFound");
  if (!(await m.shards()).some((s) => s._id === to)) {
    throw new CommandError(`Shard ${to} not found`, 70, "ShardNotFound");
  }
  if (d.primary === to) {
    return {};
  }
  const from = String(d.primary);
  const version = (Number(d.version?.lastMod) || 1) + 1;
  // Other mongos route without this one's lock: the donor refuses their writes to the
  // database's unsharded collections from before the copy until the new primary is recorded,
  // then everything routed by the old version (StaleDbVersion, sim/shard_version.ts), so no
  // write lands on a collection about to be dropped (tester48: three acknowledged writes lost).
  const fence = (enter: boolean, v?: number) =>
    onShard(m, from, db, {
      _shardsvrMovePrimaryFence: db,
      enter,
      ...(v !== undefined ? { version: v } : {}),
    }).then(ok);
  const sharded = new Set(
    (await cfg(m, "collections", {})).map((c) => String(c._id)),
  );
  const lc = await onShard(m, from, db, { listCollections: 1, nameOnly: true });
  const colls = (lc.ok ? await drain(m, from, db, lc) : [])
    .map((c) => String(c.name))
    .filter((c) => !sharded.has(`${db}.${c}`) && !c.startsWith("system."));
  // Routed operations on these collections wait until the new primary is recorded: a write in
  // between would land on the old primary and be dropped with it.
  await m.locks.exclusiveAll(colls.map((c) => `${db}.${c}`), async () => {
    await fence(true);
    try {
      for (const coll of colls) {
        const docs = await drain(
          m,
          from,
          db,
          await onShard(m, from, db, { find: coll, filter: {}, batchSize: 1_000_000 }),
        );
        await onShard(m, to, db, { create: coll }); // 48 NamespaceExists is fine
        await copyIndexes(m, from, to, db, coll);
        await copyTo(m, to, db, coll, docs);
      }
      await m.config("config", {
        update: "databases",
        updates: [{ q: { _id: db }, u: { $set: { primary: to, "version.lastMod": version } } }],
        writeConcern: MAJ,
      });
    } catch (e) {
      await fence(false).catch(() => {});
      throw e;
    }
    await fence(false, version);
    for (const coll of colls) await onShard(m, from, db, { drop: coll, writeConcern: MAJ });
  });
  return {};
};

const removeShard: Handler = async (ctx) => {
  adminOnly(ctx, "removeShard");
  const m = mongos(ctx);
  const name = String(ctx.body.removeShard ?? "");
  const shards = await m.shards();
  const shard = shards.find((s) => s._id === name || s.host === name);
  if (!shard) throw new CommandError(`Shard ${name} not found`, 70, "ShardNotFound");
  const id = String(shard._id);
  // Every answer but the last names the databases this shard is primary for, which must be
  // moved (or dropped) before it can go (sharding_catalog_manager_shard_operations.cpp).
  const dbs = (await cfg(m, "databases", { primary: id })).map((d) => String(d._id))
    .filter((d) => d !== "local");
  const dbInfo = { note: "you need to drop or movePrimary these databases", dbsToMove: dbs };
  if (!shard.draining) {
    if (shards.filter((s) => !s.draining).length <= 1) {
      throw new CommandError(
        "Operation not allowed because it would remove the last shard",
        20,
        "IllegalOperation",
      );
    }
    await m.config("config", {
      update: "shards",
      updates: [{ q: { _id: id }, u: { $set: { draining: true } } }],
      writeConcern: MAJ,
    });
    m.kickBalancer();
    return { msg: "draining started successfully", state: "started", shard: id, ...dbInfo };
  }
  const chunks = (await cfg(m, "chunks", { shard: id })).length;
  if (chunks > 0 || dbs.length > 0) {
    m.kickBalancer();
    return {
      msg: "draining ongoing",
      state: "ongoing",
      remaining: {
        chunks: Long.fromNumber(chunks),
        dbs: Long.fromNumber(dbs.length),
        jumboChunks: Long.fromNumber(0),
      },
      ...dbInfo,
    };
  }
  await m.config("config", {
    delete: "shards",
    deletes: [{ q: { _id: id }, limit: 1 }],
    writeConcern: MAJ,
  });
  return { msg: "removeshard completed successfully", state: "completed", shard: id };
};

export const adminShardingCommands: Record<string, Handler> = {
  enableSharding,
  shardCollection,
  moveChunk,
  split,
  movePrimary,
  removeShard,
  balancerStart: (ctx) => setBalancer(ctx, false),
  balancerStop: (ctx) => setBalancer(ctx, true),
  balancerStatus,
};
