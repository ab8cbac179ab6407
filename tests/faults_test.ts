/**
 * Faults real users hit (issue 11), through the CLI on the simulator: one machine under several
 * names, IPv6, bind addresses, config-server rules.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir, count, meta, processLogs, withClient } from "./apply_helpers.ts";
import { adminError, simBin, startMongod, withDir } from "./sim_helpers.ts";

async function deploy(
  home: string,
  cluster: string,
  text: string,
  extra: string[] = [],
  env: Record<string, string> = {},
) {
  const topo = await writeTopology(home, `${cluster}.yaml`, text);
  return await mup(
    deployArgs(cluster, topo, await testMirror(), ["--auto-approve", ...extra]),
    { home, env },
  );
}

Deno.test("cluster deploy refuses localhost:P beside 127.0.0.1:P, naming both entries", async () => {
  const home = await tempHome();
  try {
    const [p, q] = freePorts(2);
    const r = await deploy(
      home,
      "c1",
      `mongod_servers:\n  - { host: localhost, port: ${p}, replica_set: rs }\n  - { host: 127.0.0.1, port: ${p}, replica_set: rs }\n  - { host: localhost, port: ${q}, replica_set: rs }\n`,
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `c1\\.yaml:3:\\d+: error: mongod_servers\\[1\\]\\.port: 127\\.0\\.0\\.1:${p} is already used by mongod_servers\\[0\\] \\(localhost:${p}\\) \\(localhost and 127\\.0\\.0\\.1 are one machine\\)`,
      ),
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  } finally {
    await killAll(home);
  }
});

Deno.test("a replica set named by localhost and 127.0.0.1 installs the binaries once and is healthy", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const r = await deploy(
      home,
      "c1",
      `mongod_servers:\n  - { host: localhost, port: ${
        ports[0]
      }, replica_set: rs0, priority: 2 }\n  - { host: 127.0.0.1, port: ${
        ports[1]
      }, replica_set: rs0 }\n  - { host: 127.0.0.1, port: ${ports[2]}, replica_set: rs0 }\n`,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /✓ Installed binaries on 1 host/);
    const plans = path.join(clusterDir(home, "c1"), "plans");
    const planFile = [...Deno.readDirSync(plans)][0].name;
    const text = await Deno.readTextFile(path.join(plans, planFile));
    assert.equal(text.match(/"kind": ?"binaries"/g)?.length, 1, "one install step");
    await withClient(
      `mongodb://localhost:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}/?replicaSet=rs0`,
      async (c) => {
        await c.db("app").collection("t").insertOne({ a: 1 });
        const st = await c.db("admin").command({ replSetGetStatus: 1 });
        assert.equal(st.members.filter((m: { state: number }) => m.state === 1).length, 1);
        assert.equal(st.members.filter((m: { state: number }) => m.state === 2).length, 2);
      },
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("IPv6: a replica set on ::1 deploys, its members are [::1]:port, the driver uses it", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const r = await deploy(
      home,
      "v6",
      `mongod_servers:\n${
        ports.map((p) => `  - { host: "::1", port: ${p}, replica_set: rs6 }`).join("\n")
      }\n`,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`Connection: mongosh 'mongodb://\\[::1\\]:${ports[0]},`));
    const m = await meta(home, "v6");
    const uri = m.connection_string as string;
    assert.equal(
      uri,
      `mongodb://${ports.map((p) => `[::1]:${p}`).join(",")}/?replicaSet=rs6`,
    );
    await withClient(uri, async (c) => {
      await c.db("app").collection("t").insertOne({ v: 6 });
      const cfg = (await c.db("admin").command({ replSetGetConfig: 1 })).config;
      assert.deepEqual(
        cfg.members.map((x: { host: string }) => x.host),
        ports.map((p) => `[::1]:${p}`),
      );
    });
    const conf = await Deno.readTextFile(
      path.join(clusterDir(home, "v6"), "deploy", "conf", `mongod-${ports[0]}`, "mongod.conf"),
    );
    assert.match(conf, /bindIp: "?::1"?/);
    assert.match(conf, /ipv6: true/);
  } finally {
    await killAll(home);
  }
});

Deno.test("IPv6: a sharded cluster on ::1: config, addShard seeds and plan graph labels are bracketed", async () => {
  const home = await tempHome();
  try {
    const p = freePorts(4);
    const r = await deploy(
      home,
      "s6",
      `config_servers:\n  - { host: "::1", port: ${
        p[0]
      }, replica_set: cfg }\nmongod_servers:\n  - { host: "::1", port: ${
        p[1]
      }, replica_set: s1 }\n  - { host: "::1", port: ${
        p[2]
      }, replica_set: s2 }\nmongos_servers:\n  - { host: "::1", port: ${p[3]} }\n`,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await withClient(`mongodb://[::1]:${p[3]}/`, async (c) => {
      const shards = (await c.db("admin").command({ listShards: 1 })).shards;
      assert.deepEqual(
        shards.map((s: { host: string }) => s.host).sort(),
        [`s1/[::1]:${p[1]}`, `s2/[::1]:${p[2]}`],
      );
      await c.db("shop").collection("orders").insertOne({ total: 6 });
    });
    const conf = await Deno.readTextFile(
      path.join(clusterDir(home, "s6"), "deploy", "conf", `mongos-${p[3]}`, "mongos.conf"),
    );
    assert.match(conf, new RegExp(`configDB: "?cfg/\\[::1\\]:${p[0]}"?`));
    const dot = await mup(["plan", "graph", "s6"], { home });
    assert.equal(dot.code, 0, dot.stderr);
    assert.match(dot.stdout, new RegExp(`Start mongos \\[::1\\]:${p[3]}`));
    assert.doesNotMatch(dot.stdout, /[^\[]::1:\d/, "no unbracketed ::1:port");
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster deploy refuses a net.bindIp that leaves out the member's host, saying what to add", async () => {
  const home = await tempHome();
  try {
    const [p] = freePorts(1);
    const r = await deploy(
      home,
      "c1",
      `mongod_servers:\n  - host: localhost\n    port: ${p}\n    runtime_config:\n      net.bindIp: 127.0.0.2\n`,
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /c1\.yaml:5:\d+: error: mongod_servers\[0\]\.runtime_config\.net\.bindIp: net\.bindIp "127\.0\.0\.2" leaves out localhost/,
    );
    assert.match(r.stderr, /fix: add 127\.0\.0\.1 to net\.bindIp \("127\.0\.0\.2,127\.0\.0\.1"\)/);
  } finally {
    await killAll(home);
  }
});

Deno.test("config server sets: the validator refuses an arbiter, and so does the simulator's replSetInitiate", async () => {
  const home = await tempHome();
  try {
    const p = freePorts(5);
    const r = await deploy(
      home,
      "c1",
      `config_servers:\n  - { host: localhost, port: ${
        p[0]
      }, replica_set: cfg }\n  - { host: localhost, port: ${
        p[1]
      }, replica_set: cfg }\n  - { host: localhost, port: ${
        p[2]
      }, replica_set: cfg, arbiter_only: true }\nmongod_servers:\n  - { host: localhost, port: ${
        p[3]
      }, replica_set: s1 }\nmongos_servers:\n  - { host: localhost, port: ${p[4]} }\n`,
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /c1\.yaml:4:\d+: error: config_servers\[2\]\.arbiter_only: arbiters are not allowed in a config server replica set/,
    );
  } finally {
    await killAll(home);
  }
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [a, b] = freePorts(2);
    await startMongod(bin, dir, a, ["--replSet", "cfg", "--configsvr"]);
    await startMongod(bin, dir, b, ["--replSet", "cfg", "--configsvr"]);
    const e = await adminError(a, {
      replSetInitiate: {
        _id: "cfg",
        configsvr: true,
        members: [
          { _id: 0, host: `localhost:${a}` },
          { _id: 1, host: `localhost:${b}`, arbiterOnly: true },
        ],
      },
    });
    assert.deepEqual([e.code, e.codeName, e.message], [
      2,
      "BadValue",
      "Arbiters are not allowed in replica set configurations being used for config servers",
    ]);
    const delayed = await adminError(a, {
      replSetInitiate: {
        _id: "cfg",
        configsvr: true,
        members: [
          { _id: 0, host: `localhost:${a}` },
          { _id: 1, host: `localhost:${b}`, priority: 0, secondaryDelaySecs: 60 },
        ],
      },
    });
    assert.equal(delayed.code, 2);
    assert.match(delayed.message, /cannot have a non-zero secondaryDelaySecs/);
  });
});

Deno.test("a second cluster on the first's port or data directory is refused, naming it, running or stopped", async () => {
  const home = await tempHome();
  try {
    const [p, q] = freePorts(2);
    const dataDir = path.join(home, "shared-data");
    // A plan made before the first cluster existed is refused at apply time as well.
    const early = await deploy(
      home,
      "early",
      `mongod_servers:\n  - { host: localhost, port: ${p} }\n`,
      ["--plan-only"],
    );
    assert.equal(early.code, 0, early.stdout + early.stderr);
    const first = await deploy(
      home,
      "first",
      `mongod_servers:\n  - { host: localhost, port: ${p}, data_dir: ${dataDir} }\n`,
    );
    assert.equal(first.code, 0, first.stdout + first.stderr);
    await killAll(home); // stopped, not forgotten
    const samePort = await deploy(
      home,
      "second",
      `mongod_servers:\n  - { host: 127.0.0.1, port: ${p} }\n`,
    );
    assert.equal(samePort.code, 1, samePort.stdout + samePort.stderr);
    assert.match(
      samePort.stderr,
      new RegExp(
        `mongod_servers\\[0\\] \\(127\\.0\\.0\\.1:${p}\\): port ${p} on 127\\.0\\.0\\.1 belongs to cluster first`,
      ),
    );
    const sameData = await deploy(
      home,
      "second",
      `mongod_servers:\n  - { host: localhost, port: ${q}, data_dir: ${dataDir} }\n`,
    );
    assert.equal(sameData.code, 1, sameData.stdout + sameData.stderr);
    assert.match(
      sameData.stderr,
      new RegExp(`data directory ${dataDir} belongs to cluster first`),
    );
    assert.ok(
      !(await Deno.stat(path.join(clusterDir(home, "second"), "meta.yaml")).catch(() => 0)),
    );
    const late = await mup(["plan", "apply", "early", "--auto-approve"], { home });
    assert.equal(late.code, 1, late.stdout + late.stderr);
    assert.match(late.stderr, new RegExp(`port ${p} on localhost belongs to cluster first`));
  } finally {
    await killAll(home);
  }
});

Deno.test("pre-flight names who holds a port", async () => {
  const home = await tempHome();
  const [p] = freePorts(1);
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: p });
  try {
    const r = await deploy(home, "c1", `mongod_servers:\n  - { host: localhost, port: ${p} }\n`);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`ports already in use: localhost:${p} \\(held by PID ${Deno.pid} \\(\\S*deno`),
    );
  } finally {
    squatter.close();
    await killAll(home);
  }
});

/** A replica set deploy that fails at its third member's start (the simulator crashes there). */
async function failedReplicaSet(home: string, ports: number[]) {
  const text = `mongod_servers:\n${
    ports.map((p, i) =>
      `  - { host: localhost, port: ${p}, replica_set: rs0${i ? "" : ", priority: 2"} }`
    )
      .join("\n")
  }\n`;
  const r = await deploy(home, "c1", text, [], {
    MUP_SIM_CRASH_AT_STARTUP: "14",
    MUP_SIM_FAULT_PORTS: String(ports[2]),
  });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    new RegExp(`Apply failed at phase 2, operation start-mongod-localhost-${ports[2]}`),
  );
  return text;
}

