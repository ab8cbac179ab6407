import assert from "node:assert/strict";
import * as path from "node:path";
import { BSON } from "bson";
import { MongoClient } from "mongodb";
import { freePorts, output, testMirror } from "./helpers.ts";
import {
  admin,
  adminError,
  memberState,
  pidOf,
  runBin,
  simBin,
  startMongod,
  stopMongod,
  waitFor,
  withDir,
} from "./sim_helpers.ts";
import {
  encodeMsg,
  FLAG_EXHAUST_ALLOWED,
  FLAG_MORE_TO_COME,
  MessageReader,
  parseMessage,
} from "../sim/wire.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("simulator: --version is shaped like the real binaries'", async () => {
  const bin = await simBin("7.0.5");
  const r = await runBin(path.join(bin, "mongod"), ["--version"]);
  assert.equal(r.code, 0, output(r));
  assert.match(r.stdout, /^db version v7\.0\.5\nBuild Info: \{/);
  assert.match(
    (await runBin(path.join(bin, "mongos"), ["--version"])).stdout,
    /^mongos version v7\.0\.5/,
  );
});

Deno.test("simulator: startup failures exit as mongod does", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const mongod = path.join(bin, "mongod");
    const [port] = freePorts(1);
    // Missing dbpath: exit 100 with NonExistentPath.
    const missing = await runBin(mongod, [
      "--port",
      String(port),
      "--dbpath",
      path.join(dir, "nope"),
      "--bind_ip",
      "127.0.0.1",
    ]);
    assert.equal(missing.code, 100, output(missing));
    assert.match(missing.stdout, /NonExistentPath: Data directory .*nope not found/);
    // Port in use: exit 48 with "Address already in use", reported by the --fork parent too.
    const l = Deno.listen({ hostname: "127.0.0.1", port });
    try {
      const busy = await startMongod(bin, dir, port);
      assert.equal(busy.code, 48, output(busy));
      assert.match(busy.stdout, /ERROR: child process failed, exited with 48/);
      const log = await Deno.readTextFile(path.join(dir, String(port), "log"));
      assert.match(log, /"id":20568,.*"Error setting up listener".*Address already in use/);
    } finally {
      l.close();
    }
    // Bad configuration file and bad options: exit 2 (EXIT_BADOPTIONS).
    const conf = path.join(dir, "bad.conf");
    await Deno.writeTextFile(conf, "net:\n  port: 1\nstorage:\n  dbPathh: /x\n");
    const bad = await runBin(mongod, ["-f", conf]);
    assert.equal(bad.code, 2, output(bad));
    assert.match(
      bad.stderr,
      /Error parsing YAML config file: Unrecognized option: storage\.dbPathh/,
    );
    await Deno.writeTextFile(conf, "net: [\n");
    assert.equal((await runBin(mongod, ["-f", conf])).code, 2);
    const opt = await runBin(mongod, ["--portt", "1"]);
    assert.equal(opt.code, 2, output(opt));
    assert.match(opt.stderr, /unrecognised option '--portt'/);
    const fork = await runBin(mongod, ["--fork", "--dbpath", dir]);
    assert.equal(fork.code, 2, output(fork));
    assert.match(fork.stderr, /--fork has to be used with --logpath or --syslog/);
  });
});

Deno.test("simulator: --fork returns once listening, writes the pid file and log id 23016; SIGTERM shuts down cleanly", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [port] = freePorts(1);
    const r = await startMongod(bin, dir, port);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /forked process: \d+\nchild process started successfully, parent exiting/,
    );
    const pid = pidOf(dir, port);
    assert.ok((await admin(port, { ping: 1 })).ok);
    const log = await Deno.readTextFile(path.join(dir, String(port), "log"));
    assert.match(
      log,
      /\{"t":\{"\$date":"[^"]+"\},"s":"I","c":"NETWORK","id":23016,"ctx":"listener","msg":"Waiting for connections","attr":\{"port":\d+/,
    );
    Deno.kill(pid, "SIGTERM");
    await waitFor(async () => !(await Deno.stat(`/proc/${pid}`).then(() => true, () => false)));
    assert.match(
      await Deno.readTextFile(path.join(dir, String(port), "log")),
      /"Received signal".*\n.*"Shutting down"/,
    );
  });
});

