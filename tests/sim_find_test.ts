/**
 * find, aggregate and upserts where the query engine under the simulator reads a request its own
 * way and mongod another, through the official driver (tester86): each answers as mongod does or
 * is refused with mongod's code.
 */
import assert from "node:assert/strict";
import { type Document, MongoClient, MongoServerError, Timestamp } from "mongodb";
import { simBin, startMongod, waitFor, withDir, withMongod } from "./sim_helpers.ts";
import { freePorts, output } from "./helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

type Doc = { _id: number; [field: string]: unknown };

async function refused(p: Promise<unknown>, code: number): Promise<void> {
  const e = await p.then(() => undefined, (e) => e);
  assert.ok(e instanceof MongoServerError, `expected code ${code}, got ${e}`);
  assert.equal(e.code, code, e.message);
}

Deno.test("simulator: find projections as mongod makes them (_id first, positional $, mixed kinds refused), let variables, $group needs an _id; returnKey, showRecordId and change streams are refused (tester86)", async () => {
  await withMongod(async (c) => {
    const db = c.db("app");
    const coll = db.collection<Doc>("f");
    await coll.insertOne({ _id: 1, a: 1, b: { c: 2 }, arr: [{ x: 1, y: 1 }, { x: 2, y: 2 }] });
    // _id first, then the document's order, as mongod's projection returns them.
    assert.deepEqual(
      Object.keys((await coll.findOne({}, { projection: { arr: { $slice: 1 }, a: 1 } }))!),
      ["_id", "a", "arr"],
    );
    // The positional $ keeps the element the query matched; none matching is refused.
    assert.deepEqual(
      await coll.findOne({ "arr.x": 2 }, { projection: { "arr.$": 1 } }),
      { _id: 1, arr: [{ x: 2, y: 2 }] },
    );
    // A query that names no field of the array cannot match one of its elements (31277).
    await refused(coll.find({}, { projection: { "arr.$": 1 } }).toArray(), 31277);
    await refused(coll.find({}, { projection: { a: 1, b: 0 } }).toArray(), 31254);
    await refused(coll.aggregate([{ $project: { a: 0, b: 1 } }]).toArray(), 31253);
    await refused(coll.aggregate([{ $group: { n: { $sum: 1 } } }]).toArray(), 15955);
    // What projection_parser.cpp refuses, with its codes and messages.
    for (
      const [projection, code, message] of [
        [{ a: 1, "a.b": 1 }, 31249, "Path collision at a.b remaining portion b"],
        [{ "b.c": 1, b: 1 }, 31250, "Path collision at b"],
        [
          { a: 0, n: { $add: [1, 2] } },
          31252,
          "Cannot use expression other than $meta in exclusion projection",
        ],
        [
          { "arr.$": 1, arr: { $elemMatch: { x: 1 } } },
          31255,
          "Cannot specify positional operator and $elemMatch.",
        ],
        [
          { arr: { $elemMatch: { x: 1 } }, "arr.$": 1 },
          31256,
          "Cannot specify positional operator and $elemMatch.",
        ],
        [
          { "b.arr": { $elemMatch: { x: 1 } } },
          31275,
          "Cannot use $elemMatch projection on a nested field.",
        ],
        [
          { arr: { $elemMatch: 1 } },
          31274,
          "elemMatch: Invalid argument, object required, but got int",
        ],
        [{ a: 0, n: "x" }, 31310, 'Cannot use an expression n: "x" in an exclusion projection'],
        [{ "arr.$.x.$": 1 }, 31287, "Cannot use positional operator twice: arr.$.x.$"],
        [
          { $a: 1 },
          16410,
          "FieldPath field names may not start with '$'. Consider using $getField or $setField.",
        ],
        [{ "a..b": 1 }, 15998, "FieldPath field names may not be empty strings."],
        [
          { arr: { $slice: [1] } },
          28667,
          "Invalid $slice syntax. The given syntax { $slice: [ 1 ] } did not match the find() syntax because :: Location31272: $slice array argument should be of form [skip, limit] :: The given syntax did not match the expression $slice syntax. :: caused by :: Expression $slice takes at least 2 arguments, and at most 3, but 1 were passed in.",
        ],
      ] as const
    ) {
      await assert.rejects(
        db.command({ find: "f", filter: { "arr.x": 1 }, projection }),
        (e: { code?: number; message: string }) => {
          assert.deepEqual([e.code, e.message], [code, message], JSON.stringify(projection));
          return true;
        },
      );
    }
    // $project takes no find-only feature.
    await refused(coll.aggregate([{ $project: { "arr.$": 1 } }]).toArray(), 31324);
    await refused(coll.aggregate([{ $project: { arr: { $elemMatch: { x: 1 } } } }]).toArray(), 168);
    // let: variables the filter and the projection read.
    const found = await db.command({
      find: "f",
      filter: { $expr: { $eq: ["$a", "$$v"] } },
      projection: { v: "$$v" },
      let: { v: 1 },
    });
    assert.deepEqual(found.cursor.firstBatch, [{ _id: 1, v: 1 }]);
    const none = await db.command({
      find: "f",
      filter: { $expr: { $eq: ["$a", "$$v"] } },
      let: { v: 2 },
    });
    assert.deepEqual(none.cursor.firstBatch, []);
    const agg = await db.command({
      aggregate: "f",
      pipeline: [{ $match: { $expr: { $eq: ["$a", "$$v"] } } }, { $project: { v: "$$v" } }],
      let: { v: 1 },
      cursor: {},
    });
    assert.deepEqual(agg.cursor.firstBatch, [{ _id: 1, v: 1 }]);
    await refused(db.command({ find: "f", returnKey: true }), 115);
    await refused(db.command({ find: "f", showRecordId: true }), 115);
    // A standalone has no change streams, as mongod says.
    const stream = coll.watch();
    try {
      await refused(stream.tryNext(), 40573);
    } finally {
      await stream.close();
    }
  });
});

