/**
 * Issue 10's failover test: a client writes with w: "majority" and retryable writes while the
 * primary is killed with SIGKILL ten times; afterwards every acknowledged write is present
 * exactly once.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { Long, MongoClient, MongoWriteConcernError, type Timestamp } from "mongodb";
import { freePorts } from "./helpers.ts";
import {
  admin,
  adminError,
  killMember,
  memberState,
  pidOf,
  primaryAmong,
  rsUri,
  simBin,
  startMongod,
  startReplSet,
  waitFor,
  withDir,
  withFreezableSet,
} from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("simulator: failover: w:majority retryable writes while the primary is SIGKILLed ten times; every acknowledged write present exactly once", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    await startReplSet(bin, dir, ports);
    const client = new MongoClient(rsUri(ports, "&retryWrites=true&w=majority"));
    const acked: number[] = [];
    const failed: number[] = [];
    const errors: string[] = [];
    let incAcked = 0, incFailed = 0;
    let stop = false;
    try {
      const db = client.db("app");
      const writer = (async () => {
        for (let seq = 0; !stop; seq++) {
          try {
            await db.collection("seq").insertOne({ seq });
            acked.push(seq);
          } catch (e) {
            failed.push(seq);
            errors.push(`insert: ${(e as Error).message}`);
          }
          try {
            await db.collection("counter").updateOne({ _id: "c" } as never, { $inc: { n: 1 } }, {
              upsert: true,
            });
            incAcked++;
          } catch (e) {
            incFailed++;
            errors.push(`$inc: ${(e as Error).message}`);
          }
        }
      })();
      try {
        for (let round = 0; round < 10; round++) {
          const before = acked.length;
          await waitFor(() => Promise.resolve(acked.length >= before + 5 || undefined), 60_000);
          // Asked until a primary is named: the one asked may be stepping down just then (a
          // priority takeover on a loaded machine), and its hello then names none.
          const primary = await waitFor(async () => {
            const h = await db.admin().command({ hello: 1 });
            return h.primary ? String(h.primary) : undefined;
          }, 60_000);
          const port = Number(primary.split(":")[1]);
          await killMember(dir, port);
          await waitFor(async () => {
            const h = await db.admin().command({ hello: 1 });
            return h.primary && h.primary !== primary ? true : undefined;
          }, 60_000);
          const r = await startMongod(bin, dir, port, ["--replSet", "rs0", "--logappend"]);
          assert.equal(r.code, 0, r.stdout + r.stderr);
        }
        const last = acked.length;
        await waitFor(() => Promise.resolve(acked.length >= last + 5 || undefined), 60_000);
      } finally {
        stop = true;
        await writer;
      }
      for (const p of ports) {
        await waitFor(async () => {
          const s = await memberState(p);
          return s === "PRIMARY" || s === "SECONDARY" || undefined;
        }, 60_000);
      }
      const counts = new Map<number, number>();
      for (const d of await db.collection("seq").find().toArray()) {
        counts.set(d.seq, (counts.get(d.seq) ?? 0) + 1);
      }
      for (const s of acked) assert.equal(counts.get(s), 1, `acknowledged insert ${s}`);
      for (const s of failed) assert.ok((counts.get(s) ?? 0) <= 1, `failed insert ${s}`);
      const n = (await db.collection("counter").findOne({ _id: "c" } as never))?.n ?? 0;
      assert.ok(
        n >= incAcked && n <= incAcked + incFailed,
        `$inc applied ${n} times; ${incAcked} acknowledged, ${incFailed} failed`,
      );
      console.log(
        `failover: ${acked.length} inserts acknowledged (${failed.length} failed), $inc ${incAcked} acknowledged (${incFailed} failed), counter ${n}`,
      );
      if (errors.length) console.log(`failed writes: ${[...new Set(errors)].join("; ")}`);
    } finally {
      await client.close();
    }
  });
});

Deno.test("simulator: replSetStepDown while eight clients write with w:1: it holds writes back until a secondary caught up, so every acknowledged write is on the new primary and no member rolls back", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    await startReplSet(bin, dir, ports);
    // w:1 without retries: an acknowledged write was taken by the primary alone, and nothing
    // hides a write that the step-down lost.
    const client = new MongoClient(rsUri(ports, "&retryWrites=false&w=1"));
    const acked: number[] = [];
    let stop = false;
    let next = 0;
    try {
      const coll = client.db("app").collection("w1");
      const writers = Array.from({ length: 8 }, async () => {
        while (!stop) {
          const id = next++;
          try {
            await coll.insertOne({ _id: id as never });
            acked.push(id);
          } catch {
            // NotWritablePrimary while the primary steps down: not acknowledged.
          }
        }
      });
      try {
        for (let round = 0; round < 4; round++) {
          const before = acked.length;
          await waitFor(() => Promise.resolve(acked.length >= before + 50 || undefined), 60_000);
          const primary = String((await client.db("admin").command({ hello: 1 })).primary);
          await admin(Number(primary.split(":")[1]), {
            replSetStepDown: 10,
            secondaryCatchUpPeriodSecs: 5,
          });
          await waitFor(async () => {
            const h = await client.db("admin").command({ hello: 1 });
            return h.primary && h.primary !== primary ? true : undefined;
          }, 60_000);
        }
        const last = acked.length;
        await waitFor(() => Promise.resolve(acked.length >= last + 50 || undefined), 60_000);
      } finally {
        stop = true;
        await Promise.all(writers);
      }
      // A w:majority write commits everything the primary had before it, so a majority read
      // sees every write it acknowledged with w:1 since the last step-down.
      await coll.insertOne({ _id: -1 as never }, { writeConcern: { w: "majority" } });
      const have = new Set(
        (await coll.find({}, { readConcern: { level: "majority" } }).toArray()).map((d) =>
          d._id as unknown as number
        ),
      );
      const lost = acked.filter((id) => !have.has(id));
      assert.deepEqual(
        lost.slice(0, 10),
        [],
        `${lost.length} of ${acked.length} acked writes lost`,
      );
      for (const p of ports) {
        const log = await Deno.readTextFile(path.join(dir, String(p), "log"));
        assert.doesNotMatch(log, /"id":21593/, `localhost:${p} went into ROLLBACK`);
      }
      console.log(`step-downs under w:1 writes: ${acked.length} writes acknowledged, none lost`);
    } finally {
      await client.close();
    }
  });
});

Deno.test("simulator: replSetStepDown blocks writes while its secondaries catch up: with both secondaries frozen, no w:1 write is acknowledged until it hands over, and none is lost", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    // Slow elections: the frozen secondaries must not look down while the primary waits.
    await startReplSet(bin, dir, ports, { electionTimeoutMillis: 10_000 });
    const client = new MongoClient(rsUri(ports, "&retryWrites=false&w=1"));
    const frozen = ports.slice(1).map((p) => pidOf(dir, p));
    const acked: number[] = [];
    let stop = false;
    try {
      const coll = client.db("app").collection("held");
      await coll.insertOne({ _id: -1 as never }, { writeConcern: { w: "majority" } });
      for (const pid of frozen) Deno.kill(pid, "SIGSTOP");
      // The primary is ahead of both secondaries from here on.
      await coll.insertOne({ _id: 0 as never });
      acked.push(0);
      const sent = acked.length;
      const stepDown = admin(ports[0], { replSetStepDown: 30, secondaryCatchUpPeriodSecs: 20 });
      stepDown.catch(() => {});
      // Once the primary says it is stepping down (log ID 21579, as mongod logs it), it must hold
      // every write back until a secondary caught up.
      const log = path.join(dir, String(ports[0]), "log");
      await waitFor(async () => (await Deno.readTextFile(log)).includes('"id":21579') || undefined);
      const writer = (async () => {
        for (let id = 1; !stop; id++) {
          try {
            await coll.insertOne({ _id: id as never });
            acked.push(id);
          } catch {
            // NotWritablePrimary once it stepped down.
          }
        }
      })();
      // The window: a primary that does not hold writes back acknowledges many meanwhile.
      await waitFor(() => Promise.resolve(acked.length >= sent + 20 || undefined), 1_500)
        .catch(() => {});
      const duringFreeze = acked.length - sent;
      for (const pid of frozen) Deno.kill(pid, "SIGCONT");
      await stepDown;
      stop = true;
      await writer;
      assert.equal(
        duringFreeze,
        0,
        `${duringFreeze} writes acknowledged while no secondary had caught up`,
      );
      await waitFor(async () => {
        const h = await client.db("admin").command({ hello: 1 });
        return h.primary && h.primary !== `localhost:${ports[0]}` ? true : undefined;
      }, 30_000);
      await coll.insertOne({ _id: -2 as never }, { writeConcern: { w: "majority" } });
      const have = new Set(
        (await coll.find({}, { readConcern: { level: "majority" } }).toArray()).map((d) =>
          d._id as unknown as number
        ),
      );
      assert.deepEqual(acked.filter((id) => !have.has(id)), [], "no acknowledged write lost");
    } finally {
      stop = true;
      for (const pid of frozen) {
        try {
          Deno.kill(pid, "SIGCONT");
        } catch {
          // Already gone.
        }
      }
      await client.close();
    }
  });
});

Deno.test("simulator: a replSetUpdatePosition whose $replData names a newer term steps the primary down first: that member's position does not acknowledge a write of the old term (189)", async () => {
  await withFreezableSet(3, async ({ ports, freeze }) => {
    const client = new MongoClient(
      `mongodb://localhost:${ports[0]}/?directConnection=true&retryWrites=false`,
    );
    try {
      const coll = client.db("app").collection("terms");
      await coll.insertOne({ _id: 0 as never }, { writeConcern: { w: "majority" } });
      const before = (await admin(ports[0], { hello: 1 })).lastWrite as {
        opTime: { ts: Timestamp; t: number };
      };
      for (const p of ports.slice(1)) freeze(p);
      const write = coll.insertOne({ _id: 1 as never }, {
        writeConcern: { w: "majority", wtimeoutMS: 20_000 },
      }).then(() => "acknowledged", (e) => e);
      const after = await waitFor(async () => {
        const h = await admin(ports[0], { hello: 1 });
        const w = h.lastWrite as { opTime: { ts: Timestamp; t: number } };
        return w.opTime.ts.greaterThan(before.opTime.ts) ? w.opTime : undefined;
      });
      const { config } = await admin(ports[0], { replSetGetConfig: 1 }) as {
        config: { version: number };
      };
      const term = Number(after.t);
      // Member 1 has the write, and has voted in an election of term + 1 that the primary has
      // not heard of: the write may be on no member of the new primary's majority.
      const opTime = { ts: after.ts, t: Long.fromNumber(term) };
      await admin(ports[0], {
        replSetUpdatePosition: 1,
        optimes: [{
          appliedOpTime: opTime,
          durableOpTime: opTime,
          memberId: 1,
          cfgver: config.version,
        }],
        $replData: { term: Long.fromNumber(term + 1), configVersion: config.version },
      });
      const outcome = await write;
      assert.notEqual(outcome, "acknowledged", "a write of the old term acknowledged");
      assert.ok(outcome instanceof MongoWriteConcernError, String(outcome));
      assert.equal(outcome.code, 189, outcome.message);
      const h = await admin(ports[0], { hello: 1 });
      assert.equal(h.isWritablePrimary, false);
    } finally {
      await client.close();
    }
    // Slow elections: the frozen secondaries must not look down while the write waits.
  }, { electionTimeoutMillis: 10_000 });
});

Deno.test("simulator: an oplog fetcher's find with a newer term steps the primary down and is refused (StaleTerm, 145); with its own term it is served", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    await startReplSet(await simBin("7.0.5"), dir, ports, { electionTimeoutMillis: 10_000 });
    const client = new MongoClient(`mongodb://localhost:${ports[0]}/?directConnection=true`);
    try {
      const local = client.db("local");
      const { term } = await local.admin().command({ replSetGetStatus: 1 });
      const served = await local.command({
        find: "oplog.rs",
        limit: 1,
        term: Long.fromNumber(Number(term)),
      });
      assert.equal(served.cursor.firstBatch.length, 1);
      await assert.rejects(
        local.command({ find: "oplog.rs", limit: 1, term: Long.fromNumber(Number(term) + 1) }),
        (e: { code?: number }) => e.code === 145,
      );
      const h = await local.admin().command({ hello: 1 });
      assert.equal(h.isWritablePrimary, false, "the primary of the older term stepped down");
    } finally {
      await client.close();
    }
  });
});

Deno.test("simulator: a reconfig that gives the primary priority 0 is refused (NodeNotElectable, 104) and changes nothing; stepped down first, the new primary installs it", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    await startReplSet(await simBin("7.0.5"), dir, ports);
    type Config = { term?: number; version: number; members: { priority: number }[] };
    const config = async (p: number) => (await admin(p, { replSetGetConfig: 1 })).config as Config;
    const cfg = await config(ports[0]);
    delete cfg.term;
    cfg.version++;
    cfg.members[0].priority = 0;
    const refused = await adminError(ports[0], { replSetReconfig: cfg });
    assert.deepEqual([refused.code, refused.codeName], [104, "NodeNotElectable"]);
    assert.match(
      refused.message,
      new RegExp(`This node, localhost:${ports[0]}, with _id 0 is not electable under the new`),
    );
    const kept = await config(ports[0]);
    assert.deepEqual([kept.version, kept.members[0].priority], [cfg.version - 1, 2]);
    assert.equal((await admin(ports[0], { hello: 1 })).isWritablePrimary, true);
    // As the manual says: step it down, then reconfigure on the new primary.
    await admin(ports[0], { replSetStepDown: 60, secondaryCatchUpPeriodSecs: 10 }).catch(() => {});
    const next = await primaryAmong(ports.slice(1), 20_000);
    assert.ok((await admin(next, { replSetReconfig: cfg })).ok);
    assert.equal((await config(next)).members[0].priority, 0);
  });
});

Deno.test("simulator: a primary cut off from its secondaries steps down after about electionTimeoutMillis, not before it and not twice as long (tester88)", async () => {
  await withFreezableSet(3, async ({ ports, freeze }) => {
    for (const p of ports.slice(1)) freeze(p);
    const t0 = Date.now();
    // Still the primary well inside the timeout (10 s)…
    await new Promise((r) => setTimeout(r, 6_000));
    assert.equal((await admin(ports[0], { hello: 1 })).isWritablePrimary, true);
    // …and stepped down soon after it: MongoDB's liveness window, where the simulator took about
    // twice the timeout before (20 s).
    await waitFor(async () => {
      const h = await admin(ports[0], { hello: 1 });
      return h.isWritablePrimary ? undefined : true;
    }, 30_000);
    const after = Date.now() - t0;
    assert.ok(after < 17_000, `stepped down after ${after} ms`);
  }, { electionTimeoutMillis: 10_000 });
});
