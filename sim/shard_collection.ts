/**
 * shardCollection through mongos, as MongoDB 7.0 runs it (create_collection_coordinator.cpp):
 * the namespace and options checked, the shard key's index made (unique when asked) on every
 * shard that gets chunks, the chunks laid out and config.collections written.
 * https://www.mongodb.com/docs/v7.0/reference/command/shardCollection/
 */
import { type Document, ObjectId, Timestamp, UUID } from "bson";
import { CommandError } from "./errors.ts";
import type { Mongos } from "./mongos.ts";
import { MAJ, ok } from "./chunk_ops.ts";
import { collMeta, dbPrimary } from "./mongos_routing.ts";
import { drain, onShard } from "./mongos_shard_call.ts";
import type { CommandContext, Handler } from "./server.ts";
import { initialChunks } from "./sharding.ts";
import { text } from "./update_checks.ts";
import { adminOnly, mongos } from "./mongos_admin.ts";

export const shardCollection: Handler = async (ctx) => {
  adminOnly(ctx, "shardCollection");
  const m = mongos(ctx);
  const ns = String(ctx.body.shardCollection ?? "");
  const dot = ns.indexOf(".");
  if (dot <= 0 || dot === ns.length - 1) {
    throw new CommandError(`Invalid namespace specified '${ns}'`, 73, "InvalidNamespace");
  }
  const db = ns.slice(0, dot), coll = ns.slice(dot + 1);
  checkShardable(db, coll, ctx.body);
  const key = ctx.body.key as Document | undefined;
  const vals = Object.values(key ?? {});
  if (
    !key || vals.length === 0 ||
    !vals.every((v) => v === 1 || v === "hashed") ||
    vals.filter((v) => v === "hashed").length > 1
  ) {
    throw new CommandError(
      `Unsupported shard key pattern ${JSON.stringify(key)}. Pattern must either be a single ` +
        `hashed field, or a list of ascending fields`,
      2,
      "BadValue",
    );
  }
  // create_collection_coordinator.cpp (_checkCommandArguments): a hashed key keeps no unique
  // index.
  if (ctx.body.unique && vals.includes("hashed")) {
    throw new CommandError(
      "Hashed shard keys cannot be declared unique. It's possible to ensure uniqueness on the " +
        "hashed field by declaring an additional (non-hashed) unique index on the field.",
      72,
      "InvalidOptions",
    );
  }
  // Routed writes wait: a document inserted while the chunks are laid out could land on a
  // shard that does not own it.
  return await m.locks.exclusive(ns, () => shardNew(ctx, m, ns, db, coll, key, vals));
};

/**
 * What mongod refuses to shard (tester90): a collection of admin or local (their databases are
 * never made through mongos: createDatabase), of config (only config.system.sessions, which the
 * simulator does not keep), a system collection, and a collation other than simple.
 */
function checkShardable(db: string, coll: string, body: Document): void {
  if (db === "admin" || db === "local") {
    throw new CommandError(`cannot manually create database '${db}'`, 72, "InvalidOptions");
  }
  if (db === "config") {
    throw new CommandError(
      "only special collections in the config db may be sharded",
      20,
      "IllegalOperation",
    );
  }
  if (coll.startsWith("system.")) {
    throw new CommandError("can't shard system namespaces", 20, "IllegalOperation");
  }
  const collation = body.collation as Document | undefined;
  if (
    collation !== undefined &&
    !(Object.keys(collation ?? {}).length === 1 && collation?.locale === "simple")
  ) {
    throw new CommandError(
      `The collation for shardCollection must be {locale: 'simple'}, but found: ${text(collation)}`,
      2,
      "BadValue",
    );
  }
}

/** The shard key's index as shardCollection makes it on each shard: unique when asked. */
function keyIndex(key: Document, unique: boolean): Document {
  return {
    key,
    name: Object.entries(key).map(([k, v]) => `${k}_${v}`).join("_"),
    ...(unique ? { unique: true } : {}),
  };
}

async function shardNew(
  ctx: CommandContext,
  m: Mongos,
  ns: string,
  db: string,
  coll: string,
  key: Document,
  vals: unknown[],
): Promise<Document> {
  const existing = await collMeta(m, ns);
  if (existing) {
    // The same key with the same options is done already; another unique is not (tester97).
    const unique = ctx.body.unique === true;
    if (
      JSON.stringify(existing.key) === JSON.stringify(key) &&
      unique === (existing.coll?.unique === true)
    ) return { collectionsharded: ns };
    throw new CommandError(
      `sharding already enabled for collection ${ns} with options ${JSON.stringify(existing.coll)}`,
      23,
      "AlreadyInitialized",
    );
  }
  const primary = await dbPrimary(m, db, true);
  const count = ok(await onShard(m, primary, db, { count: coll, query: {} })).n as number;
  const hashed = vals.includes("hashed");
  const idx = await onShard(m, primary, db, { listIndexes: coll });
  const indexes = idx.ok ? await drain(m, primary, db, idx) : [];
  const prefix = (k: Document) => Object.keys(key).every((f, i) => Object.keys(k)[i] === f);
  // A unique shard key needs a unique index on exactly it: one that is not unique would leave
  // the promise unkept, so it is refused, not taken.
  const same = (k: Document) => JSON.stringify(k) === JSON.stringify(key);
  if (
    ctx.body.unique && indexes.some((i) => prefix(i.key)) &&
    !indexes.some((i) => same(i.key) && i.unique)
  ) {
    throw new CommandError(
      `can't shard collection ${ns} with unique: true: its index on the shard key ${
        text(key)
      } is not unique; create a unique index on exactly the shard key first`,
      72,
      "InvalidOptions",
    );
  }
  if (!indexes.some((i) => prefix(i.key))) {
    if (count > 0) {
      throw new CommandError(
        "Please create an index that starts with the proposed shard key before sharding the collection.",
        72,
        "InvalidOptions",
      );
    }
    ok(
      await onShard(m, primary, db, {
        createIndexes: coll,
        indexes: [keyIndex(key, !!ctx.body.unique)],
      }),
    );
  }
  const shards = (await m.shards()).filter((s) => !s.draining).map((s) => String(s._id));
  const uuid = new UUID();
  const chunks = initialChunks(uuid, key, hashed && count === 0, shards, primary);
  // As MongoDB does, every shard that receives chunks gets the collection with its shard key index.
  for (const shard of new Set(chunks.map((c) => c.shard))) {
    if (shard === primary) continue;
    ok(
      await onShard(m, shard, db, {
        createIndexes: coll,
        indexes: [keyIndex(key, !!ctx.body.unique)],
      }),
    );
  }
  const now = new Timestamp({ t: Math.floor(Date.now() / 1000), i: 1 });
  await m.config("config", { insert: "chunks", documents: chunks, writeConcern: MAJ });
  await m.config("config", {
    insert: "collections",
    documents: [{
      _id: ns,
      lastmodEpoch: new ObjectId(),
      lastmod: new Date(),
      timestamp: now,
      uuid,
      key,
      unique: !!ctx.body.unique,
      noBalance: false,
    }],
    writeConcern: MAJ,
  });
  ctx.server.log.info("SHARDING", 5287000, "conn", "Sharded collection", { ns, key });
  return { collectionsharded: ns };
}
