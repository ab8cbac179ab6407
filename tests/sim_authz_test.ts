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
import { simBin, startMongod, withDir } from "./sim_helpers.ts";

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