Deno.test("simulator: the driver uses a replica set: discovery, writes, reads on secondaries, kill -9 failover, stepDown, restart", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const ports = freePorts(3);
    for (const p of ports) {
      assert.equal((await startMongod(bin, dir, p, ["--replSet", "rs0"])).code, 0);
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
    const uri = `mongodb://${
      ports.map((p) => `localhost:${p}`).join(",")
    }/?replicaSet=rs0&serverSelectionTimeoutMS=15000`;
    const c = new MongoClient(uri);
    try {
      const coll = c.db("app").collection("items");
      await coll.insertOne({ _id: 1 as unknown as never, name: "first" });
      assert.deepEqual(await coll.findOne({ _id: 1 as unknown as never }), {
        _id: 1,
        name: "first",
      });
      let st = await c.db("admin").command({ replSetGetStatus: 1 });
      assert.equal(
        st.members.find((m: { state: number }) => m.state === 1).name,
        `localhost:${ports[0]}`,
        "highest priority wins",
      );
      // Visible on every secondary.
      for (const p of ports.slice(1)) {
        await waitFor(async () => {
          const s = new MongoClient(`mongodb://localhost:${p}/?directConnection=true`);
          try {
            return (await s.db("app").collection("items").countDocuments()) === 1 || undefined;
          } finally {
            await s.close();
          }
        });
      }
      // kill -9 of the primary: a new primary, and writes go on.
      Deno.kill(pidOf(dir, ports[0]), "SIGKILL");
      await coll.insertOne({ _id: 2 as unknown as never, name: "after failover" });
      st = await c.db("admin").command({ replSetGetStatus: 1 });
      const primary = st.members.find((m: { state: number }) => m.state === 1).name;
      assert.notEqual(primary, `localhost:${ports[0]}`);
      assert.equal(
        st.members.find((m: { name: string }) => m.name === `localhost:${ports[0]}`).stateStr,
        "(not reachable/healthy)",
      );
      // stepDown hands over to the other member.
      await c.db("admin").command({ replSetStepDown: 10 });
      await coll.insertOne({ _id: 3 as unknown as never, name: "after stepDown" });
      st = await c.db("admin").command({ replSetGetStatus: 1 });
      const next = st.members.find((m: { state: number }) => m.state === 1).name;
      assert.notEqual(next, primary);
      // The killed member restarts with its data and config from dbpath, catches up, and takes over by priority.
      assert.equal(
        (await startMongod(bin, dir, ports[0], ["--replSet", "rs0", "--logappend"])).code,
        0,
      );
      await waitFor(async () => {
        const s = await c.db("admin").command({ replSetGetStatus: 1 });
        return s.members.find((m: { state: number }) => m.state === 1)?.name ===
            `localhost:${ports[0]}` || undefined;
      }, 15_000);
      assert.equal(await coll.countDocuments(), 3);
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator: replica-set errors carry MongoDB's codes", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [a, b, standalone, down] = freePorts(4);
    await startMongod(bin, dir, a, ["--replSet", "rs0"]);
    await startMongod(bin, dir, b, ["--replSet", "other"]);
    await startMongod(bin, dir, standalone);
    const notYet = await adminError(a, { replSetGetStatus: 1 });
    assert.deepEqual([notYet.code, notYet.codeName], [94, "NotYetInitialized"]);
    const noRepl = await adminError(standalone, { replSetInitiate: {} });
    assert.deepEqual([noRepl.code, noRepl.codeName, noRepl.message], [
      76,
      "NoReplicationEnabled",
      "This node was not started with replication enabled.",
    ]);
    // The rollback ID: 76 without --replSet; 1 on a member that never rolled back, even before
    // its set is initiated (made at startup), kept in local.system.rollback.id.
    assert.equal((await adminError(standalone, { replSetGetRBID: 1 })).code, 76);
    const rbid = await admin(a, { replSetGetRBID: 1 });
    assert.equal(rbid.rbid, 1, output(rbid));
    const notMe = await adminError(a, {
      replSetInitiate: { _id: "rs0", members: [{ _id: 0, host: `localhost:${down}` }] },
    });
    assert.equal(notMe.code, 74, output(notMe));
    assert.match(
      notMe.message,
      /No host described in new configuration with \{version: 1, term: 0\} for replica set rs0 maps to this node/,
    );
    const quorum = await adminError(a, {
      replSetInitiate: {
        _id: "rs0",
        members: [{ _id: 0, host: `localhost:${a}` }, { _id: 1, host: `localhost:${down}` }],
      },
    });
    assert.equal(quorum.code, 74, output(quorum));
    assert.match(
      quorum.message,
      /quorum check failed because not all proposed set members responded affirmatively: localhost:\d+ failed with Error connecting/,
    );
    const wrongSet = await adminError(a, {
      replSetInitiate: {
        _id: "rs0",
        members: [{ _id: 0, host: `localhost:${a}` }, { _id: 1, host: `localhost:${b}` }],
      },
    });
    assert.match(wrongSet.message, /does not match the replica set name/);
    const hidden = await adminError(a, {
      replSetInitiate: {
        _id: "rs0",
        members: [{ _id: 0, host: `localhost:${a}` }, {
          _id: 1,
          host: `localhost:${b}`,
          hidden: true,
          priority: 1,
        }],
      },
    });
    assert.deepEqual([hidden.code, hidden.message], [93, "priority must be 0 when hidden=true"]);
    const silentArbiter = await adminError(a, {
      replSetInitiate: {
        _id: "rs0",
        members: [{ _id: 0, host: `localhost:${a}` }, {
          _id: 1,
          host: `localhost:${b}`,
          arbiterOnly: true,
          votes: 0,
        }],
      },
    });
    assert.deepEqual(
      [silentArbiter.code, silentArbiter.message],
      [93, "Arbiter must vote (cannot have 0 votes)"],
    );
    const eight = await adminError(a, {
      replSetInitiate: {
        _id: "rs0",
        members: Array.from(
          { length: 8 },
          (_, i) => ({ _id: i, host: `localhost:${i === 0 ? a : 40000 + i}` }),
        ),
      },
    });
    assert.match(
      eight.message,
      /contains 8 voting members, but must be at least 1 and no more than 7/,
    );
    const cfg = await adminError(a, {
      replSetInitiate: {
        _id: "rs0",
        configsvr: true,
        members: [{ _id: 0, host: `localhost:${a}` }],
      },
    });
    assert.equal(
      cfg.message,
      "Nodes being used for config servers must be started with the --configsvr flag",
    );
    assert.ok(
      (await admin(a, {
        replSetInitiate: { _id: "rs0", members: [{ _id: 0, host: `localhost:${a}` }] },
      })).ok,
    );
    const again = await adminError(a, { replSetInitiate: {} });
    assert.deepEqual([again.code, again.codeName, again.message], [
      23,
      "AlreadyInitialized",
      "already initialized",
    ]);
    const unknown = await adminError(a, { frobnicate: 1 });
    assert.deepEqual([unknown.code, unknown.codeName, unknown.message], [
      59,
      "CommandNotFound",
      "no such command: 'frobnicate'",
    ]);
    // A write on a node that is not primary.
    await startMongod(bin, dir, down, ["--replSet", "rs9"]);
    const c = new MongoClient(`mongodb://localhost:${down}/?directConnection=true`);
    try {
      await assert.rejects(
        c.db("x").collection("y").insertOne({ a: 1 }),
        (e: { code: number; codeName: string }) =>
          e.code === 10107 && e.codeName === "NotWritablePrimary",
      );
    } finally {
      await c.close();
    }
  });
});

