/**
 * The balancer's rounds, by MongoDB 7.0's rules
 * (https://www.mongodb.com/docs/v7.0/core/sharding-balancer-administration/#migration-thresholds):
 * nothing moves while the balancer is off, not even off a draining shard, which stays
 * draining ("Remove Shards from a Sharded Cluster": the balancer must be enabled to migrate
 * its data; tester81); draining shards are emptied first; otherwise a collection counts as
 * balanced while the difference in its data between the shard holding most and the shard
 * holding least is under three times its range size (config.settings `chunksize` in MB, default
 * 128; a collection's own `maxChunkSizeBytes` wins). When it is not, one range of at most the
 * range size moves from the shard with most data to the one with least: the chunk is split at
 * its documents' median until it is no larger. One migration per collection per round.
 */
import type { Document } from "bson";
import { BSON } from "bson";
import { cfg, migrate, ok, splitChunkAt } from "./chunk_ops.ts";
import type { Mongos } from "./mongos.ts";
import { collMeta } from "./mongos_routing.ts";
import { drain, onShard } from "./mongos_shard_call.ts";
import {
  type Chunk,
  type CollMeta,
  compareKeys,
  docKey,
  owningChunk,
  splitPoint,
} from "./sharding.ts";

const MB = 1024 * 1024;
/** A chunk is split at most this many times before one move (each split halves its data). */
const MAX_SPLITS = 16;

/** Bytes of the collection's data on `shard` ($collStats on its primary). */
async function dataSize(m: Mongos, shard: string, db: string, coll: string): Promise<number> {
  const r = await onShard(m, shard, db, {
    aggregate: coll,
    pipeline: [{ $collStats: { storageStats: {} } }],
    cursor: {},
  });
  // A shard without the collection holds none of it (26 NamespaceNotFound).
  if (!r.ok && Number(r.code) === 26) return 0;
  return Number(ok(r).cursor.firstBatch[0]?.storageStats?.size ?? 0);
}

/** Documents of `chunk` on its shard, with their BSON sizes. */
async function chunkDocs(m: Mongos, meta: CollMeta, chunk: Chunk): Promise<Document[]> {
  const ns = String(meta.coll._id);
  const db = ns.slice(0, ns.indexOf(".")), coll = ns.slice(ns.indexOf(".") + 1);
  const all = await drain(
    m,
    chunk.shard,
    db,
    await onShard(m, chunk.shard, db, { find: coll, filter: {}, batchSize: 1_000_000 }),
  );
  return all.filter((d) => owningChunk(meta, docKey(d, meta.key))._id.equals(chunk._id));
}

const bytes = (docs: Document[]) => docs.reduce((n, d) => n + BSON.calculateObjectSize(d), 0);

/**
 * Picks the chunk to move off `from` (the one holding most data there) and splits it until its
 * data is at most `range` bytes; returns its _id.
 */
async function rangeToMove(m: Mongos, ns: string, from: string, range: number) {
  let meta = (await collMeta(m, ns))!;
  let best: { chunk: Chunk; docs: Document[] } | undefined;
  for (const chunk of meta.chunks.filter((c) => c.shard === from)) {
    const docs = await chunkDocs(m, meta, chunk);
    if (!best || bytes(docs) > bytes(best.docs)) best = { chunk, docs };
  }
  if (!best) return undefined;
  for (let i = 0; i < MAX_SPLITS && bytes(best.docs) > range; i++) {
    const keys = best.docs.map((d) => docKey(d, meta.key)).sort(compareKeys);
    const mid = splitPoint(keys);
    if (!mid) break;
    const chunk: Chunk = best.chunk;
    await m.locks.exclusive(ns, () => splitChunkAt(m, meta, chunk, mid));
    meta = (await collMeta(m, ns))!;
    // The lower part keeps the chunk's _id.
    const lower: Chunk = meta.chunks.find((c) => c._id.equals(chunk._id))!;
    best = {
      chunk: lower,
      docs: best.docs.filter((d) => compareKeys(docKey(d, meta.key), mid) < 0),
    };
  }
  return best.chunk._id;
}

/** One balancer round: one migration at most per collection; returns whether it moved any. */
export async function balancerRound(m: Mongos): Promise<boolean> {
  const [settings] = await cfg(m, "settings", { _id: "balancer" });
  const [chunksize] = await cfg(m, "settings", { _id: "chunksize" });
  const defaultRange = Number(chunksize?.value ?? 128) * MB;
  const shards = await m.shards();
  const draining = new Set(shards.filter((s) => s.draining).map((s) => String(s._id)));
  const live = shards.filter((s) => !s.draining).map((s) => String(s._id));
  if (live.length === 0) return false;
  const off = settings?.stopped || settings?.mode === "off";
  if (off) return false;
  let moved = false;
  for (const coll of await cfg(m, "collections", {})) {
    const ns = String(coll._id);
    if (ns === "config.system.sessions") continue;
    const meta = await collMeta(m, ns);
    if (!meta) continue;
    const db = ns.slice(0, ns.indexOf(".")), name = ns.slice(ns.indexOf(".") + 1);
    const sizes = new Map<string, number>();
    for (const s of live) sizes.set(s, await dataSize(m, s, db, name));
    const least = live.reduce((a, b) => sizes.get(b)! < sizes.get(a)! ? b : a);
    const leaving = meta.chunks.find((c) => draining.has(c.shard));
    if (leaving) {
      await migrate(m, ns, leaving._id, least);
      moved = true;
      continue;
    }
    if (off || coll.noBalance) continue;
    const range = Number(coll.maxChunkSizeBytes ?? defaultRange);
    const most = live.reduce((a, b) => sizes.get(b)! > sizes.get(a)! ? b : a);
    if (sizes.get(most)! - sizes.get(least)! < 3 * range) continue;
    const chunk = await rangeToMove(m, ns, most, range);
    if (chunk === undefined) continue;
    await migrate(m, ns, chunk, least);
    moved = true;
  }
  // A draining shard's unsharded databases stay until movePrimary, as documented.
  return moved;
}
