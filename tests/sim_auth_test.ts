import assert from "node:assert/strict";
import * as path from "node:path";
import { MongoClient } from "mongodb";
import { freePorts } from "./helpers.ts";
import { admin, adminError, simBin, startMongod, waitFor, withDir } from "./sim_helpers.ts";

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
    assert.equal(list.code, 13);
    assert.equal(list.message, "Command listDatabases requires authentication");
    await withClient(base, async (c) => {
      const e = await failure(c.db("shop").collection("orders").findOne({}));
      assert.equal(e.code, 13);
      assert.match(e.message, /Command find requires authentication/);
      assert.equal((await failure(c.db("shop").collection("orders").insertOne({ a: 1 }))).code, 13);
      // The localhost exception: the first user only.
      await c.db("admin").command({ createUser: "admin", pwd: "s3cret", roles: ["root"] });
      const second = await failure(
        c.db("admin").command({ createUser: "other", pwd: "x", roles: ["root"] }),
      );
      assert.equal(second.code, 13);
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
      assert.equal(dup.code, 51003);
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
    // A wrong password: 18.
    const wrong = await withClient(
      `mongodb://admin:nope@localhost:${port}/?directConnection=true`,
      (c) => failure(c.db("admin").command({ ping: 1 })),
    );
    assert.equal(wrong.code, 18);
    assert.match(wrong.message, /Authentication failed/);
    // Roles: read may find but not insert; clusterAdmin may not read data.
    await withClient(
      `mongodb://reader:r@localhost:${port}/shop?directConnection=true`,
      async (c) => {
        assert.equal((await c.db("shop").collection("orders").findOne({}))?.n, 1);
        const e = await failure(c.db("shop").collection("orders").insertOne({ n: 2 }));
        assert.equal(e.code, 13);
        assert.match(e.message, /^not authorized on shop to execute command \{ insert: "orders"/);
        const dbs = await c.db("admin").admin().listDatabases();
        assert.deepEqual(dbs.databases.map((d) => d.name), ["shop"]);
      },
    );
    await withClient(`mongodb://ops:o@localhost:${port}/?directConnection=true`, async (c) => {
      assert.equal((await c.db("admin").command({ getCmdLineOpts: 1 })).ok, 1);
      assert.equal((await failure(c.db("shop").collection("orders").findOne({}))).code, 13);
      // userAdminAnyDatabase: change a password, drop a user.
      await c.db("shop").command({ updateUser: "reader", pwd: "r2" });
    });
    const old = await withClient(
      `mongodb://reader:r@localhost:${port}/shop?directConnection=true`,
      (c) => failure(c.db("shop").command({ ping: 1 })),
    );
    assert.equal(old.code, 18);
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
    assert.equal(dropped.code, 18);
  });
});