function opQuery(
  requestId: number,
  collection: string,
  query: Record<string, unknown>,
): Uint8Array {
  const name = new TextEncoder().encode(collection + "\0");
  const doc = BSON.serialize(query);
  const len = 16 + 4 + name.length + 8 + doc.length;
  const buf = new Uint8Array(len);
  const dv = new DataView(buf.buffer);
  dv.setInt32(0, len, true);
  dv.setInt32(4, requestId, true);
  dv.setInt32(12, 2004, true);
  buf.set(name, 20);
  dv.setInt32(20 + name.length + 4, -1, true);
  buf.set(doc, 20 + name.length + 8);
  return buf;
}

Deno.test("simulator: wire protocol: OP_QUERY hello → OP_REPLY, other OP_QUERY → 352, moreToCome gets no reply", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("8.0.4");
    const [port] = freePorts(1);
    await startMongod(bin, dir, port);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const reader = new MessageReader(conn);
    try {
      await conn.write(opQuery(7, "admin.$cmd", { isMaster: 1, helloOk: true }));
      const hello = await reader.next();
      const dv = new DataView(hello!.buffer);
      assert.equal(dv.getInt32(12, true), 1, "OP_REPLY");
      assert.equal(dv.getInt32(8, true), 7, "responseTo");
      const doc = BSON.deserialize(hello!.subarray(36));
      assert.equal(doc.maxWireVersion, 25);
      assert.equal(doc.minWireVersion, 0);
      assert.ok(doc.topologyVersion?.processId, "hello carries topologyVersion");
      assert.equal(doc.helloOk, true);
      await conn.write(opQuery(8, "test.items", { find: "items" }));
      const legacy = BSON.deserialize((await reader.next())!.subarray(36));
      assert.equal(legacy.code, 352, output(legacy));
      assert.match(
        legacy.errmsg,
        /^Unsupported OP_QUERY command: find\. The client driver may require an upgrade/,
      );
      // moreToCome: the server applies the insert and sends nothing back.
      await conn.write(
        encodeMsg({ insert: "items", documents: [{ x: 1 }], $db: "test" }, 0, 9, FLAG_MORE_TO_COME),
      );
      await conn.write(encodeMsg({ count: "items", $db: "test" }, 0, 10));
      const reply = parseMessage((await reader.next())!);
      assert.equal(
        reply.header.responseTo,
        10,
        "the first reply answers the count, not the insert",
      );
      assert.equal(reply.kind === "msg" && reply.body.n, 1);
      // Awaitable, streaming hello: answers flagged moreToCome, the next after maxAwaitTimeMS.
      const stream = await Deno.connect({ hostname: "127.0.0.1", port });
      const sr = new MessageReader(stream);
      try {
        await stream.write(encodeMsg(
          { hello: 1, topologyVersion: doc.topologyVersion, maxAwaitTimeMS: 200, $db: "admin" },
          0,
          11,
          FLAG_EXHAUST_ALLOWED,
        ));
        const first = parseMessage((await sr.next())!);
        assert.equal(first.header.responseTo, 11);
        assert.ok(first.kind === "msg" && first.flags & FLAG_MORE_TO_COME, "moreToCome");
        const second = parseMessage((await sr.next())!);
        assert.equal(second.header.responseTo, first.header.requestId);
        assert.ok(second.kind === "msg" && second.body.isWritablePrimary);
      } finally {
        stream.close();
      }
    } finally {
      conn.close();
    }
  });
});

