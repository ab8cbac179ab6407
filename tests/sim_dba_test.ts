/**
 * What a DBA's commands meet on the simulator (tester99): a read never changes what is stored,
 * and what mongod refuses in writes, creates and index builds is refused with its codes, never
 * answered as done. Through the official driver.
 */
import assert from "node:assert/strict";
import { type Document, MongoClient, type MongoServerError } from "mongodb";
import {
  refusedWith,
  simBin,
  startMongod,
  startReplSet,
  stopMongod,
  withDir,
  withMongod,
} from "./sim_helpers.ts";
import { freePorts, output } from "./helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

type Doc = { _id: number; n?: number; [field: string]: unknown };

Deno.test("simulator: an aggregation never changes the stored documents ($unwind with preserveNullAndEmptyArrays and includeArrayIndex: tester99 H1)", async () => {
  await withMongod(async (c) => {
    const s = c.db("app").collection<Doc>("s");
    await s.insertMany([{ _id: 1, tags: [], n: 1 }, { _id: 2, tags: ["a"], n: 1 }]);
    const out = await s.aggregate([{
      $unwind: { path: "$tags", preserveNullAndEmptyArrays: true, includeArrayIndex: "i" },
    }]).toArray();
    assert.deepEqual(out, [{ _id: 1, n: 1, i: null }, { _id: 2, tags: "a", n: 1, i: 0 }]);
    await s.updateOne({ _id: 1 }, { $inc: { n: 1 } } as never);
    assert.deepEqual(await s.find().toArray(), [
      { _id: 1, tags: [], n: 2 },
      { _id: 2, tags: ["a"], n: 1 },
    ]);
  });
});

Deno.test("simulator: writes mongod refuses are refused, never answered as done: unknown statement fields (40415), delete limits (9), findAndModify's remove conflicts (9), array updates on missing or non-array fields (2), unused or missing arrayFilters (9, 2), $bucket without default (40066) (tester99)", async () => {
  await withMongod(async (c) => {
    const db = c.db("app");
    await db.collection<Doc>("w").insertMany([{ _id: 1, g: 5, grades: [1, 2] }, { _id: 3, k: 1 }]);
    await refusedWith(
      db,
      { update: "w", updates: [{ q: { _id: 9 }, u: { $set: { a: 1 } }, upsret: true }] },
      40415,
      "BSON field 'update.updates.upsret' is an unknown field.",
    );
    await refusedWith(
      db,
      { delete: "w", deletes: [{ q: {}, limit: 5 }] },
      9,
      "The limit field in delete objects must be 0 or 1. Got 5",
    );
    await refusedWith(db, { findAndModify: "w", query: { _id: 3 }, remove: true, new: true }, 9);
    await refusedWith(db, { findAndModify: "w", query: { _id: 3 }, remove: true, upsert: true }, 9);
    assert.equal(await db.collection<Doc>("w").countDocuments(), 2, "nothing deleted or upserted");
    const w = db.collection<Doc>("w");
    await assert.rejects(
      w.updateOne({ _id: 2 }, { $set: { "grades.$[]": 1 } }, { upsert: true }),
      (e: MongoServerError) =>
        e.code === 2 &&
        e.message ===
          "The path 'grades' must exist in the document in order to apply array updates.",
    );
    await assert.rejects(
      w.updateOne({ _id: 1 }, { $set: { "g.$[]": 1 } }),
      (e: MongoServerError) =>
        e.code === 2 && e.message === "Cannot apply array updates to non-array element g: 5",
    );
    await assert.rejects(
      w.updateOne({ _id: 1 }, { $set: { "grades.$[x]": 0 } }, {
        arrayFilters: [{ x: 1 }, { h: 2 }],
      }),
      (e: MongoServerError) =>
        e.code === 9 &&
        e.message ===
          "The array filter for identifier 'h' was not used in the update { $set: { grades.$[x]: 0 } }",
    );
    await assert.rejects(
      w.updateOne({ _id: 1 }, { $set: { "grades.$[zz]": 0 } }),
      (e: MongoServerError) =>
        e.code === 2 &&
        e.message === "No array filter found for identifier 'zz' in path 'grades.$[zz]'",
    );
    assert.deepEqual(await w.find().toArray(), [{ _id: 1, g: 5, grades: [1, 2] }, {
      _id: 3,
      k: 1,
    }]);
    // A used filter still updates.
    await w.updateOne({ _id: 1 }, { $set: { "grades.$[x]": 0 } }, { arrayFilters: [{ x: 1 }] });
    assert.deepEqual((await w.findOne({ _id: 1 }))?.grades, [0, 2]);
    // $bucket: a value in no bucket needs a default (its $switch has none).
    const bucket = (extra: Document) =>
      w.aggregate([{ $bucket: { groupBy: "$k", boundaries: [0, 5], ...extra } }]).toArray();
    await assert.rejects(bucket({}), (e: MongoServerError) => e.code === 40066);
    // A conversion that cannot be made is ConversionFailure (241).
    for (const to of ["$toInt", "$toLong", "$toDate"]) {
      await assert.rejects(
        w.aggregate([{ $project: { x: { [to]: "abc" } } }]).toArray(),
        (e: MongoServerError) => e.code === 241,
        to,
      );
    }
    assert.deepEqual(await bucket({ default: "other" }), [
      { _id: 0, count: 1 },
      { _id: "other", count: 1 },
    ]);
  });
});

