/**
 * The lifecycle commands through the CLI on a sharded cluster of real simulator processes:
 * display order, partial stop/start, stop, start, rolling restart under a majority-writing
 * client, destroy --retain-data.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { killAll, shardedTopology, tempHome } from "./helpers.ts";
import { clusterDir, currentState } from "./apply_helpers.ts";
import { deploy, display, livePids, ok, stablePorts } from "./lifecycle_helpers.ts";
import { exists, rollingUnderLoad, stopStartKeepsData } from "./lifecycle_steps.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("sharded cluster: display order, stop, start, rolling restart under load, destroy --retain-data", async () => {
  const home = await tempHome();
  const ports = stablePorts(10);
  try {
    await deploy(home, "sh", shardedTopology(ports));
    const shown = await display(home, "sh");
    assert.deepEqual(
      shown.processes.map((p) => p.role),
      ["config", "config", "config", ...Array(6).fill("mongod"), "mongos"],
    );
    const mongos = JSON.parse(
      (await ok(home, ["cluster", "display", "sh", "-R", "mongos", "--json"])).stdout,
    );
    assert.deepEqual(mongos.processes.map((p: { id: string }) => p.id), [`localhost:${ports[9]}`]);
    assert.deepEqual(
      JSON.parse((await ok(home, ["cluster", "display", "sh", "--json"])).stdout).shards,
      ["shard1", "shard2"],
    );
    const bad = await ok(home, ["cluster", "stop", "sh", "-N", "localhost:1"], 1);
    assert.match(bad.stderr, /-N localhost:1 matches no process/);
    // Only the mongos: the metadata says what is true (some run), start starts only it.
    const partial = await ok(home, ["cluster", "stop", "sh", "-R", "mongos", "--auto-approve"]);
    assert.match(
      partial.stdout,
      /Status: partial \(some of its processes run: `mup cluster display sh`/,
    );
    const half = await display(home, "sh", 1);
    assert.deepEqual(half.processes.filter((p) => p.state === "DOWN").map((p) => p.role), [
      "mongos",
    ]);
    const listed = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
    assert.equal(listed[0].status, "partial");
    const back = await ok(home, ["cluster", "start", "sh", "--auto-approve", "--json"]);
    assert.match(back.stdout, /"event":"op_done"[^\n]*"id":"start-mongos-/);
    // The JSON of the apply's end says what the metadata now records.
    const end = JSON.parse(back.stdout.trim().split("\n").at(-1)!);
    assert.equal(end.event, "apply_done");
    assert.equal(end.cluster_status, "running");
    assert.doesNotMatch(back.stdout, /"id":"start-config-/);
    const uri = shown.connection_string;
    await stopStartKeepsData(home, "sh", ports, uri);
    const missing = await rollingUnderLoad(home, "sh", uri);

    const dataDirs = shown.processes.filter((p) => p.data_dir).map((p) => p.data_dir!);
    await ok(home, ["cluster", "destroy", "sh", "--auto-approve", "--retain-data"]);
    assert.deepEqual(await livePids(home, "sh"), []);
    for (const d of dataDirs) assert.ok(await exists(d), `${d} kept`);
    const deployRoot = path.join(clusterDir(home, "sh"), "deploy");
    assert.ok(!(await exists(path.join(deployRoot, "logs"))));
    assert.ok(!(await exists(path.join(deployRoot, "bin"))));
    assert.ok(!(await exists(path.join(clusterDir(home, "sh"), "meta.yaml"))));
    assert.equal(await currentState(home, "sh").catch(() => undefined), undefined);
    assert.deepEqual(missing, [], "every write acknowledged with w:majority survives the restart");
  } finally {
    await killAll(home);
  }
});