Deno.test("simulator: sharding: mongos waits for its config set, addShard checks the shard, listShards reads the registry", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [c1, c2, s1, s2, plain, mongosPort] = freePorts(6);
    await startMongod(bin, dir, c1, ["--configsvr", "--replSet", "cfg"]);
    await startMongod(bin, dir, c2, ["--configsvr", "--replSet", "cfg"]);
    await startMongod(bin, dir, s1, ["--shardsvr", "--replSet", "sh1"]);
    await startMongod(bin, dir, s2, ["--shardsvr", "--replSet", "sh1"]);
    await startMongod(bin, dir, plain, ["--replSet", "plain"]);
    const mongos = new Deno.Command(path.join(bin, "mongos"), {
      args: [
        "--configdb",
        `cfg/localhost:${c1},localhost:${c2}`,
        "--port",
        String(mongosPort),
        "--bind_ip",
        "127.0.0.1",
        "--logpath",
        path.join(dir, "mongos.log"),
        "--pidfilepath",
        path.join(dir, "mongos.pid"),
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Give mongos time to come up, were it not waiting for its config set.
    await new Promise((r) => setTimeout(r, 800));
    const probe = await Deno.connect({ hostname: "127.0.0.1", port: mongosPort }).then(
      (c) => (c.close(), true),
      () => false,
    );
    assert.equal(
      probe,
      false,
      "mongos must not accept connections before the config set has a primary",
    );
    await admin(c1, {
      replSetInitiate: {
        _id: "cfg",
        configsvr: true,
        members: [{ _id: 0, host: `localhost:${c1}` }, { _id: 1, host: `localhost:${c2}` }],
      },
    });
    await admin(s1, {
      replSetInitiate: {
        _id: "sh1",
        members: [{ _id: 0, host: `localhost:${s1}` }, { _id: 1, host: `localhost:${s2}` }],
      },
    });
    await admin(plain, { replSetInitiate: {} });
    await waitFor(async () => (await admin(mongosPort, { ping: 1 })).ok);
    const hello = await admin(mongosPort, { hello: 1 });
    assert.equal(hello.msg, "isdbgrid");
    await waitFor(
      async () => ((await admin(s1, { hello: 1 })).isWritablePrimary ? true : undefined),
    );
    const added = await admin(mongosPort, { addShard: `sh1/localhost:${s1}` });
    assert.deepEqual({ shardAdded: added.shardAdded, ok: added.ok }, { shardAdded: "sh1", ok: 1 });
    const notShard = await adminError(mongosPort, { addShard: `plain/localhost:${plain}` });
    assert.match(notShard.message, /since it was not started with --shardsvr/);
    const wrong = await adminError(mongosPort, { addShard: `nope/localhost:${s1}` });
    assert.match(wrong.message, /does not belong to replica set nope; found .*setName: "sh1"/);
    const c = new MongoClient(`mongodb://localhost:${mongosPort}/`);
    try {
      const shards = (await c.db("admin").command({ listShards: 1 })).shards;
      assert.deepEqual(shards.map((s: { _id: string; host: string }) => [s._id, s.host]), [[
        "sh1",
        `sh1/localhost:${s1},localhost:${s2}`,
      ]]);
      await c.db("shop").collection("orders").insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
      assert.equal(await c.db("shop").collection("orders").countDocuments({ n: { $gte: 2 } }), 2);
      await c.db("admin").command({ balancerStop: 1 });
      assert.equal((await c.db("admin").command({ balancerStatus: 1 })).mode, "off");
      await c.db("admin").command({ balancerStart: 1 });
      assert.equal((await c.db("admin").command({ balancerStatus: 1 })).mode, "full");
      // The registry lives in the config servers' config.shards.
      const direct = new MongoClient(`mongodb://localhost:${c1},localhost:${c2}/?replicaSet=cfg`);
      assert.equal(await direct.db("config").collection("shards").countDocuments(), 1);
      await direct.close();
    } finally {
      await c.close();
      mongos.kill("SIGKILL");
      await mongos.status;
    }
  });
});