async function healthySet(ports: number[]) {
  await withClient(
    `mongodb://${ports.map((p) => `localhost:${p}`).join(",")}/?replicaSet=rs0`,
    async (c) => {
      await c.db("app").collection("t").insertOne({ ok: 1 }, { writeConcern: { w: 3 } });
      const st = await c.db("admin").command({ replSetGetStatus: 1 });
      assert.deepEqual(st.members.map((m: { state: number }) => m.state).sort(), [1, 2, 2]);
    },
  );
}

Deno.test("re-running a deploy that failed part way: pre-flight knows the cluster's own processes", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const text = await failedReplicaSet(home, ports);
    const again = await deploy(home, "c1", text);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.doesNotMatch(again.stdout, /ports already in use/);
    await healthySet(ports);
  } finally {
    await killAll(home);
  }
});

Deno.test("plan resume restarts a member that died after it was recorded as started, and says so", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    await failedReplicaSet(home, ports);
    const pidFile = path.join(clusterDir(home, "c1"), "deploy", `mongod-${ports[1]}`, "mongod.pid");
    const pid = Number((await Deno.readTextFile(pidFile)).trim());
    Deno.kill(pid, "SIGKILL");
    const r = await mup(["plan", "resume", "c1"], { home });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `↻ Start rs0 member localhost:${
          ports[1]
        }: completed before, but its effect is no longer in place; running it again`,
      ),
    );
    // The re-run start shows like any other (two starts this time: the dead one and the third).
    assert.match(r.stdout, /✓ Started 2 mongod processes \[/);
    await healthySet(ports);
  } finally {
    await killAll(home);
  }
});

