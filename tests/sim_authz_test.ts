/**
 * What a logged-in user may not do, as mongod refuses it (tester95): grant roles outside its own
 * database, read or write the server's system collections through the data roles, view other
 * databases' users, keep a dropped user's or an old role's access, log in twice on one
 * connection, read another user's cursor, or (under the localhost exception) create the first
 * user anywhere but admin.
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { freePorts } from "./helpers.ts";
import * as path from "node:path";
import { runBin, simBin, startMongod, withDir } from "./sim_helpers.ts";

/** The error code a promise rejects with; 0 when it resolves. */
const code = (p: Promise<unknown>) =>
  p.then(() => 0, (e: { code?: number; message?: string }) => e.code ?? -1);

Deno.test("simulator auth: roles are granted only where the granter may; system collections, other databases' users and other users' cursors are not the data roles'; a dropped or demoted user loses its access at once; one user per connection; the localhost exception creates the first user on admin only", async () => {
  await withDir(async (dir) => {
    const [port] = freePorts(1);
    const started = await startMongod(await simBin("7.0.5"), dir, port, ["--auth"]);
    assert.equal(started.code, 0, started.stdout + started.stderr);
    const base = `mongodb://localhost:${port}/?directConnection=true`;
    const clients: MongoClient[] = [];
    const as = (user: string, db: string, pool = "") => {
      const c = new MongoClient(
        `mongodb://${user}:p@localhost:${port}/?directConnection=true&authSource=${db}${pool}`,
      );
      clients.push(c);
      return c;
    };
    try {
      // The localhost exception: the first user on admin only.
      const anon = new MongoClient(base);
      clients.push(anon);
      assert.equal(
        await code(anon.db("shop").command({ createUser: "early", pwd: "p", roles: ["read"] })),
        13,
      );
      await anon.db("admin").command({ createUser: "root", pwd: "p", roles: ["root"] });
      const root = as("root", "admin");
      const shop = root.db("shop");
      await shop.collection("orders").insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
      for (
        const [user, roles, db] of [
          ["ua", ["userAdmin"], "shop"],
          ["rd", ["read"], "shop"],
          ["rw", ["readWrite"], "shop"],
          ["dba", ["dbAdmin"], "shop"],
          ["rwadmin", ["readWrite"], "admin"],
          ["rany", ["readAnyDatabase"], "admin"],
        ] as const
      ) {
        await root.db(db).command({ createUser: user, pwd: "p", roles: [...roles] });
      }
      assert.equal(
        await code(root.db("local").command({ createUser: "lu", pwd: "p", roles: [] })),
        2,
        "no users in local",
      );

      // userAdmin of shop: users of shop with shop's roles, nothing elsewhere.
      const ua = as("ua", "shop").db("shop");
      await ua.command({ createUser: "clerk", pwd: "p", roles: ["read"] });
      for (
        const cmd of [
          { createUser: "evil", pwd: "p", roles: [{ role: "root", db: "admin" }] },
          { createUser: "evil2", pwd: "p", roles: [{ role: "readWrite", db: "other" }] },
          { updateUser: "ua", roles: [{ role: "root", db: "admin" }] },
          { usersInfo: { user: "root", db: "admin" }, showCredentials: true },
          { usersInfo: { forAllDBs: true } },
        ]
      ) {
        assert.equal(await code(ua.command(cmd)), 13, JSON.stringify(cmd));
      }
      assert.equal((await ua.command({ usersInfo: 1 })).users.length, 5, "ua, rd, rw, dba, clerk");

      // The data roles do not reach the server's own collections.
      const users = (c: MongoClient) => c.db("admin").collection("system.users");
      assert.equal(
        await code(
          users(as("rwadmin", "admin")).updateOne({ _id: "admin.rwadmin" as never }, {
            $set: { roles: [{ role: "root", db: "admin" }] },
          }),
        ),
        13,
      );
      assert.equal(await code(users(as("rany", "admin")).findOne({})), 13);
      assert.ok(await users(root).findOne({ _id: "admin.root" as never }), "root reads it");

      // dbAdmin: collections and indexes, statistics; no documents.
      const dba = as("dba", "shop").db("shop");
      assert.equal(await code(dba.collection("orders").find().toArray()), 13);
      await dba.collection("orders").createIndex({ n: 1 });
      await dba.command({ create: "logs" });
      await dba.collection("logs").drop();

      // A cursor is its user's.
      const rd = as("rd", "shop");
      const rw = as("rw", "shop");
      const first = await rd.db("shop").command({ find: "orders", batchSize: 1 });
      assert.notEqual(Number(first.cursor.id), 0);
      assert.equal(
        await code(rw.db("shop").command({ getMore: first.cursor.id, collection: "orders" })),
        13,
      );
      assert.equal(
        await code(rw.db("shop").command({ killCursors: "orders", cursors: [first.cursor.id] })),
        13,
      );
      const more = await rd.db("shop").command({ getMore: first.cursor.id, collection: "orders" });
      assert.equal(more.cursor.nextBatch.length, 2, "its own user reads on");

      // Dropped or demoted: the next command has what the user has now.
      await root.db("shop").command({ updateUser: "rw", roles: ["read"] });
      assert.equal(await code(rw.db("shop").collection("orders").insertOne({ n: 4 })), 13);
      await root.db("shop").command({ dropUser: "rd" });
      assert.equal(await code(rd.db("shop").collection("orders").countDocuments()), 13);
      assert.equal(await root.db("shop").collection("orders").countDocuments(), 3);

      // One user per connection.
      const one = as("rw", "shop", "&maxPoolSize=1");
      await one.db("shop").command({ ping: 1 });
      const again = await one.db("admin").command({
        saslStart: 1,
        mechanism: "SCRAM-SHA-256",
        payload: new TextEncoder().encode("n,,n=root,r=abcdefghijklmnop"),
        autoAuthorize: 1,
      }).then(() => 0, (e: { code?: number }) => e.code);
      assert.equal(again, 5626702);
    } finally {
      for (const c of clients) await c.close();
    }
  });
});

