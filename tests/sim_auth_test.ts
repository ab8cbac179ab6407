import assert from "node:assert/strict";
import * as path from "node:path";
import { MongoClient } from "mongodb";
import { freePorts, output } from "./helpers.ts";
import { admin, adminError, simBin, startMongod, waitFor, withDir } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** Runs `f` with a driver client on `uri`, closing it whatever happens. */
async function withClient<T>(uri: string, f: (c: MongoClient) => Promise<T>): Promise<T> {
  const c = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  try {
    return await f(c);
  } finally {
    await c.close();
  }
}

/** The error a promise rejects with (fails if it resolves). */
async function failure(p: Promise<unknown>): Promise<{ code?: number; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: number; message: string };
  }
  throw new Error("expected a failure");
}

async function keyFile(dir: string, name: string, key: string): Promise<string> {
  const file = path.join(dir, name);
  await Deno.writeTextFile(file, key + "\n", { mode: 0o400 });
  await Deno.chmod(file, 0o400);
  return file;
}

Deno.test("simulator auth: --auth standalone: localhost exception, SCRAM-SHA-256/SHA-1, codes 13 and 18, user commands", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [port] = freePorts(1);
    const r = await startMongod(bin, dir, port, ["--auth"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const base = `mongodb://localhost:${port}/?directConnection=true`;
    // Unauthenticated: hello and ping work, data commands fail with 13.
    assert.equal((await admin(port, { ping: 1 })).ok, 1);
    assert.equal((await admin(port, { hello: 1 })).isWritablePrimary, true);
    const list = await adminError(port, { listDatabases: 1 });
    assert.equal(list.code, 13, output(list));
    assert.equal(list.message, "Command listDatabases requires authentication");
    await withClient(base, async (c) => {
      const e = await failure(c.db("shop").collection("orders").findOne({}));
      assert.equal(e.code, 13, output(e));
      assert.match(e.message, /Command find requires authentication/);
      assert.equal((await failure(c.db("shop").collection("orders").insertOne({ a: 1 }))).code, 13);
      // The localhost exception: the first user only.
      await c.db("admin").command({ createUser: "admin", pwd: "s3cret", roles: ["root"] });
      const second = await failure(
        c.db("admin").command({ createUser: "other", pwd: "x", roles: ["root"] }),
      );
      assert.equal(second.code, 13, output(second));
    });
    const cred = `mongodb://admin:s3cret@localhost:${port}/?directConnection=true`;
    await withClient(cred, async (c) => {
      await c.db("shop").collection("orders").insertOne({ n: 1 });
      assert.equal((await c.db("shop").collection("orders").findOne({}))?.n, 1);
      const dbs = await c.db("admin").admin().listDatabases();
      assert.ok(dbs.databases.some((d) => d.name === "shop"));
      // Stored as MongoDB stores users.
      const doc = await c.db("admin").collection<{ _id: string; [k: string]: unknown }>(
        "system.users",
      ).findOne({ _id: "admin.admin" });
      assert.equal(doc?.user, "admin");
      assert.deepEqual(doc?.roles, [{ role: "root", db: "admin" }]);
      assert.deepEqual(Object.keys(doc?.credentials as object).sort(), [
        "SCRAM-SHA-1",
        "SCRAM-SHA-256",
      ]);
      assert.equal(
        (doc?.credentials as Record<string, { iterationCount: number; storedKey: string }>)[
          "SCRAM-SHA-256"
        ].iterationCount,
        15000,
      );
      assert.equal(
        (doc?.credentials as Record<string, { iterationCount: number; storedKey: string }>)[
          "SCRAM-SHA-1"
        ].iterationCount,
        10000,
      );
      assert.equal(
        typeof (doc?.credentials as Record<string, { iterationCount: number; storedKey: string }>)[
          "SCRAM-SHA-256"
        ].storedKey,
        "string",
      );
      await c.db("shop").command({ createUser: "reader", pwd: "r", roles: ["read"] });
      await c.db("admin").command({
        createUser: "ops",
        pwd: "o",
        roles: ["clusterAdmin", "userAdminAnyDatabase"],
      });
      const info = await c.db("shop").command({ usersInfo: "reader" });
      assert.deepEqual(
        info.users.map((u: { user: string; mechanisms: string[] }) => [u.user, u.mechanisms]),
        [[
          "reader",
          ["SCRAM-SHA-1", "SCRAM-SHA-256"],
        ]],
      );
      const dup = await failure(
        c.db("shop").command({ createUser: "reader", pwd: "r", roles: [] }),
      );
      assert.equal(dup.code, 51003, output(dup));
    });
    // SCRAM-SHA-1 (MD5-digested password, as MongoDB) and SCRAM-SHA-256 both log in.
    for (const mech of ["SCRAM-SHA-1", "SCRAM-SHA-256"]) {
      await withClient(`${cred}&authMechanism=${mech}`, async (c) => {
        assert.equal(
          (await c.db("admin").command({ connectionStatus: 1 })).authInfo
            .authenticatedUsers[0].user,
          "admin",
        );
      });
    }
    // The driver's default handshake authenticated speculatively, inside hello.
    const log = await Deno.readTextFile(path.join(dir, String(port), "log"));
    assert.match(
      log,
      /"id":5286306,.*"Successfully authenticated".*"isSpeculative":true.*"mechanism":"SCRAM-SHA-256"/,
    );
    // A wrong password: 18.
    const wrong = await withClient(
      `mongodb://admin:nope@localhost:${port}/?directConnection=true`,
      (c) => failure(c.db("admin").command({ ping: 1 })),
    );
    assert.equal(wrong.code, 18, output(wrong));
    assert.match(wrong.message, /Authentication failed/);
    // Roles: read may find but not insert; clusterAdmin may not read data.
    await withClient(
      `mongodb://reader:r@localhost:${port}/shop?directConnection=true`,
      async (c) => {
        assert.equal((await c.db("shop").collection("orders").findOne({}))?.n, 1);
        const e = await failure(c.db("shop").collection("orders").insertOne({ n: 2 }));
        assert.equal(e.code, 13, output(e));
        assert.match(e.message, /^not authorized on shop to execute command \{ insert: "orders"/);
        const dbs = await c.db("admin").admin().listDatabases();
        assert.deepEqual(dbs.databases.map((d) => d.name), ["shop"]);
        // A user may view their own user document, not others'.
        assert.equal((await c.db("shop").command({ usersInfo: "reader" })).users.length, 1);
        const other = await failure(
          c.db("admin").command({ usersInfo: { user: "ops", db: "admin" } }),
        );
        assert.equal(other.code, 13, output(other));
      },
    );
    await withClient(`mongodb://ops:o@localhost:${port}/?directConnection=true`, async (c) => {
      assert.equal((await c.db("admin").command({ getCmdLineOpts: 1 })).ok, 1);
      assert.equal((await failure(c.db("shop").collection("orders").findOne({}))).code, 13);
      // The cluster roles read the config and local databases ("Built-In Roles"; tester90).
      await c.db("config").collection("settings").findOne({});
      await c.db("local").listCollections().toArray();
      assert.equal(
        (await failure(c.db("config").collection("settings").insertOne({ x: 1 }))).code,
        13,
      );
      // userAdminAnyDatabase: change a password, drop a user.
      await c.db("shop").command({ updateUser: "reader", pwd: "r2" });
    });
    const old = await withClient(
      `mongodb://reader:r@localhost:${port}/shop?directConnection=true`,
      (c) => failure(c.db("shop").command({ ping: 1 })),
    );
    assert.equal(old.code, 18, output(old));
    await withClient(
      `mongodb://reader:r2@localhost:${port}/shop?directConnection=true`,
      (c) => c.db("shop").collection("orders").findOne({}),
    );
    await withClient(`mongodb://ops:o@localhost:${port}/?directConnection=true`, async (c) => {
      await c.db("shop").command({ dropUser: "reader" });
      assert.equal((await failure(c.db("shop").command({ dropUser: "reader" }))).code, 11);
    });
    const dropped = await withClient(
      `mongodb://reader:r2@localhost:${port}/shop?directConnection=true`,
      (c) => failure(c.db("shop").command({ ping: 1 })),
    );
    assert.equal(dropped.code, 18, output(dropped));
  });
});