Deno.test("--wait-timeout is recorded in every wait of the plan; the error names the timeout and how to raise it", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const text = `mongod_servers:\n${
      ports.map((p) => `  - { host: localhost, port: ${p}, replica_set: rs0 }`).join("\n")
    }\n`;
    const r = await deploy(home, "c1", text, ["--wait-timeout", "1s"], {
      MUP_SIM_ELECTION_DELAY_MS: "8000",
    });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /replica set rs0 has no primary 1s after replSetInitiate; the wait is operation init-rs-rs0's timeout_ms \(1s\) in plan plan-\w+; to wait longer, plan again with --wait-timeout \(e\.g\. `mup cluster deploy c1 <topology> --version 7\.0\.14 --wait-timeout 2s`\)/,
    );
    const shown = await mup(["plan", "show", "c1", "--json"], { home });
    const plan = JSON.parse(shown.stdout);
    const waits = plan.phases.flatMap((
      p: { operations: { type: string; target: { params: { timeout_ms?: string } } }[] },
    ) => p.operations)
      .filter((o: { type: string }) =>
        ["wait_for_process", "init_replica_set", "verify_health"].includes(o.type)
      );
    assert.equal(waits.length, 5);
    for (const o of waits) assert.equal(o.target.params.timeout_ms, "1000");
    // Starting a forking mongod waits for it to be ready: the same timeout, the same message.
    const [slow] = freePorts(1);
    const slowStart = await deploy(
      home,
      "c3",
      `mongod_servers:\n  - { host: localhost, port: ${slow} }\n`,
      ["--wait-timeout", "1s"],
      { MUP_SIM_STARTUP_DELAY_MS: "4000" },
    );
    assert.equal(slowStart.code, 1, slowStart.stdout + slowStart.stderr);
    assert.match(
      slowStart.stdout,
      new RegExp(
        `mongod on localhost:${slow} did not finish starting within 1s; the wait is operation start-mongod-localhost-${slow}'s timeout_ms \\(1s\\)`,
      ),
    );
    // The server goes on starting after mup stopped waiting: let it write its pid file, so that
    // killAll finds it.
    const pidFile = path.join(clusterDir(home, "c3"), "deploy", `mongod-${slow}`, "mongod.pid");
    for (let i = 0; i < 200 && !(await Deno.stat(pidFile).catch(() => undefined)); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const bad = await deploy(home, "c2", text, ["--wait-timeout", "soon"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--wait-timeout must be a duration of at least 1s, not "soon"/);
  } finally {
    await killAll(home);
  }
});

