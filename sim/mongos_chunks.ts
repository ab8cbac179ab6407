/**
 * mongos chunk placement (MongoDB 7.0): moving a chunk (moveChunk, and the balancer's and a
 * draining shard's migrations), splitting one (split), and the balancer, which moves chunks so
 * that per-collection chunk counts stay within the documented migration thresholds (fewer than
 * 20 chunks: 2; 20–79: 4; 80 and more: 8) and empties draining shards. Also the small helpers
 * the sharding administration commands share (sim/mongos_admin.ts).
 */
import { type Document, ObjectId, Timestamp } from "bson";
import { CommandError, errors } from "./errors.ts";
import type { Mongos } from "./mongos.ts";
import { collMeta, drain, onShard } from "./mongos_routing.ts";
import type { CommandContext, Handler } from "./server.ts";
import {
  type Chunk,
  type CollMeta,
  compareKeys,
  docKey,
  owningChunk,
  splitPoint,
} from "./sharding.ts";

export function mongos(ctx: CommandContext): Mongos {
  return ctx.server.router as Mongos;
}

export function adminOnly(ctx: CommandContext, name: string): void {
  if (ctx.db !== "admin") {
    throw errors.unauthorized(`${name} may only be run against the admin database.`);
  }
}

export function ok(r: Document): Document {
  if (!r.ok) throw new CommandError(String(r.errmsg), Number(r.code), String(r.codeName));
  return r;
}

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

function bounds(meta: CollMeta, c: Chunk): [unknown[], unknown[]] {
  const f = Object.keys(meta.key);
  return [f.map((x) => c.min[x]), f.map((x) => c.max[x])];
}

/**
 * Moves a chunk: copies its documents to the recipient, records the new owner on the config
 * servers, then deletes them on the donor. Routed operations wait meanwhile (namespace lock),
 * so no document is missing or seen twice through mongos.
 */
export async function migrate(m: Mongos, ns: string, chunkId: unknown, to: string): Promise<void> {
  await m.locks.exclusive(ns, async () => {
    const meta = await collMeta(m, ns);
    const chunk = meta?.chunks.find((c) => String(c._id) === String(chunkId));
    if (!meta || !chunk) throw errors.operationFailed(`chunk of ${ns} not found`);
    if (chunk.shard === to) return;
    const db = ns.slice(0, ns.indexOf(".")), coll = ns.slice(ns.indexOf(".") + 1);
    const [lo, hi] = bounds(meta, chunk);
    const all = await drain(
      m,
      chunk.shard,
      db,
      await onShard(m, chunk.shard, db, { find: coll, filter: {}, batchSize: 1_000_000 }),
    );
    const docs = all.filter((d) => {
      const k = docKey(d, meta.key);
      return compareKeys(lo, k) <= 0 && compareKeys(k, hi) < 0;
    });
    ok(
      await onShard(m, to, db, {
        createIndexes: coll,
        indexes: [{
          key: meta.key,
          name: Object.entries(meta.key).map(([k, v]) => `${k}_${v}`).join("_"),
        }],
      }),
    );
    await copyTo(m, to, db, coll, docs);
    const major = Math.max(...meta.chunks.map((c) => c.lastmod.high)) + 1;
    const now = new Timestamp({ t: Math.floor(Date.now() / 1000), i: 1 });
    await m.config("config", {
      update: "chunks",
      updates: [{
        q: { _id: chunk._id },
        u: {
          $set: { shard: to, lastmod: new Timestamp({ t: major, i: 0 }), onCurrentShardSince: now },
          $push: { history: { $each: [{ validAfter: now, shard: to }], $position: 0 } },
        },
      }],
      writeConcern: MAJ,
    });
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

export const moveChunk: Handler = async (ctx) => {
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
export const split: Handler = async (ctx) => {
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
    const at = Object.fromEntries(fields.map((f, i) => [f, mid![i]]));
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
  });
  return {};
};

/** One balancer round: one migration at most per collection; returns whether it moved any. */
export async function balancerRound(m: Mongos): Promise<boolean> {
  const [settings] = await cfg(m, "settings", { _id: "balancer" });
  const shards = await m.shards();
  const draining = new Set(shards.filter((s) => s.draining).map((s) => String(s._id)));
  const live = shards.filter((s) => !s.draining).map((s) => String(s._id));
  if (live.length === 0) return false;
  const off = settings?.stopped || settings?.mode === "off";
  if (off && draining.size === 0) return false;
  let moved = false;
  for (const coll of await cfg(m, "collections", {})) {
    if (coll._id === "config.system.sessions") continue;
    const meta = await collMeta(m, String(coll._id));
    if (!meta) continue;
    const per = new Map<string, Chunk[]>(live.map((s) => [s, []]));
    for (const c of meta.chunks) per.set(c.shard, [...(per.get(c.shard) ?? []), c]);
    const least = live.reduce((a, b) => per.get(b)!.length < per.get(a)!.length ? b : a);
    const leaving = [...draining].find((s) => (per.get(s) ?? []).length > 0);
    if (leaving) {
      await migrate(m, meta.coll._id, per.get(leaving)![0]._id, least);
      moved = true;
      continue;
    }
    if (off) continue;
    const most = live.reduce((a, b) => per.get(b)!.length > per.get(a)!.length ? b : a);
    const n = meta.chunks.length;
    const threshold = n < 20 ? 2 : n < 80 ? 4 : 8;
    if (per.get(most)!.length - per.get(least)!.length >= threshold) {
      await migrate(m, meta.coll._id, per.get(most)![0]._id, least);
      moved = true;
    }
  }
  // A draining shard's unsharded databases stay until movePrimary, as documented.
  return moved;
}

export async function setBalancer(ctx: CommandContext, stopped: boolean): Promise<Document> {
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

export const balancerStatus: Handler = async (ctx) => {
  adminOnly(ctx, "balancerStatus");
  const m = mongos(ctx);
  const [doc] = await cfg(m, "settings", { _id: "balancer" });
  return {
    mode: doc?.stopped || doc?.mode === "off" ? "off" : "full",
    inBalancerRound: m.inBalancerRound,
    numBalancerRounds: m.balancerRounds,
  };
};