Deno.test("simulator: create refuses options it would drop (115) and fields it does not know (40415); createIndexes refuses keys of 0, bad versions, unique _id and hashed indexes, and a changed unique is 85 (tester99)", async () => {
  await withMongod(async (c) => {
    const db = c.db("app");
    await refusedWith(db, { create: "v", validationAction: "warn" }, 115);
    await refusedWith(db, { create: "v", size: 1000 }, 115);
    await refusedWith(
      db,
      { create: "v", bogus: 1 },
      40415,
      "BSON field 'create.bogus' is an unknown field.",
    );
    assert.deepEqual(await db.listCollections().toArray(), [], "no collection was made");
    await db.command({ create: "v", writeConcern: { w: 1 }, comment: "generic fields pass" });
    const idx = (spec: Document) => ({ createIndexes: "v", indexes: [spec] });
    await refusedWith(
      db,
      idx({ key: { r: 0 }, name: "r_0" }),
      67,
      "Values in the index key pattern can't be 0.",
    );
    await refusedWith(db, idx({ key: { r: 1 }, name: "r_1", v: 5 }), 67);
    await refusedWith(db, idx({ key: { _id: 1 }, name: "_id_", unique: true }), 197);
    await refusedWith(
      db,
      idx({ key: { h: "hashed" }, name: "h_hashed", unique: true }),
      16764,
      "Currently hashed indexes cannot guarantee uniqueness. Use a regular index.",
    );
    await db.command(idx({ key: { r: 1 }, name: "r_1", v: 1 }));
    await refusedWith(db, idx({ key: { r: 1 }, name: "r_1", unique: true }), 85);
    const listed = await db.collection("v").listIndexes().toArray();
    assert.deepEqual(listed.map((i) => [i.name, i.v, i.unique]), [
      ["_id_", 2, undefined],
      ["r_1", 1, undefined],
    ]);
  });
});

Deno.test("simulator: valid requests the stricter checks must not refuse (tester100): $slice and $elemMatch beside an exclusion, $elemMatch conditions on a scalar array, findAndModify's positional fields, let in update, delete and findAndModify, the concise correlated $lookup", async () => {
  await withMongod(async (c) => {
    const db = c.db("app");
    const v = db.collection<Doc>("v");
    await v.insertMany([
      { _id: 1, a: 1, arr: [1, 2, 3], e: [{ s: 1 }, { s: 5 }], g: [{ k: 1 }, { k: 3 }] },
      { _id: 2, a: 2, arr: [4], e: [], g: [] },
    ]);
    assert.deepEqual(
      await v.find({}, { projection: { arr: { $slice: 1 }, a: 0, e: 0, g: 0 } }).toArray(),
      [{ _id: 1, arr: [1] }, { _id: 2, arr: [4] }],
    );
    assert.deepEqual(
      await v.findOne({ _id: 1 }, { projection: { e: { $elemMatch: { s: { $gt: 3 } } }, a: 0 } }),
      { _id: 1, arr: [1, 2, 3], e: [{ s: 5 }], g: [{ k: 1 }, { k: 3 }] },
    );
    assert.deepEqual(
      await v.find({}, { projection: { arr: { $elemMatch: { $gt: 1 } } } }).toArray(),
      [{ _id: 1, arr: [2] }, { _id: 2, arr: [4] }],
    );
    const fam = await db.command({
      findAndModify: "v",
      query: { _id: 1, arr: 2 },
      update: { $set: { p: 1 } },
      fields: { "arr.$": 1 },
    });
    assert.deepEqual(fam.value, { _id: 1, arr: [2] });
    // A filter through $or names its identifier too; the engine cannot apply it: refused (115),
    // not mistaken for a missing filter (2).
    await assert.rejects(
      v.updateMany({}, { $set: { "g.$[el].hit": true } }, {
        arrayFilters: [{ $or: [{ "el.k": 1 }, { "el.k": 2 }] }],
      }),
      (e: MongoServerError) => e.code === 115,
    );
    await v.updateMany({}, { $set: { "g.$[el].hit": true } }, {
      arrayFilters: [{ "el.k": { $in: [1, 2] } }],
    });
    assert.deepEqual((await v.findOne({ _id: 1 }))?.g, [{ k: 1, hit: true }, { k: 3 }]);
    // let: the command's variables in update, delete and findAndModify filters.
    const byLet = { $expr: { $eq: ["$_id", "$$i"] } };
    await v.updateOne(byLet, { $set: { l: 1 } }, { let: { i: 2 } });
    assert.equal((await v.findOne({ _id: 2 }))?.l, 1);
    const got = await v.findOneAndUpdate(byLet, { $set: { m: 1 } }, {
      let: { i: 1 },
      returnDocument: "after",
    });
    assert.equal(got?.m, 1);
    await v.deleteOne(byLet, { let: { i: 2 } });
    assert.deepEqual((await v.find().toArray()).map((d) => d._id), [1]);
    // The concise correlated $lookup joins on the fields, then runs its pipeline on the matches.
    await db.collection<Doc>("o").insertMany([
      { _id: 10, cid: 1, n: 1 },
      { _id: 11, cid: 2, n: 2 },
      { _id: 12, cid: 1, n: 3 },
    ]);
    const joined = await v.aggregate([{
      $lookup: {
        from: "o",
        localField: "_id",
        foreignField: "cid",
        pipeline: [{ $project: { _id: 1 } }],
        as: "os",
      },
    }, { $project: { os: 1 } }]).toArray();
    assert.deepEqual(joined, [{ _id: 1, os: [{ _id: 10 }, { _id: 12 }] }]);
    // Its own `let`, whatever the names, is the user's: the join's variable hides none of them.
    const named = await v.aggregate([{
      $lookup: {
        from: "o",
        localField: "_id",
        foreignField: "cid",
        let: { mupLookupLocal: 3 },
        pipeline: [{ $match: { $expr: { $eq: ["$n", "$$mupLookupLocal"] } } }, {
          $project: { _id: 1 },
        }],
        as: "os",
      },
    }, { $project: { os: 1 } }]).toArray();
    assert.deepEqual(named, [{ _id: 1, os: [{ _id: 12 }] }]);
  });
});

