/**
 * The default write concern, as MongoDB 5.0+ keeps it: a set's implicit default is
 * `{w: "majority"}` unless its arbiters leave the voting data-bearing members no more than a
 * majority (then `{w: 1}`); a reconfig that would change it is refused (103, forced or not)
 * until setDefaultRWConcern sets a cluster-wide one, which cannot be unset again.
 * https://www.mongodb.com/docs/manual/reference/command/setDefaultRWConcern/
 * https://www.mongodb.com/docs/manual/reference/write-concern/#implicit-default-write-concern
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { freePorts } from "./helpers.ts";
import {
  admin,
  adminError,
  killMember,
  mongosWithoutShards,
  simBin,
  startMongod,
  startReplSet,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

type Config = { version: number; members: Record<string, unknown>[] };

Deno.test("simulator: adding an arbiter that would change the implicit default write concern is refused (103, forced too) until setDefaultRWConcern sets one, which replicates and cannot be unset", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [p0, p1, arb, alone] = freePorts(4);
    await startReplSet(bin, dir, [p0, p1]);
    const before = await admin(p0, { getDefaultRWConcern: 1 });
    assert.deepEqual(before.defaultWriteConcern, { w: "majority", wtimeout: 0 });
    assert.equal(before.defaultWriteConcernSource, "implicit");
    assert.equal((await startMongod(bin, dir, arb, ["--replSet", "rs0"])).code, 0);
    const config = (await admin(p0, { replSetGetConfig: 1 })).config as Config;
    const withArbiter = {
      ...config,
      version: config.version + 1,
      members: [...config.members, { _id: 2, host: `localhost:${arb}`, arbiterOnly: true }],
    };
    for (const force of [false, true]) {
      const e = await adminError(p0, { replSetReconfig: withArbiter, force });
      assert.equal(e.code, 103, `force: ${force}`);
      assert.match(e.message, /would change the implicit default write concern/);
    }
    assert.equal(((await admin(p0, { replSetGetConfig: 1 })).config as Config).members.length, 2);

    // A default the set cannot satisfy is refused (validateWriteConcern).
    const tooMany = await adminError(p0, { setDefaultRWConcern: 1, defaultWriteConcern: { w: 5 } });
    assert.equal(tooMany.code, 100);
    const noMode = await adminError(p0, {
      setDefaultRWConcern: 1,
      defaultWriteConcern: { w: "nosuchtag" },
    });
    assert.equal(noMode.code, 79);
    const set = await admin(p0, { setDefaultRWConcern: 1, defaultWriteConcern: { w: 1 } });
    assert.deepEqual(set.defaultWriteConcern, { w: 1, wtimeout: 0 });
    assert.equal(set.defaultWriteConcernSource, "global");
    await admin(p0, { replSetReconfig: withArbiter });
    assert.equal(((await admin(p0, { replSetGetConfig: 1 })).config as Config).members.length, 3);
    // Stored like any other write: the secondary has it too.
    await waitFor(async () =>
      (await admin(p1, { getDefaultRWConcern: 1 })).defaultWriteConcernSource === "global" ||
      undefined
    );
    const unset = await adminError(p0, { setDefaultRWConcern: 1, defaultWriteConcern: {} });
    assert.equal(unset.code, 20);
    assert.match(unset.message, /cannot be unset once it is set/);
    assert.equal((await adminError(p0, { setDefaultRWConcern: 1 })).code, 2);
    assert.equal(
      (await adminError(p0, { setDefaultRWConcern: 1, defaultWriteConcern: { w: 0 } })).code,
      2,
    );

    assert.equal((await startMongod(bin, dir, alone)).code, 0);
    const standalone = await adminError(alone, {
      setDefaultRWConcern: 1,
      defaultWriteConcern: { w: 1 },
    });
    assert.equal(standalone.code, 51300);
    assert.match(standalone.message, /not supported on standalone/);
  });
});

Deno.test("simulator: a primary-secondary-arbiter set's writes default to {w: 1} (they return with the secondary down), while w: majority waits for it", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    for (const p of ports) {
      assert.equal((await startMongod(bin, dir, p, ["--replSet", "rs0"])).code, 0);
    }
    // replSetInitiate is not a reconfig: a set may begin with its arbiter.
    await admin(ports[0], {
      replSetInitiate: {
        _id: "rs0",
        members: [
          { _id: 0, host: `localhost:${ports[0]}`, priority: 2 },
          { _id: 1, host: `localhost:${ports[1]}` },
          { _id: 2, host: `localhost:${ports[2]}`, arbiterOnly: true },
        ],
      },
    });
    await waitFor(async () => (await admin(ports[0], { hello: 1 })).isWritablePrimary || undefined);
    const defaults = await admin(ports[0], { getDefaultRWConcern: 1 });
    assert.equal(defaults.defaultWriteConcern, undefined, "an implicit {w: 1} is not shown");
    assert.equal(defaults.defaultWriteConcernSource, "implicit");
    await killMember(dir, ports[1]);
    const c = new MongoClient(`mongodb://localhost:${ports[0]}/?directConnection=true`);
    try {
      const coll = c.db("app").collection("d");
      // A limit without w: the default w applies (an implicit majority would time out here).
      const res = await coll.insertOne({ _id: 1 } as never, { writeConcern: { wtimeoutMS: 2000 } });
      assert.equal(res.acknowledged, true);
      const majority = await coll.insertOne(
        { _id: 2 } as never,
        { writeConcern: { w: "majority", wtimeout: 500 } },
      ).then(() => undefined, (e: { code?: number }) => e.code);
      assert.equal(majority, 64, "w: majority needs the secondary");
      // setDefaultRWConcern writes with the default too: it answers with the secondary down.
      const set = await admin(ports[0], {
        setDefaultRWConcern: 1,
        defaultWriteConcern: { w: 1 },
      });
      assert.equal(set.defaultWriteConcernSource, "global");
      const memory = await admin(ports[0], { getDefaultRWConcern: 1, inMemory: true });
      assert.equal(memory.inMemory, true);
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator: mongos keeps the cluster-wide default write concern on the config servers", async () => {
  await withDir(async (dir) => {
    const mongos = await mongosWithoutShards(await simBin("7.0.5"), dir);
    assert.equal(
      (await admin(mongos, { getDefaultRWConcern: 1 })).defaultWriteConcernSource,
      "implicit",
    );
    await admin(mongos, { setDefaultRWConcern: 1, defaultWriteConcern: { w: "majority" } });
    const now = await admin(mongos, { getDefaultRWConcern: 1 });
    assert.equal(now.defaultWriteConcernSource, "global");
    assert.deepEqual(now.defaultWriteConcern, { w: "majority", wtimeout: 0 });
  });
});

Deno.test("simulator: mongos (5.1+) refuses to add a shard whose implicit default write concern is {w: 1} (OperationFailed) until the cluster has a cluster-wide default", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const mongos = await mongosWithoutShards(bin, dir);
    const [data, arb] = freePorts(2);
    for (const p of [data, arb]) {
      const r = await startMongod(bin, dir, p, ["--shardsvr", "--replSet", "sh1"]);
      assert.equal(r.code, 0);
    }
    await admin(data, {
      replSetInitiate: {
        _id: "sh1",
        members: [
          { _id: 0, host: `localhost:${data}` },
          { _id: 1, host: `localhost:${arb}`, arbiterOnly: true },
        ],
      },
    });
    await waitFor(async () => (await admin(data, { hello: 1 })).isWritablePrimary || undefined);
    const spec = `sh1/localhost:${data}`;
    const refused = await adminError(mongos, { addShard: spec });
    assert.equal(refused.code, 96);
    assert.match(
      refused.message,
      /implicit default write concern on this shard is set to \{w : 1\}/,
    );
    assert.deepEqual((await admin(mongos, { listShards: 1 })).shards, []);
    await admin(mongos, { setDefaultRWConcern: 1, defaultWriteConcern: { w: 1 } });
    assert.equal((await admin(mongos, { addShard: spec })).shardAdded, "sh1");
    // A write through mongos without w gets the cluster's default (the config servers do not
    // check it against a shard: w: 3 is more than sh1 has).
    await admin(mongos, { setDefaultRWConcern: 1, defaultWriteConcern: { w: 3 } });
    const c = new MongoClient(`mongodb://localhost:${mongos}/`);
    try {
      const error = await c.db("app").collection("d").insertOne({ _id: 1 } as never).then(
        () => undefined,
        (e: { code?: number; errInfo?: { writeConcern?: { provenance?: string } } }) => e,
      );
      assert.equal(error?.code, 100);
      assert.equal(error?.errInfo?.writeConcern?.provenance, "customDefault");
      await c.db("app").collection("d").insertOne({ _id: 2 } as never, { writeConcern: { w: 1 } });
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator: a shard (5.1+) refuses a reconfig that makes its implicit default {w: 1} once added to a cluster without a cluster-wide default (103, forced too), and ConfigServerUnreachable when it cannot ask", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const mongos = await mongosWithoutShards(bin, dir);
    const [data, arb] = freePorts(2);
    for (const p of [data, arb]) {
      assert.equal((await startMongod(bin, dir, p, ["--shardsvr", "--replSet", "sh1"])).code, 0);
    }
    await admin(data, {
      replSetInitiate: { _id: "sh1", members: [{ _id: 0, host: `localhost:${data}` }] },
    });
    await waitFor(async () => (await admin(data, { hello: 1 })).isWritablePrimary || undefined);
    const reconfig = async (withArbiter: boolean, force = false) => {
      const config = (await admin(data, { replSetGetConfig: 1 })).config as Config;
      const members = config.members.filter((m) => m.host !== `localhost:${arb}`);
      const next = {
        ...config,
        version: config.version + 1,
        members: withArbiter
          ? [...members, { _id: 1, host: `localhost:${arb}`, arbiterOnly: true }]
          : members,
      };
      return await admin(data, { replSetReconfig: next, force });
    };
    // Not yet a shard of a cluster: any reconfig.
    await reconfig(true);
    await reconfig(false);
    assert.equal((await admin(mongos, { addShard: `sh1/localhost:${data}` })).shardAdded, "sh1");
    for (const force of [false, true]) {
      const e = await reconfig(true, force).then(() => undefined, (e) => e);
      assert.equal(e?.code, 103, `force: ${force}`);
      assert.match(e.message, /would change the implicit default write concern on the shard to/);
    }
    await admin(mongos, { setDefaultRWConcern: 1, defaultWriteConcern: { w: "majority" } });
    await reconfig(true);
    // The config servers down: back to majority is not asked about; to {w: 1} cannot be.
    const cfg = Number(
      String(
        (await admin(mongos, { getCmdLineOpts: 1 }) as {
          parsed: { sharding: { configDB: string } };
        })
          .parsed.sharding.configDB,
      ).split(":").at(-1),
    );
    await killMember(dir, cfg);
    await reconfig(false);
    const unreachable = await reconfig(true).then(() => undefined, (e) => e);
    assert.deepEqual([unreachable?.code, unreachable?.codeName], [
      56846,
      "ConfigServerUnreachable",
    ]);
    assert.match(unreachable.message, /the request to the config server is failing with error/);
  });
});

Deno.test("simulator: a second arbiter is refused (BadValue, 5.3+) unless every node allows it; in an allowed primary-arbiter-arbiter set a majority of votes holds one copy, so w: majority is the primary's alone (writeMajorityCount 1)", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    const initiate = {
      replSetInitiate: {
        _id: "rs0",
        members: [
          { _id: 0, host: `localhost:${ports[0]}` },
          { _id: 1, host: `localhost:${ports[1]}`, arbiterOnly: true },
          { _id: 2, host: `localhost:${ports[2]}`, arbiterOnly: true },
        ],
      },
    };
    assert.equal((await startMongod(bin, dir, ports[0], ["--replSet", "rs0"])).code, 0);
    const refused = await adminError(ports[0], initiate);
    assert.equal(refused.code, 2, JSON.stringify(refused));
    assert.match(refused.message, /Multiple arbiters are not allowed unless all nodes/);
    await killMember(dir, ports[0]);
    const allow = ["--replSet", "rs0", "--setParameter", "allowMultipleArbiters=true"];
    for (const p of ports) assert.equal((await startMongod(bin, dir, p, allow)).code, 0);
    await admin(ports[0], initiate);
    await waitFor(async () => (await admin(ports[0], { hello: 1 })).isWritablePrimary || undefined);
    const status = await admin(ports[0], { replSetGetStatus: 1 });
    assert.deepEqual([status.majorityVoteCount, status.writeMajorityCount], [2, 1]);
    const c = new MongoClient(`mongodb://localhost:${ports[0]}/?directConnection=true`);
    try {
      const res = await c.db("app").collection("d").insertOne(
        { _id: 1 } as never,
        { writeConcern: { w: "majority", wtimeout: 2000 } },
      );
      assert.equal(res.acknowledged, true);
    } finally {
      await c.close();
    }
  });
});
