/**
 * The simulator keeps MongoDB's promises (issue 10): write concern, durability across SIGKILL,
 * retryable writes. Everything goes through the official driver against real processes.
 */
import assert from "node:assert/strict";
import { Long, MongoClient, MongoWriteConcernError, UUID } from "mongodb";
import { freePorts } from "./helpers.ts";
import {
  admin,
  killMember,
  memberState,
  rsUri,
  simBin,
  startMongod,
  startReplSet,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("simulator: write concern is honoured: 100 for w > members, 79 for an unknown tag, 64 on wtimeout with the write applied", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    // A long election timeout: the primary keeps its role while its secondaries are down.
    await startReplSet(bin, dir, ports, { electionTimeoutMillis: 60_000 });
    const c = new MongoClient(rsUri(ports));
    try {
      const db = c.db("app");
      await db.collection("wc").insertOne({ _id: 0 as never }, { writeConcern: { w: 3 } });
      const maj = await db.collection("wc").findOne({ _id: 0 as never }, {
        readConcern: { level: "majority" },
      });
      assert.equal(maj?._id, 0);
      // The whole reply, also when the driver raises its writeConcernError.
      const raw = (doc: Record<string, unknown>) =>
        db.command(doc).catch((e) => {
          if (e instanceof MongoWriteConcernError) return e.result as Record<string, never>;
          throw e;
        });
      // w: 5 on three members: applied, writeConcernError 100.
      let r = await raw({ insert: "wc", documents: [{ _id: 1 }], writeConcern: { w: 5 } });
      assert.equal(r.n, 1);
      assert.equal(r.writeConcernError?.code, 100);
      assert.equal(r.writeConcernError?.codeName, "UnsatisfiableWriteConcern");
      // An unknown tag set: 79.
      r = await raw({ insert: "wc", documents: [{ _id: 2 }], writeConcern: { w: "noSuchTag" } });
      assert.equal(r.writeConcernError?.code, 79);
      assert.match(r.writeConcernError?.errmsg, /No write concern mode named 'noSuchTag'/);
      // A tag set of its own (MongoDB 5.0+): no member carries tag dc, so none can satisfy it.
      r = await raw({ insert: "wc", documents: [{ _id: 3.5 }], writeConcern: { w: { dc: 1 } } });
      assert.equal(r.writeConcernError?.code, 100, JSON.stringify(r));
      await db.collection("wc").deleteOne({ _id: 3.5 as never }, { writeConcern: { w: 3 } });
      // The driver raises it as MongoWriteConcernError.
      await assert.rejects(
        db.collection("wc").insertOne({ _id: 3 as never }, { writeConcern: { w: 5 } }),
        (e) => e instanceof MongoWriteConcernError && e.code === 100,
      );
      // One secondary down: w: 3 times out (64) though the write is applied; w: 2 succeeds.
      await killMember(dir, ports[2]);
      r = await raw({
        insert: "wc",
        documents: [{ _id: 4 }],
        writeConcern: { w: 3, wtimeout: 1000 },
      });
      assert.equal(r.ok, 1);
      assert.equal(r.n, 1);
      assert.equal(r.writeConcernError?.code, 64);
      assert.equal(r.writeConcernError?.codeName, "WriteConcernFailed");
      assert.equal(r.writeConcernError?.errInfo?.wtimeout, true);
      r = await raw({ insert: "wc", documents: [{ _id: 5 }], writeConcern: { w: 2 } });
      assert.equal(r.writeConcernError, undefined);
      // Both secondaries down: w: "majority" cannot be met.
      await killMember(dir, ports[1]);
      // Everything the primary has is majority-committed, yet it cannot prove it is still the
      // primary: a linearizable read never answers (50), however old what it reads (tester88).
      const proof = await db.command({
        find: "wc",
        filter: { _id: 5 },
        readConcern: { level: "linearizable" },
        maxTimeMS: 500,
      }).then(() => 0, (e: { code?: number }) => e.code);
      assert.equal(proof, 50);
      r = await raw({
        insert: "wc",
        documents: [{ _id: 6 }],
        writeConcern: { w: "majority", wtimeout: 1500 },
      });
      assert.equal(r.n, 1);
      assert.equal(r.writeConcernError?.code, 64);
      assert.equal(await db.collection("wc").countDocuments({ _id: 6 as never }), 1);
      // Read concern "majority" never returns what a majority does not have: it answers at once
      // from the majority-committed snapshot, which holds _id 4 and 5 (two of three members
      // applied them) and not _id 6 (only the primary has it).
      const wc = db.collection<{ _id: number; v?: string }>("wc");
      const majority = { readConcern: { level: "majority" as const } };
      const ids = (await wc.find({}, majority).toArray()).map((d) => d._id).sort();
      assert.deepEqual(ids, [0, 1, 2, 3, 4, 5]);
      // A change a majority does not have: the snapshot keeps the version before it.
      await wc.updateOne({ _id: 5 }, { $set: { v: "new" } }, { writeConcern: { w: 1 } });
      await wc.deleteOne({ _id: 4 }, { writeConcern: { w: 1 } });
      assert.equal((await wc.findOne({ _id: 5 }, majority))?.v, undefined);
      assert.equal((await wc.findOne({ _id: 4 }, majority))?._id, 4);
      assert.equal(await wc.countDocuments({}, majority), 6);
      // A local read sees the newest data.
      assert.equal((await wc.findOne({ _id: 5 }))?.v, "new");
      assert.equal(await wc.countDocuments({}), 6);
      // Nor with data a majority does not have.
      const rc = await db.command({
        find: "wc",
        filter: { _id: 6 },
        readConcern: { level: "linearizable" },
        maxTimeMS: 500,
      }).then(() => 0, (e: { code?: number }) => e.code);
      assert.equal(rc, 50);
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator: a majority read after a majority write's operationTime sees it on a secondary; linearizable is the primary's; a write concern MongoDB does not parse writes nothing (tester57)", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(4);
    await startReplSet(bin, dir, ports.slice(0, 3), { electionTimeoutMillis: 60_000 });
    const c = new MongoClient(rsUri(ports.slice(0, 3)));
    const secondary = new MongoClient(
      `mongodb://localhost:${ports[1]}/?directConnection=true&readPreference=secondary`,
    );
    try {
      const db = c.db("app");
      // Causal consistency: majority reads after a majority write, on a secondary, read it
      // (read_concern_mongod.cpp waits for the majority snapshot to reach afterClusterTime).
      for (let i = 0; i < 10; i++) {
        const w = await db.command({
          insert: "cc",
          documents: [{ _id: i }],
          writeConcern: { w: "majority" },
        });
        const r = await secondary.db("app").command({
          find: "cc",
          filter: { _id: i },
          readConcern: { level: "majority", afterClusterTime: w.operationTime },
          maxTimeMS: 10_000,
        });
        assert.deepEqual(r.cursor.firstBatch, [{ _id: i }], `write ${i}`);
      }
      // linearizable: the primary's only (NotWritablePrimary on a secondary).
      await assert.rejects(
        secondary.db("app").command({ find: "cc", readConcern: { level: "linearizable" } }),
        (e: { code?: number; message: string }) =>
          e.code === 10107 &&
          e.message === "cannot satisfy linearizable read concern on non-primary node",
      );
      const lin = await db.command({
        find: "cc",
        filter: { _id: 9 },
        readConcern: { level: "linearizable" },
        maxTimeMS: 10_000,
      });
      assert.deepEqual(lin.cursor.firstBatch, [{ _id: 9 }]);
      // Write concerns MongoDB refuses to parse (FailedToParse), before anything is written.
      for (
        const [wc, msg] of [
          [{ w: -1 }, /w has to be a non-negative number and not greater than 50; found: -1/],
          [{ w: 51 }, /not greater than 50; found: 51/],
          [{ w: true }, /w has to be a number, string, or object/],
          [{ w: 1, j: true, fsync: true }, /fsync and j options cannot be used together/],
        ] as const
      ) {
        await assert.rejects(
          db.command({ insert: "bad", documents: [{ wc: JSON.stringify(wc) }], writeConcern: wc }),
          (e: { code?: number; message: string }) => e.code === 9 && msg.test(e.message),
          JSON.stringify(wc),
        );
      }
      // WriteConcernIdl is strict: an unknown field is 40415, a j or fsync that is no safeBool
      // 14 (tester105 #3); nothing is written.
      for (
        const [wc, code, msg] of [
          [{ w: 1, foo: 1 }, 40415, "BSON field 'WriteConcernOptions.foo' is an unknown field."],
          [
            { w: 1, j: "yes" },
            14,
            "BSON field 'WriteConcernOptions.j' is the wrong type 'string', expected types " +
            "'[bool, long, int, decimal, double]'",
          ],
          [
            { fsync: [] },
            14,
            "BSON field 'WriteConcernOptions.fsync' is the wrong type 'array', expected types " +
            "'[bool, long, int, decimal, double]'",
          ],
          // Not an object at all; a provenance that is none; tag counts that are no numbers
          // (tester106 #18).
          [
            5,
            14,
            "BSON field 'insert.writeConcern' is the wrong type 'int', expected type 'object'",
          ],
          [
            { w: 1, provenance: "foo" },
            2,
            "Enumeration value 'foo' for field 'WriteConcernOptions.provenance' is not a valid value.",
          ],
          [{ w: { dc: "x" } }, 9, "tags must be a single level document with only number values"],
        ] as const
      ) {
        await assert.rejects(
          db.command({ insert: "bad", documents: [{ wc: JSON.stringify(wc) }], writeConcern: wc }),
          (e: { code?: number; message: string }) => e.code === code && e.message === msg,
          JSON.stringify(wc),
        );
      }
      assert.equal(await db.collection("bad").countDocuments({}), 0);
      // j as a number is a safeBool; the ignored legacy fields pass.
      await db.command({
        insert: "good",
        documents: [{ _id: 1 }],
        writeConcern: { w: 1, j: 1, wtimeout: 0, getLastError: 1, wOpTime: 5 },
      });
      assert.equal(await db.collection("good").countDocuments({}), 1);
      // A standalone takes no linearizable read at all (NotAReplicaSet).
      const r = await startMongod(bin, dir, ports[3]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const single = new MongoClient(`mongodb://localhost:${ports[3]}/?directConnection=true`);
      try {
        await assert.rejects(
          single.db("app").command({ find: "x", readConcern: { level: "linearizable" } }),
          (e: { code?: number }) => e.code === 76,
        );
        // Nor a write concern that waits for other members: BadValue, nothing written
        // (tester88). "majority" and 1 are what a standalone can promise.
        const sdb = single.db("app");
        for (const w of [2, "dc"]) {
          await assert.rejects(
            sdb.command({ insert: "sw", documents: [{ _id: String(w) }], writeConcern: { w } }),
            (e: { code?: number }) => e.code === 2,
            `w: ${w}`,
          );
        }
        assert.equal(await sdb.collection("sw").countDocuments({}), 0);
        // A txnNumber on a standalone, with any command (tester88).
        await assert.rejects(
          sdb.command({
            listCollections: 1,
            lsid: { id: new UUID() },
            txnNumber: Long.fromNumber(1),
          }),
          (e: { code?: number }) => e.code === 20,
        );
        // A fractional w is its whole part: 1.9 is 1.
        for (const w of [1, "majority", 1.9]) {
          const ok = await sdb.command({
            insert: "sw",
            documents: [{ _id: String(w) }],
            writeConcern: { w },
          });
          assert.equal(ok.n, 1);
        }
      } finally {
        await single.close();
      }
    } finally {
      await secondary.close();
      await c.close();
    }
  });
});

