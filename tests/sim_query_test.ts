/** The simulator's query language (mingo) and shapes, through the official driver (issue 10). */
import assert from "node:assert/strict";
import { Decimal128, type Document, Long, MongoClient, MongoServerError, ObjectId } from "mongodb";
import { freePorts, output } from "./helpers.ts";
import {
  admin,
  adminError,
  rsUri,
  simBin,
  startMongod,
  startMongos,
  startReplSet,
  waitFor,
  withDir,
  withMongod,
} from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("simulator: queries answer like MongoDB (regex, $group by field, $avg, update operators) or fail with its codes", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [port] = freePorts(1);
    assert.equal((await startMongod(bin, dir, port)).code, 0);
    const c = new MongoClient(`mongodb://localhost:${port}/?directConnection=true`);
    try {
      const coll = c.db("app").collection("q");
      await coll.insertMany([
        { _id: 1, s: "hello", b: "x", n: 1, tags: ["a"] },
        { _id: 2, s: "help", b: "x", n: 3, tags: [] },
        { _id: 3, s: "world", b: "y", n: 5, tags: ["b"] },
      ] as never[]);
      assert.deepEqual((await coll.find({ s: /^hel/ }).toArray()).map((d) => d._id), [1, 2]);
      assert.deepEqual(
        await coll.aggregate([{ $group: { _id: "$b", avg: { $avg: "$n" } } }, {
          $sort: { _id: 1 },
        }])
          .toArray(),
        [{ _id: "x", avg: 2 }, { _id: "y", avg: 5 }],
      );
      // $count as MongoDB desugars it: no input, no document (the engine's own said {n: 0}).
      assert.deepEqual(
        await coll.aggregate([{ $match: { s: "none" } }, { $count: "n" }]).toArray(),
        [],
      );
      assert.deepEqual(await coll.aggregate([{ $count: "n" }]).toArray(), [{ n: 3 }]);
      assert.deepEqual(
        await coll.aggregate([{ $match: { s: "none" } }, { $facet: { total: [{ $count: "n" }] } }])
          .toArray(),
        [{ total: [] }],
      );
      for (const [name, code] of [[1, 40156], ["", 40157], ["$n", 40158], ["a.b", 40160]]) {
        const e = await c.db("app").command({
          aggregate: "q",
          pipeline: [{ $count: name }],
          cursor: {},
        })
          .then(() => undefined, (e: { code?: number; message?: string }) => e);
        assert.equal(e?.code, code, `$count: ${JSON.stringify(name)}: ${e?.message}`);
      }
      assert.deepEqual(
        await coll.find({ n: { $gte: 3 } }, { projection: { s: 1, _id: 0 } }).sort({ n: -1 })
          .toArray(),
        [{ s: "world" }, { s: "help" }],
      );
      await coll.updateOne({ _id: 1 as never }, { $push: { tags: "c" }, $inc: { n: 10 } } as never);
      assert.deepEqual(await coll.findOne({ _id: 1 as never }), {
        _id: 1,
        s: "hello",
        b: "x",
        n: 11,
        tags: ["a", "c"],
      });
      await coll.updateOne({ _id: 9 as never }, { $setOnInsert: { fresh: true } }, {
        upsert: true,
      });
      assert.equal((await coll.findOne({ _id: 9 as never }))?.fresh, true);
      assert.equal(await coll.countDocuments({ tags: { $size: 0 } }), 1);
      assert.deepEqual((await coll.distinct("b")).sort(), ["x", "y"]);
      const found = await coll.findOneAndUpdate({ _id: 2 as never }, { $set: { s: "HELP" } }, {
        returnDocument: "after",
      });
      assert.equal(found?.s, "HELP");
      // Unknown operators fail with MongoDB's codes instead of matching nothing.
      await assert.rejects(
        coll.find({ n: { $bogus: 1 } }).toArray(),
        (e: { code?: number }) => e.code === 2,
      );
      await assert.rejects(
        coll.updateOne({ _id: 1 as never }, { $bogus: { n: 1 } } as never),
        (e: { code?: number }) => e.code === 9,
      );
      await assert.rejects(
        coll.aggregate([{ $bogus: {} }]).toArray(),
        (e: { code?: number }) => e.code === 40324,
      );
      // 7.0: dropping a missing collection succeeds.
      assert.equal(await c.db("app").collection("missing").drop(), true);
      // Indexes: created, listed, unique enforced, dropped.
      await coll.createIndex({ s: 1 }, { unique: true, name: "s_1" });
      assert.deepEqual((await coll.listIndexes().toArray()).map((i) => i.name), ["_id_", "s_1"]);
      await assert.rejects(
        coll.insertOne({ _id: 10, s: "world" } as never),
        (e: { code?: number; message: string }) =>
          e.code === 11000 && /index: s_1 dup key/.test(e.message),
      );
      await assert.rejects(
        coll.updateOne({ _id: 3 as never }, { $set: { s: "hello" } }),
        (e: { code?: number }) => e.code === 11000,
      );
      await coll.dropIndex("s_1");
      await coll.insertOne({ _id: 10, s: "world" } as never);
      // A bogus read concern level is refused.
      const rc = await adminError(port, { find: "q", readConcern: { level: "bogus" } });
      assert.equal(rc.code, 9, output(rc));
      // Multi-document transactions are refused, not half-applied.
      const session = c.startSession();
      try {
        session.startTransaction();
        await assert.rejects(coll.insertOne({ _id: 20 } as never, { session }));
        await session.abortTransaction().catch(() => {});
      } finally {
        await session.endSession();
      }
      assert.equal(await coll.countDocuments({ _id: 20 as never }), 0);
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator: what it would not act on is refused, not answered ok:1 (index options, collation, tailable cursors); $bucket's upper bounds, $natural: -1, cursors killed and read by namespace as MongoDB does (tester62)", async () => {
  await withMongod(async (c) => {
    const db = c.db("app");
    const coll = db.collection("f");
    await coll.insertMany([1, 2, 3, 3].map((a, i) => ({ i, a })));
    const code = (p: Promise<unknown>) => p.then(() => 0, (e: { code?: number }) => e.code);
    // Index options it would drop: 67 CannotCreateIndex, and no index is made.
    for (
      const opts of [
        { expireAfterSeconds: 1 },
        { sparse: true },
        { partialFilterExpression: { a: { $exists: true } } },
        { collation: { locale: "en", strength: 2 } },
        { hidden: true },
      ]
    ) {
      assert.equal(await code(coll.createIndex({ a: 1 }, opts)), 67, JSON.stringify(opts));
    }
    // A field that is no index option at all: 197 (tester86).
    assert.equal(
      await code(
        db.command({ createIndexes: "f", indexes: [{ key: { a: 1 }, name: "a", bogus: 1 }] }),
      ),
      197,
    );
    assert.deepEqual((await coll.listIndexes().toArray()).map((x) => x.name), ["_id_"]);
    // Collation, on reads, writes and collections: 115 CommandNotSupported.
    assert.equal(await code(coll.find({}, { collation: { locale: "en" } }).toArray()), 115);
    assert.equal(
      await code(coll.updateOne({ a: 1 }, { $set: { b: 1 } }, { collation: { locale: "en" } })),
      115,
    );
    assert.equal(await code(db.createCollection("co", { collation: { locale: "fr" } })), 115);
    assert.equal((await coll.findOne({ a: 1 }))?.b, undefined, "nothing was updated");
    // Tailable cursors: capped collections only (2 BadValue).
    assert.equal(await code(db.command({ find: "f", tailable: true })), 2);
    // awaitData is for tailable cursors only: 9 (tester88).
    assert.equal(await code(db.command({ find: "f", awaitData: true })), 9);
    // $bucket: [lower, upper).
    assert.deepEqual(
      await coll.aggregate([{ $bucket: { groupBy: "$a", boundaries: [0, 2, 4] } }]).toArray(),
      [{ _id: 0, count: 1 }, { _id: 2, count: 3 }],
    );
    // $natural: -1, as a sort and as a hint: newest first.
    assert.deepEqual(
      (await coll.find({}).sort({ $natural: -1 }).limit(2).toArray()).map((d) => d.i),
      [3, 2],
    );
    assert.deepEqual(
      (await coll.find({}).hint({ $natural: -1 }).limit(2).toArray()).map((d) => d.i),
      [3, 2],
    );
    // A cursor is read through its namespace only (13), and killCursors kills it.
    const first = await db.command({ find: "f", batchSize: 1 }, { promoteLongs: false });
    assert.equal(await code(db.command({ getMore: first.cursor.id, collection: "other" })), 13);
    const killed = await db.command({ killCursors: "f", cursors: [first.cursor.id, 424242] });
    assert.equal(killed.cursorsKilled.length, 1);
    assert.equal(killed.cursorsNotFound.length, 1);
    assert.equal(await code(db.command({ getMore: first.cursor.id, collection: "f" })), 43);
  });
});

