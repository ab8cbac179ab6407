/**
 * Statistics through mongos, as a real one gathers them from the shards:
 * - `$collStats`: one document per shard that holds the collection (its chunks' shards, or the
 *   database's primary shard for an unsharded collection), each with a `shard` field and, for a
 *   sharded collection, `storageStats.numOrphanDocs` counted against the chunk ownership
 *   (https://www.mongodb.com/docs/v7.0/reference/operator/aggregation/collStats/);
 * - `$shardedDataDistribution` (admin, `aggregate: 1`): per sharded collection, each shard's
 *   owned and orphaned documents and bytes
 *   (https://www.mongodb.com/docs/v7.0/reference/operator/aggregation/shardedDataDistribution/).
 * mongosh's `sh.status()` and `db.coll.getShardDistribution()` read these.
 */
import { BSON, type Document } from "bson";
import { checkCollStats } from "./coll_stats.ts";
import { CommandError } from "./errors.ts";
import type { Mongos } from "./mongos.ts";
import { collMeta, dbPrimary } from "./mongos_routing.ts";
import { drain, onShard } from "./mongos_shard_call.ts";
import { runPipeline } from "./query.ts";
import { type CollMeta, owns } from "./sharding.ts";

const shardsOf = (meta: CollMeta) => [...new Set(meta.chunks.map((c) => c.shard))].sort();

async function shardDocs(m: Mongos, shard: string, db: string, coll: string) {
  return await drain(
    m,
    shard,
    db,
    await onShard(m, shard, db, { find: coll, filter: {}, batchSize: 1_000_000 }),
  );
}

/** The `$collStats` documents of db.coll through mongos, the rest of the pipeline applied. */
export async function mongosCollStats(
  m: Mongos,
  db: string,
  coll: string,
  meta: CollMeta | undefined,
  pipeline: Document[],
): Promise<Document[]> {
  const spec = checkCollStats(pipeline);
  const shards = meta ? shardsOf(meta) : [await dbPrimary(m, db, false)];
  const docs = await Promise.all(shards.map(async (shard) => {
    const r = await onShard(m, shard, db, {
      aggregate: coll,
      pipeline: [{ $collStats: spec }],
      cursor: {},
    });
    if (!r.ok) throw new CommandError(String(r.errmsg), Number(r.code), String(r.codeName));
    const doc: Document = { shard, ...r.cursor.firstBatch[0] };
    if (meta && doc.storageStats) {
      const held = await shardDocs(m, shard, db, coll);
      doc.storageStats.numOrphanDocs = held.filter((d) => !owns(meta, shard, d)).length;
    }
    return doc;
  }));
  return runPipeline(docs, pipeline.slice(1), () => []);
}

/** `$shardedDataDistribution`: refused unless the first stage of `aggregate: 1` on admin. */
export async function shardedDataDistribution(
  m: Mongos,
  db: string,
  cmd: Document,
): Promise<Document[]> {
  const pipeline = cmd.pipeline as Document[];
  if (db !== "admin" || cmd.aggregate !== 1) {
    throw new CommandError(
      "The $shardedDataDistribution stage can only be run on the admin database with {aggregate: 1}",
      73,
      "InvalidNamespace",
    );
  }
  const r = await m.config("config", { find: "collections", filter: {}, batchSize: 1_000_000 });
  const out: Document[] = [];
  for (const c of (r.cursor?.firstBatch ?? []) as Document[]) {
    const ns = String(c._id);
    const meta = await collMeta(m, ns);
    if (!meta) continue;
    const [cdb, ...rest] = ns.split(".");
    const shards = await Promise.all(
      shardsOf(meta).map(async (shard) => {
        const held = await shardDocs(m, shard, cdb, rest.join("."));
        const mine = held.filter((d) => owns(meta, shard, d));
        const bytes = (ds: Document[]) => ds.reduce((n, d) => n + BSON.calculateObjectSize(d), 0);
        return {
          shardName: shard,
          numOrphanedDocs: held.length - mine.length,
          numOwnedDocuments: mine.length,
          ownedSizeBytes: bytes(mine),
          orphanedSizeBytes: bytes(held) - bytes(mine),
        };
      }),
    );
    out.push({ ns, shards });
  }
  return runPipeline(out, pipeline.slice(1), () => []);
}

/**
 * `dbStats` through mongos: each shard's answer under `raw` (by its connection string) and the
 * sums, as a real mongos reports them.
 */
export async function mongosDbStats(m: Mongos, db: string, cmd: Document): Promise<Document> {
  const raw: Document = {};
  const sum: Record<string, number> = {
    collections: 0,
    views: 0,
    objects: 0,
    dataSize: 0,
    storageSize: 0,
    indexes: 0,
    indexSize: 0,
    totalSize: 0,
  };
  for (const s of await m.shards()) {
    const r = await onShard(m, String(s._id), db, { dbStats: 1, scale: cmd.scale ?? 1 });
    if (!r.ok) throw new CommandError(String(r.errmsg), Number(r.code), String(r.codeName));
    const { ok: _ok, $clusterTime: _c, operationTime: _o, ...stats } = r;
    raw[String(s.host)] = stats;
    for (const k of Object.keys(sum)) sum[k] += Number(stats[k] ?? 0);
  }
  return {
    raw,
    ...sum,
    avgObjSize: sum.objects ? Math.floor(sum.dataSize / sum.objects) : 0,
    scaleFactor: Number(cmd.scale ?? 1),
  };
}