Deno.test("simulator: an upsert takes its _id from $setOnInsert or $set, first in the document; $currentDate stores a Timestamp when asked (tester86)", async () => {
  await withMongod(async (c) => {
    const coll = c.db("app").collection<Doc>("u");
    await coll.updateOne({ x: 5 } as never, { $setOnInsert: { _id: 42 }, $set: { y: 1 } }, {
      upsert: true,
    });
    assert.deepEqual(await coll.findOne({ x: 5 } as never), { _id: 42, x: 5, y: 1 });
    await coll.updateOne({ x: 6 } as never, { $set: { _id: 43 } as never }, { upsert: true });
    assert.deepEqual(await coll.findOne({ x: 6 } as never), { _id: 43, x: 6 });
    // The query's _id is the document's: another in the update changes it, refused.
    await refused(
      coll.updateOne({ _id: 7 }, { $setOnInsert: { _id: 8 } }, { upsert: true }),
      66,
    );
    // No _id anywhere: a new ObjectId, first.
    const r = await coll.updateOne({ x: 9 } as never, { $set: { y: 1 } }, { upsert: true });
    assert.ok(r.upsertedId);
    assert.deepEqual(Object.keys((await coll.findOne({ x: 9 } as never))!), ["_id", "x", "y"]);
    await coll.updateOne({ _id: 42 }, {
      $currentDate: { t: { $type: "timestamp" }, d: true },
    } as Document);
    const d = await coll.findOne({ _id: 42 });
    assert.ok(d?.t instanceof Timestamp, `t is ${JSON.stringify(d?.t)}`);
    assert.ok(d?.d instanceof Date);
  });
});

