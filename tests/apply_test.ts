import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  output,
  replicaSetTopology,
  shardedTopology,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir, count, currentState, meta, processLogs, withClient } from "./apply_helpers.ts";
import { installFixture, tempDir } from "./fixture.ts";
import { killMember } from "./lifecycle_helpers.ts";

installFixture();

async function deploy(
  home: string,
  topologyText: string,
  extra: string[] = [],
  env: Record<string, string> = {},
) {
  const topo = await writeTopology(home, "topo.yaml", topologyText);
  return await mup(deployArgs("c1", topo, await testMirror(), ["--auto-approve", ...extra]), {
    home,
    env,
  });
}

Deno.test("deploy a standalone end to end, then use it with the driver", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    const r = await deploy(home, standaloneTopology([port]));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The fourth phase (initialize) creates the admin user.
    assert.match(r.stdout, /Phase 1\/4: Prepare/);
    assert.match(r.stdout, /✓ Downloaded MongoDB 7\.0\.14 \(\d+[KM]B\) \[.+\]/);
    assert.match(r.stdout, /Checkpoint saved: phase1-complete/);
    assert.match(r.stdout, /Deployment completed successfully!/);
    assert.match(
      r.stdout,
      new RegExp(`Connection: mongosh 'mongodb://admin@localhost:${port}/\\?authSource=admin'`),
    );
    assert.match(r.stdout, /Password: run `mup cluster credentials c1`/);
    await withClient(`mongodb://localhost:${port}/`, async (c) => {
      await c.db("app").collection("t").insertOne({ hello: "world" });
      assert.equal((await c.db("app").collection("t").findOne({}))?.hello, "world");
      assert.equal((await c.db("admin").command({ buildInfo: 1 })).version, "7.0.14");
    }, { home, cluster: "c1" });
    const st = await currentState(home, "c1");
    assert.equal(st.status, "completed");
    assert.deepEqual(st.checkpoints.map((c) => c.id), [
      "phase1-complete",
      "phase2-complete",
      "phase3-complete",
      "phase4-complete",
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
      { home, cluster: "c1" },
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("deploy a sharded cluster end to end; mongos lists both shards; re-planning the running cluster finds no changes; with the mongos killed, it restarts only the mongos", async () => {
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
    }, { home, cluster: "c1" });
    await withClient(`mongodb://localhost:${ports[0]}/?directConnection=true`, async (c) => {
      const cfg = (await c.db("admin").command({ replSetGetConfig: 1 })).config;
      assert.equal(cfg.configsvr, true, "the config set was initiated with configsvr: true");
      assert.equal(cfg.members.length, 3);
    }, { home, cluster: "c1" });
    // Re-planning the unchanged running cluster: no changes, exit 0, nothing applied.
    const same = await deploy(home, shardedTopology(ports), ["--detailed-exitcode"]);
    assert.equal(same.code, 0, same.stdout + same.stderr);
    assert.match(same.stdout, /No changes\. The cluster matches the topology\./);
    assert.equal((await meta(home, "c1")).serial, 1);
    // With the mongos gone, a new plan re-checks everything and starts only the mongos.
    await killMember(home, "c1", ports[9], "mongos");
    const again = await deploy(home, shardedTopology(ports));
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /✓ Started 3 config servers \(already running\)/);
    assert.match(again.stdout, /✓ Added shard2 to cluster \(already in place\)/);
    for (const [name, log] of await processLogs(home, "c1")) {
      const starts = name === `mongos-${ports[9]}` ? 2 : 1;
      assert.equal(count(log, /"id":4615611/), starts, `${name} was started ${starts}×`);
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
    const args = deployArgs("c1", topo, await testMirror());
    const no = await mup(args, { home, stdin: "no\n" });
    assert.equal(no.code, 1, output(no));
    assert.match(
      no.stdout,
      /This will:\n {2}• Create 1 MongoDB process on localhost\n {2}• Use ports \d+/,
    );
    // The download's size is the same in the plan and in the question (it was "1KB" and "1MB").
    const size = /Download size: (\d+[KM]B)/.exec(no.stdout)?.[1];
    assert.match(no.stdout, new RegExp(`\n {2}• Download ${size} of binaries\n`));
    // …and in the pre-flight check (it said "1MB" there).
    assert.match(no.stdout, new RegExp(`binary available \\(download ${size} from `));
    assert.match(no.stdout, /Do you want to continue\? \(yes\/no\): Apply cancelled\./);
    await assert.rejects(Deno.stat(path.join(clusterDir(home, "c1"), "state")));
    // A "y" is not a yes, and the refusal says what approves.
    const y = await mup(args, { home, stdin: "y\n" });
    assert.equal(y.code, 1, output(y));
    assert.match(y.stdout, /Apply cancelled: only "yes" approves \(the answer was "y"\)\.\n/);
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
    assert.equal(r.code, 0, output(r));
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(events[0].event, "apply_start");
    assert.equal(events.at(-1).event, "apply_done");
    assert.equal(events.at(-1).status, "completed");
    assert.ok(events.some((e) => e.event === "checkpoint" && e.id === "phase2-complete"));
    assert.ok(events.filter((e) => e.event === "op_done").length >= 9);
    // Each operation's line names what it is, not only its ID.
    const started = events.find((e) => e.event === "op_start" && e.id.startsWith("start-"));
    assert.equal(started?.operation_type, "start_process", JSON.stringify(started));
    assert.match(started.description, /^Start /);
    for (const e of events.filter((e) => e.event === "op_done")) {
      assert.ok(e.operation_type && e.description, JSON.stringify(e));
    }
    // The plan's warnings, which --auto-approve shows no review for, lead the stream.
    const destroyed = await mup(
      ["cluster", "destroy", "c1", "--auto-approve", "--retain-data", "--json"],
      { home },
    );
    assert.equal(destroyed.code, 0, output(destroyed));
    const start = JSON.parse(destroyed.stdout.split("\n")[0]);
    assert.equal(start.event, "apply_start");
    assert.deepEqual(start.warnings.map((w: { code: string }) => w.code), ["data_kept"]);
  } finally {
    await killAll(home);
  }
});