Deno.test("simulator: replSetResizeOplog sets the oplog's cap ($collStats maxSize), kept across a restart, and minRetentionHours keeps newer entries over it; out-of-range sizes (51024), a size that is no number (14), another database (13) and a server without an oplog (26) are refused (tester103)", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [port, alone] = freePorts(2);
    await startReplSet(bin, dir, [port], {}, ["--oplogSize", "1"]);
    const started = await startMongod(bin, dir, alone);
    assert.equal(started.code, 0, output(started));
    const c = new MongoClient(`mongodb://localhost:${port}/?directConnection=true`);
    try {
      const db = c.db("admin");
      const maxSize = async () =>
        Number(
          (await c.db("local").collection("oplog.rs").aggregate([{
            $collStats: { storageStats: {} },
          }]).toArray())[0].storageStats.maxSize,
        );
      await refusedWith(db, { replSetResizeOplog: 1, size: 100 }, 51024);
      await refusedWith(db, { replSetResizeOplog: 1, size: "2000" }, 14);
      await refusedWith(db, { replSetResizeOplog: 1, minRetentionHours: -1 }, 51024);
      await refusedWith(c.db("app"), { replSetResizeOplog: 1, size: 2000 }, 13);
      const lone = new MongoClient(`mongodb://localhost:${alone}/?directConnection=true`);
      try {
        await refusedWith(lone.db("admin"), { replSetResizeOplog: 1, size: 2000 }, 26);
      } finally {
        await lone.close();
      }
      assert.equal(await maxSize(), 1024 * 1024);
      // minRetentionHours keeps entries newer than that over the size (1 MB here).
      await db.command({ replSetResizeOplog: 1, minRetentionHours: 1.5 });
      const pad = "x".repeat(2000);
      for (let b = 0; b < 3; b++) {
        await c.db("app").collection("big").insertMany(
          Array.from({ length: 500 }, (_, i) => ({ b, i, pad })),
        );
      }
      const kept = (await c.db("local").collection("oplog.rs").aggregate([{
        $collStats: { storageStats: {} },
      }]).toArray())[0].storageStats.size;
      assert.ok(kept > 2 * 1024 * 1024, `oplog of ${kept} bytes`);
      await db.command({ replSetResizeOplog: 1, size: 2000 });
      assert.equal(await maxSize(), 2000 * 1024 * 1024);
      await stopMongod(dir, port);
      // The size set outlives the --oplogSize the member starts with again.
      const again = await startMongod(bin, dir, port, ["--replSet", "rs0", "--oplogSize", "1"]);
      assert.equal(again.code, 0, output(again));
      assert.equal(await maxSize(), 2000 * 1024 * 1024);
    } finally {
      await c.close();
    }
  });
});