Deno.test("simulator: a batch holds at most 16 MiB, the rest left in the cursor; batchSize 0, singleBatch and negative counts as mongod takes them (tester88)", async () => {
  await withMongod(async (c) => {
    const db = c.db("app");
    const big = db.collection<Doc>("big");
    // 20 documents of 1 MiB: more than one reply can hold.
    const mib = "z".repeat(1 << 20);
    for (let i = 0; i < 20; i++) await big.insertOne({ _id: i, big: mib });
    const first = await db.command({ find: "big" });
    const n = first.cursor.firstBatch.length;
    assert.ok(n > 0 && n < 20, `first batch of ${n}`);
    assert.notEqual(Number(first.cursor.id), 0);
    // The driver reads the rest through getMore: every document, once.
    const all = await big.find({}, { projection: { _id: 1 } }).toArray();
    assert.equal(all.length, 20);
    assert.equal((await big.find().toArray()).length, 20);
    assert.equal((await big.aggregate([{ $match: {} }]).toArray()).length, 20);
    const small = db.collection<Doc>("small");
    await small.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i })));
    // batchSize 0: nothing yet, the cursor open.
    const zero = await db.command({ find: "small", batchSize: 0 });
    assert.deepEqual(zero.cursor.firstBatch, []);
    assert.notEqual(Number(zero.cursor.id), 0);
    const rest = await db.command({ getMore: zero.cursor.id, collection: "small" });
    assert.equal(rest.cursor.nextBatch.length, 10);
    // singleBatch: one batch of batchSize, the cursor closed.
    const single = await db.command({ find: "small", batchSize: 3, singleBatch: true });
    assert.equal(single.cursor.firstBatch.length, 3);
    assert.equal(Number(single.cursor.id), 0);
    for (const field of ["batchSize", "limit", "skip"]) {
      await refused(db.command({ find: "small", [field]: -1 }), 51024);
    }
    const open = await db.command({ find: "small", batchSize: 1 });
    // maxTimeMS on a getMore is for awaitData cursors only (tester92).
    await refused(
      db.command({ getMore: open.cursor.id, collection: "small", maxTimeMS: 100 }),
      2,
    );
    await refused(
      db.command({ getMore: open.cursor.id, collection: "small", batchSize: -2 }),
      51024,
    );
  });
});

Deno.test("simulator: a reply over 16 MiB is refused with BSONObjectTooLarge (10334), the connection kept", async () => {
  await withMongod(async (c) => {
    const db = c.db("app");
    const big = db.collection<Doc>("huge");
    const mib = "z".repeat(1 << 20);
    for (let i = 0; i < 18; i++) await big.insertOne({ _id: i, big: mib });
    // One document gathering them all: larger than any reply.
    await refused(
      big.aggregate([{ $group: { _id: null, all: { $push: "$big" } } }]).toArray(),
      10334,
    );
    assert.equal(await big.countDocuments({}), 18);
  });
});

Deno.test("simulator: an idle cursor is killed after cursorTimeoutMillis (43 on getMore), one with noCursorTimeout is kept; setParameter changes the timeout, and names what it does not act on (tester88)", async () => {
  await withDir(async (dir) => {
    const [port] = freePorts(1);
    const started = await startMongod(await simBin("7.0.5"), dir, port, [
      "--setParameter",
      "cursorTimeoutMillis=500",
    ]);
    assert.equal(started.code, 0, output(started));
    const c = new MongoClient(`mongodb://localhost:${port}/?directConnection=true`);
    try {
      const db = c.db("app");
      await db.collection<Doc>("cur").insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: i })));
      const admin = c.db("admin");
      assert.equal(
        (await admin.command({ getParameter: 1, cursorTimeoutMillis: 1 }))
          .cursorTimeoutMillis,
        500,
      );
      const idle = await db.command({ find: "cur", batchSize: 1 });
      const kept = await db.command({ find: "cur", batchSize: 1, noCursorTimeout: true });
      // The monitor looks every 4 s: wait for it, not for a fixed time.
      await waitFor(
        () =>
          db.command({ getMore: idle.cursor.id, collection: "cur", batchSize: 1 }).then(
            () => undefined,
            (e: { code?: number }) => e.code === 43 ? true : undefined,
          ),
        30_000,
      );
      const more = await db.command({ getMore: kept.cursor.id, collection: "cur", batchSize: 1 });
      assert.equal(more.cursor.nextBatch.length, 1);
      const set = await admin.command({ setParameter: 1, cursorTimeoutMillis: 600_000 });
      assert.equal(set.was, 500);
      await refused(admin.command({ setParameter: 1, logLevel: 1 }), 115);
      await refused(admin.command({ setParameter: 1, noSuchParameter: 1 }), 72);
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator: a read that takes longer than its maxTimeMS fails with MaxTimeMSExpired (50) instead of answering late (tester88)", async () => {
  await withMongod(async (c) => {
    const coll = c.db("app").collection<Doc>("slow");
    await coll.insertMany(Array.from({ length: 20_000 }, (_, i) => ({ _id: i, g: i % 97 })));
    const pipeline = [{ $group: { _id: "$g", n: { $sum: 1 } } }, { $sort: { n: -1, _id: 1 } }];
    await refused(coll.aggregate(pipeline, { maxTimeMS: 1 }).toArray(), 50);
    // Without a limit, or with one it keeps, it answers.
    assert.equal((await coll.aggregate(pipeline).toArray()).length, 97);
    assert.equal((await coll.aggregate(pipeline, { maxTimeMS: 600_000 }).toArray()).length, 97);
    // A maxTimeMS that is not a number from 0 to 2^31-1 is refused before the command runs
    // (2; parseMaxTimeMS), whatever the command.
    const db = c.db("app");
    for (
      const [cmd, msg] of [
        [{ find: "slow", maxTimeMS: -1 }, "maxTimeMS is out of range"],
        [{ count: "slow", maxTimeMS: 2 ** 31 }, "maxTimeMS is out of range"],
        [
          { insert: "slow", documents: [{ _id: -1 }], maxTimeMS: "5" },
          "maxTimeMS must be a number",
        ],
      ] as const
    ) {
      await assert.rejects(db.command(cmd), (e: { code?: number; message: string }) => {
        assert.deepEqual([e.code, e.message], [2, msg]);
        return true;
      });
    }
    assert.equal(await coll.countDocuments({ _id: -1 }), 0);
  });
});

