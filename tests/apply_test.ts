import assert from "node:assert/strict";
import * as path from "node:path";
import {
  freePorts,
  killAll,
  mup,
  replicaSetTopology,
  shardedTopology,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir, count, currentState, meta, processLogs, withClient } from "./apply_helpers.ts";

async function deploy(
  home: string,
  topologyText: string,
  extra: string[] = [],
  env: Record<string, string> = {},
) {
  const topo = await writeTopology(home, "topo.yaml", topologyText);
  return await mup([
    "cluster",
    "deploy",
    "c1",
    topo,
    "--version",
    "7.0",
    "--mirror",
    await testMirror(),
    "--auto-approve",
    ...extra,
  ], { home, env });
}

Deno.test("deploy a standalone end to end, then use it with the driver", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    const r = await deploy(home, standaloneTopology([port]));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Phase 1\/3: Prepare/);
    assert.match(r.stdout, /✓ Downloaded MongoDB 7\.0\.14 \(\d+MB\) \[.+\]/);
    assert.match(r.stdout, /Checkpoint saved: phase1-complete/);
    assert.match(r.stdout, /Deployment completed successfully!/);
    assert.match(r.stdout, new RegExp(`Connection: mongosh 'mongodb://localhost:${port}/'`));
    await withClient(`mongodb://localhost:${port}/`, async (c) => {
      await c.db("app").collection("t").insertOne({ hello: "world" });
      assert.equal((await c.db("app").collection("t").findOne({}))?.hello, "world");
      assert.equal((await c.db("admin").command({ buildInfo: 1 })).version, "7.0.14");
    });
    const st = await currentState(home, "c1");
    assert.equal(st.status, "completed");
    assert.deepEqual(st.checkpoints.map((c) => c.id), [
      "phase1-complete",
      "phase2-complete",
      "phase3-complete",
    ]);
    const m = await meta(home, "c1");
    assert.equal(m.serial, 1);
    assert.equal(m.kind, "standalone");
  } finally {
    await killAll(home);
  }
});

Deno.test("deploy a replica set end to end; the highest priority member is primary", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const r = await deploy(home, replicaSetTopology(ports));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /✓ Initialized rs0 replica set/);
    await withClient(
      `mongodb://localhost:${ports[0]},localhost:${ports[1]},localhost:${ports[2]}/?replicaSet=rs0`,
      async (c) => {
        const st = await c.db("admin").command({ replSetGetStatus: 1 });
        assert.equal(
          st.members.find((m: { state: number }) => m.state === 1).name,
          `localhost:${ports[0]}`,
        );
        await c.db("app").collection("t").insertOne({ a: 1 });
        assert.equal(await c.db("app").collection("t").countDocuments(), 1);
      },
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("deploy a sharded cluster end to end; mongos lists both shards; re-planning finds everything in place", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(10);
    const r = await deploy(home, shardedTopology(ports), ["--parallelism", "6"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (
      const phase of [
        "Phase 1/4: Prepare",
        "Phase 2/4: Deploy",
        "Phase 3/4: Initialize",
        "Phase 4/4: Finalize",
      ]
    ) assert.ok(r.stdout.includes(phase), phase);
    assert.match(r.stdout, /✓ Started 3 config servers \[/);
    assert.match(r.stdout, /✓ Added shard1 to cluster/);
    await withClient(`mongodb://localhost:${ports[9]}/`, async (c) => {
      const shards = (await c.db("admin").command({ listShards: 1 })).shards.map((
        s: { _id: string },
      ) => s._id).sort();
      assert.deepEqual(shards, ["shard1", "shard2"]);
      await c.db("shop").collection("orders").insertOne({ total: 10 });
      assert.equal(await c.db("shop").collection("orders").countDocuments(), 1);
    });
    await withClient(`mongodb://localhost:${ports[0]}/?directConnection=true`, async (c) => {
      const cfg = (await c.db("admin").command({ replSetGetConfig: 1 })).config;
      assert.equal(cfg.configsvr, true, "the config set was initiated with configsvr: true");
      assert.equal(cfg.members.length, 3);
    });
    // A new plan against the recorded state applies cleanly and changes nothing.
    const again = await deploy(home, shardedTopology(ports));
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /✓ Started 3 config servers \(already in place\)/);
    assert.match(again.stdout, /✓ Added shard2 to cluster \(already in place\)/);
    for (const [name, log] of await processLogs(home, "c1")) {
      assert.equal(count(log, /"id":4615611/), 1, `${name} was started once`);
      assert.ok(count(log, /"id":21356,/) <= 1, `${name} got at most one replSetInitiate`);
    }
    assert.equal((await meta(home, "c1")).serial, 2);
  } finally {
    await killAll(home);
  }
});

Deno.test("the confirmation prompt: anything but 'yes' cancels and changes nothing", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    const topo = await writeTopology(home, "topo.yaml", standaloneTopology([port]));
    const args = [
      "cluster",
      "deploy",
      "c1",
      topo,
      "--version",
      "7.0",
      "--mirror",
      await testMirror(),
    ];
    const no = await mup(args, { home, stdin: "no\n" });
    assert.equal(no.code, 1);
    assert.match(
      no.stdout,
      /This will:\n {2}• Create 1 MongoDB process on localhost\n {2}• Use ports \d+/,
    );
    assert.match(no.stdout, /Do you want to continue\? \(yes\/no\): Apply cancelled\./);
    await assert.rejects(Deno.stat(path.join(clusterDir(home, "c1"), "state")));
    const yes = await mup(args, { home, stdin: "yes\n" });
    assert.equal(yes.code, 0, yes.stdout + yes.stderr);
    assert.match(yes.stdout, /Deployment completed successfully!/);
  } finally {
    await killAll(home);
  }
});

Deno.test("--json streams NDJSON events only", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    const r = await deploy(home, standaloneTopology([port]), ["--json"]);
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(events[0].event, "apply_start");
    assert.equal(events.at(-1).event, "apply_done");
    assert.equal(events.at(-1).status, "completed");
    assert.ok(events.some((e) => e.event === "checkpoint" && e.id === "phase2-complete"));
    assert.ok(events.filter((e) => e.event === "op_done").length >= 9);
  } finally {
    await killAll(home);
  }
});