Deno.test("simulator: feature compatibility version rules", async () => {
  await withDir(async (dir) => {
    const [port] = freePorts(1);
    const v6 = await simBin("6.0.19");
    await startMongod(v6, dir, port);
    assert.deepEqual(
      (await admin(port, { getParameter: 1, featureCompatibilityVersion: 1 }))
        .featureCompatibilityVersion,
      { version: "6.0" },
    );
    await admin(port, { shutdown: 1 }).catch(() => {});
    await waitFor(async () =>
      !(await Deno.connect({ hostname: "127.0.0.1", port }).then(
        (c) => (c.close(), true),
        () => false,
      )) || undefined
    );
    // 8.0 on data at FCV 6.0: refused with exit 62, as MongoDB does.
    const v8 = await simBin("8.0.4");
    const tooOld = await startMongod(v8, dir, port, ["--logappend"]);
    assert.equal(tooOld.code, 62, output(tooOld));
    assert.match(
      await Deno.readTextFile(path.join(dir, String(port), "log")),
      /"s":"F".*"Wrong mongod version".*UPGRADE PROBLEM/,
    );
    // 7.0 runs on it; the FCV upgrade needs confirm from 7.0 on; two steps at once are refused.
    const v7 = await simBin("7.0.5");
    assert.equal((await startMongod(v7, dir, port, ["--logappend"])).code, 0);
    const noConfirm = await adminError(port, { setFeatureCompatibilityVersion: "7.0" });
    assert.match(noConfirm.message, /Please re-run this command with 'confirm: true'/);
    assert.match(noConfirm.message, /^Once you have upgraded to 7\.0,.*the FCV upgrade\.$/);
    const skip = await adminError(port, { setFeatureCompatibilityVersion: "8.0", confirm: true });
    assert.equal(skip.code, 2, output(skip));
    await admin(port, { setFeatureCompatibilityVersion: "7.0", confirm: true });
    // Going down, the words are the downgrade's (tester103).
    const down = await adminError(port, { setFeatureCompatibilityVersion: "6.0" });
    assert.equal(down.code, 7369100);
    assert.match(down.message, /^Once you have downgraded the FCV, .*the FCV downgrade\.$/);
    assert.deepEqual(
      (await admin(port, { getParameter: 1, featureCompatibilityVersion: 1 }))
        .featureCompatibilityVersion,
      { version: "7.0" },
    );
  });
});

