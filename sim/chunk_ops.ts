/**
 * Changes to chunks that several commands share: moving a chunk to another shard (moveChunk, the
 * balancer, draining) and splitting one at a key (split, the balancer before it moves a range).
 */
import { type Document, ObjectId, Timestamp } from "bson";
import { CommandError, errors } from "./errors.ts";
import type { Mongos } from "./mongos.ts";
import { collMeta } from "./mongos_routing.ts";
import { drain, onShard } from "./mongos_shard_call.ts";
import { type Chunk, type CollMeta, compareKeys, docKey } from "./sharding.ts";

/** The reply, or its error thrown as a CommandError. */
export function ok(r: Document): Document {
  if (!r.ok) throw new CommandError(String(r.errmsg), Number(r.code), String(r.codeName));
  return r;
}

/** Documents of a config collection, read from the config servers. */
export async function cfg(m: Mongos, coll: string, filter: Document): Promise<Document[]> {
  const r = await m.config("config", { find: coll, filter, batchSize: 1_000_000 });
  return (r.cursor?.firstBatch ?? []) as Document[];
}

export const MAJ = { w: "majority" };

/**
 * Inserts `docs` into `db.coll` on shard `to` in batches of 1,000, w: "majority". A document an
 * interrupted migration already copied there (11000) counts as copied; any other write error is
 * thrown as its CommandError.
 */
export async function copyTo(
  m: Mongos,
  to: string,
  db: string,
  coll: string,
  docs: Document[],
): Promise<void> {
  for (let i = 0; i < docs.length; i += 1000) {
    const r = ok(
      await onShard(m, to, db, {
        insert: coll,
        documents: docs.slice(i, i + 1000),
        ordered: false,
        writeConcern: MAJ,
      }),
    );
    const bad = (r.writeErrors ?? []).find((e: Document) => e.code !== 11000);
    if (bad) throw new CommandError(String(bad.errmsg), Number(bad.code), String(bad.codeName));
  }
}

/** Keys of a chunk's bounds, in shard-key order. */
export function bounds(meta: CollMeta, c: Chunk): [unknown[], unknown[]] {
  const f = Object.keys(meta.key);
  return [f.map((x) => c.min[x]), f.map((x) => c.max[x])];
}

/**
 * Moves a chunk: copies its documents to the recipient, records the new owner on the config
 * servers, then deletes them on the donor. Operations routed by this mongos wait meanwhile
 * (namespace lock); those of other mongos are refused by the donor while it is fenced and
 * after, when routed by the old table (StaleConfig), and sent again by their mongos, so no
 * document is missing or seen twice through any mongos.
 */
