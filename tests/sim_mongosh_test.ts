/**
 * The real mongosh (2.12, from npm) against a simulated replica set: the helpers DBAs type first
 * (rs.status(), rs.conf(), rs.printReplicationInfo(), db.printSecondaryReplicationInfo(),
 * db.stats(), db.coll.stats()) read what the simulator serves, as they read a real mongod.
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { freePorts } from "./helpers.ts";
import { mongosh, rsUri, simBin, startReplSet, withDir } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("mongosh on a replica set: rs.status/conf, the oplog window, secondaries' lag, db.stats and collection stats", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    await startReplSet(bin, dir, ports);
    const c = new MongoClient(rsUri(ports));
    try {
      await c.db("app").collection("items").insertMany(
        Array.from({ length: 50 }, (_, i) => ({ i, name: `item${i}` })),
        { writeConcern: { w: 3 } },
      );
    } finally {
      await c.close();
    }
    const shell = await mongosh(
      `mongodb://localhost:${ports[0]}/app?directConnection=true`,
      `const repl = rs.printReplicationInfo().value;
       const lag = db.printSecondaryReplicationInfo().value;
       print(EJSON.stringify({
         members: rs.status().members.map((m) => m.stateStr),
         conf: rs.conf().members.length,
         local: db.getSiblingDB("local").getCollectionNames(),
         repl, lag, stats: db.stats(), items: db.items.stats(),
       }));`,
    );
    assert.deepEqual([...shell.members].sort(), ["PRIMARY", "SECONDARY", "SECONDARY"]);
    assert.equal(shell.conf, 3);
    assert.ok(shell.local.includes("oplog.rs"), JSON.stringify(shell.local));
    // rs.printReplicationInfo(): the configured oplog size and the window it holds.
    assert.match(shell.repl["configured oplog size"], /^\d+(\.\d+)? MB$/);
    assert.match(shell.repl["log length start to end"], /secs/);
    assert.ok(shell.repl["oplog last event time"], JSON.stringify(shell.repl));
    // db.printSecondaryReplicationInfo(): one entry per secondary, each synced to a time.
    const secondaries = Object.values(shell.lag as Record<string, Record<string, string>>);
    assert.equal(secondaries.length, 2, JSON.stringify(shell.lag));
    for (const s of secondaries) assert.ok(s.syncedTo, JSON.stringify(s));
    assert.equal(shell.stats.objects, 50);
    assert.equal(shell.stats.collections, 1);
    assert.equal(shell.items.count, 50);
    assert.ok(shell.items.size > 50 * 20, JSON.stringify(shell.items));
  });
});