Deno.test("simulator: writes acknowledged with j: true survive SIGKILL (several times)", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [port] = freePorts(1);
    for (let i = 0; i < 4; i++) {
      const r = await startMongod(bin, dir, port, i ? ["--logappend"] : []);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const c = new MongoClient(`mongodb://localhost:${port}/?directConnection=true`);
      try {
        await c.db("app").collection("j").insertOne({ _id: i as never, big: "x".repeat(1000) }, {
          writeConcern: { w: 1, j: true },
        });
        await c.db("app").collection("j").updateOne(
          { _id: 0 as never },
          { $inc: { n: 1 } },
          { writeConcern: { w: 1, j: true } },
        );
      } finally {
        await c.close();
      }
      await killMember(dir, port);
    }
    assert.equal((await startMongod(bin, dir, port, ["--logappend"])).code, 0);
    const c = new MongoClient(`mongodb://localhost:${port}/?directConnection=true`);
    try {
      const docs = await c.db("app").collection("j").find().sort({ _id: 1 }).toArray();
      assert.deepEqual(docs.map((d) => d._id), [0, 1, 2, 3]);
      assert.equal(docs[0].n, 4);
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator: retryable writes: the same lsid + txnNumber returns the first result, also on a new primary; a lower txnNumber is TransactionTooOld", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    await startReplSet(bin, dir, ports);
    const c = new MongoClient(rsUri(ports, "&retryWrites=false"));
    const session = c.startSession();
    try {
      const db = c.db("app");
      const run = (doc: Record<string, unknown>) => db.command(doc, { session });
      const ins = { insert: "rw", documents: [{ _id: 1, n: 0 }], txnNumber: Long.fromNumber(5) };
      assert.equal((await run(ins)).n, 1);
      const again = await run(ins);
      assert.equal(again.n, 1);
      assert.equal(again.writeErrors, undefined, "a retry is not a second insert");
      const inc = {
        update: "rw",
        updates: [{ q: { _id: 1 }, u: { $inc: { n: 1 } } }],
        txnNumber: Long.fromNumber(6),
        writeConcern: { w: "majority" },
      };
      await run(inc);
      await run(inc);
      assert.equal((await db.collection("rw").findOne({ _id: 1 as never }))?.n, 1);
      // A txnNumber on a command that is not a retryable write is refused (50768), not recorded:
      // a retryable write with that number after it runs (tester88). A session of its own.
      const other = c.startSession();
      const runOther = (doc: Record<string, unknown>) => db.command(doc, { session: other });
      for (
        const cmd of [
          { find: "rw" },
          { createIndexes: "rw", indexes: [{ key: { n: 1 }, name: "n_1" }] },
        ]
      ) {
        await assert.rejects(
          runOther({ ...cmd, txnNumber: Long.fromNumber(100) }),
          (e: { code?: number }) => e.code === 50768,
          JSON.stringify(cmd),
        );
      }
      assert.deepEqual(
        (await db.collection("rw").listIndexes().toArray()).map((i) => i.name),
        ["_id_"],
      );
      // No transaction is ever open: each of its commands is refused before it runs (263),
      // reads and listings too, and a commit or abort finds none (251) (tester88).
      const txn = { txnNumber: Long.fromNumber(50), autocommit: false };
      for (
        const cmd of [
          { listCollections: 1, ...txn, startTransaction: true },
          { find: "rw", ...txn, startTransaction: true },
          { insert: "rw", documents: [{ _id: 3 }], ...txn, startTransaction: true },
        ]
      ) {
        await assert.rejects(
          runOther(cmd),
          (e: { code?: number }) => e.code === 263,
          JSON.stringify(cmd),
        );
      }
      for (const end of ["commitTransaction", "abortTransaction"]) {
        await assert.rejects(
          c.db("admin").command({ [end]: 1, ...txn }, { session: other }),
          (e: { code?: number }) => e.code === 251,
          end,
        );
      }
      const other1 = { insert: "rw", documents: [{ _id: 2 }], txnNumber: Long.fromNumber(100) };
      assert.equal((await runOther(other1)).n, 1);
      assert.equal((await runOther(other1)).writeErrors, undefined, "a retry");
      await other.endSession();
      await assert.rejects(
        run({ ...inc, txnNumber: Long.fromNumber(4) }),
        (e: { code?: number; codeName?: string }) =>
          e.code === 225 && e.codeName === "TransactionTooOld",
      );
      // The record replicates with the write: a retry on the next primary is not applied again.
      const primary = (await db.admin().command({ hello: 1 })).primary as string;
      await killMember(dir, Number(primary.split(":")[1]));
      await waitFor(async () => {
        const h = await db.admin().command({ hello: 1 });
        return h.primary && h.primary !== primary ? true : undefined;
      }, 30_000);
      const retried = await waitFor(() => run(inc), 30_000);
      assert.equal(retried.n, 1);
      assert.equal((await db.collection("rw").findOne({ _id: 1 as never }))?.n, 1);
      await run({ ...inc, txnNumber: Long.fromNumber(7) });
      assert.equal((await db.collection("rw").findOne({ _id: 1 as never }))?.n, 2);
      // A statement that changes many documents cannot be retried: 72, and nothing changes.
      for (
        const [i, multi] of [
          { update: "rw", updates: [{ q: {}, u: { $inc: { n: 1 } }, multi: true }] },
          { delete: "rw", deletes: [{ q: {}, limit: 0 }] },
        ].entries()
      ) {
        const r = await run({ ...multi, txnNumber: Long.fromNumber(8 + i) });
        assert.equal(r.writeErrors?.[0]?.code, 72, JSON.stringify(r));
        assert.match(r.writeErrors[0].errmsg, /Cannot use \(or request\) retryable writes with/);
      }
      assert.equal((await db.collection("rw").findOne({ _id: 1 as never }))?.n, 2);
    } finally {
      await session.endSession();
      await c.close();
    }
  });
});

