/**
 * Sharding through the simulator's mongos (issue 10 items 9–10), with the official driver: the
 * config database served by the config servers, database primary shards, sharded collections
 * with range and hashed keys, chunk placement and routing, the balancer, movePrimary and
 * removeShard with draining. Every count is checked directly on the shards as well.
 */
import * as path from "node:path";
import assert from "node:assert/strict";
import { type Document, MongoClient, Timestamp } from "mongodb";
import { freePorts } from "./helpers.ts";
import {
  admin,
  adminError,
  killMember,
  mongosh,
  simBin,
  startMongod,
  startMongos,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import { deadline, installFixture } from "./fixture.ts";

installFixture();

interface Cluster {
  mongos: number;
  /** The config server's port. */
  cfg: number;
  shards: Record<string, number>;
}

/** Starts a mongos on `port` over the config replica set `cfg/localhost:<cfg>`. */
async function startRouter(dir: string, cfg: number, port: number): Promise<void> {
  const r = await startMongos(await simBin("7.0.5"), dir, port, `cfg/localhost:${cfg}`);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  await waitFor(async () => (await admin(port, { ping: 1 })).ok);
}

/**
 * A one-member replica set `set` of `version` on `port` (`role`: --configsvr, --shardsvr),
 * initiated and primary.
 */
async function startOneMemberSet(
  dir: string,
  version: string,
  port: number,
  set: string,
  role: string,
): Promise<void> {
  const r = await startMongod(await simBin(version), dir, port, [role, "--replSet", set]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  await admin(port, {
    replSetInitiate: {
      _id: set,
      ...(role === "--configsvr" ? { configsvr: true } : {}),
      members: [{ _id: 0, host: `localhost:${port}` }],
    },
  });
  await waitFor(async () => (await admin(port, { hello: 1 })).isWritablePrimary || undefined);
}

/** One config server, shards sh1 and sh2 (one member each), one mongos with both shards added. */
async function startCluster(dir: string): Promise<Cluster> {
  const [cfg, s1, s2, mongos] = freePorts(4);
  await startOneMemberSet(dir, "7.0.5", cfg, "cfg", "--configsvr");
  await startOneMemberSet(dir, "7.0.5", s1, "sh1", "--shardsvr");
  await startOneMemberSet(dir, "7.0.5", s2, "sh2", "--shardsvr");
  await startRouter(dir, cfg, mongos);
  await admin(mongos, { addShard: `sh1/localhost:${s1}` });
  await admin(mongos, { addShard: `sh2/localhost:${s2}` });
  return { mongos, cfg, shards: { sh1: s1, sh2: s2 } };
}

/** Documents of db.coll on one shard, read directly from its member. */
async function onShard(port: number, db: string, coll: string): Promise<Document[]> {
  const c = new MongoClient(`mongodb://localhost:${port}/?directConnection=true`);
  try {
    return await c.db(db).collection(coll).find({}).toArray();
  } finally {
    await c.close();
  }
}

async function withCluster(
  f: (c: MongoClient, cl: Cluster, dir: string) => Promise<void>,
): Promise<void> {
  await withDir(async (dir) => {
    const cl = await startCluster(dir);
    const c = new MongoClient(`mongodb://localhost:${cl.mongos}/`);
    try {
      await f(c, cl, dir);
    } finally {
      await c.close();
    }
  });
}

Deno.test("sharding: a mongos whose port is taken exits 48 with mongos's own log ID for it (22856)", async () => {
  await withCluster(async (_c, cl, dir) => {
    const [port] = freePorts(1);
    const l = Deno.listen({ hostname: "127.0.0.1", port });
    try {
      const r = await startMongos(await simBin("7.0.5"), dir, port, `cfg/localhost:${cl.cfg}`);
      assert.equal(r.code, 48, r.stdout + r.stderr);
      // mongos_main.cpp logs 22856 here (mongod_main.cpp 20568): tools that start clusters,
      // mongodb-runner among them, retry another port on it.
      const log = await Deno.readTextFile(path.join(dir, `mongos-${port}.log`));
      assert.match(log, /"id":22856,.*"Error setting up listener".*Address already in use/);
    } finally {
      l.close();
    }
  });
});

Deno.test("sharding: enableSharding records a primary shard; unsharded collections live on it", async () => {
  await withCluster(async (c, cl) => {
    await c.db("admin").command({ enableSharding: "a" });
    await c.db("admin").command({ enableSharding: "b" });
    const cfg = c.db("config");
    const dbs = await cfg.collection("databases").find({}).sort({ _id: 1 }).toArray();
    assert.deepEqual(dbs.map((d) => d._id), ["a", "b"]);
    // Two databases on two shards: the second goes to the shard holding fewer.
    assert.deepEqual(dbs.map((d) => d.primary).sort(), ["sh1", "sh2"]);
    // Each addShard has its own topologyTime, even two within a second (tester103).
    const shards = (await c.db("admin").command({ listShards: 1 })).shards as Document[];
    const [t1, t2] = ["sh1", "sh2"].map((id) => shards.find((s) => s._id === id)!.topologyTime);
    assert.ok(!t1.equals(t2), `${t1} ${t2}`);
    for (const d of dbs) {
      await c.db(String(d._id)).collection("t").insertMany([{ x: 1 }, { x: 2 }]);
      const other = d.primary === "sh1" ? "sh2" : "sh1";
      assert.equal((await onShard(cl.shards[String(d.primary)], String(d._id), "t")).length, 2);
      assert.equal((await onShard(cl.shards[other], String(d._id), "t")).length, 0);
      assert.equal(await c.db(String(d._id)).collection("t").countDocuments(), 2);
      // getMore reaches the cursor whichever shard answered.
      await c.db(String(d._id)).collection("t").insertMany(
        Array.from({ length: 150 }, (_, i) => ({ i })),
      );
      assert.equal(
        (await c.db(String(d._id)).collection("t").find().batchSize(20).toArray()).length,
        152,
      );
    }
  });
});

Deno.test("sharding: shardCollection with hashed and range keys places documents by chunk and routes queries", async () => {
  await withCluster(async (c, cl) => {
    const admin = c.db("admin");
    await admin.command({ enableSharding: "shop" });
    const r = await admin.command({ shardCollection: "shop.users", key: { uid: "hashed" } });
    assert.equal(r.collectionsharded, "shop.users");
    const coll = await c.db("config").collection("collections").findOne({
      _id: "shop.users" as never,
    });
    assert.deepEqual(coll?.key, { uid: "hashed" });
    const chunks = await c.db("config").collection("chunks").find({ uuid: coll?.uuid }).toArray();
    // Hashed keys pre-split: two chunks per shard.
    assert.equal(chunks.length, 4);
    assert.deepEqual(chunks.map((ch) => ch.shard).sort(), ["sh1", "sh1", "sh2", "sh2"]);
    const users = c.db("shop").collection("users");
    await users.insertMany(Array.from({ length: 200 }, (_, i) => ({ uid: i, even: i % 2 === 0 })));
    const a = await onShard(cl.shards.sh1, "shop", "users");
    const b = await onShard(cl.shards.sh2, "shop", "users");
    assert.equal(a.length + b.length, 200);
    assert.ok(a.length > 40 && b.length > 40, `spread over both shards: ${a.length}/${b.length}`);
    // Scatter-gather with a merged sort, skip and limit, across getMore batches.
    const sorted = await users.find({ even: true }).sort({ uid: -1 }).skip(5).limit(60).batchSize(
      7,
    ).toArray();
    assert.deepEqual(sorted.map((d) => d.uid), Array.from({ length: 60 }, (_, i) => 188 - 2 * i));
    // A unique index must have the shard key as its prefix: each shard could only enforce it
    // among its own documents (tester86).
    const unique = await users.createIndex({ even: 1 }, { unique: true }).then(
      () => undefined,
      (e) => e,
    );
    assert.equal(unique?.code, 72, String(unique));
    assert.match(
      unique.message,
      /cannot create unique index over \{ even: 1 \} with shard key pattern \{ uid: "hashed" \}/,
    );
    assert.equal(await users.createIndex({ uid: 1, even: 1 }, { unique: true }), "uid_1_even_1");
    // Targeted reads and writes by shard key.
    assert.equal((await users.findOne({ uid: 77 }))?.uid, 77);
    assert.equal((await users.updateOne({ uid: 77 }, { $set: { seen: true } })).modifiedCount, 1);
    // A snapshot read through mongos reads both shards at one time, which it reports; read at
    // that time after a change, it sees the data as it was (tester81).
    const shop = c.db("shop");
    const snap = await shop.command({
      find: "users",
      batchSize: 1000,
      readConcern: { level: "snapshot" },
    });
    assert.equal(snap.cursor.firstBatch.length, 200);
    const t = snap.cursor.atClusterTime as Timestamp;
    assert.ok(t instanceof Timestamp, JSON.stringify(snap.cursor.atClusterTime));
    assert.equal((await users.updateMany({ even: true }, { $set: { e: 1 } })).modifiedCount, 100);
    const then = await shop.command({
      find: "users",
      filter: { e: 1 },
      readConcern: { level: "snapshot", atClusterTime: t },
    });
    assert.deepEqual([then.cursor.firstBatch, t.equals(then.cursor.atClusterTime)], [[], true]);
    const marked = await shop.command({
      aggregate: "users",
      pipeline: [{ $match: { e: 1 } }, { $count: "n" }],
      cursor: {},
      readConcern: { level: "snapshot" },
    });
    assert.deepEqual(marked.cursor.firstBatch, [{ n: 100 }]);
    // mongos's cluster time is never behind a write it acknowledged, and a write after it comes
    // after it on any shard: a snapshot at it holds exactly the writes before (tester83).
    const onA = (await onShard(cl.shards.sh1, "shop", "users"))[0].uid as number;
    const onB = (await onShard(cl.shards.sh2, "shop", "users"))[0].uid as number;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3; i++) await users.updateOne({ uid: onA }, { $inc: { v: 1 } });
      const ct = (await shop.command({ ping: 1 })).$clusterTime.clusterTime as Timestamp;
      const before = await users.find({ uid: { $in: [onA, onB] } }).toArray();
      await users.updateOne({ uid: onB }, { $inc: { v: 1 } });
      const at = await shop.command({
        find: "users",
        filter: { uid: { $in: [onA, onB] } },
        readConcern: { level: "snapshot", atClusterTime: ct },
      });
      const byUid = (docs: Document[]) =>
        docs.map((d) => [d.uid, d.v ?? 0]).sort((x, y) => x[0] - y[0]);
      assert.deepEqual(byUid(at.cursor.firstBatch), byUid(before), `round ${round}`);
    }
    await assert.rejects(
      shop.command({ count: "users", readConcern: { level: "snapshot" } }),
      (e: { code: number }) => e.code === 72,
    );
    assert.equal(await users.countDocuments({ e: 1 }), 100);
    assert.equal((await users.deleteMany({ uid: { $lt: 10 } })).deletedCount, 10);
    assert.equal(await users.countDocuments(), 190);
    // Changing a document's shard key would move it between shards: the simulator refuses it
    // (a retryable write, 115, saying so: a 20 the driver would report as its retryable-writes
    // message).
    await assert.rejects(
      users.updateOne({ uid: 78 }, { $set: { uid: 1078 } }),
      (e: { code?: number; message: string }) =>
        e.code === 115 && /changes a document's shard key is not supported/.test(e.message),
    );
    assert.equal((await users.findOne({ uid: 78 }))?.uid, 78);
    // An upsert must name the whole shard key (61), or its document's shard is unknown.
    await assert.rejects(
      users.updateOne({ even: 3 }, { $set: { z: 1 } }, { upsert: true }),
      (e: { code: number }) => e.code === 61,
    );
    await users.updateOne({ uid: 5000 }, { $set: { z: 1 } }, { upsert: true });
    assert.equal((await users.findOne({ uid: 5000 }))?.z, 1);
    assert.deepEqual((await users.distinct("even")).sort(), [false, true]);
    assert.equal((await users.distinct("uid", { uid: { $lt: 20 } })).length, 10);
    await users.deleteOne({ uid: 5000 });
    // findAndModify through mongos (the driver's findOneAnd*, retryable): on the shard its
    // shard key targets; one that could match on several shards is refused (61; tester81).
    const found = await users.findOneAndUpdate(
      { uid: 80 },
      { $set: { f: 1 } },
      { returnDocument: "after" },
    );
    assert.deepEqual([found?.uid, found?.f], [80, 1]);
    assert.equal((await users.findOneAndDelete({ uid: 81 }))?.uid, 81);
    assert.equal(await users.countDocuments({ uid: 81 }), 0);
    await assert.rejects(
      users.findOneAndUpdate({ even: true }, { $set: { f: 2 } }),
      (e: { code: number }) => e.code === 61,
    );
    await users.insertOne({ uid: 81, even: false });
    const plain = c.db("shop").collection("plain");
    await plain.insertOne({ _id: "p" as never, n: 1 });
    assert.equal(
      (await plain.findOneAndUpdate({}, { $inc: { n: 1 } }, {
        returnDocument: "after",
      }))?.n,
      2,
    );
    await plain.drop();
    // An updateOne with neither the shard key nor _id cannot pick a shard (7.0).
    await assert.rejects(users.updateOne({ even: true }, { $set: { z: 1 } }), /exact match on _id/);
    const agg = await users.aggregate([{ $group: { _id: "$even", n: { $sum: 1 } } }, {
      $sort: { _id: 1 },
    }]).toArray();
    assert.deepEqual(agg, [{ _id: false, n: 95 }, { _id: true, n: 95 }]);
    // $lookup from a sharded collection into an unsharded one and back.
    await c.db("shop").collection("names").insertMany([{ uid: 11, name: "eleven" }]);
    const joined = await users.aggregate([{ $match: { uid: 11 } }, {
      $lookup: { from: "names", localField: "uid", foreignField: "uid", as: "n" },
    }]).toArray();
    assert.equal(joined[0].n[0].name, "eleven");
    const back = await c.db("shop").collection("names").aggregate([{
      $lookup: { from: "users", localField: "uid", foreignField: "uid", as: "u" },
    }]).toArray();
    assert.equal(back[0].u.length, 1);
    const everyone = await c.db("shop").collection("names").aggregate([{
      $lookup: { from: "users", pipeline: [{ $match: { even: false } }], as: "u" },
    }]).toArray();
    assert.equal(everyone[0].u.length, 95, "the odd users of both shards");

    // A range key starts as one chunk on the primary shard.
    await admin.command({ shardCollection: "shop.orders", key: { n: 1 } });
    const oc = await c.db("config").collection("collections").findOne({
      _id: "shop.orders" as never,
    });
    const oChunks = await c.db("config").collection("chunks").find({ uuid: oc?.uuid }).toArray();
    assert.equal(oChunks.length, 1);
    const primary = (await c.db("config").collection("databases").findOne({ _id: "shop" as never }))
      ?.primary;
    assert.equal(oChunks[0].shard, primary);
    await c.db("shop").collection("orders").insertMany(
      Array.from({ length: 30 }, (_, n) => ({ n })),
    );
    assert.equal((await onShard(cl.shards[String(primary)], "shop", "orders")).length, 30);
    // split, then move the upper chunk: its documents follow; a range query gathers both.
    await admin.command({ split: "shop.orders", middle: { n: 20 } });
    const other = primary === "sh1" ? "sh2" : "sh1";
    await admin.command({ moveChunk: "shop.orders", find: { n: 25 }, to: other });
    const moved = await onShard(cl.shards[other], "shop", "orders");
    assert.deepEqual(moved.map((d) => d.n).sort((x, y) => x - y), [
      20,
      21,
      22,
      23,
      24,
      25,
      26,
      27,
      28,
      29,
    ]);
    assert.equal((await onShard(cl.shards[String(primary)], "shop", "orders")).length, 20);
    const range = await c.db("shop").collection("orders").find({ n: { $gte: 15, $lt: 25 } }).sort({
      n: 1,
    }).toArray();
    assert.deepEqual(range.map((d) => d.n), [15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    // A different key for a sharded collection is refused (23 AlreadyInitialized).
    await assert.rejects(
      admin.command({ shardCollection: "shop.orders", key: { m: 1 } }),
      (e: { code: number }) => e.code === 23,
    );
  });
});

Deno.test("sharding: with a shard down, an unordered insert keeps what the live shard took and reports the rest as write errors; an ordered one stops at its first; find with allowPartialResults returns the live shard's documents (tester57)", async () => {
  await withCluster(async (c, cl, dir) => {
    const admin = c.db("admin");
    await admin.command({ enableSharding: "app" });
    await admin.command({ shardCollection: "app.h", key: { k: "hashed" } });
    const h = c.db("app").collection("h");
    await h.insertMany(Array.from({ length: 40 }, (_, k) => ({ k })));
    const live = (await onShard(cl.shards.sh1, "app", "h")).length;
    assert.ok(live > 5 && live < 35, `spread: ${live} of 40 on sh1`);
    await killMember(dir, cl.shards.sh2);
    const docs = Array.from({ length: 20 }, (_, i) => ({ k: 1000 + i }));
    // A raw command, so the reply is seen whole (the driver raises a bulk write error).
    const r = await c.db("app").command({
      insert: "h",
      documents: docs,
      ordered: false,
      maxTimeMS: 1500,
    });
    assert.equal(r.ok, 1);
    const onSh1 = (await onShard(cl.shards.sh1, "app", "h")).length - live;
    assert.ok(onSh1 > 0 && onSh1 < 20, `some of the 20 went to sh1: ${onSh1}`);
    assert.equal(r.n, onSh1, "n counts what the live shard inserted");
    assert.equal(r.writeErrors.length, 20 - onSh1, "one write error per document of sh2");
    for (const e of r.writeErrors) assert.equal(e.code, 133, JSON.stringify(e));
    // Ordered: the write errors stop at the first document the dead shard owns.
    const ordered = await c.db("app").command({
      insert: "h",
      documents: Array.from({ length: 20 }, (_, i) => ({ k: 2000 + i })),
      maxTimeMS: 1500,
    });
    assert.equal(ordered.writeErrors.length, 1, JSON.stringify(ordered));
    // A read of every shard fails (133), unless it allows partial results.
    await assert.rejects(
      c.db("app").command({ find: "h", filter: {}, maxTimeMS: 1500 }),
      (e: { code?: number }) => e.code === 133,
    );
    const partial = await c.db("app").command({
      find: "h",
      filter: {},
      allowPartialResults: true,
      batchSize: 1000,
      maxTimeMS: 1500,
    });
    assert.equal(partial.cursor.partialResultsReturned, true);
    assert.equal(
      partial.cursor.firstBatch.length,
      (await onShard(cl.shards.sh1, "app", "h")).length,
    );
  });
});

Deno.test("sharding: sh.status() reads, balancer state, chunk migration by the balancer, movePrimary, removeShard draining", async () => {
  await withCluster(async (c, cl) => {
    const admin = c.db("admin");
    const cfg = c.db("config");
    // What sh.status() and sh.getBalancerState() read.
    await admin.command({ balancerStop: 1 });
    assert.equal((await admin.command({ balancerStatus: 1 })).mode, "off");
    assert.equal(
      (await cfg.collection("settings").findOne({ _id: "balancer" as never }))?.stopped,
      true,
    );
    assert.equal(await cfg.collection("shards").countDocuments(), 2);
    const version = await cfg.collection("version").findOne({});
    assert.ok(version?.clusterId, "config.version carries the cluster id");
    const routers = await cfg.collection("mongos").find({}).toArray();
    assert.equal(routers.length, 1);
    assert.ok(routers[0].ping instanceof Date);
    assert.equal(routers[0].mongoVersion, "7.0.5");

    await admin.command({ enableSharding: "app" });
    await admin.command({ shardCollection: "app.events", key: { k: "hashed" } });
    const ev = c.db("app").collection("events");
    // 300 documents of 12 KB: 3.6 MB, enough to unbalance a collection whose range size is 1 MB.
    const pad = "x".repeat(12_000);
    await ev.insertMany(Array.from({ length: 300 }, (_, k) => ({ k, pad })));
    const meta = await cfg.collection("collections").findOne({ _id: "app.events" as never });
    // Every chunk onto sh1 with the balancer off: the documents move with them.
    for (
      const ch of await cfg.collection("chunks").find({ uuid: meta?.uuid, shard: "sh2" }).toArray()
    ) {
      await admin.command({ moveChunk: "app.events", bounds: [ch.min, ch.max], to: "sh1" });
    }
    assert.equal((await onShard(cl.shards.sh1, "app", "events")).length, 300);
    assert.equal((await onShard(cl.shards.sh2, "app", "events")).length, 0);
    assert.equal(await ev.countDocuments(), 300);

    // MongoDB 7.0's rule: balanced while the data differs by less than three range sizes. With
    // the default range size (128 MB) a 3.6 MB difference is balanced: rounds run, nothing moves.
    await admin.command({ balancerStart: 1 });
    assert.equal((await admin.command({ balancerStatus: 1 })).mode, "full");
    const rounds = Number((await admin.command({ balancerStatus: 1 })).numBalancerRounds);
    await waitFor(
      async () =>
        Number((await admin.command({ balancerStatus: 1 })).numBalancerRounds) >= rounds + 2 ||
        undefined,
      30_000,
    );
    assert.equal(
      await cfg.collection("chunks").countDocuments({ uuid: meta?.uuid, shard: "sh2" }),
      0,
    );
    // A 1 MB range size: the balancer moves one range of at most 1 MB (splitting the chunk it
    // takes), which leaves the difference under 3 MB.
    await cfg.collection("settings").updateOne(
      { _id: "chunksize" as never },
      { $set: { value: 1 } },
      { upsert: true },
    );
    const owned = async () =>
      Object.fromEntries(
        ((await admin.aggregate([{ $shardedDataDistribution: {} }]).toArray())
          .find((d) => d.ns === "app.events")?.shards ?? []).map((
            x: Document,
          ) => [x.shardName, x.ownedSizeBytes]),
      );
    await waitFor(async () => (await owned()).sh2 > 0 || undefined, 30_000);
    const sizes = await owned();
    assert.ok(sizes.sh2 <= 1024 * 1024, JSON.stringify(sizes));
    assert.ok(sizes.sh1 - sizes.sh2 < 3 * 1024 * 1024, JSON.stringify(sizes));
    // One balancer per cluster: this mongos holds the lease.
    assert.equal(
      (await cfg.collection("locks").findOne({ _id: "balancer" as never }))?.process,
      `localhost:${cl.mongos}`,
    );
    // Through mongos, every document exactly once, even while the donor still holds its copies.
    assert.equal(await ev.countDocuments(), 300);
    // The donor deletes its copies once the new owner is recorded (orphans go away).
    await waitFor(async () =>
      (await onShard(cl.shards.sh1, "app", "events")).length +
            (await onShard(cl.shards.sh2, "app", "events")).length === 300 || undefined
    );
    assert.ok((await onShard(cl.shards.sh2, "app", "events")).length > 0);
    assert.deepEqual(
      (await ev.find().toArray()).map((d) => d.k).sort((x, y) => x - y),
      Array.from({ length: 300 }, (_, i) => i),
    );

    // removeShard drains: chunks leave, then the databases it is primary for must be moved.
    const appPrimary = String(
      (await cfg.collection("databases").findOne({ _id: "app" as never }))?.primary,
    );
    const gone = appPrimary;
    const stay = gone === "sh1" ? "sh2" : "sh1";
    await c.db("app").collection("plain").insertMany([{ p: 1 }, { p: 2 }]);
    // With the balancer off, nothing leaves the draining shard (tester81); on, it drains.
    await admin.command({ balancerStop: 1 });
    const held = await cfg.collection("chunks").countDocuments({ shard: gone });
    assert.ok(held > 0);
    const started = await admin.command({ removeShard: gone });
    // Every answer names the databases to move, the first included (removeShard's reply).
    assert.deepEqual(
      [started.state, started.note, started.dbsToMove],
      ["started", "you need to drop or movePrimary these databases", ["app"]],
    );
    const round = Number((await admin.command({ balancerStatus: 1 })).numBalancerRounds);
    await waitFor(
      async () =>
        Number((await admin.command({ balancerStatus: 1 })).numBalancerRounds) >= round + 2 ||
        undefined,
      30_000,
    );
    assert.equal(await cfg.collection("chunks").countDocuments({ shard: gone }), held);
    const held2 = await admin.command({ removeShard: gone });
    assert.deepEqual([held2.state, held2.remaining, held2.dbsToMove], [
      "ongoing",
      { chunks: held, dbs: 1, jumboChunks: 0 },
      ["app"],
    ]);
    await admin.command({ balancerStart: 1 });
    await waitFor(
      async () =>
        (await cfg.collection("chunks").countDocuments({ shard: gone })) === 0 || undefined,
      30_000,
    );
    const ongoing = await admin.command({ removeShard: gone });
    assert.equal(ongoing.state, "ongoing");
    assert.deepEqual(ongoing.dbsToMove, ["app"]);
    await admin.command({ movePrimary: "app", to: stay });
    assert.equal((await onShard(cl.shards[stay], "app", "plain")).length, 2);
    assert.equal(await c.db("app").collection("plain").countDocuments(), 2);
    const done = await admin.command({ removeShard: gone });
    assert.equal(done.state, "completed");
    assert.deepEqual((await cfg.collection("shards").find().toArray()).map((s) => s._id), [stay]);
    assert.equal((await onShard(cl.shards[stay], "app", "events")).length, 300);
    assert.equal(await ev.countDocuments(), 300);
  });
});

Deno.test("sharding: $collStats and $shardedDataDistribution through mongos; the real mongosh's sh.status() and getShardDistribution()", async () => {
  await withCluster(async (c, cl) => {
    const admin = c.db("admin");
    await admin.command({ enableSharding: "app" });
    await admin.command({ shardCollection: "app.users", key: { uid: "hashed" } });
    const users = c.db("app").collection("users");
    await users.insertMany(Array.from({ length: 200 }, (_, i) => ({ uid: i, name: `user${i}` })));
    await c.db("app").collection("plain").insertOne({ x: 1 });

    // One $collStats document per shard holding the collection, with the shard's own count.
    const stats = await users.aggregate([{ $collStats: { storageStats: {}, count: {} } }])
      .toArray();
    assert.deepEqual(stats.map((s) => s.shard).sort(), ["sh1", "sh2"]);
    for (const s of stats) {
      const held = await onShard(cl.shards[s.shard], "app", "users");
      assert.equal(s.storageStats.count, held.length);
      assert.equal(s.count, held.length);
      assert.equal(s.storageStats.numOrphanDocs, 0);
      assert.ok(s.storageStats.size > 0 && s.storageStats.nindexes === 2, JSON.stringify(s));
    }
    assert.equal(stats.reduce((n, s) => n + s.storageStats.count, 0), 200);
    // An unsharded collection: only its database's primary shard answers.
    assert.equal(
      (await c.db("app").collection("plain").aggregate([{ $collStats: { count: {} } }])
        .toArray()).length,
      1,
    );
    // Refused as MongoDB refuses: not first (40602), a missing collection (26).
    await assert.rejects(
      users.aggregate([{ $match: {} }, { $collStats: {} }]).toArray(),
      (e: { code?: number }) => e.code === 40602,
    );
    await assert.rejects(
      c.db("app").collection("nope").aggregate([{ $collStats: { storageStats: {} } }]).toArray(),
      (e: { code?: number }) => e.code === 26,
    );
    const dist = await admin.aggregate([{ $shardedDataDistribution: {} }]).toArray();
    assert.deepEqual(dist.map((d) => d.ns), ["app.users"]);
    assert.equal(
      dist[0].shards.reduce((n: number, s: Document) => n + s.numOwnedDocuments, 0),
      200,
    );

    // The real mongosh reads the same cluster: sh.status(), the balancer switch, the distribution.
    const uri = `mongodb://localhost:${cl.mongos}/app`;
    const shell = await mongosh(
      uri,
      `const s = sh.status().value; const before = sh.getBalancerState(); sh.stopBalancer();
       const after = sh.getBalancerState(); sh.startBalancer();
       const d = db.users.getShardDistribution().value;
       print(EJSON.stringify({ shards: s.shards.map((x) => x._id),
         dbs: s.databases.map((x) => x.database._id), balancer: s.balancer,
         users: s.databases.find((x) => x.database._id === "app").collections["app.users"],
         distribution: s.shardedDataDistribution, before, after, totals: d.Totals,
         stats: db.stats() }));`,
    );
    assert.deepEqual(shell.shards, ["sh1", "sh2"]);
    assert.ok(shell.dbs.includes("app"), JSON.stringify(shell.dbs));
    assert.deepEqual(shell.users.shardKey, { uid: "hashed" });
    assert.equal(
      shell.users.chunkMetadata.reduce((n: number, x: Document) => n + x.nChunks, 0),
      await c.db("config").collection("chunks").countDocuments(),
    );
    assert.equal(shell.before, true);
    assert.equal(shell.after, false);
    assert.equal(shell.balancer["Collections with active migrations"], undefined);
    assert.equal(shell.distribution[0].ns, "app.users");
    assert.equal(shell.totals.docs, 200);
    // db.stats() through mongos: each shard's answer under raw, and the sums.
    assert.equal(shell.stats.objects, 201);
    assert.equal(Object.keys(shell.stats.raw).length, 2);
  });
});

Deno.test("sharding: with two mongos, every write through one while the other moves chunks is kept exactly once (the donor refuses stale routing)", async () => {
  await withCluster(async (c, cl, dir) => {
    const [port2] = freePorts(1);
    await startRouter(dir, cl.cfg, port2);
    const admin = c.db("admin");
    await admin.command({ balancerStop: 1 });
    await admin.command({ enableSharding: "app" });
    await admin.command({ shardCollection: "app.w", key: { k: 1 } });
    for (const k of [100, 200, 300]) await admin.command({ split: "app.w", middle: { k } });
    const meta = await c.db("config").collection("collections").findOne({ _id: "app.w" as never });
    const other = new MongoClient(`mongodb://localhost:${port2}/`);
    try {
      const w = other.db("app").collection<{ _id: number | string; k: number; n?: number }>("w");
      await w.insertOne({ _id: "counter", k: -1, n: 0 });
      let stop = false;
      const acked: number[] = [];
      let incs = 0;
      // Through the second mongos: inserts across all chunks and increments of one document.
      const writer = (async () => {
        for (let i = 0; !stop; i++) {
          await w.insertOne({ _id: i, k: (i * 37) % 400 }).then(() => acked.push(i), () => {});
          await w.updateOne({ _id: "counter", k: -1 }, { $inc: { n: 1 } }).then(
            () => incs++,
            () => {},
          );
        }
      })();
      // Through the first: every chunk moved to the other shard, round after round: at least
      // three rounds, and until the writer got 100 inserts through or a minute passed (a loaded
      // machine writes slowly; what matters is that writes and moves overlapped).
      const until = Date.now() + deadline(20_000);
      let rounds = 0;
      for (; rounds < 3 || (acked.length < 100 && Date.now() < until); rounds++) {
        const chunks = await c.db("config").collection("chunks").find({ uuid: meta?.uuid })
          .toArray();
        for (const ch of chunks) {
          await admin.command({
            moveChunk: "app.w",
            bounds: [ch.min, ch.max],
            to: ch.shard === "sh1" ? "sh2" : "sh1",
          });
        }
      }
      stop = true;
      await writer;
      assert.ok(acked.length >= 20, `the writer got ${acked.length} inserts through`);
      assert.ok(rounds >= 3);
      for (const reader of [other, c].map((x) => x.db("app").collection("w"))) {
        const ids = (await reader.find({ k: { $gte: 0 } }).toArray()).map((d) => Number(d._id));
        assert.equal(new Set(ids).size, ids.length, "no document twice");
        const have = new Set(ids);
        const lost = acked.filter((i) => !have.has(i));
        assert.deepEqual(
          lost,
          [],
          `acknowledged inserts missing: ${lost.length} of ${acked.length}`,
        );
        assert.equal((await reader.findOne({ k: -1 }))?.n, incs);
      }
    } finally {
      await other.close();
    }
  });
});

Deno.test("sharding: with two mongos, every write through one to unsharded collections while the other moves their database's primary back and forth is kept exactly once (the donor refuses stale routing: StaleDbVersion; tester48)", async () => {
  await withCluster(async (c, cl, dir) => {
    const [port2] = freePorts(1);
    await startRouter(dir, cl.cfg, port2);
    const admin = c.db("admin");
    await admin.command({ balancerStop: 1 });
    await admin.command({ enableSharding: "app" });
    const other = new MongoClient(`mongodb://localhost:${port2}/`);
    try {
      const w = other.db("app").collection<{ _id: number | string; n?: number }>("u");
      await w.insertOne({ _id: "counter", n: 0 });
      let stop = false;
      const acked: number[] = [];
      let incs = 0;
      const writer = (async () => {
        for (let i = 0; !stop; i++) {
          await w.insertOne({ _id: i }).then(() => acked.push(i), () => {});
          await w.updateOne({ _id: "counter" }, { $inc: { n: 1 } }).then(() => incs++, () => {});
        }
      })();
      // Through the first: the database's primary moved to the other shard, round after round,
      // until the writer got 100 inserts through or the time ran out (at least four moves).
      const until = Date.now() + deadline(20_000);
      let moves = 0;
      for (; moves < 4 || (acked.length < 100 && Date.now() < until); moves++) {
        const db = await c.db("config").collection("databases").findOne({ _id: "app" as never });
        await admin.command({ movePrimary: "app", to: db?.primary === "sh1" ? "sh2" : "sh1" });
      }
      stop = true;
      await writer;
      assert.ok(acked.length >= 20, `the writer got ${acked.length} inserts through`);
      for (const reader of [other, c].map((x) => x.db("app").collection("u"))) {
        const ids = (await reader.find({ _id: { $ne: "counter" as never } }).toArray())
          .map((d) => Number(d._id));
        assert.equal(new Set(ids).size, ids.length, "no document twice");
        const have = new Set(ids);
        const lost = acked.filter((i) => !have.has(i));
        assert.deepEqual(
          lost,
          [],
          `acknowledged inserts missing: ${lost.length} of ${acked.length}`,
        );
        assert.equal((await reader.findOne({ _id: "counter" as never }))?.n, incs);
      }
      // Every document on the primary the config servers record, none left on the other.
      const primary = (await c.db("config").collection("databases").findOne({
        _id: "app" as never,
      }))?.primary as string;
      const gone = primary === "sh1" ? "sh2" : "sh1";
      assert.equal((await onShard(cl.shards[gone], "app", "u")).length, 0);
      assert.equal((await onShard(cl.shards[primary], "app", "u")).length, acked.length + 1);
    } finally {
      await other.close();
    }
  });
});

Deno.test("sharding: addShard sets the new shard to the cluster's feature compatibility version, and refuses a binary that cannot run at it (IncompatibleServerVersion)", async () => {
  await withDir(async (dir) => {
    const [cfg, s1, s3, s4, mongos] = freePorts(5);
    const start = (version: string, port: number, set: string, role: string) =>
      startOneMemberSet(dir, version, port, set, role);
    const fcv = async (port: number) =>
      ((await admin(port, { getParameter: 1, featureCompatibilityVersion: 1 }))
        .featureCompatibilityVersion as Document).version;
    await start("7.0.5", cfg, "cfg", "--configsvr");
    await start("7.0.5", s1, "sh1", "--shardsvr");
    await startRouter(dir, cfg, mongos);
    await admin(mongos, { addShard: `sh1/localhost:${s1}` });
    // The cluster stays at 6.0 after its binaries' upgrade to 7.0 (no setFeatureCompatibilityVersion yet).
    const down = await admin(mongos, { setFeatureCompatibilityVersion: "6.0", confirm: true });
    assert.equal(down.ok, 1, JSON.stringify(down));
    assert.equal(await fcv(s1), "6.0");
    // Up again without confirm, through mongos: the config servers refuse it in the upgrade's
    // words, their FCV being 6.0 (tester104 #5).
    const up = await adminError(mongos, { setFeatureCompatibilityVersion: "7.0" });
    assert.equal(up.code, 7369100, JSON.stringify(up));
    assert.match(up.message, /^Once you have upgraded to 7\.0,/);
    assert.equal(await fcv(s1), "6.0");

    await start("7.0.5", s3, "sh3", "--shardsvr");
    assert.equal(await fcv(s3), "7.0", "a new 7.0 set starts at 7.0");
    const added = await admin(mongos, { addShard: `sh3/localhost:${s3}` });
    assert.equal(added.ok, 1, JSON.stringify(added));
    assert.equal(await fcv(s3), "6.0", "added, it runs at the cluster's version");

    // An 8.0 binary cannot run at 6.0: refused, and not listed.
    await start("8.0.4", s4, "sh4", "--shardsvr");
    const refused = await adminError(mongos, { addShard: `sh4/localhost:${s4}` });
    assert.equal(refused.code, 166, JSON.stringify(refused));
    assert.equal(refused.codeName, "IncompatibleServerVersion");
    const listed = ((await admin(mongos, { listShards: 1 })).shards as Document[]).map((s) =>
      s._id
    );
    assert.deepEqual(listed.sort(), ["sh1", "sh3"]);
  });
});

Deno.test("sharding: shardCollection keeps a unique key unique, and what mongod refuses is refused with nothing recorded: hashed unique keys, admin/config/system namespaces, collations, split points off the key, movePrimary of admin, an unknown primary shard (tester90)", async () => {
  await withCluster(async (c) => {
    const admin = c.db("admin");
    const code = (p: Promise<unknown>) => p.then(() => 0, (e: { code?: number }) => e.code);
    // serverStatus on mongos names its config servers (tester90).
    const status = await admin.command({ serverStatus: 1 });
    assert.equal(status.process, "mongos");
    assert.match(status.sharding?.configsvrConnectionString ?? "", /^cfg\/localhost:\d+/);
    assert.equal(Number(status.sharding?.maxChunkSizeInBytes), 128 * 1024 * 1024);
    // An unknown primary shard: 70, and no database made.
    assert.equal(await code(admin.command({ enableSharding: "s10", primaryShard: "nosuch" })), 70);
    const cfg = c.db("config");
    assert.equal(await cfg.collection("databases").countDocuments({ _id: "s10" as never }), 0);
    // unique: the shard key index is unique, and a duplicate is refused.
    await admin.command({ shardCollection: "s1.ur", key: { x: 1 }, unique: true });
    const ur = c.db("s1").collection("ur");
    assert.equal(await code(ur.insertMany([{ x: 5 }, { x: 5 }])), 11000);
    assert.equal(await ur.countDocuments({ x: 5 }), 1);
    // A replacement by _id that keeps the shard key is done; one that changes it is refused: a
    // retryable write (the driver's default), 115, as the simulator moves no document between
    // shards; 20 otherwise, as mongod says.
    await ur.insertOne({ _id: 17 as never, x: 17 });
    const kept = await ur.replaceOne({ _id: 17 as never }, { x: 17, v: 9 });
    assert.equal(kept.modifiedCount, 1);
    assert.equal((await ur.findOne({ _id: 17 as never }))?.v, 9);
    assert.equal(await code(ur.replaceOne({ _id: 17 as never }, { x: 18 })), 115);
    const plain = await c.db("s1").command({
      update: "ur",
      updates: [{ q: { _id: 17 }, u: { x: 18 } }],
    });
    assert.equal(plain.writeErrors?.[0]?.code, 20);
    assert.equal((await ur.findOne({ _id: 17 as never }))?.x, 17);
    const refusals: [Document, number][] = [
      [{ shardCollection: "s1.uh", key: { x: "hashed" }, unique: true }, 72],
      [{ shardCollection: "admin.c", key: { x: 1 } }, 72],
      [{ shardCollection: "config.c", key: { x: 1 } }, 20],
      [{ shardCollection: "s1.system.c", key: { x: 1 } }, 20],
      [{ shardCollection: "s1.col", key: { x: 1 }, collation: { locale: "fr" } }, 2],
      [{ movePrimary: "admin", to: "sh1" }, 72],
    ];
    for (const [cmd, want] of refusals) {
      assert.equal(await code(admin.command(cmd)), want, JSON.stringify(cmd));
    }
    assert.deepEqual(
      (await cfg.collection("collections").find({}).toArray()).map((d) => d._id),
      ["s1.ur"],
    );
    assert.deepEqual(
      (await cfg.collection("databases").find({}).toArray()).map((d) => d._id).sort(),
      ["s1"],
    );
    // A split point that does not name the shard key: 72, the chunks as they were.
    const chunks = await cfg.collection("chunks").countDocuments({});
    assert.equal(await code(admin.command({ split: "s1.ur", middle: { zz: 1 } })), 72);
    assert.equal(await cfg.collection("chunks").countDocuments({}), chunks);
    await admin.command({ split: "s1.ur", middle: { x: 10 } });
    assert.equal(await cfg.collection("chunks").countDocuments({}), chunks + 1);
    // The chunk moved to the other shard keeps its key unique there (tester92).
    const owner = (await cfg.collection("chunks").findOne({ "min.x": 10 }))?.shard;
    const other = owner === "sh1" ? "sh2" : "sh1";
    await admin.command({ moveChunk: "s1.ur", find: { x: 50 }, to: other });
    await ur.insertOne({ x: 60 });
    assert.equal(await code(ur.insertOne({ x: 60 })), 11000);
    assert.equal(await ur.countDocuments({ x: 60 }), 1);
  });
});

Deno.test("sharding: what mongos must not answer as done is refused (tester97): shard-key changes by a pipeline or $rename, a shard's write concern failure on update and delete, collation and find options mongod refuses, explain, resharding with another unique, array shard key values, dropping the shard key's only index", async () => {
  await withCluster(async (c, cl) => {
    const admin = c.db("admin");
    const code = (p: Promise<unknown>) => p.then(() => 0, (e: { code?: number }) => e.code);
    await admin.command({ enableSharding: "t", primaryShard: "sh1" });
    await admin.command({ shardCollection: "t.r", key: { x: 1 } });
    await admin.command({ split: "t.r", middle: { x: 100 } });
    await admin.command({ moveChunk: "t.r", find: { x: 150 }, to: "sh2" });
    const r = c.db("t").collection<{ _id: string | number; [k: string]: unknown }>("r");
    await r.insertMany([{ _id: "ren", x: 1, y: 500 }, { _id: "pipe", x: 2 }, { _id: 3, x: 3 }]);
    // A shard-key change the mongos cannot move: refused, the document stays where it is.
    assert.equal(await code(r.updateOne({ _id: "ren" }, { $rename: { y: "x" } })), 115);
    assert.equal(await code(r.updateOne({ _id: "pipe" }, [{ $set: { x: 600 } }])), 115);
    assert.equal(await code(r.findOneAndUpdate({ x: 3 }, [{ $set: { x: 700 } }])), 115);
    assert.equal(await r.countDocuments({ x: { $lt: 100 } }), 3);
    // A pipeline that leaves the key alone is done.
    await r.updateOne({ _id: "pipe" }, [{ $set: { z: 1 } }]);
    assert.equal((await r.findOne({ _id: "pipe" }))?.z, 1);
    // The shard's write concern failure reaches the client (w: 3 of one-member shards).
    for (
      const write of [
        () => r.updateOne({ x: 3 }, { $set: { w: 1 } }, { writeConcern: { w: 3 } }),
        () => r.updateMany({}, { $set: { w: 2 } }, { writeConcern: { w: 3 } }),
        () => r.deleteOne({ _id: 3, x: 3 }, { writeConcern: { w: 3 } }),
      ]
    ) {
      assert.equal(await code(write()), 100);
    }
    // What mongod refuses of a read, mongos refuses of a sharded one.
    const t = c.db("t");
    assert.equal(
      await code(r.find({}, { collation: { locale: "en", strength: 2 } }).toArray()),
      115,
    );
    assert.equal(await code(t.command({ find: "r", returnKey: true })), 115);
    assert.equal(await code(t.command({ find: "r", min: { x: 5 } })), 51173);
    assert.equal(await code(t.command({ find: "r", tailable: true })), 2);
    assert.equal(await code(t.command({ find: "r", hint: { nope: 1 } })), 2);
    assert.equal(await code(t.command({ aggregate: "r", pipeline: [], explain: true })), 115);
    assert.equal(await code(t.command({ aggregate: "r", pipeline: [] })), 9);
    const v = await t.command({
      find: "r",
      filter: { $expr: { $eq: ["$x", "$$v"] } },
      let: { v: 1 },
    });
    assert.deepEqual(v.cursor.firstBatch.map((d: Document) => d._id), ["ren"]);
    const zero = await t.command({ find: "r", batchSize: 0 });
    assert.equal(zero.cursor.firstBatch.length, 0);
    assert.notEqual(Number(zero.cursor.id), 0);
    await t.command({ killCursors: "r", cursors: [zero.cursor.id] });
    // Sharded again with other options: 23, nothing changed.
    assert.equal(
      await code(admin.command({ shardCollection: "t.r", key: { x: 1 }, unique: true })),
      23,
    );
    // A shard key value cannot be an array.
    assert.equal(await code(r.insertOne({ _id: "arr", x: [1, 150] })), 61);
    assert.equal(await r.countDocuments({ _id: "arr" }), 0);
    // The shard key's only index stays; "*" drops the others and keeps it.
    assert.equal(await code(r.dropIndex("x_1")), 384);
    await r.createIndex({ z: 1 });
    await r.dropIndexes();
    const names = (await onShardIndexes(cl.shards.sh2, "t", "r")).sort();
    assert.deepEqual(names, ["_id_", "x_1"]);
  });
});

/** Index names of db.coll on one shard, read directly from its member. */
async function onShardIndexes(port: number, db: string, coll: string): Promise<string[]> {
  const c = new MongoClient(`mongodb://localhost:${port}/?directConnection=true`);
  try {
    return (await c.db(db).collection(coll).listIndexes().toArray()).map((ix) => String(ix.name));
  } finally {
    await c.close();
  }
}