Deno.test("simulator: unique keys compare as MongoDB compares values: an array field holds a key per element, numbers are equal across types, an ObjectId is not its hex text; an _id cannot be an array (tester62)", async () => {
  await withMongod(async (c) => {
    const u = c.db("app").collection("u");
    await u.createIndex({ k: 1 }, { unique: true });
    const code = (p: Promise<unknown>) => p.then(() => 0, (e: { code?: number }) => e.code);
    await u.insertOne({ k: ["x", "y"] });
    assert.equal(await code(u.insertOne({ k: ["y", "z"] })), 11000, "multikey");
    assert.equal(await code(u.insertOne({ k: "x" })), 11000, "an element against a scalar");
    // An insert's write error names its code as an update's does (tester88).
    const dup = await c.db("app").command({ insert: "u", documents: [{ k: "x" }] });
    assert.deepEqual(
      [dup.writeErrors?.[0]?.code, dup.writeErrors?.[0]?.codeName],
      [11000, "DuplicateKey"],
    );
    await u.insertOne({ k: Decimal128.fromString("7") });
    assert.equal(await code(u.insertOne({ k: 7 })), 11000, "7 and Decimal128 7");
    assert.equal(await code(u.insertOne({ k: Long.fromNumber(7) })), 11000, "Long 7");
    const oid = new ObjectId();
    await u.insertOne({ k: oid });
    assert.equal(await code(u.insertOne({ k: oid.toHexString() })), 0, "not the same value");
    await u.insertOne({ k: new Date(0) });
    assert.equal(await code(u.insertOne({ k: "1970-01-01T00:00:00.000Z" })), 0);
    const ids = c.db("app").collection("ids");
    await ids.insertOne({ _id: Long.fromString("9007199254740993") as never });
    assert.equal(
      await code(ids.insertOne({ _id: Long.fromString("9007199254740992") as never })),
      0,
      "two longs beyond 2^53",
    );
    assert.equal(await code(ids.insertOne({ _id: 9007199254740992 as never })), 11000);
    await ids.insertOne({ _id: Decimal128.fromString("8") as never });
    assert.equal(await code(ids.insertOne({ _id: 8 as never })), 11000);
    assert.equal(await code(ids.insertOne({ _id: [1, 2] as never })), 53);
    assert.equal(await ids.countDocuments({}), 3);
  });
});