Deno.test("a process that runs but does not answer at its host is reported as such, with what it listens on", async () => {
  const { waitForProcess } = await import("../lib/ops/wait_for_process.ts");
  const { DefaultExecutors } = await import("../lib/executor/factory.ts");
  await withDir(async (dir) => {
    const bin = await simBin("7.0.5");
    const [p] = freePorts(1);
    const started = await startMongod(bin, dir, p, ["--bind_ip", "127.0.0.2"]);
    assert.equal(started.code, 0, started.stdout + started.stderr);
    const pidFile = path.join(dir, String(p), "mongod.pid");
    const op = {
      id: `wait-mongod-localhost-${p}`,
      type: "wait_for_process" as const,
      description: "",
      target: {
        type: "process" as const,
        name: `mongod-localhost-${p}`,
        host: "localhost",
        port: p,
        params: { timeout_ms: "1500", pid_file: pidFile },
      },
      pre_conditions: [],
      changes: [],
      depends_on: [],
      parallel: true,
      estimated_ms: 1,
    };
    const err = await waitForProcess.run({
      op,
      plan: { plan_id: "plan-x", cluster_name: "c1", version: "7.0.5" } as never,
      stateId: "s",
      executors: new DefaultExecutors(),
      signal: new AbortController().signal,
      progress: () => {},
      log: () => {},
    }).then(() => undefined, (e) => e as Error);
    assert.ok(err, "the wait must fail");
    const pid = Number((await Deno.readTextFile(pidFile)).trim());
    assert.match(
      err.message,
      new RegExp(
        `localhost:${p} did not answer within 1\\.5s: its process runs \\(PID ${pid}\\) but does not answer at localhost:${p}; it listens on 127\\.0\\.0\\.2:${p} \\(check net\\.bindIp\\)`,
      ),
    );
  });
});