/** Serves a directory over HTTP on loopback, like a company's internal download mirror. */
function serveDir(dir: string): { url: string; close: () => Promise<void>; hits: string[] } {
  const hits: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const p = decodeURIComponent(new URL(req.url).pathname);
    hits.push(`${req.method} ${p}`);
    try {
      const file = await Deno.open(path.join(dir, p));
      const size = (await file.stat()).size;
      if (req.method === "HEAD") {
        file.close();
        return new Response(null, { headers: { "content-length": String(size) } });
      }
      return new Response(file.readable, { headers: { "content-length": String(size) } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown(), hits };
}

Deno.test("the downloader works unchanged against an http:// mirror and a file:// mirror, and verifies sha256", async () => {
  const mirror = await testMirror();
  const http = serveDir(mirror);
  const home = await tempHome();
  try {
    const [a, b] = freePorts(2);
    const topoA = await writeTopology(home, "a.yaml", standaloneTopology([a]));
    const viaHttp = await mup(deployArgs("a", topoA, http.url, ["--auto-approve"], "8.0"), {
      home,
    });
    assert.equal(viaHttp.code, 0, viaHttp.stdout + viaHttp.stderr);
    assert.match(viaHttp.stdout, /MongoDB version: 8\.0\.4/);
    assert.ok(http.hits.includes("GET /full.json"));
    assert.ok(
      http.hits.some((h) => /^GET \/linux\/mongodb-linux-\w+-\w+-8\.0\.4\.tgz$/.test(h)),
      http.hits.join("\n"),
    );
    await withClient(
      `mongodb://localhost:${a}/`,
      async (c) => assert.equal((await c.db("admin").command({ buildInfo: 1 })).version, "8.0.4"),
      { home, cluster: "a" },
    );

    // A fresh cache, a file:// mirror whose archive was corrupted: the checksum stops the install.
    const home2 = await tempHome();
    const bad = await tempDir();
    await new Deno.Command("cp", { args: ["-r", `${mirror}/.`, bad] }).output();
    const manifest = JSON.parse(await Deno.readTextFile(path.join(bad, "full.json")));
    const v = manifest.versions.find((x: { version: string }) => x.version === "7.0.5");
    for (const d of v.downloads) {
      await Deno.writeFile(
        path.join(bad, new URL(d.archive.url).pathname),
        new TextEncoder().encode("corrupt"),
      );
    }
    const topoB = await writeTopology(home2, "b.yaml", standaloneTopology([b]));
    const corrupt = await mup(
      deployArgs("b", topoB, `file://${bad}`, ["--auto-approve"], "7.0.5"),
      { home: home2 },
    );
    assert.equal(corrupt.code, 1, output(corrupt));
    assert.match(
      corrupt.stdout,
      /checksum mismatch for file:\/\/.*7\.0\.5\.tgz: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}/,
    );
    await killAll(home2);
  } finally {
    await http.close();
    await killAll(home);
  }
});

Deno.test("the percona variant installs Percona's tarball layout", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    const topo = await writeTopology(home, "topo.yaml", standaloneTopology([port]));
    const r = await mup([
      "cluster",
      "deploy",
      "p",
      topo,
      "--version",
      "7.0.5-3",
      "--variant",
      "percona",
      "--mirror",
      await testMirror(),
      "--auto-approve",
    ], { home });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /Download Percona Server for MongoDB 7\.0\.5-3|Downloaded MongoDB 7\.0\.5-3/,
    );
    await withClient(`mongodb://localhost:${port}/`, async (c) => {
      const info = await c.db("admin").command({ buildInfo: 1 });
      assert.equal(info.psmdbVersion, "7.0.5-3");
    }, { home, cluster: "p" });
    const other = await writeTopology(home, "q.yaml", standaloneTopology(freePorts(1)));
    const percona = (version: string) =>
      mup([
        "cluster",
        "deploy",
        "q",
        other,
        "--version",
        version,
        "--variant",
        "percona",
        "--mirror",
        testMirrorDir,
        "--plan-only",
      ], { home });
    const testMirrorDir = await testMirror();
    // A series means its newest release, as for MongoDB's builds.
    const series = await percona("7.0");
    assert.equal(series.code, 0, output(series));
    assert.match(series.stdout, /MongoDB version: 7\.0\.5-3 \(percona/);
    // One the site does not have: the error names the series and releases there are.
    const bad = await percona("6.0");
    assert.equal(bad.code, 1, output(bad));
    assert.match(bad.stderr, /Percona Server for MongoDB has no 6\.0 release at/);
    assert.match(bad.stderr, /series there: 7\.0/);
    assert.match(bad.stderr, /--variant mongo/);
    const typo = await percona("7.0.5-x");
    assert.match(typo.stderr, /Percona versions are written in full, like 7\.0\.5-3/);
  } finally {
    await killAll(home);
  }
});

