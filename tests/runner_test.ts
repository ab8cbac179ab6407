/**
 * An independent tool accepts the simulator as it accepts a real server: mongodb-runner (MongoDB's
 * own local-cluster tool, npm) starts the example sharded topology — 3 config servers, 2 shards of
 * 3 members, 1 mongos — on the simulator's unwrapped binaries (a release unpacked from the mirror
 * sim/mirror.ts builds), and the cluster is used with the driver.
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { MongoCluster } from "mongodb-runner";
import { simBin } from "./sim_helpers.ts";
import { installFixture, tempDir } from "./fixture.ts";

installFixture();

/**
 * Kills, by pid, every process whose command line or working directory lies under `dir`: what
 * mongodb-runner started there (it passes --dbpath under its tmpDir and runs each server there),
 * should it have failed half-way and left servers running.
 */
async function killUnder(dir: string): Promise<void> {
  for await (const e of Deno.readDir("/proc")) {
    const pid = Number(e.name);
    if (!pid || pid === Deno.pid) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
      const cwd = await Deno.readLink(`/proc/${pid}/cwd`).catch(() => "");
      if (cmdline.includes(dir) || cwd === dir || cwd.startsWith(dir + "/")) {
        Deno.kill(pid, "SIGKILL");
      }
    } catch {
      // Gone already, or not ours to read.
    }
  }
}

Deno.test("mongodb-runner starts the example sharded topology on the simulator's binaries, and the driver uses it", async () => {
  const bin = await simBin("7.0.5");
  const tmpDir = await tempDir("mup-runner-");
  let cluster: MongoCluster | undefined;
  try {
    cluster = await MongoCluster.start({
      topology: "sharded",
      binDir: bin, // a local release: nothing is downloaded
      tmpDir,
      shards: 2,
      secondaries: 2,
    });
    const c = new MongoClient(cluster.connectionString, { serverSelectionTimeoutMS: 30_000 });
    try {
      const hello = await c.db("admin").command({ hello: 1 });
      assert.equal(hello.msg, "isdbgrid");
      const { shards } = await c.db("admin").command({ listShards: 1 });
      assert.equal(shards.length, 2);
      for (const s of shards as { host: string }[]) {
        assert.equal(s.host.split("/")[1].split(",").length, 3, `${s.host}: 3 members`);
      }
      const orders = c.db("shop").collection("orders");
      await orders.insertMany(Array.from({ length: 250 }, (_, i) => ({ n: i })));
      assert.equal(await orders.countDocuments({ n: { $gte: 100 } }), 150);
      // 250 documents come back through getMore, in cursors of the documented shape.
      assert.equal((await orders.find({}).batchSize(100).toArray()).length, 250);
      // mongodb-runner's own bookkeeping lives in config.mongodbrunner on the config servers.
      assert.ok((await c.db("config").collection("mongodbrunner").countDocuments()) >= 1);
      const st = await c.db("admin").command({ buildInfo: 1 });
      assert.equal(st.version, "7.0.5");
      assert.equal(cluster.serverVersion, "7.0.5");
    } finally {
      await c.close();
    }
  } finally {
    await cluster?.close().catch(() => {});
    await killUnder(tmpDir);
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
});