Deno.test("simulator: shapes: settings as configured, serverStatus connections, opcounters, opcountersRepl, network and mem, replSetGetStatus on a removed member answers 93", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    await startReplSet(bin, dir, ports, {
      electionTimeoutMillis: 5000,
      heartbeatIntervalMillis: 500,
    });
    const c = new MongoClient(rsUri(ports));
    try {
      const cfg = (await c.db("admin").command({ replSetGetConfig: 1 })).config;
      assert.equal(cfg.settings.electionTimeoutMillis, 5000);
      assert.equal(cfg.settings.heartbeatIntervalMillis, 500);
      const st = await c.db("admin").command({ replSetGetStatus: 1 });
      assert.equal(st.heartbeatIntervalMillis, 500);
      const ss = await c.db("admin").command({ serverStatus: 1 });
      assert.ok(ss.connections.current >= 2, JSON.stringify(ss.connections));
      // opcounters count what the primary received (an insert each document, an update or delete
      // each statement), opcountersRepl what a secondary applied, one per oplog entry.
      const primaryPort = Number(
        String((await c.db("admin").command({ hello: 1 })).me).split(":")[1],
      );
      const secondaryPort = ports.find((p) => p !== primaryPort)!;
      const p0 = (await admin(primaryPort, { serverStatus: 1 })) as Document;
      const s0 = (await admin(secondaryPort, { serverStatus: 1 })) as Document;
      const coll = c.db("counted").collection<{ _id: number; a?: number }>("c");
      const w3 = { writeConcern: { w: 3 } };
      await coll.insertMany([{ _id: 1, a: 1 }, { _id: 2, a: 1 }, { _id: 3 }], w3);
      await coll.updateMany({ a: 1 }, { $set: { b: 1 } }, w3);
      await coll.deleteOne({ _id: 3 }, w3);
      assert.equal((await coll.find({}).toArray()).length, 2);
      const p1 = (await admin(primaryPort, { serverStatus: 1 })) as Document;
      const s1 = (await admin(secondaryPort, { serverStatus: 1 })) as Document;
      const delta = (a: Document, b: Document, section: string, field: string) =>
        Number(b[section][field]) - Number(a[section][field]);
      assert.equal(delta(p0, p1, "opcounters", "insert"), 3, JSON.stringify(p1.opcounters));
      assert.equal(delta(p0, p1, "opcounters", "update"), 1);
      assert.equal(delta(p0, p1, "opcounters", "delete"), 1);
      // The secondaries' oplog fetches are find commands too, as in MongoDB.
      assert.ok(delta(p0, p1, "opcounters", "query") >= 1);
      assert.ok(delta(p0, p1, "opcounters", "command") >= 1);
      assert.equal(delta(s0, s1, "opcountersRepl", "insert"), 3, JSON.stringify(s1.opcountersRepl));
      assert.equal(delta(s0, s1, "opcountersRepl", "update"), 2, "one oplog entry per document");
      assert.equal(delta(s0, s1, "opcountersRepl", "delete"), 1);
      assert.equal(delta(s0, s1, "opcounters", "insert"), 0, "a secondary received no insert");
      assert.ok(delta(p0, p1, "network", "numRequests") >= 5);
      assert.ok(
        delta(p0, p1, "network", "bytesIn") > 0 && delta(p0, p1, "network", "bytesOut") > 0,
      );
      assert.ok(p1.mem.resident > 0 && p1.mem.virtual >= p1.mem.resident, JSON.stringify(p1.mem));
      assert.equal(p1.storageEngine.name, "wiredTiger");
      const h = await c.db("admin").command({ hello: 1 });
      assert.ok(h.$clusterTime && h.operationTime, "hello carries $clusterTime and operationTime");
      // Strict config parsing, as 7.0's: unknown fields and bad values are refused.
      const bogus = await adminError(ports[0], {
        replSetReconfig: { ...cfg, version: cfg.version + 1, bogus: 1 },
      });
      assert.equal(bogus.code, 40415, output(bogus));
      const bad = await adminError(ports[0], {
        replSetReconfig: {
          ...cfg,
          version: cfg.version + 1,
          settings: { ...cfg.settings, electionTimeoutMillis: "soon" },
        },
      });
      assert.equal(bad.code, 14, output(bad));
      cfg.version++;
      cfg.members = cfg.members.filter((m: { _id: number }) => m._id !== 2);
      await c.db("admin").command({ replSetReconfig: cfg });
      // The removed member learns of its removal by heartbeat (until then the command succeeds).
      const removed = await waitFor(async () => {
        const e = await adminError(ports[2], { replSetGetStatus: 1 });
        return e.code === 93 ? e : undefined;
      }).catch(() => adminError(ports[2], { replSetGetStatus: 1 }));
      assert.equal(removed.code, 93, removed.message);
      assert.equal((await admin(ports[2], { hello: 1 })).isWritablePrimary, false);
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator: mongos serves the config database from the config servers; the balancer state reflects balancerStop", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [cfg, s1, mongosPort] = freePorts(3);
    assert.equal((await startMongod(bin, dir, cfg, ["--replSet", "cfg", "--configsvr"])).code, 0);
    assert.equal((await startMongod(bin, dir, s1, ["--replSet", "sh1", "--shardsvr"])).code, 0);
    await admin(cfg, { replSetInitiate: {} });
    await admin(s1, { replSetInitiate: {} });
    const ms = (await startMongos(bin, dir, mongosPort, `cfg/localhost:${cfg}`)).code;
    assert.equal(ms, 0);
    await waitFor(async () => (await admin(s1, { hello: 1 })).isWritablePrimary || undefined);
    await admin(mongosPort, { addShard: `sh1/localhost:${s1}` });
    await admin(mongosPort, { balancerStop: 1 });
    const c = new MongoClient(`mongodb://localhost:${mongosPort}/`);
    try {
      const shards = await c.db("config").collection("shards").find().toArray();
      assert.deepEqual(shards.map((s) => s._id), ["sh1"]);
      const bal = await c.db("config").collection("settings").findOne({ _id: "balancer" as never });
      assert.equal(bal?.stopped, true);
      assert.equal((await admin(mongosPort, { balancerStatus: 1 })).mode, "off");
      // Nothing of the config database went to the shard.
      const onShard = new MongoClient(`mongodb://localhost:${s1}/?directConnection=true`);
      try {
        assert.equal(await onShard.db("config").collection("shards").countDocuments(), 0);
      } finally {
        await onShard.close();
      }
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator: a hint must name an index of the collection (by name or key pattern) or $natural; any other is BadValue (2) in find, count, aggregate, update, delete and findAndModify, as mongod's planner refuses it (tester62 M3)", async () => {
  await withMongod(async (c) => {
    const coll = c.db("app").collection("h");
    await coll.insertMany([{ a: 1 }, { a: 2 }]);
    await coll.createIndex({ a: 1 });
    const refused = async (what: string, p: Promise<unknown>) => {
      const e = await p.then(() => undefined, (e: { code?: number; message?: string }) => e);
      assert.equal(e?.code, 2, `${what}: ${JSON.stringify(e)}`);
      assert.match(e?.message ?? "", /hint provided does not correspond to an existing index/);
    };
    // Hints that name an index, or none, or a collection scan, answer.
    for (const hint of ["a_1", { a: 1 }, { _id: 1 }, { $natural: -1 }]) {
      assert.equal((await coll.find({}, { hint }).toArray()).length, 2, JSON.stringify(hint));
    }
    await refused("find by name", coll.find({}, { hint: "nope" }).toArray());
    await refused("find by key", coll.find({}, { hint: { b: 1 } }).toArray());
    await refused("count", coll.countDocuments({}, { hint: "nope" }));
    await refused("aggregate", coll.aggregate([{ $match: {} }], { hint: { b: 1 } }).toArray());
    await refused("update", coll.updateOne({ a: 1 }, { $set: { b: 1 } }, { hint: "nope" }));
    await refused("delete", coll.deleteOne({ a: 1 }, { hint: { b: 1 } }));
    await refused("findAndModify", coll.findOneAndDelete({ a: 1 }, { hint: { b: 1 } }));
    // Nothing was changed by the refused writes.
    assert.deepEqual(
      await coll.find({}, { projection: { _id: 0 } }).sort({ a: 1 }).toArray(),
      [{ a: 1 }, { a: 2 }],
    );
    // A collection that does not exist has no plan to refuse: empty, no error.
    assert.deepEqual(await c.db("app").collection("none").find({}, { hint: "nope" }).toArray(), []);
  });
});

Deno.test("simulator: updates mongod refuses are refused with its codes, never answered as done; $push $sort/$slice and $addToSet $each as MongoDB applies them; documents over 16 MiB are refused (tester86)", async () => {
  await withMongod(async (c) => {
    const coll = c.db("app").collection<{
      _id: number | string;
      a?: number;
      s?: string;
      ps?: number[];
      tags?: number[];
      arr?: { k: number; v: number }[];
    }>("u");
    await coll.insertMany([{ _id: 1, a: 1 }, { _id: 2, s: "x" }, { _id: 3, ps: [] }]);
    const failure = async (p: Promise<unknown>) => {
      const e = await p.then(() => undefined, (e) => e);
      assert.ok(e instanceof MongoServerError, `refused, not answered: ${e}`);
      return [e.code, e.message] as [number, string];
    };
    // A replacement with another _id: 66, and neither document changed nor a second written.
    const [replaced, why] = await failure(
      coll.replaceOne({ _id: 1 }, { _id: 12, a: 2 } as { a: number }),
    );
    assert.equal(replaced, 66, why);
    assert.match(why, /the \(immutable\) field '_id' was found to have been altered to _id: 12/);
    assert.deepEqual(await coll.find({ _id: { $in: [1, 12] } }).toArray(), [{ _id: 1, a: 1 }]);
    // Operators on a value of the wrong type, and paths through a scalar.
    const refusals: [Document, number][] = [
      [{ $inc: { s: 1 } }, 14],
      [{ $mul: { s: 2 } }, 14],
      [{ $inc: { a: "x" } }, 14],
      [{ $push: { s: 1 } }, 2],
      [{ $addToSet: { s: 1 } }, 2],
      [{ $pull: { s: 1 } }, 2],
      [{ $pop: { s: 1 } }, 14],
      [{ $set: { "s.t": 1 } }, 28],
      [{ $set: { "": 1 } }, 56],
      [{ $set: { a: 1 }, $inc: { a: 1 } }, 40],
    ];
    for (const [u, want] of refusals) {
      const [code, message] = await failure(coll.updateOne({ _id: 2 }, u));
      assert.equal(code, want, `${JSON.stringify(u)}: ${message}`);
    }
    assert.deepEqual(await coll.findOne({ _id: 2 }), { _id: 2, s: "x" }, "left as it was");
    // $push with $each, $sort and $slice; $addToSet with $each adds each value once.
    await coll.updateOne({ _id: 3 }, {
      $push: { ps: { $each: [5, 1, 3], $sort: 1, $slice: 2 } },
      $addToSet: { tags: { $each: [1, 2, 2, 3] } },
    });
    assert.deepEqual(await coll.findOne({ _id: 3 }), { _id: 3, ps: [1, 3], tags: [1, 2, 3] });
    await coll.updateOne({ _id: 3 }, { $push: { ps: { $each: [9, 0], $sort: -1, $slice: -2 } } });
    assert.deepEqual((await coll.findOne({ _id: 3 }))!.ps, [1, 0]);
    // The positional $: the element the query matched.
    await coll.insertOne({ _id: 4, arr: [{ k: 1, v: 0 }, { k: 3, v: 0 }] });
    const pos = await coll.updateOne({ _id: 4, "arr.k": 3 }, { $set: { "arr.$.v": 33 } });
    assert.equal(pos.modifiedCount, 1);
    assert.deepEqual((await coll.findOne({ _id: 4 }))!.arr, [{ k: 1, v: 0 }, { k: 3, v: 33 }]);
    // 64 indexes per collection, _id's counted.
    const many = c.db("app").collection("many");
    await many.createIndexes(Array.from({ length: 63 }, (_, i) => ({ key: { [`f${i}`]: 1 } })));
    assert.equal((await failure(many.createIndex({ g: 1 })))[0], 67);
    assert.equal((await many.listIndexes().toArray()).length, 64);
    // A find's filter of another type, and min() without a hint, are refused, not read as all.
    assert.equal(
      (await failure(c.db("app").command({ find: "u", filter: 5 })))[0],
      14,
    );
    assert.equal((await failure(coll.find({}).min({ _id: 3 }).toArray()))[0], 51173);
    // _id: set to the value it has is no change; any other change is ImmutableField.
    assert.equal((await coll.updateOne({ _id: 1 }, { $set: { _id: 1 } })).modifiedCount, 0);
    for (const u of [{ $set: { _id: 11 } }, { $unset: { _id: 1 } }, { $rename: { a: "_id" } }]) {
      assert.equal((await failure(coll.updateOne({ _id: 1 }, u as Document)))[0], 66);
    }
    // Collection names MongoDB refuses.
    for (const name of ["a$b", "system.foo"]) {
      assert.equal((await failure(c.db("app").createCollection(name)))[0], 73, name);
    }
    // A multi update with a replacement document.
    const multi = await c.db("app").command({
      update: "u",
      updates: [{ q: { _id: 1 }, u: { a: 5 }, multi: true }],
    });
    assert.equal(multi.writeErrors?.[0]?.code, 9, JSON.stringify(multi));
    // maxBsonObjectSize: a larger document is refused, and so is an update making one.
    const [big, bigWhy] = await failure(
      coll.insertOne({ _id: "big", s: "x".repeat(16 * 1024 * 1024 + 10) }),
    );
    assert.equal(big, 2, bigWhy);
    assert.match(bigWhy, /object to insert too large/);
    assert.equal(await coll.countDocuments({ _id: "big" }), 0);
    await coll.insertOne({ _id: "half", s: "y".repeat(9 * 1024 * 1024) });
    const [grown] = await failure(
      coll.updateOne({ _id: "half" }, [{ $set: { t: { $concat: ["$s", "$s"] } } }]),
    );
    assert.equal(grown, 17419);
  });
});
