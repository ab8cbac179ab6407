/**
 * Sharding metadata as mongos reads it from the config servers (config.databases,
 * config.collections, config.chunks, as in MongoDB 7.0), shard-key ordering and hashing, and
 * which shards can hold a query's result.
 */
import { createHash } from "node:crypto";
import { type Document, Long, MaxKey, MinKey, ObjectId, Timestamp, type UUID } from "bson";
import { indexKey } from "./query.ts";
import { compareBson } from "./bson_order.ts";

/** A config.chunks document (7.0 shape: chunks name their collection by uuid). */
export interface Chunk extends Document {
  _id: ObjectId;
  uuid: UUID;
  min: Document;
  max: Document;
  shard: string;
  lastmod: Timestamp;
}

/** A config.collections document plus its chunks, ordered by min. */
export interface CollMeta {
  coll: Document;
  key: Document;
  hashed: boolean;
  chunks: Chunk[];
}

function rank(v: unknown): number {
  if (v instanceof MinKey || (v as Document)?._bsontype === "MinKey") return 0;
  if (v === null || v === undefined) return 1;
  if (typeof v === "number" || v instanceof Long || typeof v === "bigint") return 2;
  const t = (v as Document)?._bsontype;
  if (t === "Double" || t === "Int32" || t === "Decimal128") return 2;
  if (typeof v === "string") return 3;
  if (v instanceof ObjectId) return 7;
  if (typeof v === "boolean") return 8;
  if (v instanceof Date) return 9;
  if (v instanceof MaxKey || t === "MaxKey") return 100;
  if (Array.isArray(v)) return 5;
  return 4;
}

function num(v: unknown): number {
  if (v instanceof Long) return v.toNumber();
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "object" && v && "valueOf" in v) {
    return Number((v as { valueOf(): unknown }).valueOf());
  }
  return Number(v);
}

/** BSON ordering of two shard-key values (bson_order.ts). */
export const compareValues = compareBson;

/** Compares key documents field by field, in the shard key's order. */
export function compareKeys(a: unknown[], b: unknown[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = compareValues(a[i], b[i]);
    if (c) return c;
  }
  return 0;
}

/** A 64-bit hash of a value, as the hashed index stores it (a signed NumberLong). */
export function hashValue(v: unknown): Long {
  const norm = rank(v) === 2 ? String(num(v)) : JSON.stringify(v ?? null);
  const h = createHash("md5").update(`${rank(v)}:${norm}`).digest();
  return Long.fromBytesLE([...h.subarray(0, 8)]);
}

/** The key of a document in the chunk space (hashed fields hashed). */
export function docKey(doc: Document, key: Document): unknown[] {
  const vals = indexKey(doc, key);
  return Object.values(key).map((t, i) => t === "hashed" ? hashValue(vals[i]) : vals[i]);
}

/** The chunk that owns a key (chunks cover the whole key space, MinKey to MaxKey). */
export function owningChunk(meta: CollMeta, k: unknown[]): Chunk {
  const f = Object.keys(meta.key);
  const found = meta.chunks.find((c) =>
    compareKeys(f.map((x) => c.min[x]), k) <= 0 && compareKeys(k, f.map((x) => c.max[x])) < 0
  );
  return found ?? meta.chunks[meta.chunks.length - 1];
}

/**
 * The shard key of a query when it pins every shard-key field by equality (`{k: v}` or
 * `{k: {$eq: v}}`), else undefined: then every shard owning a chunk may hold results.
 */
export function equalityKey(filter: Document | undefined, key: Document): unknown[] | undefined {
  const out: unknown[] = [];
  for (const [f, t] of Object.entries(key)) {
    if (!filter || !(f in filter)) return undefined;
    let v = filter[f];
    if (v && typeof v === "object" && !Array.isArray(v) && rank(v) === 4) {
      const ks = Object.keys(v);
      if (ks.length === 1 && ks[0] === "$eq") v = (v as Document).$eq;
      else if (ks.some((x) => x.startsWith("$"))) return undefined;
    }
    if (v instanceof RegExp || Array.isArray(v)) return undefined;
    out.push(t === "hashed" ? hashValue(v) : v);
  }
  return out;
}

/** The shards a filter can find documents on, in chunk order. */
export function targetShards(meta: CollMeta, filter: Document | undefined): string[] {
  const k = equalityKey(filter, meta.key);
  if (k) return [owningChunk(meta, k).shard];
  return [...new Set(meta.chunks.map((c) => c.shard))];
}

/** Initial chunks: hashed keys pre-split into two chunks per shard, range keys one chunk. */
export function initialChunks(
  uuid: UUID,
  key: Document,
  hashed: boolean,
  shards: string[],
  primary: string,
): Chunk[] {
  const fields = Object.keys(key);
  const bound = (v: unknown) =>
    Object.fromEntries(fields.map((f, i) => [f, i === 0 ? v : new MinKey()]));
  const boundMax = (v: unknown) =>
    Object.fromEntries(fields.map((f, i) => [f, i === 0 ? v : new MinKey()]));
  const mk = (min: Document, max: Document, shard: string, i: number): Chunk => {
    const ts = new Timestamp({ t: Math.floor(Date.now() / 1000), i: 1 });
    return {
      _id: new ObjectId(),
      uuid,
      min,
      max,
      shard,
      lastmod: new Timestamp({ t: 1, i: i }),
      onCurrentShardSince: ts,
      history: [{ validAfter: ts, shard }],
    };
  };
  const minDoc = Object.fromEntries(fields.map((f) => [f, new MinKey()]));
  const maxDoc = Object.fromEntries(fields.map((f) => [f, new MaxKey()]));
  if (!hashed || shards.length < 1) return [mk(minDoc, maxDoc, primary, 0)];
  const n = shards.length * 2;
  const step = 2n ** 64n / BigInt(n);
  const points: Long[] = [];
  for (let i = 1; i < n; i++) points.push(Long.fromBigInt(-(2n ** 63n) + step * BigInt(i)));
  const out: Chunk[] = [];
  for (let i = 0; i < n; i++) {
    const min = i === 0 ? minDoc : bound(points[i - 1]);
    const max = i === n - 1 ? maxDoc : boundMax(points[i]);
    out.push(mk(min, max, shards[Math.floor(i / 2)], i));
  }
  return out;
}

/** Whether `shard` owns the document under `meta` (filters orphans out of scatter reads). */
export function owns(meta: CollMeta, shard: string, doc: Document): boolean {
  return owningChunk(meta, docKey(doc, meta.key)).shard === shard;
}

/** The middle key of a sorted list of document keys, to split a chunk for the balancer. */
export function splitPoint(keys: unknown[][]): unknown[] | undefined {
  if (keys.length < 2) return undefined;
  keys.sort(compareKeys);
  const mid = keys[Math.floor(keys.length / 2)];
  return compareKeys(mid, keys[0]) === 0 ? undefined : mid;
}

/** The collection's version: its newest chunk version (what a router sends as shardVersion). */
export function collVersion(meta: CollMeta): Timestamp {
  return meta.chunks.reduce(
    (v, c) => (c.lastmod.compare(v) > 0 ? c.lastmod : v),
    new Timestamp({ t: 0, i: 0 }),
  );
}
