/**
 * `cluster scale-out` onto a host the cluster did not use (a real sshd on 127.0.0.3): the new
 * host gets the binaries and the keyfile, the member joins and copies the set's data, and the
 * metadata keeps the binaries of the host it already had.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  output,
  pausedBefore,
  resultOf,
  spawnMup,
  tempHome,
  testMirror,
} from "./helpers.ts";
import { clusterDir, meta, withClient } from "./apply_helpers.ts";
import { ok } from "./lifecycle_helpers.ts";
import { entry, startSshFixture, topologyFile } from "./ssh_helpers.ts";
import { installFixture } from "./fixture.ts";
import type { Document } from "mongodb";

installFixture();

Deno.test({
  name:
    "SSH: cluster scale-out adds a member on a new host: binaries and keyfile installed there, the member joins with the set's data, the metadata records both hosts' binaries",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture(["127.0.0.2", "127.0.0.3"]);
    try {
      const [p1, p2, p3] = freePorts(3);
      const members = [
        entry(f, "127.0.0.2", p1, { replica_set: "rs", priority: 2 }),
        entry(f, "127.0.0.2", p2, { replica_set: "rs" }),
      ];
      const global = { user: f.user, ssh_identity_file: f.key };
      const topo = await topologyFile(home, { global, mongod_servers: members });
      const flags = f.flags();
      await ok(home, deployArgs("sx", topo, await testMirror(), ["--auto-approve", ...flags]));
      const uri = `mongodb://127.0.0.2:${p1}/?directConnection=true`;
      await withClient(
        uri,
        (c) => c.db("app").collection("t").insertOne({ x: 1 }, { writeConcern: { w: 2 } }),
        { home, cluster: "sx" },
      );
      const grown = await topologyFile(home, {
        global,
        mongod_servers: [...members, entry(f, "127.0.0.3", p3, { replica_set: "rs" })],
      });
      const r = await ok(home, ["cluster", "scale-out", "sx", grown, "--auto-approve", ...flags]);
      assert.match(r.stdout, /Scale-out completed successfully/);
      const cfg = await withClient(
        uri,
        async (c) => (await c.db("admin").command({ replSetGetConfig: 1 })).config,
        { home, cluster: "sx" },
      );
      assert.deepEqual(
        (cfg.members as Document[]).map((m) => m.host).sort(),
        [`127.0.0.2:${p1}`, `127.0.0.2:${p2}`, `127.0.0.3:${p3}`].sort(),
      );
      const copied = await withClient(
        `mongodb://127.0.0.3:${p3}/?directConnection=true&readPreference=secondaryPreferred`,
        (c) => c.db("app").collection("t").countDocuments(),
        { home, cluster: "sx" },
      );
      assert.equal(copied, 1);
      const m = await meta(home, "sx") as { binaries: { host: string }[]; processes: unknown[] };
      assert.equal(m.processes.length, 3);
      assert.deepEqual([...new Set(m.binaries.map((b) => b.host))].sort(), [
        "127.0.0.2",
        "127.0.0.3",
      ]);
      // A repair of the grown cluster finds everything in place, binaries included.
      const again = await ok(
        home,
        deployArgs("sx", grown, await testMirror(), [
          "--plan-only",
          ...flags,
        ]),
      );
      assert.match(again.stdout, /No changes\. The cluster matches the topology\./);
    } finally {
      await f.close();
    }
  },
});

Deno.test({
  name:
    "SSH: the rollback of a scale-out cut before its new member was added stops and removes it on its new host, reached on that host's own ssh_port",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture(["127.0.0.2", "127.0.0.3"]);
    try {
      const [p1, p2, p3] = freePorts(3);
      const members = [
        entry(f, "127.0.0.2", p1, { replica_set: "rs", priority: 2 }),
        entry(f, "127.0.0.2", p2, { replica_set: "rs" }),
      ];
      const cut = pausedBefore(home, "add-members-rs");
      const topo = await topologyFile(home, { mongod_servers: members });
      await Deno.writeTextFile(topo, cut.hooks, { append: true });
      const flags = f.flags();
      await ok(home, deployArgs("sx", topo, await testMirror(), ["--auto-approve", ...flags]));
      const grown = path.join(home, "grown.yaml");
      await Deno.writeTextFile(
        grown,
        (await Deno.readTextFile(topo)).replace(
          "mongod_servers:",
          `mongod_servers:\n  - host: 127.0.0.3\n    port: ${p3}\n    ssh_port: ${
            f.servers[1].port
          }\n    replica_set: rs`,
        ),
      );
      const child = spawnMup(
        ["cluster", "scale-out", "sx", grown, "--auto-approve", ...flags],
        home,
      );
      const running = resultOf(child);
      // Its new member runs on 127.0.0.3 by then, not yet in the set.
      await cut.at(() => child.kill("SIGKILL"), running);
      await running;
      const dataDir = path.join(clusterDir(home, "sx"), "deploy", "data", `mongod-${p3}`);
      assert.ok(await Deno.stat(dataDir).then(() => true, () => false));
      const conn = await Deno.connect({ hostname: "127.0.0.3", port: p3 });
      conn.close();
      const r = await ok(home, [
        "state",
        "rollback",
        "sx",
        "--checkpoint",
        "start",
        "--auto-approve",
        ...flags,
      ]);
      assert.doesNotMatch(r.stdout, /port 22/, output(r));
      await assert.rejects(
        Deno.connect({ hostname: "127.0.0.3", port: p3 }).then((c) => c.close()),
      );
      assert.ok(!(await Deno.stat(dataDir).then(() => true, () => false)), dataDir);
      const m = await meta(home, "sx") as { processes: unknown[] };
      assert.equal(m.processes.length, 2);
    } finally {
      await killAll(home);
      await f.close();
    }
  },
});