export async function migrate(m: Mongos, ns: string, chunkId: unknown, to: string): Promise<void> {
  await m.locks.exclusive(ns, async () => {
    const meta = await collMeta(m, ns);
    const chunk = meta?.chunks.find((c) => String(c._id) === String(chunkId));
    if (!meta || !chunk) throw errors.operationFailed(`chunk of ${ns} not found`);
    if (chunk.shard === to) return;
    const db = ns.slice(0, ns.indexOf(".")), coll = ns.slice(ns.indexOf(".") + 1);
    const [lo, hi] = bounds(meta, chunk);
    const major = Math.max(...meta.chunks.map((c) => c.lastmod.high)) + 1;
    const version = new Timestamp({ t: major, i: 0 });
    // Other mongos route without this one's lock: the donor refuses their writes from before the
    // copy until the new owner is recorded, then everything routed by an older table
    // (StaleConfig, sim/shard_version.ts), so none lands on a copy about to be deleted.
    const fence = (shard: string, enter: boolean, v?: Timestamp) =>
      onShard(m, shard, db, { _shardsvrMigrationFence: ns, enter, ...(v ? { version: v } : {}) })
        .then(ok);
    await fence(chunk.shard, true);
    let docs: Document[];
    try {
      const all = await drain(
        m,
        chunk.shard,
        db,
        await onShard(m, chunk.shard, db, { find: coll, filter: {}, batchSize: 1_000_000 }),
      );
      docs = all.filter((d) => {
        const k = docKey(d, meta.key);
        return compareKeys(lo, k) <= 0 && compareKeys(k, hi) < 0;
      });
      await copyIndexes(m, chunk.shard, to, db, coll, meta.key);
      await copyTo(m, to, db, coll, docs);
      const now = new Timestamp({ t: Math.floor(Date.now() / 1000), i: 1 });
      await m.config("config", {
        update: "chunks",
        updates: [{
          q: { _id: chunk._id },
          u: {
            $set: { shard: to, lastmod: version, onCurrentShardSince: now },
            $push: { history: { $each: [{ validAfter: now, shard: to }], $position: 0 } },
          },
        }],
        writeConcern: MAJ,
      });
    } catch (e) {
      // Not committed: the donor still owns the range and takes writes again.
      await fence(chunk.shard, false).catch(() => {});
      throw e;
    }
    await fence(chunk.shard, false, version);
    await fence(to, false, version);
    for (let i = 0; i < docs.length; i += 1000) {
      ok(
        await onShard(m, chunk.shard, db, {
          delete: coll,
          deletes: [{ q: { _id: { $in: docs.slice(i, i + 1000).map((d) => d._id) } }, limit: 0 }],
          writeConcern: MAJ,
        }),
      );
    }
    m.server.log.info("SHARDING", 21793, "Balancer", "Moved chunk", {
      ns,
      from: chunk.shard,
      to,
      docs: docs.length,
    });
  });
}

/**
 * Splits `chunk` at shard-key values `mid` (strictly inside it, checked by the caller): the upper
 * part becomes a new chunk on the same shard. The caller holds the namespace lock.
 */
export async function splitChunkAt(
  m: Mongos,
  meta: CollMeta,
  chunk: Chunk,
  mid: unknown[],
): Promise<void> {
  const fields = Object.keys(meta.key);
  const at = Object.fromEntries(fields.map((f, i) => [f, mid[i]]));
  const major = Math.max(...meta.chunks.map((c) => c.lastmod.high));
  const now = new Timestamp({ t: Math.floor(Date.now() / 1000), i: 1 });
  await m.config("config", {
    insert: "chunks",
    documents: [{
      _id: new ObjectId(),
      uuid: chunk.uuid,
      min: at,
      max: chunk.max,
      shard: chunk.shard,
      lastmod: new Timestamp({ t: major, i: chunk.lastmod.low + 1 }),
      onCurrentShardSince: chunk.onCurrentShardSince ?? now,
      history: chunk.history ?? [{ validAfter: now, shard: chunk.shard }],
    }],
    writeConcern: MAJ,
  });
  await m.config("config", {
    update: "chunks",
    updates: [{ q: { _id: chunk._id }, u: { $set: { max: at } } }],
    writeConcern: MAJ,
  });
}

/**
 * Makes on shard `to` the indexes collection `db.coll` has on shard `from` (unique ones unique),
 * and `key`'s when given, before any document is copied, as a chunk migration and movePrimary
 * copy a collection's indexes (tester92: a unique shard key stopped being unique on the shard a
 * chunk moved to).
 */
export async function copyIndexes(
  m: Mongos,
  from: string,
  to: string,
  db: string,
  coll: string,
  key?: Document,
): Promise<void> {
  const listed = await onShard(m, from, db, { listIndexes: coll });
  const indexes = (listed.ok ? await drain(m, from, db, listed) : [])
    .filter((i) => i.name !== "_id_")
    .map((i) => ({ key: i.key, name: i.name, ...(i.unique ? { unique: true } : {}) }));
  if (key && !indexes.some((i) => JSON.stringify(i.key) === JSON.stringify(key))) {
    indexes.push({ key, name: Object.entries(key).map(([k, v]) => `${k}_${v}`).join("_") });
  }
  if (indexes.length) ok(await onShard(m, to, db, { createIndexes: coll, indexes }));
}
