/**
 * The lifecycle commands through the CLI on real simulator processes: display, stop, start,
 * rolling restart under a majority-writing client, destroy (replica set; the sharded cluster is
 * tests/lifecycle_sharded_test.ts, run alongside).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { killAll, replicaSetTopology, tempHome } from "./helpers.ts";
import { clusterDir } from "./apply_helpers.ts";
import { deploy, display, livePids, ok, stablePorts } from "./lifecycle_helpers.ts";
import { exists, rollingUnderLoad, stopStartKeepsData } from "./lifecycle_steps.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("replica set: display, stop, start, rolling restart under load, destroy", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    const shown = await display(home, "rs");
    assert.ok(shown.healthy);
    assert.deepEqual(shown.processes.map((p) => p.state).sort(), [
      "PRIMARY",
      "SECONDARY",
      "SECONDARY",
    ]);
    assert.ok(shown.processes.every((p) => p.pid && p.data_dir));
    const uri = shown.connection_string;
    await stopStartKeepsData(home, "rs", ports, uri);
    const missing = await rollingUnderLoad(home, "rs", uri);

    const dir = clusterDir(home, "rs");
    const cancelled = await ok(home, ["cluster", "destroy", "rs"], 1);
    assert.match(cancelled.stdout, /Apply cancelled/);
    assert.ok(await exists(path.join(dir, "meta.yaml")), "nothing destroyed without the name");
    const destroyed = await ok(home, ["cluster", "destroy", "rs", "--auto-approve"]);
    assert.match(destroyed.stdout, /\nStatus: destroyed \(records kept in the archive\)\n/);
    assert.deepEqual(await livePids(home, "rs"), []);
    assert.ok(!(await exists(dir)), "nothing of the cluster remains in its directory");
    const archive = path.join(home, "storage", "archive");
    const [kept] = await Array.fromAsync(Deno.readDir(archive));
    for (const f of ["meta.yaml", "plans", "state", "logs"]) {
      assert.ok(await exists(path.join(archive, kept.name, f)), `archive keeps ${f}`);
    }
    const list = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
    assert.deepEqual(list, []);
    const second = await ok(home, ["cluster", "destroy", "rs", "--auto-approve"]);
    assert.match(second.stdout, /Nothing to do: cluster rs is already destroyed/);
    const unknown = await ok(home, ["cluster", "stop", "nosuch"], 1);
    assert.match(unknown.stderr, /no deployed cluster named "nosuch"/);
    assert.deepEqual(missing, [], "every write acknowledged with w:majority survives the restart");
  } finally {
    await killAll(home);
  }
});