Deno.test("simulator: an arbiter holds no FCV, so it starts on a release two series newer", async () => {
  await withDir(async (dir) => {
    const ports = freePorts(3);
    const [v6, v8] = [await simBin("6.0.19"), await simBin("8.0.4")];
    for (const p of ports) {
      const r = await startMongod(v6, dir, p, ["--replSet", "rs0"]);
      assert.equal(r.code, 0, output(r));
    }
    await admin(ports[0], {
      replSetInitiate: {
        _id: "rs0",
        members: ports.map((p, i) => ({
          _id: i,
          host: `localhost:${p}`,
          ...(i === 2 ? { arbiterOnly: true } : {}),
        })),
      },
    });
    await waitFor(async () => (await memberState(ports[2])) === "ARBITER" || undefined, 30_000);
    await stopMongod(dir, ports[2]);
    const r = await startMongod(v8, dir, ports[2], ["--replSet", "rs0", "--logappend"]);
    assert.equal(r.code, 0, output(r));
    await waitFor(async () => (await memberState(ports[2])) === "ARBITER" || undefined, 30_000);
  });
});

Deno.test("simulator: fault knobs crash at startup and refuse replSetInitiate", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [a, b] = freePorts(2);
    const crash = await startMongod(bin, dir, a, [], {
      MUP_SIM_CRASH_AT_STARTUP: "14",
      MUP_SIM_FAULT_PORTS: String(a),
    });
    assert.equal(crash.code, 14, output(crash));
    assert.match(crash.stdout, /child process failed, exited with 14/);
    await startMongod(bin, dir, b, ["--replSet", "rs0"], { MUP_SIM_REFUSE_INITIATE: "1" });
    const refused = await adminError(b, { replSetInitiate: {} });
    assert.match(refused.message, /MUP_SIM_REFUSE_INITIATE/);
  });
});

Deno.test("download mirror: full.json lists 6.0, 7.0 and 8.0 with sha256 of tarballs named like the official ones", async () => {
  const mirror = await testMirror();
  const manifest = JSON.parse(await Deno.readTextFile(path.join(mirror, "full.json")));
  const series = new Set(
    manifest.versions.map((v: { version: string }) => v.version.split(".").slice(0, 2).join(".")),
  );
  for (const s of ["6.0", "7.0", "8.0"]) assert.ok(series.has(s), s);
  const dl = manifest.versions[0].downloads[0];
  assert.match(
    dl.archive.url,
    /^https:\/\/fastdl\.mongodb\.org\/linux\/mongodb-linux-(x86_64|aarch64)-[a-z0-9]+-\d+\.\d+\.\d+\.tgz$/,
  );
  const file = path.join(mirror, new URL(dl.archive.url).pathname);
  const { createHash } = await import("node:crypto");
  assert.equal(
    createHash("sha256").update(await Deno.readFile(file)).digest("hex"),
    dl.archive.sha256,
  );
  const list = await new Deno.Command("tar", { args: ["-tzf", file], stdout: "piped" }).output();
  assert.match(new TextDecoder().decode(list.stdout), /\/bin\/mongod\n.*\/bin\/mongos/s);
});

