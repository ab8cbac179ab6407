/**
 * mongos routing: databases live on their primary shard (config.databases), documents of a
 * sharded collection on the shard owning their chunk (config.chunks); reads and writes go to the
 * shards that can hold the result, and scatter reads are merged (sort, skip, limit) on mongos.
 */
import { startsWithCollStats } from "./coll_stats.ts";
import { mongosCollStats } from "./mongos_stats.ts";
import { shardedFindAndModify, shardedInsert, shardedModify } from "./mongos_writes.ts";
import { type Document, Timestamp, UUID } from "bson";
import { CommandError } from "./errors.ts";
import { checkSnapshotCommand } from "./read_snapshot.ts";
import { checkShardedRead, gather, keepShardKeyIndex, readOptions } from "./mongos_gather.ts";
import type { Mongos } from "./mongos.ts";
import { findDocs, runPipeline } from "./query.ts";
import type { CommandContext, Handler } from "./server.ts";
import { type Chunk, type CollMeta, compareKeys, compareValues } from "./sharding.ts";
import { keyText } from "./commands/write_checks.ts";
import { check, drain, onShard, pause, READS } from "./mongos_shard_call.ts";

async function cfgFind(m: Mongos, coll: string, filter: Document, sort?: Document) {
  const r = await m.config("config", { find: coll, filter, sort, batchSize: 1_000_000 });
  return (r.cursor?.firstBatch ?? []) as Document[];
}

/** The sharding metadata of `ns`, or undefined for an unsharded collection. */
export async function collMeta(m: Mongos, ns: string): Promise<CollMeta | undefined> {
  const [coll] = await cfgFind(m, "collections", { _id: ns });
  if (!coll) return undefined;
  const chunks = await cfgFind(m, "chunks", { uuid: coll.uuid }, { min: 1 }) as Chunk[];
  const f = Object.keys(coll.key);
  chunks.sort((a, b) => compareKeys(f.map((x) => a.min[x]), f.map((x) => b.min[x])));
  return { coll, key: coll.key, hashed: Object.values(coll.key).includes("hashed"), chunks };
}

/**
 * The primary shard of `db` (config.databases). `create` records a new database on the shard
 * holding fewest databases, as mongos creates databases implicitly on their first write.
 */
export async function dbPrimary(m: Mongos, db: string, create: boolean): Promise<string> {
  return (await dbRoute(m, db, create)).primary;
}

/**
 * dbPrimary with the database's version (config.databases `version.lastMod`), which a command
 * routed to the primary carries (`databaseVersion`): a shard the database has moved off refuses
 * it (StaleDbVersion, sim/shard_version.ts). No version for a database not recorded yet.
 */
export async function dbRoute(
  m: Mongos,
  db: string,
  create: boolean,
): Promise<{ primary: string; version?: number }> {
  const [d] = await cfgFind(m, "databases", { _id: db });
  if (d) {
    const v = Number(d.version?.lastMod);
    return { primary: String(d.primary), ...(Number.isFinite(v) ? { version: v } : {}) };
  }
  const shards = await m.shards();
  const live = shards.filter((s) => !s.draining);
  if (live.length === 0) {
    throw new CommandError(
      "Database has no primary shard: no shards have been added to the cluster",
      70,
      "ShardNotFound",
    );
  }
  if (!create) return { primary: String(live[0]._id) };
  const dbs = await cfgFind(m, "databases", {});
  const count = (s: string) => dbs.filter((x) => x.primary === s).length;
  const pick = live.reduce((a, b) => count(String(b._id)) < count(String(a._id)) ? b : a);
  // insert, not upsert: of two mongos creating the database at once, the first one wins (11000).
  await m.config("config", {
    insert: "databases",
    documents: [{
      _id: db,
      primary: pick._id,
      version: {
        uuid: new UUID(),
        timestamp: new Timestamp({ t: Math.floor(Date.now() / 1000), i: 1 }),
        lastMod: 1,
      },
    }],
    writeConcern: { w: "majority" },
  });
  return await dbRoute(m, db, false);
}

function mongos(ctx: CommandContext): Mongos {
  return ctx.server.router as Mongos;
}

function strip(body: Document): Document {
  const { $db: _d, $clusterTime: _c, $readPreference: _r, ...cmd } = body;
  return cmd;
}

const WRITES = new Set(["insert", "update", "create", "createIndexes"]);

