/**
 * The simulator serves only what it stored: when SQLite refuses a write's transaction (here:
 * another connection holds the database's write lock, so the statements fail with SQLITE_BUSY),
 * the in-memory view is rolled back with it; a created collection or a dropped one is not
 * shown as such, before or after a restart.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { MongoClient } from "mongodb";
import { freePorts } from "./helpers.ts";
import { pidOf, simBin, startMongod, waitFor, withDir } from "./sim_helpers.ts";
import { STORE_FILE } from "../sim/store.ts";
import { installFixture } from "./fixture.ts";

installFixture();

async function names(c: MongoClient): Promise<string[]> {
  return (await c.db("t").listCollections().toArray()).map((x) => x.name).sort();
}

Deno.test("simulator: a write whose store transaction fails changes nothing it serves, before or after a restart", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [port] = freePorts(1);
    const start = async () => {
      const r = await startMongod(bin, dir, port);
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    };
    await start();
    const uri = `mongodb://localhost:${port}/?directConnection=true&serverSelectionTimeoutMS=20000`;
    let c = new MongoClient(uri, { retryWrites: false });
    try {
      await c.db("t").collection("kept").insertOne({ _id: 1 } as never);
      // Another connection takes the write lock: the simulator's next statements are refused.
      const locker = new DatabaseSync(path.join(dir, String(port), STORE_FILE));
      locker.exec("BEGIN IMMEDIATE");
      try {
        await assert.rejects(() => c.db("t").collection("fresh").insertOne({ _id: 2 } as never));
        await assert.rejects(() => c.db("t").collection("kept").drop());
        await assert.rejects(() =>
          c.db("t").collection("kept").updateOne({ _id: 1 } as never, { $set: { v: 1 } })
        );
        assert.deepEqual(await names(c), ["kept"], "no collection that was not stored");
        assert.deepEqual(await c.db("t").collection("kept").find().toArray(), [{ _id: 1 }]);
      } finally {
        locker.exec("ROLLBACK");
        locker.close();
      }
      // The lock released, writes work again.
      await c.db("t").collection("fresh").insertOne({ _id: 3 } as never);
    } finally {
      await c.close();
    }
    // Restarted from what is stored, it serves the same.
    const pid = pidOf(dir, port);
    Deno.kill(pid, "SIGKILL");
    await waitFor(async () => !(await Deno.stat(`/proc/${pid}`).then(() => true, () => false)));
    await start();
    c = new MongoClient(uri);
    try {
      assert.deepEqual(await names(c), ["fresh", "kept"]);
      assert.deepEqual(await c.db("t").collection("kept").find().toArray(), [{ _id: 1 }]);
      assert.deepEqual(await c.db("t").collection("fresh").find().toArray(), [{ _id: 3 }]);
    } finally {
      await c.close();
    }
  });
});
