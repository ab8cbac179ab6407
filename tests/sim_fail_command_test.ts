/**
 * The simulator's failCommand fail point (only with enableTestCommands, as mongod's): a command
 * it names fails before it runs, with the error asked for or a closed connection, for the
 * clients it applies to, as many times as asked.
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { freePorts } from "./helpers.ts";
import { simBin, startMongod, withDir } from "./sim_helpers.ts";

const code = (p: Promise<unknown>) =>
  p.then(() => 0, (e: { code?: number; name?: string }) => e.code ?? e.name ?? -1);

Deno.test("simulator: failCommand fails the commands it names before they run (errorCode and errorLabels, closeConnection, appName, {times: n}); without enableTestCommands configureFailPoint does not exist (59)", async () => {
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [plain, testing] = freePorts(2);
    let r = await startMongod(bin, dir, plain);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    r = await startMongod(bin, dir, testing, ["--setParameter", "enableTestCommands=1"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const uri = (port: number, app = "") =>
      `mongodb://127.0.0.1:${port}/?directConnection=true&retryWrites=false${app}`;
    const c0 = new MongoClient(uri(plain));
    const c = new MongoClient(uri(testing, "&appName=victim"));
    const other = new MongoClient(uri(testing, "&appName=bystander"));
    try {
      assert.equal(
        await code(c0.db("admin").command({ configureFailPoint: "failCommand", mode: "alwaysOn" })),
        59,
      );
      const admin = c.db("admin");
      await admin.command({
        configureFailPoint: "failCommand",
        mode: { times: 2 },
        data: { failCommands: ["insert"], errorCode: 91, errorLabels: ["x"], appName: "victim" },
      });
      const coll = c.db("app").collection("f");
      const err = await coll.insertOne({ _id: 1 } as never).then(
        () => undefined,
        (e) => e as { code?: number; message: string; errorLabels?: string[] },
      );
      assert.equal(err?.code, 91);
      assert.equal(err?.message, "Failing command via 'failCommand' failpoint");
      assert.ok(err?.errorLabels?.includes("x"), JSON.stringify(err));
      // Another application's commands are not the point's; they do not use up its hits.
      await other.db("app").collection("f").insertOne({ _id: 2 } as never);
      assert.equal(await code(coll.insertOne({ _id: 3 } as never)), 91);
      // Two hits, then the point is off: the next insert runs.
      await coll.insertOne({ _id: 4 } as never);
      assert.deepEqual(
        (await coll.find().sort({ _id: 1 }).toArray()).map((d) => d._id),
        [2, 4],
        "a failed command wrote nothing",
      );
      await admin.command({
        configureFailPoint: "failCommand",
        mode: "alwaysOn",
        data: { failCommands: ["find"], closeConnection: true },
      });
      assert.equal(await code(coll.findOne({})), "MongoNetworkError");
      // The error carries MongoDB's name of its code; one MongoDB does not name is
      // Location<code>, never UnknownError (code 8's name; tester110 #3).
      for (const [errorCode, name] of [[93, "InvalidReplicaSetConfig"], [12345, "Location12345"]]) {
        await admin.command({
          configureFailPoint: "failCommand",
          mode: { times: 1 },
          data: { failCommands: ["aggregate"], errorCode },
        });
        const named = await coll.countDocuments().then(
          () => undefined,
          (e) => e as { code?: number; codeName?: string },
        );
        assert.deepEqual([named?.code, named?.codeName], [errorCode, name]);
      }
      await admin.command({ configureFailPoint: "failCommand", mode: "off" });
      assert.equal((await coll.findOne({ _id: 4 } as never))?._id, 4);
    } finally {
      await Promise.all([c0.close(), c.close(), other.close()]);
    }
  });
});