Deno.test("simulator auth: setParameter enableLocalhostAuthBypass=false: no localhost exception, not even for the first user", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [port] = freePorts(1);
    const r = await startMongod(bin, dir, port, [
      "--auth",
      "--setParameter",
      "enableLocalhostAuthBypass=false",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const first = await adminError(port, { createUser: "admin", pwd: "s3cret", roles: ["root"] });
    assert.equal(first.code, 13, output(first));
  });
});

Deno.test("simulator auth: keyfile replica set: members authenticate as __system (initiate, heartbeats, elections, oplog fetching); a member with another keyfile cannot join", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [a, b, c] = freePorts(3);
    const k1 = await keyFile(dir, "k1", "c2VjcmV0a2V5b25lc2VjcmV0a2V5b25l");
    const k2 = await keyFile(dir, "k2", "b3RoZXJrZXl0d29vdGhlcmtleXR3bw==");
    for (const [p, k] of [[a, k1], [b, k1], [c, k2]] as const) {
      const r = await startMongod(bin, dir, p, ["--replSet", "rs0", "--keyFile", k]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    const members = (ports: number[]) =>
      ports.map((p, i) => ({ _id: i, host: `localhost:${p}`, priority: i === 0 ? 2 : 1 }));
    // The quorum check reaches c, whose key differs: it refuses our __system login.
    const refused = await adminError(a, {
      replSetInitiate: { _id: "rs0", members: members([a, b, c]) },
    });
    assert.equal(refused.code, 74, output(refused));
    assert.match(refused.message, new RegExp(`localhost:${c} failed with Authentication failed`));
    // Through the localhost exception: initiate a and b, wait for a primary, create the first user.
    await admin(a, { replSetInitiate: { _id: "rs0", members: members([a, b]) } });
    await waitFor(
      async () => (await admin(a, { hello: 1 })).isWritablePrimary || undefined,
      30_000,
    );
    await admin(a, { createUser: "root", pwd: "pw", roles: ["root"] });
    assert.equal((await adminError(a, { replSetGetStatus: 1 })).code, 13);
    // Commands among members need the internal action: not even root has it, only __system
    // (a login with the keyfile's key on local).
    for (const cmd of [{ replSetGetRBID: 1 }, { replSetHeartbeat: "rs0" }]) {
      await withClient(`mongodb://root:pw@localhost:${a}/?directConnection=true`, async (c) => {
        await assert.rejects(c.db("admin").command(cmd), (e: { code?: number }) => e.code === 13);
      });
    }
    await withClient(
      `mongodb://__system:c2VjcmV0a2V5b25lc2VjcmV0a2V5b25l@localhost:${a}/?directConnection=true&authSource=local&authMechanism=SCRAM-SHA-256`,
      async (c) => assert.equal((await c.db("admin").command({ replSetGetRBID: 1 })).rbid, 1),
    );
    const uri = `mongodb://root:pw@localhost:${a},localhost:${b}/?replicaSet=rs0`;
    await withClient(uri, async (client) => {
      // w: majority needs b to fetch the oplog from a, which it does as __system.
      await client.db("shop").collection("orders").insertOne({ n: 1 }, {
        writeConcern: { w: "majority", wtimeoutMS: 10_000 },
      });
      // The primary learns b's state from b's next heartbeat, so its view may lag a moment.
      const bView = await waitFor(async () => {
        const status = await client.db("admin").command({ replSetGetStatus: 1 });
        const m = status.members.find((m: { name: string }) => m.name === `localhost:${b}`);
        return m?.stateStr === "SECONDARY" ? m : undefined;
      }, 20_000);
      assert.equal(bView.health, 1);
      assert.equal(bView.stateStr, "SECONDARY");
      // c joins the config but cannot be reached as a healthy member: its key is wrong.
      const cfg = (await client.db("admin").command({ replSetGetConfig: 1 })).config;
      cfg.version++;
      cfg.members.push({ _id: 2, host: `localhost:${c}`, priority: 0, votes: 0 });
      await client.db("admin").command({ replSetReconfig: cfg });
      const cView = await waitFor(async () => {
        const s = await client.db("admin").command({ replSetGetStatus: 1 });
        return s.members.find((m: { name: string; lastHeartbeat?: Date }) =>
          m.name === `localhost:${c}` && m.lastHeartbeat && m.lastHeartbeat.getTime() > 0
        );
      }, 20_000);
      assert.equal(cView.health, 0);
      // As MongoDB shows a member it cannot reach, and why.
      assert.equal(cView.stateStr, "(not reachable/healthy)");
      assert.match(cView.lastHeartbeatMessage, /Authentication failed/);
    });
    // The user replicated to b: it authenticates there too.
    await withClient(`mongodb://root:pw@localhost:${b}/?directConnection=true`, async (client) => {
      await waitFor(async () =>
        (await client.db("shop").collection("orders").findOne({}, {
            readPreference: "secondaryPreferred",
          }))?.n === 1 || undefined
      );
    });
  });
});