Deno.test("re-deploying a cluster as recorded repairs it: plan diff shows no changes, a dead member is restarted, nothing twice", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(3);
    const text = `mongod_servers:\n${
      ports.map((p, i) =>
        `  - { host: localhost, port: ${p}, replica_set: rs0${i ? "" : ", priority: 2"} }`
      )
        .join("\n")
    }\n`;
    const first = await deploy(home, "c1", text);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const diff = await mup(["plan", "diff", "c1", "--detailed-exitcode"], { home });
    assert.equal(diff.code, 0, diff.stdout + diff.stderr);
    assert.match(diff.stdout, /No changes\. The cluster matches the topology\./);

    const pidFile = path.join(clusterDir(home, "c1"), "deploy", `mongod-${ports[2]}`, "mongod.pid");
    Deno.kill(Number((await Deno.readTextFile(pidFile)).trim()), "SIGKILL");
    const downDiff = await mup(["plan", "diff", "c1", "--detailed-exitcode"], { home });
    assert.equal(downDiff.code, 2, downDiff.stdout);
    assert.match(
      downDiff.stdout,
      new RegExp(`\\+ process +mongod-localhost-${ports[2]} +\\(start\\)`),
    );
    assert.doesNotMatch(downDiff.stdout, new RegExp(`mongod-localhost-${ports[0]} +\\(start\\)`));

    const repair = await deploy(home, "c1", text);
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    assert.match(repair.stdout, /✓ Started 3 mongod processes \(2 already in place\) \[/);
    await healthySet(ports);
    const logs = await processLogs(home, "c1");
    for (const [i, p] of ports.entries()) {
      assert.equal(count(logs.get(`mongod-${p}`)!, /"id":4615611/), i === 2 ? 2 : 1, `mongod-${p}`);
    }
    const m = await meta(home, "c1");
    assert.equal(m.serial, 2);
    const after = await mup(["plan", "diff", "c1"], { home });
    assert.match(after.stdout, /No changes\. The cluster matches the topology\./);
  } finally {
    await killAll(home);
  }
});

Deno.test("re-deploying a cluster with another topology or version is refused before planning, listing each difference", async () => {
  const home = await tempHome();
  try {
    const ports = freePorts(4);
    const member = (p: number, extra = "") =>
      `  - { host: localhost, port: ${p}, replica_set: rs0${extra} }`;
    const text = `mongod_servers:\n${ports.slice(0, 3).map((p) => member(p)).join("\n")}\n`;
    const first = await deploy(home, "c1", text);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const before = await meta(home, "c1");

    const changed = `mongod_servers:\n${
      member(ports[0], ", runtime_config: { net.maxIncomingConnections: 100 }")
    }\n${member(ports[1])}\n${member(ports[3])}\n`;
    const r = await deploy(home, "c1", changed, [], {});
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /cluster c1 is already deployed \(replica_set, mongo 7\.0\.14\), and this differs from it:/,
    );
    assert.match(
      r.stderr,
      new RegExp(
        `• add rs0 member localhost:${ports[3]} \\(needs scale-out, which mup cannot do yet\\)`,
      ),
    );
    assert.match(
      r.stderr,
      new RegExp(
        `• remove rs0 member localhost:${ports[2]} \\(needs scale-in, which mup cannot do yet\\)`,
      ),
    );
    assert.match(
      r.stderr,
      new RegExp(
        `• rs0 member localhost:${
          ports[0]
        }: runtime_config .* \\(needs reload, which mup cannot do yet\\)`,
      ),
    );

    const upgrade = await mup(
      deployArgs("c1", await writeTopology(home, "c1.yaml", text), await testMirror(), [
        "--auto-approve",
      ], "8.0"),
      { home },
    );
    assert.equal(upgrade.code, 1, upgrade.stdout + upgrade.stderr);
    assert.match(
      upgrade.stderr,
      /• server mongo 7\.0\.14 → mongo 8\.0\.4 \(needs upgrade, which mup cannot do yet\)/,
    );

    const after = await meta(home, "c1");
    assert.equal(after.version, "7.0.14");
    assert.equal(after.serial, before.serial, "nothing was recorded");
    await healthySet(ports.slice(0, 3));
    assert.ok(
      !(await Deno.stat(path.join(clusterDir(home, "c1"), "deploy", `mongod-${ports[3]}`)).catch(
        () => 0,
      )),
    );
  } finally {
    await killAll(home);
  }
});