Deno.test("simulator: CRUD through the driver (cursors with getMore, counts, deletes, drops, listings) and persistence across restarts", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [port] = freePorts(1);
    await startMongod(bin, dir, port);
    const uri = `mongodb://localhost:${port}/`;
    let c = new MongoClient(uri);
    try {
      const coll = c.db("shop").collection("items");
      await coll.insertMany(Array.from({ length: 250 }, (_, i) => ({ i, even: i % 2 === 0 })));
      const all = await coll.find({}, { batchSize: 40 }).sort({ i: -1 }).toArray();
      assert.equal(all.length, 250, "getMore fetched every batch");
      assert.equal(all[0].i, 249);
      assert.equal(await coll.countDocuments({ even: true }), 125);
      assert.equal(await coll.estimatedDocumentCount(), 250);
      assert.deepEqual(
        await coll.find({ i: { $in: [3, 5] } }).project({ _id: 0, i: 1 }).toArray(),
        [{ i: 3 }, { i: 5 }],
      );
      await coll.updateOne({ i: 7 }, { $set: { tag: "seven" } });
      assert.equal((await coll.findOne({ i: 7 }))?.tag, "seven");
      assert.equal((await coll.deleteMany({ i: { $gte: 200 } })).deletedCount, 50);
      await assert.rejects(
        coll.insertOne({ _id: all[all.length - 1]._id, dup: true }),
        (e: { code: number }) => e.code === 11000,
      );
      await c.db("shop").collection("tmp").insertOne({ x: 1 });
      assert.deepEqual((await c.db("shop").listCollections().toArray()).map((x) => x.name).sort(), [
        "items",
        "tmp",
      ]);
      assert.ok(await c.db("shop").collection("tmp").drop());
      const dbs = await c.db("admin").admin().listDatabases();
      assert.ok(dbs.databases.some((d) => d.name === "shop"));
      const opts = await c.db("admin").command({ getCmdLineOpts: 1 });
      assert.equal(opts.parsed.net.port, port, "an int, as mongod reports it");
      assert.equal((await c.db("admin").command({ serverStatus: 1 })).process, "mongod");
    } finally {
      await c.close();
    }
    // Documents survive a clean restart from the same dbpath.
    Deno.kill(pidOf(dir, port), "SIGTERM");
    await waitFor(async () =>
      !(await Deno.connect({ hostname: "127.0.0.1", port }).then(
        (s) => (s.close(), true),
        () => false,
      )) || undefined
    );
    assert.equal((await startMongod(bin, dir, port, ["--logappend"])).code, 0);
    c = new MongoClient(uri);
    try {
      assert.equal(await c.db("shop").collection("items").countDocuments(), 200);
      assert.equal((await c.db("shop").collection("items").findOne({ i: 7 }))?.tag, "seven");
    } finally {
      await c.close();
    }
  });
});

Deno.test("simulator: shutdown on a primary hands over to a secondary first; shutdown with force stops a lone primary", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [a, b, solo] = freePorts(3);
    for (const p of [a, b]) await startMongod(bin, dir, p, ["--replSet", "rs0"]);
    await admin(a, {
      replSetInitiate: {
        _id: "rs0",
        members: [{ _id: 0, host: `localhost:${a}`, priority: 2 }, {
          _id: 1,
          host: `localhost:${b}`,
        }],
      },
    });
    await waitFor(
      async () => ((await admin(a, { hello: 1 })).isWritablePrimary ? true : undefined),
    );
    await waitFor(async () =>
      ((await admin(a, { replSetGetStatus: 1 })) as { members: { health: number }[] }).members
        .every((m) => m.health === 1) || undefined
    );
    await admin(a, { shutdown: 1, timeoutSecs: 5 }).catch(() => {}); // the socket just closes
    await waitFor(
      async () => ((await admin(b, { hello: 1 })).isWritablePrimary ? true : undefined),
    );
    await waitFor(async () =>
      !(await Deno.connect({ hostname: "127.0.0.1", port: a }).then(
        (s) => (s.close(), true),
        () => false,
      )) || undefined
    );
    // A lone primary (no secondary to hand over to) stops with force.
    await startMongod(bin, dir, solo, ["--replSet", "solo"]);
    await admin(solo, { replSetInitiate: {} });
    await waitFor(
      async () => ((await admin(solo, { hello: 1 })).isWritablePrimary ? true : undefined),
    );
    const st = await admin(solo, { replSetGetStatus: 1 });
    assert.equal(st.set, "solo");
    await admin(solo, { shutdown: 1, force: true }).catch(() => {});
    await waitFor(async () =>
      !(await Deno.connect({ hostname: "127.0.0.1", port: solo }).then(
        (s) => (s.close(), true),
        () => false,
      )) || undefined
    );
  });
});