Deno.test("simulator auth: keyfile sharded cluster: mongos authenticates to config servers and shards; users live on the config servers", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [c1, s1, mongosPort] = freePorts(3);
    const k = await keyFile(dir, "key", "c2hhcmRlZGtleXNoYXJkZWRrZXk=");
    await startMongod(bin, dir, c1, ["--configsvr", "--replSet", "cfg", "--keyFile", k]);
    await startMongod(bin, dir, s1, ["--shardsvr", "--replSet", "sh1", "--keyFile", k]);
    await admin(c1, {
      replSetInitiate: {
        _id: "cfg",
        configsvr: true,
        members: [{ _id: 0, host: `localhost:${c1}` }],
      },
    });
    await admin(s1, {
      replSetInitiate: { _id: "sh1", members: [{ _id: 0, host: `localhost:${s1}` }] },
    });
    const mongos = new Deno.Command(path.join(bin, "mongos"), {
      args: [
        "--configdb",
        `cfg/localhost:${c1}`,
        "--port",
        String(mongosPort),
        "--bind_ip",
        "127.0.0.1",
        "--keyFile",
        k,
        "--logpath",
        path.join(dir, "mongos.log"),
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitFor(async () => (await admin(mongosPort, { ping: 1 })).ok, 30_000);
      await waitFor(
        async () => ((await admin(s1, { hello: 1 })).isWritablePrimary ? true : undefined),
        30_000,
      );
      // Localhost exception on mongos: addShard, then the first user (kept by the config servers).
      await admin(mongosPort, { addShard: `sh1/localhost:${s1}` });
      const unauth = await adminError(mongosPort, { listDatabases: 1 });
      assert.equal(unauth.code, 13, output(unauth));
      await admin(mongosPort, { createUser: "root", pwd: "pw", roles: ["root"] });
      assert.equal(
        (await adminError(mongosPort, { createUser: "x", pwd: "y", roles: [] })).code,
        13,
      );
      await withClient(`mongodb://root:pw@localhost:${mongosPort}/`, async (client) => {
        await client.db("shop").collection("orders").insertMany([{ n: 1 }, { n: 2 }]);
        assert.equal(await client.db("shop").collection("orders").countDocuments(), 2);
        const info = await client.db("admin").command({ usersInfo: 1 });
        assert.deepEqual(info.users.map((u: { user: string }) => u.user), ["root"]);
      });
      // The user is in the config servers' admin.system.users: it logs in there directly.
      await withClient(`mongodb://root:pw@localhost:${c1}/?directConnection=true`, async (c) => {
        const doc = await c.db("admin").collection<{ _id: string }>("system.users").findOne({
          _id: "admin.root",
        });
        assert.equal(doc?._id, "admin.root");
      });
      const wrong = await withClient(
        `mongodb://root:bad@localhost:${mongosPort}/`,
        (c) => failure(c.db("admin").command({ ping: 1 })),
      );
      assert.equal(wrong.code, 18, output(wrong));
    } finally {
      mongos.kill("SIGKILL");
      await mongos.status;
    }
  });
});