Deno.test("plan apply of a plan file outside the store stores the plan first: the apply history names a plan plan list and plan show keep (tester51)", async () => {
  const home = await tempHome();
  const outside = await tempDir("mup-plan-file-");
  try {
    const [port] = freePorts(1);
    const topo = await writeTopology(home, "topo.yaml", standaloneTopology([port]));
    const file = path.join(outside, "plan.json");
    const planned = await mup(
      deployArgs("c1", topo, await testMirror(), ["--plan-only", "--plan-file", file, "--json"]),
      { home },
    );
    assert.equal(planned.code, 0, output(planned));
    const doc = JSON.parse(planned.stdout);
    const id = doc.plan_id as string;
    // The line says where both copies are, and that the plan changes something (tester84).
    assert.deepEqual([doc.plan_file, doc.changes, doc.stored], [file, true, true]);
    // Only the file is left: the stored copy goes.
    assert.equal((await mup(["plan", "delete", id], { home })).code, 0);
    const applied = await mup(["plan", "apply", file, "--auto-approve"], { home });
    assert.equal(applied.code, 0, output(applied));
    await Deno.remove(file);
    const stored = path.join(clusterDir(home, "c1"), "plans", `${id}.json`);
    assert.equal((await currentState(home, "c1")).plan_path, stored);
    const list = JSON.parse((await mup(["plan", "list", "c1", "--json"], { home })).stdout);
    assert.deepEqual(
      list.map((p: { plan_id: string; status: string }) => [p.plan_id, p.status]),
      [[id, "applied"]],
    );
    const shown = await mup(["plan", "show", id], { home });
    assert.equal(shown.code, 0, output(shown));
  } finally {
    await killAll(home);
  }
});