Deno.test("simulator: a restarted member catches up on every write; a member added later clones the data", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(4);
    await startReplSet(bin, dir, ports.slice(0, 3));
    const c = new MongoClient(rsUri(ports.slice(0, 3)));
    try {
      const coll = c.db("app").collection("many");
      await killMember(dir, ports[2]);
      const docs = Array.from({ length: 10_200 }, (_, i) => ({ _id: i, v: i }));
      for (let i = 0; i < docs.length; i += 1000) {
        await coll.insertMany(docs.slice(i, i + 1000) as never[]);
      }
      assert.equal(
        (await startMongod(bin, dir, ports[2], ["--replSet", "rs0", "--logappend"])).code,
        0,
      );
      const countOn = async (p: number) => {
        const s = new MongoClient(`mongodb://localhost:${p}/?directConnection=true`);
        try {
          return await s.db("app").collection("many").countDocuments({}, {
            readPreference: "secondaryPreferred",
          });
        } finally {
          await s.close();
        }
      };
      await waitFor(async () => (await countOn(ports[2])) === 10_200 || undefined, 60_000);
      assert.equal(await memberState(ports[2]), "SECONDARY");
      // A fourth member, added after the writes: initial sync clones, then follows the oplog.
      assert.equal((await startMongod(bin, dir, ports[3], ["--replSet", "rs0"])).code, 0);
      const cfg = (await c.db("admin").command({ replSetGetConfig: 1 })).config;
      cfg.version++;
      cfg.members.push({ _id: 3, host: `localhost:${ports[3]}`, priority: 0, votes: 0 });
      await c.db("admin").command({ replSetReconfig: cfg });
      await coll.insertOne({ _id: 10_200, v: 0 } as never);
      await waitFor(async () => (await countOn(ports[3])) === 10_201 || undefined, 60_000);
      await waitFor(async () => (await memberState(ports[3])) === "SECONDARY" || undefined);
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator: a member that fell off the oplog (replication.oplogSizeMB) goes RECOVERING, too stale", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    await startReplSet(bin, dir, ports, {}, ["--oplogSize", "1"]);
    const c = new MongoClient(rsUri(ports));
    try {
      const coll = c.db("app").collection("big");
      await killMember(dir, ports[2]);
      const pad = "x".repeat(2000);
      // Filling the oplog is only the setup: on a starved machine the two members left may hold
      // an election meanwhile (10 s without a heartbeat), which a batch survives by being sent
      // again once a primary answers (a retried batch only adds more oplog).
      for (let b = 0; b < 3; b++) {
        await waitFor(async () => {
          try {
            await coll.insertMany(Array.from({ length: 500 }, (_, i) => ({ b, i, pad })));
            return true;
          } catch (e) {
            if (/not primary|NotWritablePrimary|Server selection timed out/i.test(String(e))) {
              return undefined;
            }
            throw e;
          }
        }, 60_000);
      }
      assert.equal(
        (await startMongod(bin, dir, ports[2], [
          "--replSet",
          "rs0",
          "--oplogSize",
          "1",
          "--logappend",
        ]))
          .code,
        0,
      );
      await waitFor(
        async () => (await memberState(ports[2])) === "RECOVERING" || undefined,
        30_000,
      );
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator: a member too stale for the primary's oplog but not for a secondary's passes the primary over and catches up from that secondary, not RECOVERING", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    // The primary and member 2 keep 1 MB of oplog; member 1 the default, so it still holds
    // what member 2 missed once the primary has truncated it.
    for (const [i, p] of ports.entries()) {
      const extra = i === 1 ? [] : ["--oplogSize", "1"];
      const r = await startMongod(bin, dir, p, ["--replSet", "rs0", ...extra]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    await admin(ports[0], {
      replSetInitiate: {
        _id: "rs0",
        members: ports.map((p, i) => ({
          _id: i,
          host: `localhost:${p}`,
          ...(i === 0 ? { priority: 2 } : {}),
        })),
      },
    });
    await waitFor(
      async () => (await admin(ports[0], { hello: 1 })).isWritablePrimary || undefined,
      30_000,
    );
    for (const p of ports.slice(1)) {
      await waitFor(async () => (await memberState(p)) === "SECONDARY" || undefined, 30_000);
    }
    const c = new MongoClient(rsUri(ports));
    const direct = new MongoClient(
      `mongodb://localhost:${ports[2]}/?directConnection=true&readPreference=secondaryPreferred`,
    );
    try {
      const coll = c.db("app").collection("big");
      await coll.insertOne({ b: -1 }, { writeConcern: { w: 3 } });
      await killMember(dir, ports[2]);
      const pad = "x".repeat(2000);
      for (let b = 0; b < 3; b++) {
        await waitFor(async () => {
          try {
            await coll.insertMany(Array.from({ length: 500 }, (_, i) => ({ b, i, pad })), {
              writeConcern: { w: 2 },
            });
            return true;
          } catch (e) {
            if (/not primary|NotWritablePrimary|Server selection timed out/i.test(String(e))) {
              return undefined;
            }
            throw e;
          }
        }, 60_000);
      }
      const want = await coll.countDocuments({}, { readConcern: { level: "majority" } });
      const r = await startMongod(bin, dir, ports[2], [
        "--replSet",
        "rs0",
        "--oplogSize",
        "1",
        "--logappend",
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      await waitFor(
        async () =>
          (await direct.db("app").collection("big").countDocuments({})) >= want || undefined,
        60_000,
      );
      // Caught up, not RECOVERING; a loaded machine may have elected it since.
      assert.match(await memberState(ports[2]), /^(SECONDARY|PRIMARY)$/);
      const log = await Deno.readTextFile(`${dir}/${ports[2]}/log`);
      assert.match(log, /"id":4613800,.*"syncSource":"localhost:\d+"/, "the primary passed over");
      assert.doesNotMatch(log, /Too stale to catch up/);
    } finally {
      await direct.close();
      await c.close();
    }
  });
});

Deno.test("simulator: chaining: with the primary gone and the freshest secondary frozen, the other secondary syncs from it and is elected", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    await startReplSet(bin, dir, ports);
    const c = new MongoClient(rsUri(ports));
    try {
      await killMember(dir, ports[2]);
      await c.db("app").collection("ch").insertOne({ _id: 1 } as never, { writeConcern: { w: 2 } });
      await admin(ports[1], { replSetFreeze: 120 });
      await killMember(dir, ports[0]);
      assert.equal(
        (await startMongod(bin, dir, ports[2], ["--replSet", "rs0", "--logappend"])).code,
        0,
      );
      await waitFor(
        async () => (await admin(ports[2], { hello: 1 })).isWritablePrimary || undefined,
        30_000,
      );
      const s = new MongoClient(`mongodb://localhost:${ports[2]}/?directConnection=true`);
      try {
        assert.equal(await s.db("app").collection("ch").countDocuments(), 1);
      } finally {
        await s.close();
      }
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator: a retryable write whose statements only partly replicated before a failover runs only the missing ones when retried on the new primary (stmtIds in the oplog)", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [p0, p1, arb] = freePorts(3);
    const test = ["--replSet", "rs0", "--setParameter", "enableTestCommands=1"];
    for (const p of [p0, p1, arb]) {
      assert.equal((await startMongod(bin, dir, p, test)).code, 0);
    }
    await admin(p0, {
      replSetInitiate: {
        _id: "rs0",
        members: [
          { _id: 0, host: `localhost:${p0}`, priority: 2 },
          { _id: 1, host: `localhost:${p1}` },
          { _id: 2, host: `localhost:${arb}`, arbiterOnly: true },
        ],
      },
    });
    await waitFor(async () => (await admin(p0, { hello: 1 })).isWritablePrimary || undefined);
    await waitFor(async () => (await memberState(p1)) === "SECONDARY" || undefined, 30_000);
    // The secondary stops fetching before the write's third statement.
    await admin(p1, {
      configureFailPoint: "stopReplProducerOnDocument",
      mode: "alwaysOn",
      data: { document: { _id: 3 } },
    });
    const c = new MongoClient(rsUri([p0, p1], "&retryWrites=false"));
    const session = c.startSession();
    try {
      const db = c.db("app");
      const run = (doc: Record<string, unknown>) => db.command(doc, { session });
      const ins = {
        insert: "rw",
        documents: [{ _id: 1 }, { _id: 2 }, { _id: 3 }],
        txnNumber: Long.fromNumber(1),
        writeConcern: { w: 1 },
      };
      assert.equal((await run(ins)).n, 3);
      const onSecondary = new MongoClient(
        `mongodb://localhost:${p1}/?directConnection=true&readPreference=secondaryPreferred`,
      );
      try {
        const held = () =>
          onSecondary.db("app").collection("rw").find({}, { sort: { _id: 1 } }).toArray();
        await waitFor(async () => (await held()).length === 2 || undefined, 30_000);
        assert.deepEqual((await held()).map((d) => d._id), [1, 2]);
      } finally {
        await onSecondary.close();
      }
      // The primary goes; the secondary, with the arbiter's vote, takes over holding two of the
      // three inserts.
      await killMember(dir, p0);
      await waitFor(async () => (await admin(p1, { hello: 1 })).isWritablePrimary || undefined);
      await admin(p1, { configureFailPoint: "stopReplProducerOnDocument", mode: "off" });
      const retried = await waitFor(() => run(ins), 30_000);
      assert.equal(retried.n, 3, JSON.stringify(retried));
      assert.equal(retried.writeErrors, undefined, JSON.stringify(retried));
      const docs = await db.collection("rw").find({}, { sort: { _id: 1 } }).toArray();
      assert.deepEqual(docs.map((d) => d._id), [1, 2, 3]);
    } finally {
      await session.endSession();
      await c.close();
    }
  });
});