/** A test CA and a server certificate for localhost/127.0.0.1 made by the system's openssl. */
async function certificates(dir: string): Promise<{ ca: string; pem: string }> {
  const run = async (...args: string[]) => {
    const r = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
      .output();
    if (r.code !== 0) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(r.stderr)}`);
  };
  await run(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=mup test CA",
  );
  await run(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "srv.key",
    "-out",
    "srv.csr",
    "-subj",
    "/CN=localhost",
  );
  await Deno.writeTextFile(
    path.join(dir, "san.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  await run(
    "x509",
    "-req",
    "-in",
    "srv.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "srv.crt",
    "-days",
    "2",
    "-extfile",
    "san.ext",
  );
  const pem = path.join(dir, "srv.pem");
  await Deno.writeTextFile(
    pem,
    (await Deno.readTextFile(path.join(dir, "srv.crt"))) +
      (await Deno.readTextFile(path.join(dir, "srv.key"))),
  );
  return { ca: path.join(dir, "ca.pem"), pem };
}

Deno.test("simulator TLS: requireTLS members listen and talk to each other over TLS; a client without the CA, or without TLS, cannot connect", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [a, b] = freePorts(2);
    const { ca, pem } = await certificates(dir);
    for (const p of [a, b]) {
      const r = await startMongod(bin, dir, p, [
        "--replSet",
        "rs0",
        "--tlsMode",
        "requireTLS",
        "--tlsCertificateKeyFile",
        pem,
        "--tlsCAFile",
        ca,
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    const opts = `tls=true&tlsCAFile=${encodeURIComponent(ca)}&serverSelectionTimeoutMS=3000`;
    await withClient(`mongodb://localhost:${a}/?directConnection=true&${opts}`, async (c) => {
      // The quorum check and then heartbeats and replication go member to member over TLS.
      await c.db("admin").command({
        replSetInitiate: {
          _id: "rs0",
          members: [{ _id: 0, host: `localhost:${a}`, priority: 2 }, {
            _id: 1,
            host: `localhost:${b}`,
          }],
        },
      });
    });
    await withClient(
      `mongodb://localhost:${a},localhost:${b}/?replicaSet=rs0&${opts}`,
      async (c) => {
        await c.db("shop").collection("orders").insertOne({ n: 1 }, {
          writeConcern: { w: "majority", wtimeoutMS: 10_000 },
        });
      },
    );
    const plain = await withClient(
      `mongodb://localhost:${a}/?directConnection=true&serverSelectionTimeoutMS=2000`,
      (c) => failure(c.db("admin").command({ ping: 1 })),
    );
    // A plain client's hello is not TLS: the server drops the connection.
    assert.match(plain.message, /closed|ECONNRESET/i);
    const noCa = await withClient(
      `mongodb://localhost:${a}/?directConnection=true&tls=true&serverSelectionTimeoutMS=2000`,
      (c) => failure(c.db("admin").command({ ping: 1 })),
    );
    // The driver does not trust the server's certificate without the CA.
    assert.match(noCa.message, /unable to verify the first certificate|self[- ]signed/i);
  });
});