Deno.test("simulator: an upsert's new document holds the query's equalities (dotted paths, $and, one-value $in), never a regular expression; a dotted or array _id and a path given twice are refused (tester92)", async () => {
  await withMongod(async (c) => {
    const coll = c.db("app").collection<Doc>("seed");
    const up = (q: Document) => coll.updateOne(q as never, { $set: { b: 1 } }, { upsert: true });
    await up({ "x.y": 1, _id: 2 });
    assert.deepEqual(await coll.findOne({ _id: 2 }), { _id: 2, x: { y: 1 }, b: 1 });
    await up({ $and: [{ _id: 3 }, { a: 1 }, { c: 2 }] });
    assert.deepEqual(await coll.findOne({ _id: 3 }), { _id: 3, a: 1, c: 2, b: 1 });
    await up({ _id: { $in: [4] }, a: { $eq: 5 } });
    assert.deepEqual(await coll.findOne({ _id: 4 }), { _id: 4, a: 5, b: 1 });
    await up({ _id: 5, r: /x/ });
    assert.deepEqual(await coll.findOne({ _id: 5 }), { _id: 5, b: 1 });
    await refused(up({ _id: [1, 2] }), 53);
    await refused(up({ "_id.x": 1 }), 111);
    await refused(up({ _id: 6, a: 1, "a.b": 2 }), 54);
    assert.equal(await coll.countDocuments({ _id: 6 }), 0);
  });
});

Deno.test("simulator: a projection of $slice alone keeps the whole document, the arrays sliced (tester92)", async () => {
  await withMongod(async (c) => {
    const coll = c.db("app").collection<Doc>("sl");
    await coll.insertOne({
      _id: 1,
      x: 1,
      nums: [1, 2, 3, 4],
      sub: { c: [{ d: 1, e: 2 }, { d: 3 }], d: 1 },
    });
    assert.deepEqual(await coll.findOne({}, { projection: { nums: { $slice: 2 } } }), {
      _id: 1,
      x: 1,
      nums: [1, 2],
      sub: { c: [{ d: 1, e: 2 }, { d: 3 }], d: 1 },
    });
    assert.deepEqual(
      await coll.findOne({}, {
        projection: { "sub.c": { $slice: 1 }, nums: { $slice: [-3, 2] }, _id: 0 },
      }),
      { x: 1, nums: [2, 3], sub: { c: [{ d: 1, e: 2 }], d: 1 } },
    );
  });
});
