/**
 * Faults real users hit (issue 11), through the CLI on the simulator: one machine under several
 * names, IPv6, bind addresses, config-server rules.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePorts, killAll, mup, output, tempHome } from "./helpers.ts";
import { clusterDir, meta, withClient } from "./apply_helpers.ts";
import { adminError, runBin, simBin, startMongod, withDir } from "./sim_helpers.ts";
import { deploy } from "./faults_helpers.ts";
import { opContext } from "./op_context.ts";
import { installFixture } from "./fixture.ts";

installFixture();

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
      { home, cluster: "c1" },
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
    assert.match(
      r.stdout,
      new RegExp(`Connection: mongosh 'mongodb://admin@\\[::1\\]:${ports[0]},`),
    );
    const m = await meta(home, "v6");
    const uri = m.connection_string as string;
    assert.equal(
      uri,
      `mongodb://admin@${
        ports.map((p) => `[::1]:${p}`).join(",")
      }/?replicaSet=rs6&authSource=admin`,
    );
    await withClient(uri, async (c) => {
      await c.db("app").collection("t").insertOne({ v: 6 });
      const cfg = (await c.db("admin").command({ replSetGetConfig: 1 })).config;
      assert.deepEqual(
        cfg.members.map((x: { host: string }) => x.host),
        ports.map((p) => `[::1]:${p}`),
      );
    }, { home, cluster: "v6" });
    const conf = await Deno.readTextFile(
      path.join(clusterDir(home, "v6"), "deploy", "conf", `mongod-${ports[0]}`, "mongod.conf"),
    );
    assert.match(conf, /bindIp: "?::1"?/);
    assert.match(conf, /ipv6: true/);
  } finally {
    await killAll(home);
  }
});

Deno.test("IPv6: a member on ::1 written in full (0:0:0:0:0:0:0:1) binds that address once beside the loopback it is, and starts", async () => {
  const home = await tempHome();
  try {
    const [port] = freePorts(1);
    const r = await deploy(
      home,
      "v6full",
      `mongod_servers:\n  - { host: "0:0:0:0:0:0:0:1", port: ${port} }\n`,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const conf = await Deno.readTextFile(
      path.join(clusterDir(home, "v6full"), "deploy", "conf", `mongod-${port}`, "mongod.conf"),
    );
    assert.match(conf, /bindIp: "?0:0:0:0:0:0:0:1"?\n/);
    await withClient(`mongodb://[::1]:${port}/`, async (c) => {
      await c.db("app").collection("t").insertOne({ v: 6 });
    }, { home, cluster: "v6full" });
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
    }, { home, cluster: "s6" });
    const conf = await Deno.readTextFile(
      path.join(clusterDir(home, "s6"), "deploy", "conf", `mongos-${p[3]}`, "mongos.conf"),
    );
    assert.match(conf, new RegExp(`configDB: "?cfg/\\[::1\\]:${p[0]}"?`));
    const dot = await mup(["plan", "graph", "s6"], { home });
    assert.equal(dot.code, 0, output(dot));
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

Deno.test("cluster deploy refuses a runtime_config key mongod does not know before anything is planned, as the server itself would at its start; percona only warns", async () => {
  const home = await tempHome();
  try {
    const [p] = freePorts(1);
    const text = `mongod_servers:\n  - host: localhost\n    port: ${p}\n    runtime_config:\n` +
      "      storage.wiredTiger.engineConfig.cacheSizeGb: 1\n";
    const r = await deploy(home, "c1", text);
    assert.equal(r.code, 1, output(r));
    assert.match(
      r.stderr,
      /c1\.yaml:5:\d+: error: mongod_servers\[0\]\.runtime_config\.storage\.wiredTiger\.engineConfig\.cacheSizeGb: .*is not a mongod option: mongod would refuse to start/,
    );
    assert.match(r.stderr, /fix: did you mean storage\.wiredTiger\.engineConfig\.cacheSizeGB\?/);
    assert.equal(await Deno.stat(clusterDir(home, "c1")).catch(() => undefined), undefined);
    // `topology validate --variant percona`: the same key is a warning there.
    const topo = path.join(home, "c1.yaml");
    const v = await mup(["topology", "validate", topo, "--variant", "percona", "--json"], { home });
    assert.equal(v.code, 0, output(v));
    const doc = JSON.parse(v.stdout);
    assert.equal(doc.valid, true);
    assert.deepEqual(doc.warnings.map((w: { code: string }) => w.code), ["unknown_option"]);
    // Valid for mongod, but it would stop the first deploy at the first user's creation.
    const noBypass = await deploy(
      home,
      "c2",
      `mongod_servers:\n  - host: localhost\n    port: ${p}\n    runtime_config:\n` +
        "      setParameter: { enableLocalhostAuthBypass: false }\n",
    );
    assert.equal(noBypass.code, 1, output(noBypass));
    assert.match(
      noBypass.stdout + noBypass.stderr,
      /enableLocalhostAuthBypass: false \(mongod-localhost-\d+\) turns off the localhost exception, through which mup creates the cluster's first user/,
    );
    assert.equal(await Deno.stat(clusterDir(home, "c2")).catch(() => undefined), undefined);
  } finally {
    await killAll(home);
  }
  // The server agrees: started on that configuration file, it exits with code 2 (BadOptions).
  await withDir(async (dir) => {
    const conf = path.join(dir, "bad.conf");
    await Deno.writeTextFile(
      conf,
      `storage:\n  dbPath: ${dir}\n  wiredTiger:\n    engineConfig:\n      cacheSizeGb: 1\n`,
    );
    const r = await runBin(path.join(await simBin("7.0.5"), "mongod"), ["-f", conf]);
    assert.equal(r.code, 2, output(r));
    assert.match(
      r.stderr + r.stdout,
      /Unrecognized option: storage\.wiredTiger\.engineConfig\.cacheSizeGb/,
    );
  });
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
    assert.equal(delayed.code, 2, output(delayed));
    assert.match(delayed.message, /cannot have a non-zero secondaryDelaySecs/);
  });
});

/**
 * A forked simulator mongod on localhost's port `p` bound to `bindIp`, and a wait_for_process
 * for it at localhost (1.5 s): `wait()` gives the wait's error. Its PID is read from its pid file.
 */
