/**
 * readConcern "snapshot" outside a transaction, judged with the official driver: find,
 * aggregate and distinct read the data as of atClusterTime (or the majority snapshot, whose time
 * the cursor reports), a time older than the history kept is SnapshotTooOld (239), and what
 * the level does not allow is refused (InvalidOptions, 72) rather than read as "local"
 * (tester81). https://www.mongodb.com/docs/v7.0/reference/read-concern-snapshot/
 */
import assert from "node:assert/strict";
import { Binary, type Document, Long, MongoClient, MongoServerError, Timestamp } from "mongodb";
import { freePorts } from "./helpers.ts";
import {
  killMember,
  primaryAmong,
  rsUri,
  simBin,
  startMongod,
  startReplSet,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

async function refused(p: Promise<unknown>): Promise<[number, string]> {
  const e = await p.then(() => undefined, (e) => e);
  assert.ok(e instanceof MongoServerError, `refused, not answered: ${e}`);
  return [e.code as number, e.message];
}

Deno.test("simulator: a snapshot read returns the data as of atClusterTime (find, aggregate, distinct), says the time it read at, and refuses what it cannot read (239, 72); members gossip cluster times", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    await startReplSet(bin, dir, ports);
    const client = new MongoClient(rsUri(ports));
    try {
      const db = client.db("app");
      const maj = { w: "majority" };
      const wrote = await db.command({
        insert: "snap",
        documents: [{ _id: 1, v: "old" }],
        writeConcern: maj,
      });
      const t1 = wrote.operationTime as Timestamp;
      // Every member applies the update (w: 3): the one restarted below then holds data newer
      // than t1 when it starts (a member that had only t1's write could serve t1 itself).
      await db.command({
        update: "snap",
        updates: [{ q: { _id: 1 }, u: { $set: { v: "new" } } }],
        writeConcern: { w: 3 },
      });
      const at = (extra: Document = {}) => ({
        readConcern: { level: "snapshot", atClusterTime: t1, ...extra },
      });
      const found = await db.command({ find: "snap", filter: {}, ...at() });
      assert.deepEqual(found.cursor.firstBatch, [{ _id: 1, v: "old" }]);
      assert.ok(t1.equals(found.cursor.atClusterTime), "the cursor says when it read");
      const agg = await db.command({ aggregate: "snap", pipeline: [], cursor: {}, ...at() });
      assert.deepEqual(agg.cursor.firstBatch, [{ _id: 1, v: "old" }]);
      const values = await db.command({ distinct: "snap", key: "v", ...at() });
      assert.deepEqual(values.values, ["old"]);
      // Without a time: the majority-committed snapshot, which the update is in.
      const now = await db.command({
        find: "snap",
        filter: {},
        readConcern: { level: "snapshot" },
      });
      assert.deepEqual(now.cursor.firstBatch, [{ _id: 1, v: "new" }]);
      assert.ok((now.cursor.atClusterTime as Timestamp).greaterThanOrEqual(t1));
      // Through the driver's API as an application reads (its session sends the time).
      const viaApi = await db.collection("snap").find({}, {
        readConcern: { level: "snapshot" },
      }).toArray();
      assert.deepEqual(viaApi, [{ _id: 1, v: "new" }]);

      // Older than the history a server keeps (minSnapshotHistoryWindowInSeconds, 300 s).
      const old = new Timestamp({ t: t1.t - 3600, i: 1 });
      const [tooOld, why] = await refused(
        db.command({ find: "snap", readConcern: { level: "snapshot", atClusterTime: old } }),
      );
      assert.equal(tooOld, 239, why);
      assert.match(why, /is older than the oldest available timestamp/);
      // count takes no snapshot; atClusterTime only with snapshot; later than the cluster time.
      assert.equal(
        (await refused(db.command({ count: "snap", readConcern: { level: "snapshot" } })))[0],
        72,
      );
      assert.equal(
        (await refused(
          db.command({ find: "snap", readConcern: { level: "majority", atClusterTime: t1 } }),
        ))[0],
        72,
      );
      const future = new Timestamp({ t: t1.t + 100_000, i: 1 });
      for (const field of ["afterClusterTime", "atClusterTime"]) {
        const [code, message] = await refused(
          db.command({
            find: "snap",
            readConcern: {
              level: field === "atClusterTime" ? "snapshot" : "local",
              [field]: future,
            },
          }),
        );
        assert.equal(code, 72, message);
        assert.match(message, new RegExp(`${field} value must not be greater than the current`));
      }

      // A restarted member has no history from before its start: a read before it is refused,
      // never answered with today's data.
      const primary = await primaryAmong(ports);
      const secondary = ports.find((p) => p !== primary)!;
      await killMember(dir, secondary);
      const r = await startMongod(bin, dir, secondary, ["--replSet", "rs0"]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const direct = new MongoClient(
        `mongodb://localhost:${secondary}/?directConnection=true&readPreference=secondary`,
      );
      try {
        await waitFor(
          async () => (await direct.db("admin").command({ hello: 1 })).secondary || undefined,
          30_000,
        );
        const [code] = await refused(
          direct.db("app").command({ find: "snap", ...at() }),
        );
        assert.equal(code, 239);
        // Without a time it reads its newest majority-committed data, history or not.
        const fresh = await direct.db("app").command({
          find: "snap",
          readConcern: { level: "snapshot" },
        });
        assert.deepEqual(fresh.cursor.firstBatch, [{ _id: 1, v: "new" }]);

        // Members gossip cluster times to each other, as MongoDB's do: a time a client gave the
        // primary alone reaches this secondary, which no client told and which holds no entry
        // that late (heartbeats and oplog fetches carry it).
        const ahead = new Timestamp({ t: Math.floor(Date.now() / 1000) + 30, i: 1 });
        const session = client.startSession();
        session.advanceClusterTime({
          clusterTime: ahead,
          signature: { hash: new Binary(new Uint8Array(20)), keyId: Long.ZERO },
        });
        await client.db("admin").command({ ping: 1 }, { session, readPreference: "primary" });
        await session.endSession();
        const heard = await waitFor(async () => {
          const r = await direct.db("admin").command({ ping: 1 });
          const t = r.$clusterTime?.clusterTime as Timestamp | undefined;
          return t?.greaterThanOrEqual(ahead) ? t : undefined;
        }, 30_000);
        assert.ok(heard.greaterThanOrEqual(ahead));
        const own = (await direct.db("admin").command({ ping: 1 })).operationTime as Timestamp;
        assert.ok(own.lessThan(ahead), "its operation time stays what it applied");
      } finally {
        await direct.close();
      }
    } finally {
      await client.close();
    }
  });
});
