/**
 * The lifecycle commands through the CLI on real simulator processes: display, stop, start,
 * rolling restart under a majority-writing client, destroy.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { killAll, replicaSetTopology, shardedTopology, tempHome } from "./helpers.ts";
import { clusterDir, currentState, withClient } from "./apply_helpers.ts";
import { deploy, display, livePids, ok, portFree, WriteLoad } from "./lifecycle_helpers.ts";
import { stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** stop → nothing left → display DOWN → start → healthy, with the data written before. */
async function stopStartKeepsData(home: string, name: string, ports: number[], uri: string) {
  await withClient(
    uri,
    (c) =>
      c.db("t").collection("kept").insertOne({ _id: 1, v: "before stop" } as never, {
        writeConcern: { w: "majority" },
      }),
  );
  const stop = await ok(home, ["cluster", "stop", name, "--auto-approve"]);
  assert.match(stop.stdout, /Stop completed successfully!/);
  assert.deepEqual(await livePids(home, name), [], "no process left");
  for (const p of ports) assert.ok(portFree(p), `port ${p} is free`);
  const down = await display(home, name, 1);
  assert.ok(down.processes.every((p) => p.state === "DOWN" && p.reason === "connection refused"));
  await ok(home, ["cluster", "display", name, "--detailed-exitcode"], 2);
  const again = await ok(home, ["cluster", "stop", name, "--auto-approve"]);
  assert.match(again.stdout, new RegExp(`No changes\\. Cluster ${name} is already stopped\\.`));
  const list = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
  assert.equal(list.find((c: { name: string }) => c.name === name).status, "stopped");

  const start = await ok(home, ["cluster", "start", name, "--auto-approve"]);
  assert.match(start.stdout, /Verified cluster health/);
  const up = await display(home, name);
  assert.ok(up.healthy);
  const doc = await withClient(
    uri,
    (c) => c.db("t").collection("kept").findOne({ _id: 1 } as never),
  );
  assert.equal(doc?.v, "before stop");
}

/**
 * Rolling restart while a client writes with w:"majority"; returns the acknowledged writes that
 * are missing afterwards (none, with a server that keeps MongoDB's promise), checked by the
 * caller once the rest of its test has run.
 */
async function rollingUnderLoad(home: string, name: string, uri: string): Promise<number[]> {
  const load = new WriteLoad(uri);
  try {
    while (load.acked.length < 20) await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    const r = await ok(home, ["cluster", "restart", name, "--auto-approve"]);
    const ms = performance.now() - t0;
    assert.match(r.stdout, /Step down/);
    assert.match(r.stdout, /Restart completed successfully!/);
    const before = load.acked.length;
    while (load.acked.length < before + 20) await new Promise((r) => setTimeout(r, 20));
    await load.stop();
    const missing = await load.missing();
    console.log(
      `${name}: rolling restart ${
        ms.toFixed(0)
      } ms; ${load.acked.length} acknowledged writes, ${load.failures} failed attempts; longest gap without a successful write ${
        load.longestGapMs.toFixed(0)
      } ms${missing.length ? `; acknowledged but missing: ${missing.join(", ")}` : ""}`,
    );
    return missing;
  } finally {
    await load.stop();
    await load.close();
  }
}

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
    await ok(home, ["cluster", "destroy", "rs", "--auto-approve"]);
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
    assert.match(partial.stdout, /Status: unknown/);
    const half = await display(home, "sh", 1);
    assert.deepEqual(half.processes.filter((p) => p.state === "DOWN").map((p) => p.role), [
      "mongos",
    ]);
    const listed = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
    assert.equal(listed[0].status, "unknown");
    const back = await ok(home, ["cluster", "start", "sh", "--auto-approve"]);
    assert.match(back.stdout, /Start mongos/);
    assert.doesNotMatch(back.stdout, /Start config server/);
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