/** Commands on one collection: routed by its sharding metadata. */
export const routed: Handler = async (ctx) => {
  const m = mongos(ctx);
  const cmd = strip(ctx.body);
  const name = Object.keys(cmd)[0];
  const coll = typeof cmd[name] === "string" ? cmd[name] as string : "";
  const ns = `${ctx.db}.${coll}`;
  return await m.locks.shared(ns, async () => {
    // A shard refusing a read as routed by an old table (StaleConfig): reload it and read again.
    for (const end = Date.now() + 15_000;;) {
      try {
        return await routeOnce(ctx, m, name, coll, cmd, ns);
      } catch (e) {
        // A database that moved (StaleDbVersion): refused before anything was done, reads and
        // writes alike; sent again to the primary the config servers record now.
        const again = (isStale(e) && READS.has(name)) || isStaleDb(e);
        if (!again || Date.now() > end) throw e;
        await pause();
      }
    }
  });
};

/** StaleConfig (13388): the shard refused the command before running it. */
const isStale = (e: unknown) => e instanceof CommandError && e.code === 13388;
/** StaleDbVersion (249): the shard refused the command before running it. */
const isStaleDb = (e: unknown) => e instanceof CommandError && e.code === 249;

async function routeOnce(
  ctx: CommandContext,
  m: Mongos,
  name: string,
  coll: string,
  cmd: Document,
  ns: string,
): Promise<Document> {
  const meta = coll ? await collMeta(m, ns) : undefined;
  if (name === "aggregate" && coll && startsWithCollStats(cmd.pipeline)) {
    const docs = await mongosCollStats(m, ctx.db, coll, meta, cmd.pipeline);
    return ctx.server.newCursor(ns, docs, Number(cmd.cursor?.batchSize ?? 101) || docs.length);
  }
  if (!meta) {
    const { primary, version } = await dbRoute(m, ctx.db, WRITES.has(name));
    if (name === "aggregate" && coll) {
      const { foreign, sharded } = await foreignDocs(m, ctx.db, cmd.pipeline ?? []);
      if (sharded) {
        const base = await drain(
          m,
          primary,
          ctx.db,
          await onShard(m, primary, ctx.db, { find: coll, batchSize: 1_000_000 }),
        );
        const docs = runPipeline(base, cmd.pipeline ?? [], (c) => foreign.get(c) ?? []);
        return ctx.server.newCursor(
          ns,
          docs,
          Number(cmd.cursor?.batchSize ?? 101) || docs.length,
        );
      }
    }
    const r = await onShard(m, primary, ctx.db, {
      ...cmd,
      ...(version !== undefined ? { databaseVersion: { lastMod: version } } : {}),
    });
    if (!r.ok && Number(r.code) === 249) {
      throw new CommandError(String(r.errmsg), 249, "StaleDbVersion");
    }
    if ((name === "find" || name === "aggregate") && r.ok && r.cursor) {
      // The cursor lives on mongos, so getMore finds it whichever shard answered.
      const docs = await drain(m, primary, ctx.db, r);
      const batch = cmd.cursor?.batchSize ?? cmd.batchSize ?? 101;
      const reply = ctx.server.newCursor(r.cursor.ns, docs, cmd.singleBatch ? docs.length : batch);
      if (r.cursor.atClusterTime) reply.cursor.atClusterTime = r.cursor.atClusterTime;
      return reply;
    }
    return r;
  }
  return await shardedOp(ctx, m, name, coll, cmd, meta);
}

/** `{ u: 1 }`, `{ k: "hashed" }`: a key pattern as the server prints one. */
const patternText = (key: Document) => keyText(Object.keys(key), Object.values(key));

/**
 * A unique index on a sharded collection must have the shard key's fields as its prefix (or be
 * on `_id` alone): each shard enforces it only among its own documents. Refused as mongod does
 * (create_indexes.cpp, InvalidOptions 72); https://www.mongodb.com/docs/manual/core/sharding-shard-key/#unique-indexes
 */
function refuseUniqueOffShardKey(cmd: Document, shardKey: Document): void {
  const shardFields = Object.keys(shardKey);
  for (const ix of (cmd.indexes ?? []) as Document[]) {
    if (ix?.unique !== true) continue;
    const fields = Object.keys(ix.key ?? {});
    const onId = fields.length === 1 && fields[0] === "_id";
    if (onId || shardFields.every((f, i) => fields[i] === f)) continue;
    throw new CommandError(
      `cannot create unique index over ${patternText(ix.key)} with shard key pattern ` +
        patternText(shardKey),
      72,
      "InvalidOptions",
    );
  }
}

