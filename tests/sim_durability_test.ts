/**
 * Acknowledged writes stay readable across restarts: w:"majority" writes through mongos are
 * read back after the config servers restart, and after every member of a replica set is
 * stopped and started at once, several times.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { MongoClient } from "mongodb";
import { freePorts } from "./helpers.ts";
import {
  admin,
  memberState,
  pidOf,
  rsUri,
  simBin,
  startMongod,
  startReplSet,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** SIGTERMs the mongod on `port` and waits until its process is gone. */
async function stopMember(dir: string, port: number): Promise<void> {
  const pid = pidOf(dir, port);
  Deno.kill(pid, "SIGTERM");
  await waitFor(
    async () => !(await Deno.stat(`/proc/${pid}`).then(() => true, () => false)),
    30_000,
  );
}

async function startOrThrow(bin: string, dir: string, port: number, extra: string[]) {
  const r = await startMongod(bin, dir, port, extra);
  if (r.code !== 0) throw new Error(`mongod on ${port} failed: ${r.stdout}${r.stderr}`);
}

Deno.test("simulator: writes acknowledged through mongos are read back after the config server restarts", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [cfg, sB, sA, mongosPort] = freePorts(4);
    await startOrThrow(bin, dir, cfg, ["--configsvr", "--replSet", "cfg"]);
    // Named so that the order shards were added in differs from their key order.
    await startOrThrow(bin, dir, sB, ["--shardsvr", "--replSet", "shB"]);
    await startOrThrow(bin, dir, sA, ["--shardsvr", "--replSet", "shA"]);
    await admin(cfg, {
      replSetInitiate: {
        _id: "cfg",
        configsvr: true,
        members: [{ _id: 0, host: `localhost:${cfg}` }],
      },
    });
    for (const [set, p] of [["shB", sB], ["shA", sA]] as const) {
      await admin(p, {
        replSetInitiate: { _id: set, members: [{ _id: 0, host: `localhost:${p}` }] },
      });
      await waitFor(
        async () => (await admin(p, { hello: 1 })).isWritablePrimary || undefined,
        20_000,
      );
    }
    await waitFor(
      async () => (await admin(cfg, { hello: 1 })).isWritablePrimary || undefined,
      20_000,
    );
    const mongos = new Deno.Command(path.join(bin, "mongos"), {
      args: [
        "--configdb",
        `cfg/localhost:${cfg}`,
        "--port",
        String(mongosPort),
        "--bind_ip",
        "127.0.0.1",
        "--logpath",
        path.join(dir, "mongos.log"),
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const c = new MongoClient(`mongodb://localhost:${mongosPort}/?serverSelectionTimeoutMS=20000`, {
      writeConcern: { w: "majority" },
      retryWrites: true,
    });
    try {
      await waitFor(async () => (await admin(mongosPort, { ping: 1 })).ok, 20_000);
      await admin(mongosPort, { addShard: `shB/localhost:${sB}` });
      await admin(mongosPort, { addShard: `shA/localhost:${sA}` });
      const coll = c.db("durable").collection<{ _id: number }>("docs");
      const acked: number[] = [];
      for (let i = 0; i < 20; i++) {
        await coll.insertOne({ _id: i });
        acked.push(i);
      }
      await stopMember(dir, cfg);
      await startOrThrow(bin, dir, cfg, ["--configsvr", "--replSet", "cfg"]);
      await waitFor(
        async () => (await admin(cfg, { hello: 1 })).isWritablePrimary || undefined,
        30_000,
      );
      for (let i = 20; i < 40; i++) {
        await waitFor(async () => (await coll.insertOne({ _id: i }), true), 30_000);
        acked.push(i);
      }
      const have = (await coll.find({}, { readConcern: { level: "majority" } }).toArray())
        .map((d) => d._id);
      assert.deepEqual(acked.filter((i) => !have.includes(i)), [], "acknowledged writes missing");
      assert.equal(have.length, acked.length);
    } finally {
      await c.close();
      mongos.kill("SIGKILL");
      await mongos.status;
    }
  });
});

Deno.test("simulator: w:majority writes survive every member being stopped and started at once, several times", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    await startReplSet(bin, dir, ports);
    const acked: number[] = [];
    let next = 0;
    for (let round = 0; round < 3; round++) {
      const c = new MongoClient(rsUri(ports), {
        writeConcern: { w: "majority", wtimeoutMS: 20_000 },
        retryWrites: true,
      });
      const coll = c.db("durable").collection<{ _id: number }>("docs");
      let stop = false;
      const writer = (async () => {
        while (!stop) {
          const id = next++;
          try {
            await coll.insertOne({ _id: id });
            acked.push(id);
          } catch {
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      })();
      try {
        const before = acked.length;
        await waitFor(() => Promise.resolve(acked.length >= before + 30 || undefined), 30_000);
        // Every member stopped at once while the writer runs, then all started again.
        await Promise.all(ports.map((p) => stopMember(dir, p)));
        for (const p of ports) await startOrThrow(bin, dir, p, ["--replSet", "rs0"]);
        const after = acked.length;
        await waitFor(() => Promise.resolve(acked.length >= after + 30 || undefined), 60_000);
      } finally {
        stop = true;
        await writer;
        await c.close();
      }
    }
    for (const p of ports) {
      await waitFor(
        async () => ["PRIMARY", "SECONDARY"].includes(await memberState(p)) || undefined,
        30_000,
      );
    }
    const c = new MongoClient(rsUri(ports));
    try {
      const have = new Set(
        (await c.db("durable").collection<{ _id: number }>("docs")
          .find({}, { readConcern: { level: "majority" } }).toArray()).map((d) => d._id),
      );
      assert.deepEqual(acked.filter((i) => !have.has(i)), [], "acknowledged writes missing");
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator store: a transaction that fails leaves memory as the disk holds it (nothing served that was not stored)", async () => {
  await withDir(async (dir) => {
    const { DataStore } = await import("../sim/store.ts");
    const snapshot = (s: InstanceType<typeof DataStore>) =>
      JSON.stringify(
        [...s.dbs].map((
          [db, colls],
        ) => [db, [...colls].map(([n, c]) => [n, c.indexes, c.docs.size, [...c.docs.values()]])]),
      );
    const store = new DataStore(dir);
    store.putDoc("app", "a", { _id: 1, v: "kept" });
    store.putDoc("app", "a", { _id: 2, v: "kept" });
    store.putDoc("app", "b", { _id: 1 });
    const before = snapshot(store);
    assert.throws(() =>
      store.transaction(() => {
        store.putDoc("app", "a", { _id: 1, v: "changed" });
        store.putDoc("app", "a", { _id: 3, v: "new" });
        store.deleteDoc("app", "a", 2);
        store.setIndexes("app", "a", [{ v: 2, key: { _id: 1 }, name: "_id_" }, {
          v: 2,
          key: { v: 1 },
          name: "v_1",
        }]);
        store.dropCollection("app", "b");
        store.putDoc("other", "c", { _id: 1 });
        throw new Error("fails half-way");
      }), /fails half-way/);
    assert.equal(snapshot(store), before);
    store.close();
    // And the disk holds the same.
    const reopened = new DataStore(dir);
    try {
      assert.equal(snapshot(reopened), before);
    } finally {
      reopened.close();
    }
  });
});
