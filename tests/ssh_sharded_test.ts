/**
 * A sharded cluster across a local host and two SSH hosts (real sshd on 127.0.0.2 and
 * 127.0.0.3, tests/ssh_helpers.ts): deploy, serve the driver, stop, start, destroy. Its own file
 * so that it runs alongside the other SSH tests (tests/ssh_test.ts).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { deployArgs, freePorts, killAll, mup, tempHome, testMirror } from "./helpers.ts";
import { clusterDir, currentState, withClient } from "./apply_helpers.ts";
import { entry, processesMentioning, startSshFixture, topologyFile } from "./ssh_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test({
  name:
    "SSH: a sharded cluster across 127.0.0.1 (local), 127.0.0.2 and 127.0.0.3 (sshd) deploys and serves the driver through a remote mongos; one connection per host; masters closed at exit; stop, start and destroy reach every host",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture();
    try {
      const p = freePorts(10);
      const hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
      const topo = await topologyFile(home, {
        config_servers: hosts.map((h, i) => entry(f, h, p[i], { replica_set: "cfg" })),
        mongod_servers: [
          ...hosts.map((h, i) => entry(f, h, p[3 + i], { replica_set: "shard1" })),
          ...hosts.map((h, i) => entry(f, h, p[6 + i], { replica_set: "shard2" })),
        ],
        mongos_servers: [entry(f, "127.0.0.2", p[9])],
      });
      const r = await mup(
        deployArgs("c1", topo, await testMirror(), ["--auto-approve", ...f.flags()]),
        { home },
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /✓ Connectivity to all hosts \(3\/3\), SSH round trip \d+–\d+ ms/);
      assert.match(r.stdout, /✓ OS and architecture match the linux-\w+ release on 2 remote hosts/);
      assert.match(
        r.stdout,
        /! remote hosts \(127\.0\.0\.2, 127\.0\.0\.3\) will use this machine's default deploy_dir/,
      );
      assert.match(r.stdout, /Deployment completed successfully!/);
      assert.match(r.stdout, new RegExp(`mongodb://admin@127\\.0\\.0\\.2:${p[9]}/`));
      await withClient(`mongodb://127.0.0.2:${p[9]}/`, async (c) => {
        await c.db("app").collection("t").insertOne({ over: "ssh" });
        assert.equal((await c.db("app").collection("t").findOne({}))?.over, "ssh");
        const shards = await c.db("admin").command({ listShards: 1 });
        assert.deepEqual(shards.shards.map((s: { _id: string }) => s._id).sort(), [
          "shard1",
          "shard2",
        ]);
      }, { home, cluster: "c1" });
      // The remote servers listen on their host's address, not on 127.0.0.1.
      const onLocal = await Deno.connect({ hostname: "127.0.0.1", port: p[9] }).then(
        (c) => (c.close(), true),
        () => false,
      );
      assert.equal(onLocal, false, "the mongos of 127.0.0.2 must bind 127.0.0.2 only");
      // Pre-flight, the apply check and every operation of this one mup process: one connection.
      for (const s of f.servers) assert.equal(await s.acceptedConnections(), 1, s.addr);
      assert.deepEqual(processesMentioning(path.join(home, "ssh")), [], "masters left running");
      assert.equal((await currentState(home, "c1")).status, "completed");

      // The lifecycle commands reach the same hosts the same way: stop, start, destroy.
      const where = [...hosts, ...hosts, ...hosts, "127.0.0.2"];
      const listening = async () => {
        const up: string[] = [];
        for (const [i, port] of p.entries()) {
          const ok = await Deno.connect({ hostname: where[i], port }).then(
            (c) => (c.close(), true),
            () => false,
          );
          if (ok) up.push(`${where[i]}:${port}`);
        }
        return up;
      };
      const stop = await mup(["cluster", "stop", "c1", "--auto-approve", ...f.flags()], { home });
      assert.equal(stop.code, 0, stop.stdout + stop.stderr);
      assert.deepEqual(await listening(), [], "every process stopped, on every host");
      const down = await mup(["cluster", "display", "c1", "--json"], { home });
      assert.notEqual(down.code, 0, "a stopped cluster is not healthy");
      const start = await mup(["cluster", "start", "c1", "--auto-approve", ...f.flags()], {
        home,
      });
      assert.equal(start.code, 0, start.stdout + start.stderr);
      assert.equal((await listening()).length, 10, "every process runs again");
      await withClient(`mongodb://127.0.0.2:${p[9]}/`, async (c) => {
        assert.equal((await c.db("app").collection("t").findOne({}))?.over, "ssh");
      }, { home, cluster: "c1" });
      const up = await mup(["cluster", "display", "c1", "--json"], { home });
      assert.equal(up.code, 0, up.stdout + up.stderr);
      const destroy = await mup(["cluster", "destroy", "c1", "--auto-approve", ...f.flags()], {
        home,
      });
      assert.equal(destroy.code, 0, destroy.stdout + destroy.stderr);
      assert.deepEqual(await listening(), [], "destroy stops every process");
      const left = await Deno.stat(clusterDir(home, "c1")).then(() => true, () => false);
      assert.equal(left, false, "nothing of the cluster remains but its archive");
      assert.deepEqual(processesMentioning(path.join(home, "ssh")), [], "masters left running");
    } finally {
      await killAll(home);
      await f.close();
    }
  },
});
