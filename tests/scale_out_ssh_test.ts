/**
 * `cluster scale-out` onto a host the cluster did not use (a real sshd on 127.0.0.3): the new
 * host gets the binaries and the keyfile, the member joins and copies the set's data, and the
 * metadata keeps the binaries of the host it already had.
 */
import assert from "node:assert/strict";
import { deployArgs, freePorts, tempHome, testMirror } from "./helpers.ts";
import { meta, withClient } from "./apply_helpers.ts";
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
