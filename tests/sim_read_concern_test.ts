/**
 * readConcern "majority" reads the majority-committed snapshot (MongoDB: "the query returns
 * data that has been acknowledged by a majority of the replica set members"), at once, rather
 * than waiting for newer writes to be committed or failing: with both secondaries frozen, a
 * write the primary alone has is not in it; once they catch up, it is.
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { freePorts } from "./helpers.ts";
import { pidOf, simBin, startReplSet, waitFor, withDir } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("simulator: readConcern majority returns the majority-committed snapshot (not code 50) while the secondaries lag", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    // A long election timeout: the primary keeps its role while the secondaries are frozen.
    await startReplSet(bin, dir, ports, { electionTimeoutMillis: 60_000 });
    const c = new MongoClient(
      `mongodb://localhost:${ports[0]}/?directConnection=true&serverSelectionTimeoutMS=20000`,
    );
    const frozen = ports.slice(1).map((p) => pidOf(dir, p));
    try {
      const coll = c.db("t").collection<{ _id: number; v?: string }>("rc");
      await coll.insertOne({ _id: 1 }, { writeConcern: { w: "majority" } });
      await coll.insertOne({ _id: 3, v: "old" }, { writeConcern: { w: "majority" } });
      for (const pid of frozen) Deno.kill(pid, "SIGSTOP");
      await coll.insertOne({ _id: 2 }, { writeConcern: { w: 1 } });
      await coll.updateOne({ _id: 3 }, { $set: { v: "new" } }, { writeConcern: { w: 1 } });
      await coll.deleteOne({ _id: 1 }, { writeConcern: { w: 1 } });
      const majority = { readConcern: { level: "majority" as const }, maxTimeMS: 3000 };
      assert.deepEqual(
        await coll.find({}, majority).sort({ _id: 1 }).toArray(),
        [{ _id: 1 }, { _id: 3, v: "old" }],
        "the committed snapshot: _id 1 not yet deleted, _id 2 not yet there, _id 3 as it was",
      );
      assert.equal(await coll.countDocuments({}, majority), 2);
      assert.deepEqual(
        await coll.find({}).sort({ _id: 1 }).toArray(),
        [{ _id: 2 }, { _id: 3, v: "new" }],
        "a local read sees the newest data",
      );
      for (const pid of frozen) Deno.kill(pid, "SIGCONT");
      // Once the secondaries have the writes, the commit point passes them.
      await waitFor(async () =>
        JSON.stringify(await coll.find({}, majority).sort({ _id: 1 }).toArray()) ===
          JSON.stringify([{ _id: 2 }, { _id: 3, v: "new" }]) || undefined
      );
    } finally {
      for (const pid of frozen) {
        try {
          Deno.kill(pid, "SIGCONT");
        } catch {
          // Gone.
        }
      }
      await c.close();
    }
  });
});