async function shardedOp(
  ctx: CommandContext,
  m: Mongos,
  name: string,
  coll: string,
  cmd: Document,
  meta: CollMeta,
): Promise<Document> {
  const db = ctx.db;
  const ns = `${db}.${coll}`;
  checkShardedRead(name, cmd);
  switch (name) {
    case "find": {
      const partial = cmd.allowPartialResults === true ? { returned: false } : undefined;
      const snapshot: { at?: Timestamp } = {};
      const docs = findDocs(
        await gather(m, db, coll, meta, cmd.filter, {
          partial,
          ...readOptions(cmd),
          snapshot,
        }),
        {
          filter: {},
          sort: cmd.sort,
          projection: cmd.projection,
          skip: Number(cmd.skip ?? 0),
          limit: Number(cmd.limit ?? 0),
          let: cmd.let,
        },
      );
      const batch = cmd.singleBatch ? docs.length : Number(cmd.batchSize ?? 101);
      const reply = ctx.server.newCursor(ns, docs, batch);
      if (partial?.returned) reply.cursor.partialResultsReturned = true;
      if (snapshot.at) reply.cursor.atClusterTime = snapshot.at;
      return reply;
    }
    case "count": {
      checkSnapshotCommand("count", cmd.readConcern);
      const docs = findDocs(await gather(m, db, coll, meta, cmd.query, readOptions(cmd)), {
        filter: {},
        skip: Number(cmd.skip ?? 0),
        limit: Number(cmd.limit ?? 0),
      });
      return { n: docs.length };
    }
    case "aggregate": {
      const first = (cmd.pipeline ?? [])[0];
      const { foreign } = await foreignDocs(m, db, cmd.pipeline ?? []);
      const snapshot: { at?: Timestamp } = {};
      const docs = runPipeline(
        await gather(m, db, coll, meta, first?.$match, { ...readOptions(cmd), snapshot }),
        cmd.pipeline ?? [],
        (c) => foreign.get(c) ?? [],
        cmd.let,
      );
      const reply = ctx.server.newCursor(
        ns,
        docs,
        Number(cmd.cursor?.batchSize ?? 101) || docs.length,
      );
      if (snapshot.at) reply.cursor.atClusterTime = snapshot.at;
      return reply;
    }
    case "distinct": {
      const key = String(cmd.key ?? "");
      const values: unknown[] = [];
      for (const d of await gather(m, db, coll, meta, cmd.query, readOptions(cmd))) {
        let v: unknown = d;
        for (const part of key.split(".")) v = (v as Document | undefined)?.[part];
        for (const x of Array.isArray(v) ? v : [v]) {
          if (x !== undefined && !values.some((y) => compareValues(x, y) === 0)) values.push(x);
        }
      }
      return { values: values.sort(compareValues) };
    }
    case "findAndModify":
      return await shardedFindAndModify(m, db, cmd, meta);
    case "insert":
      return await shardedInsert(m, db, cmd, meta);
    case "update":
    case "delete":
      return await shardedModify(m, db, cmd, meta, name);
    case "drop": {
      for (const s of new Set(meta.chunks.map((c) => c.shard))) {
        await onShard(m, s, db, { drop: coll });
      }
      const primary = await dbPrimary(m, db, false);
      await onShard(m, primary, db, { drop: coll });
      await m.config("config", {
        delete: "chunks",
        deletes: [{ q: { uuid: meta.coll.uuid }, limit: 0 }],
      });
      await m.config("config", {
        delete: "collections",
        deletes: [{ q: { _id: ns }, limit: 0 }],
        writeConcern: { w: "majority" },
      });
      return { ns, nIndexesWas: 1 };
    }
    default: {
      if (name === "createIndexes") refuseUniqueOffShardKey(cmd, meta.key);
      const shards = [...new Set(meta.chunks.map((c) => c.shard))];
      const sent = name === "dropIndexes"
        ? await keepShardKeyIndex(m, shards[0], db, coll, cmd, meta.key)
        : { send: cmd };
      if ("reply" in sent) return sent.reply;
      // createIndexes and the like: every shard owning chunks.
      let last: Document = { ok: 1 };
      for (const s of shards) last = check(await onShard(m, s, db, sent.send));
      return last;
    }
  }
}

/**
 * Collections that a pipeline's stages read ($lookup, $graphLookup, $unionWith), fetched from
 * wherever they live; `sharded` says whether one of them is sharded (then a pipeline must run on
 * mongos, since no single shard holds all of it).
 */
async function foreignDocs(
  m: Mongos,
  db: string,
  pipeline: Document[],
): Promise<{ foreign: Map<string, Document[]>; sharded: boolean }> {
  const foreign = new Map<string, Document[]>();
  let sharded = false;
  for (const st of pipeline) {
    const from = st?.$lookup?.from ?? st?.$graphLookup?.from ??
      (typeof st?.$unionWith === "string" ? st.$unionWith : st?.$unionWith?.coll);
    if (typeof from !== "string" || foreign.has(from)) continue;
    const fm = await collMeta(m, `${db}.${from}`);
    if (fm) {
      sharded = true;
      foreign.set(from, await gather(m, db, from, fm, {}));
    } else {
      const p = await dbPrimary(m, db, false);
      foreign.set(
        from,
        await drain(m, p, db, await onShard(m, p, db, { find: from, batchSize: 1_000_000 })),
      );
    }
  }
  return { foreign, sharded };
}