/** An IPv4 address of this machine that is not a loopback one, if it has any. */
const outside = Deno.networkInterfaces().find((i) =>
  i.family === "IPv4" && !i.address.startsWith("127.")
)?.address;

Deno.test({
  name:
    "simulator auth: shutdown from another host is refused without access control (13) and allowed with it to a user granted shutdown, as CmdShutdown does; a user without the action is refused",
  // Needs an address other than loopback to connect from (a machine with only `lo` has none).
  ignore: outside === undefined,
  fn: async () => {
    await withDir(async (dir) => {
      const [port] = freePorts(1);
      const bin = await simBin("7.0.5");
      // startMongod's own --bind_ip is 127.0.0.1 alone (a second one is refused, as by mongod).
      const start = async (extra: string[]) => {
        const d = path.join(dir, String(port));
        await Deno.mkdir(d, { recursive: true });
        return await runBin(path.join(bin, "mongod"), [
          ...["--port", String(port), "--dbpath", d, "--fork", "--logappend"],
          ...["--logpath", path.join(d, "log"), "--pidfilepath", path.join(d, "mongod.pid")],
          ...["--bind_ip", `127.0.0.1,${outside}`, ...extra],
        ]);
      };
      const at = (cred = "") =>
        new MongoClient(`mongodb://${cred}${outside}:${port}/?directConnection=true`, {
          serverSelectionTimeoutMS: 5_000,
        });
      const running = () => pidAlive(dir, port);
      let started = await start([]);
      assert.equal(started.code, 0, started.stdout + started.stderr);
      const open = at();
      try {
        const err = await open.db("admin").command({ shutdown: 1 }).then(
          () => undefined,
          (e) => e as { code?: number; message: string },
        );
        assert.equal(err?.code, 13, err?.message);
        assert.equal(err?.message, "shutdown must run from localhost when running db without auth");
        assert.ok(running(), "refused, the server runs on");
      } finally {
        await open.close();
      }
      // Stopped from this host, then started with access control.
      const local = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`);
      await local.db("admin").command({ shutdown: 1 }).catch(() => {});
      await local.close();
      await waitGone(dir, port);
      started = await start(["--auth"]);
      assert.equal(started.code, 0, started.stdout + started.stderr);
      const first = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`);
      try {
        await first.db("admin").command({ createUser: "ops", pwd: "p", roles: ["root"] });
      } finally {
        await first.close();
      }
      const ops = new MongoClient(`mongodb://ops:p@127.0.0.1:${port}/?directConnection=true`);
      try {
        await ops.db("admin").command({
          createUser: "reader",
          pwd: "p",
          roles: ["readAnyDatabase"],
        });
      } finally {
        await ops.close();
      }
      const reader = at("reader:p@");
      try {
        assert.equal(await code(reader.db("admin").command({ shutdown: 1 })), 13);
        assert.ok(running(), "a user without the shutdown action does not stop it");
      } finally {
        await reader.close();
      }
      const admin = at("ops:p@");
      try {
        // The server closes the connection as it goes: the driver reports a network error.
        await admin.db("admin").command({ shutdown: 1, timeoutSecs: 0 }).catch(() => {});
      } finally {
        await admin.close();
      }
      await waitGone(dir, port);
    });
  },
});

function pidAlive(dir: string, port: number): boolean {
  try {
    const pid = Number(Deno.readTextFileSync(`${dir}/${port}/mongod.pid`).trim());
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

async function waitGone(dir: string, port: number): Promise<void> {
  const end = Date.now() + 30_000;
  while (pidAlive(dir, port)) {
    if (Date.now() > end) throw new Error(`the server on port ${port} did not exit`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
