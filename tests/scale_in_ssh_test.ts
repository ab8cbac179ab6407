/**
 * A scale-in over SSH: the removed member's host is reached on its own `ssh_port`, which only the
 * recorded topology names (the plan's topology is the cluster it leaves, without that host).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  pausedBefore,
  resultOf,
  spawnMup,
  tempHome,
  testMirror,
} from "./helpers.ts";
import { clusterDir, meta, withClient } from "./apply_helpers.ts";
import { deploySetAcross, startSshFixture } from "./ssh_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test({
  name:
    "SSH: a scale-in stops and removes a member on a host only the recorded topology gives the SSH port of; resumed after a cut, it still reaches it",
  sanitizeResources: false,
  async fn() {
    const home = await tempHome();
    const f = await startSshFixture();
    try {
      const p = freePorts(3);
      const topo = await deploySetAcross(home, f, p);
      // mup is killed just before the removed member's data directory goes; the resume, a new
      // mup that reads only the plan, must reach 127.0.0.3 on its port too.
      const dataDir = path.join(clusterDir(home, "c1"), "deploy", "data", `mongod-${p[2]}`);
      const cut = pausedBefore(home, `rm-127.0.0.3-${dataDir}`);
      await Deno.writeTextFile(topo, cut.hooks, { append: true });
      const redeploy = await mup(
        deployArgs("c1", topo, await testMirror(), ["--auto-approve", ...f.flags()]),
        { home },
      );
      assert.equal(redeploy.code, 0, output(redeploy)); // records the hook
      const child = spawnMup(
        ["cluster", "scale-in", "c1", "-N", `127.0.0.3:${p[2]}`, "--auto-approve", ...f.flags()],
        home,
      );
      const running = resultOf(child);
      await cut.at(() => child.kill("SIGKILL"), running);
      await running;
      assert.ok(await Deno.stat(dataDir).then(() => true, () => false), "cut before the removal");
      const r = await mup(["plan", "resume", "c1", "--auto-approve", ...f.flags()], { home });
      assert.equal(r.code, 0, output(r));
      const procs = (await meta(home, "c1")).processes as { host: string }[];
      assert.deepEqual(procs.map((x) => x.host).sort(), ["127.0.0.1", "127.0.0.2"]);
      const data: string[] = [];
      for await (const e of Deno.readDir(path.join(clusterDir(home, "c1"), "deploy", "data"))) {
        data.push(e.name);
      }
      assert.deepEqual(data.sort(), [`mongod-${p[0]}`, `mongod-${p[1]}`].sort());
      await assert.rejects(
        Deno.connect({ hostname: "127.0.0.3", port: p[2] }).then((c) => c.close()),
      );
      await withClient(`mongodb://127.0.0.1:${p[0]}/?directConnection=true`, async (c) => {
        const cfg = await c.db("admin").command({ replSetGetConfig: 1 });
        assert.equal(cfg.config.members.length, 2);
      }, { home, cluster: "c1" });
    } finally {
      await killAll(home);
      await f.close();
    }
  },
});