async function forkedForWait(dir: string, bindIp: string) {
  const { waitForProcess } = await import("../lib/ops/wait_for_process.ts");
  const bin = await simBin("7.0.5");
  const [p] = freePorts(1);
  const d = path.join(dir, String(p));
  await Deno.mkdir(d, { recursive: true });
  const pidFile = path.join(d, "mongod.pid");
  const started = await runBin(path.join(bin, "mongod"), [
    ...["--port", String(p), "--dbpath", d, "--fork", "--logpath", path.join(d, "log")],
    ...["--pidfilepath", pidFile, "--bind_ip", bindIp],
  ]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
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
  const wait = async () => {
    const err = await waitForProcess.run(
      opContext(op, { plan_id: "plan-x", cluster_name: "c1", version: "7.0.5" }),
    ).then(() => undefined, (e) => e as Error);
    assert.ok(err, "the wait must fail");
    return err;
  };
  return { port: p, pid: Number((await Deno.readTextFile(pidFile)).trim()), wait };
}

Deno.test("a process that runs but does not answer at its host is reported as such, with what it listens on", async () => {
  await withDir(async (dir) => {
    // Bound to 127.0.0.2 only: it runs, but nothing answers at localhost.
    const { port: p, pid, wait } = await forkedForWait(dir, "127.0.0.2");
    const err = await wait();
    assert.match(
      err.message,
      new RegExp(
        `localhost:${p} did not answer within 1\\.5s: its process runs \\(PID ${pid}\\) but does not answer at localhost:${p}; it listens on 127\\.0\\.0\\.2:${p} \\(check net\\.bindIp\\)`,
      ),
    );
  });
});

Deno.test("a process that listens on its own address but is frozen (SIGSTOP) is reported stopped, not as a bindIp mistake, and no longer wait is offered", async () => {
  await withDir(async (dir) => {
    const { port: p, pid, wait } = await forkedForWait(dir, "127.0.0.1");
    Deno.kill(pid, "SIGSTOP");
    try {
      const err = await wait();
      assert.match(
        err.message,
        new RegExp(
          `it listens on 127\\.0\\.0\\.1:${p} but is stopped \\(process state T.*\`kill -CONT ${pid}\``,
        ),
      );
      assert.doesNotMatch(err.message, /bindIp/);
      // Waiting longer does not help a stopped process: no longer timeout is offered (tester26).
      assert.match(
        err.message,
        /waiting longer would not help while it is stopped: once it goes on, `mup plan resume c1` waits for it again/,
      );
      assert.doesNotMatch(err.message, /--wait-timeout/);
    } finally {
      Deno.kill(pid, "SIGCONT");
    }
  });
});
