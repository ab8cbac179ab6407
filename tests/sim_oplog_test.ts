/**
 * local.oplog.rs as its readers see it: an ordinary capped collection whose finds filter, sort,
 * project and return every match through getMore, which count, distinct and aggregate see whole,
 * and which a client cannot write (tester94).
 */
import assert from "node:assert/strict";
import { type Document, MongoClient, type Timestamp } from "mongodb";
import { freePorts } from "./helpers.ts";
import { simBin, startReplSet, withDir } from "./sim_helpers.ts";

Deno.test("simulator: a find on local.oplog.rs applies its filter, ts bounds, sort, projection and limit and returns every match through getMore; count, distinct and aggregate see every entry; a client's write to it is refused (73); a secondary fetches past a 16 MiB batch", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(2);
    // Slow elections and heartbeats: 20 MiB written and fetched at once can stall a member of
    // a loaded machine for seconds, which must not cost the primary its place.
    await startReplSet(await simBin("7.0.5"), dir, ports, {
      electionTimeoutMillis: 60_000,
      heartbeatTimeoutSecs: 60,
    });
    const client = new MongoClient(`mongodb://localhost:${ports[0]}/?directConnection=true`);
    try {
      const big = client.db("t").collection("big");
      await big.insertMany(Array.from({ length: 300 }, (_, i) => ({ i })), {
        writeConcern: { w: 2 },
      });
      const oplog = client.db("local").collection<Document>("oplog.rs");
      const inserts = await oplog.find({ op: "i", ns: "t.big" }).toArray();
      assert.equal(inserts.length, 300, "the filter applies and getMore returns the rest");
      assert.deepEqual(inserts.map((e) => e.o.i), Array.from({ length: 300 }, (_, i) => i));
      const all = await oplog.find({}).toArray();
      assert.ok(all.length > 300, `${all.length} entries`);
      assert.ok(all.some((e) => e.op === "n"), "the no-op entries are there too");

      const tenth = inserts[9].ts as Timestamp;
      const before = await oplog.find({ ns: "t.big", ts: { $lt: tenth } }).toArray();
      assert.deepEqual(before.map((e) => e.o.i), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
      const window = await oplog.find({ ts: { $gt: inserts[1].ts, $lte: inserts[4].ts } })
        .toArray();
      assert.deepEqual(window.map((e) => e.o.i), [2, 3, 4]);

      const projected = await oplog.find({ ns: "t.big" }, { projection: { ts: 1, _id: 0 } })
        .limit(2).toArray();
      assert.deepEqual(projected.map((e) => Object.keys(e)), [["ts"], ["ts"]]);
      const newest = await oplog.find({}).sort({ $natural: -1 }).limit(3).toArray();
      assert.equal(newest.length, 3);
      assert.ok((newest[0].ts as Timestamp).compare(newest[1].ts as Timestamp) > 0);
      assert.ok((newest[1].ts as Timestamp).compare(newest[2].ts as Timestamp) > 0);

      assert.equal(await oplog.countDocuments({ op: "i", ns: "t.big" }), 300);
      assert.ok((await oplog.distinct("ns")).includes("t.big"));
      const [counted] = await oplog.aggregate([{ $match: { ns: "t.big" } }, { $count: "n" }])
        .toArray();
      assert.equal(counted.n, 300);

      const refused = (e: { code?: number; message?: string }) =>
        e.code === 73 && /cannot write to local\.oplog\.rs/.test(String(e.message));
      await assert.rejects(oplog.insertOne({ x: 1 }), refused);
      await assert.rejects(oplog.deleteMany({}), refused);
      await assert.rejects(oplog.updateOne({ op: "i" }, { $set: { x: 1 } }), refused);
      assert.equal(await oplog.countDocuments({ x: 1 }), 0, "nothing was written");

      // Two entries of 10 MiB each are more than one 16 MiB batch: the secondary's fetcher
      // reads on with getMore and acknowledges w: 2.
      const blob = "x".repeat(10 * 1024 * 1024);
      await client.db("t").collection("blobs").insertMany([{ blob }, { blob }], {
        writeConcern: { w: 2, wtimeoutMS: 60_000 },
      });
    } finally {
      await client.close();
    }
  });
});
