/**
 * mongod started with --replSet rsX on data whose stored replica-set config names rs0: MongoDB
 * keeps that config, logs warning 21406 ("Local replica set configuration document set name
 * differs from command line set name; waiting for reconfig or remote heartbeat") and takes itself
 * for no member of it (REMOVED): hello names rs0 but says "Does not have a valid replica set
 * config", replSetGetStatus fails with InvalidReplicaSetConfig, replSetInitiate with
 * AlreadyInitialized (repl/replication_coordinator_impl.cpp, topology_coordinator.cpp
 * fillHelloForReplSet, hello_response.cpp).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { MongoClient } from "mongodb";
import { freePorts, output } from "./helpers.ts";
import {
  admin,
  adminError,
  simBin,
  startMongod,
  stopMongod,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("simulator: --replSet rsX on data of set rs0 stays REMOVED, names rs0 and logs 21406, as mongod does", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [port] = freePorts(1);
    assert.equal((await startMongod(bin, dir, port, ["--replSet", "rs0"])).code, 0);
    await admin(port, { replSetInitiate: {} });
    await waitFor(async () => (await admin(port, { hello: 1 })).isWritablePrimary === true);
    await stopMongod(dir, port);

    const started = await startMongod(bin, dir, port, ["--replSet", "rsX", "--logappend"]);
    assert.equal(started.code, 0, output(started));
    const log = await waitFor(async () => {
      const text = await Deno.readTextFile(path.join(dir, String(port), "log"));
      return text.includes('"id":21406') ? text : undefined;
    });
    const line = JSON.parse(log.split("\n").find((l) => l.includes('"id":21406'))!);
    assert.equal(line.s, "W");
    assert.equal(line.c, "REPL");
    assert.match(line.msg, /set name differs from command line set name/);
    assert.deepEqual(line.attr, { localConfigSetName: "rs0", commandLineSetName: "rsX" });

    const h = await admin(port, { hello: 1 });
    assert.equal(h.setName, "rs0");
    assert.equal(h.isWritablePrimary, false);
    assert.equal(h.secondary, false);
    assert.equal(h.isreplicaset, true);
    assert.equal(h.info, "Does not have a valid replica set config");
    assert.equal(h.setVersion, undefined);
    assert.equal(h.hosts, undefined);
    // The driver finds no member of rsX (nor a usable one of rs0): selection times out.
    const c = new MongoClient(
      `mongodb://localhost:${port}/?replicaSet=rsX&serverSelectionTimeoutMS=3000`,
    );
    try {
      await assert.rejects(
        c.db("admin").command({ ping: 1 }),
        (e: Error) => e.name === "MongoServerSelectionError",
      );
    } finally {
      await c.close();
    }
    const status = await adminError(port, { replSetGetStatus: 1 });
    assert.equal(status.code, 93, status.message);
    assert.equal(status.codeName, "InvalidReplicaSetConfig");
    assert.equal(
      ((await admin(port, { replSetGetConfig: 1 })).config as { _id: string })._id,
      "rs0",
    );
    assert.equal((await adminError(port, { replSetInitiate: {} })).code, 23);
    await stopMongod(dir, port);

    // Started again under its own name, it is a member of rs0 again: nothing was lost.
    assert.equal((await startMongod(bin, dir, port, ["--replSet", "rs0", "--logappend"])).code, 0);
    const back = await waitFor(async () => {
      const h = await admin(port, { hello: 1 });
      return h.isWritablePrimary === true ? h : undefined;
    });
    assert.equal(back.setName, "rs0");
    await stopMongod(dir, port);
  });
});
