/** Host identity (one machine under several names), addresses, and topology rules built on them. */
import assert from "node:assert/strict";
import {
  canonicalIPv6,
  hostKey,
  hostPort,
  isMongoLocalHost,
  LOCAL_MACHINE,
  splitHostPort,
} from "../lib/topology/hosts.ts";
import { parseTopology, TopologyError } from "../lib/topology/load.ts";
import type { Topology } from "../lib/topology/schema.ts";
import { validateTopology } from "../lib/topology/validate.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const LOCAL_FORMS = [
  "localhost",
  "LocalHost",
  "localhost.",
  "127.0.0.1",
  "127.0.0.2",
  "127.1.2.3",
  "::1",
  "[::1]",
  "0:0:0:0:0:0:0:1",
  "0000:0000:0000:0000:0000:0000:0000:0001",
  "::ffff:127.0.0.1",
  Deno.hostname(),
  Deno.hostname().toUpperCase(),
];

/** Names of one remote machine, written every way a user might. */
const REMOTE_MACHINES = [
  ["db1.example.net", "DB1.Example.Net", "db1.example.net."],
  ["10.0.0.7", "::ffff:10.0.0.7", "[::ffff:a00:7]"],
  ["2001:db8::1", "2001:DB8:0:0:0:0:0:1", "[2001:db8::0:1]"],
];

Deno.test("hostKey(): every loopback name and address and the machine's own name are one machine", () => {
  for (const h of LOCAL_FORMS) assert.equal(hostKey(h), LOCAL_MACHINE, h);
  for (const names of REMOTE_MACHINES) {
    const keys = new Set(names.map(hostKey));
    assert.equal(keys.size, 1, `${names.join(", ")} → ${[...keys].join(", ")}`);
    assert.notEqual([...keys][0], LOCAL_MACHINE);
  }
  assert.notEqual(hostKey("db1.example.net"), hostKey("db2.example.net"));
  assert.notEqual(hostKey("10.0.0.7"), hostKey("10.0.0.8"));
  assert.equal(canonicalIPv6("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  assert.equal(canonicalIPv6("db1"), undefined);
});

Deno.test("hostPort() brackets IPv6 literals; splitHostPort() reads them back", () => {
  assert.equal(hostPort("::1", 27017), "[::1]:27017");
  assert.equal(hostPort("[::1]", 27017), "[::1]:27017");
  assert.equal(hostPort("2001:db8::1", 5), "[2001:db8::1]:5");
  assert.equal(hostPort("localhost", 5), "localhost:5");
  assert.equal(hostPort("10.0.0.1", 5), "10.0.0.1:5");
  assert.deepEqual(splitHostPort("[::1]:27017"), ["::1", 27017]);
  assert.deepEqual(splitHostPort("db1:27017"), ["db1", 27017]);
  assert.ok(isMongoLocalHost("127.0.0.5") && isMongoLocalHost("::1"));
  assert.ok(!isMongoLocalHost(Deno.hostname()), "MongoDB's localhost does not include the name");
});

/** A small deterministic PRNG (mulberry32) so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("property: any two entries naming one machine and port are refused, whatever names and forms they use", () => {
  const machines = [LOCAL_FORMS, ...REMOTE_MACHINES];
  for (let seed = 1; seed <= 400; seed++) {
    const r = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
    const sections = ["config_servers", "mongod_servers", "mongos_servers"] as const;
    // A few distinct processes (distinct machine or port), then a clash with one of them.
    const entries: { section: typeof sections[number]; host: string; port: number }[] = [];
    const used = new Set<string>();
    const n = 1 + Math.floor(r() * 5);
    for (let i = 0; i < n; i++) {
      const m = Math.floor(r() * machines.length);
      const port = 20000 + Math.floor(r() * 6);
      if (used.has(`${m}:${port}`)) continue;
      used.add(`${m}:${port}`);
      entries.push({ section: pick(sections), host: pick(machines[m]), port });
    }
    const victim = pick(entries);
    const m = machines.findIndex((names) => names.includes(victim.host));
    const clash = { section: pick(sections), host: pick(machines[m]), port: victim.port };
    entries.splice(Math.floor(r() * (entries.length + 1)), 0, clash);

    const t: Topology = {
      global: {},
      config_servers: [],
      mongod_servers: [],
      mongos_servers: [],
    };
    for (const e of entries) {
      if (e.section === "mongos_servers") t.mongos_servers.push({ host: e.host, port: e.port });
      else t[e.section].push({ host: e.host, port: e.port, replica_set: "rs" });
    }
    const dup = validateTopology(t).filter((i) => i.code === "duplicate_address");
    assert.equal(
      dup.length,
      1,
      `seed ${seed}: ${JSON.stringify(entries)} gave ${JSON.stringify(dup)}`,
    );
    assert.match(dup[0].message, /is already used by (config|mongod|mongos)_servers\[\d+\]/);
  }
});

Deno.test("property: entries on distinct machines or ports are never refused as duplicates", () => {
  const machines = [LOCAL_FORMS, ...REMOTE_MACHINES];
  for (let seed = 1; seed <= 200; seed++) {
    const r = rng(seed);
    const t: Topology = { global: {}, config_servers: [], mongod_servers: [], mongos_servers: [] };
    machines.forEach((names, m) => {
      t.mongod_servers.push({
        host: names[Math.floor(r() * names.length)],
        port: 20000 + m,
        replica_set: "rs",
      });
    });
    assert.deepEqual(validateTopology(t).filter((i) => i.code === "duplicate_address"), []);
  }
});

async function issuesOf(text: string) {
  try {
    await parseTopology(text, "topo.yaml");
  } catch (e) {
    assert.ok(e instanceof TopologyError, String(e));
    return e.issues;
  }
  assert.fail("expected the topology to be refused");
}

Deno.test("localhost:P and 127.0.0.1:P are one address: refused, naming both entries", async () => {
  const issues = await issuesOf(
    "mongod_servers:\n  - { host: localhost, port: 27017, replica_set: rs }\n  - { host: 127.0.0.1, port: 27017, replica_set: rs }\n",
  );
  const dup = issues.find((i) => i.code === "duplicate_address");
  assert.ok(dup, JSON.stringify(issues));
  assert.match(dup.message, /127\.0\.0\.1:27017 is already used by mongod_servers\[0\]/);
  assert.match(dup.message, /localhost and 127\.0\.0\.1 are one machine/);
  assert.equal(dup.location.path, "mongod_servers[1].port");
  assert.equal(dup.location.line, 3);
});

Deno.test("a data directory shared under two names of one machine is refused", async () => {
  const issues = await issuesOf(
    "mongod_servers:\n  - { host: localhost, port: 1, data_dir: /d }\n  - { host: '::1', port: 2, data_dir: /d }\n",
  );
  const hit = issues.find((i) => i.code === "shared_data_dir");
  assert.ok(hit, JSON.stringify(issues));
  assert.match(hit.message, /data directory \/d on ::1 is also used by mongod_servers\[0\]/);
});

Deno.test("a log file shared by two processes of one machine is refused", async () => {
  const issues = await issuesOf(
    "mongod_servers:\n  - { host: localhost, port: 1, log_dir: /l }\n  - { host: 127.0.0.1, port: 2, log_dir: /l }\n",
  );
  const hit = issues.find((i) => i.code === "shared_log_file");
  assert.ok(hit, JSON.stringify(issues));
  assert.match(hit.message, /log file \/l\/mongod\.log on 127\.0\.0\.1 is also used/);
});

Deno.test("a replica set mixing localhost and a network name is refused as MongoDB would", async () => {
  const issues = await issuesOf(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs }\n  - { host: db1.example.net, port: 2, replica_set: rs }\n  - { host: db2.example.net, port: 3, replica_set: rs }\n",
  );
  const hit = issues.find((i) => i.code === "mixed_localhost");
  assert.ok(hit, JSON.stringify(issues));
  assert.match(hit.message, /localhost references or none/);
});

Deno.test("one install per machine: a set mixing localhost, 127.0.0.1 and ::1 installs binaries once", async () => {
  const { planDeploy } = await import("../lib/plan/planner.ts");
  const { allOperations } = await import("../lib/plan/schema.ts");
  const t = (await parseTopology(
    "mongod_servers:\n  - { host: localhost, port: 1, replica_set: rs }\n  - { host: 127.0.0.1, port: 2, replica_set: rs }\n  - { host: '::1', port: 3, replica_set: rs }\n",
    "t.yaml",
  )).topology;
  const plan = planDeploy({
    planId: "p",
    createdAt: "2026-01-01T00:00:00.000Z",
    clusterName: "c",
    topology: t,
    topologyFile: "/t.yaml",
    release: {
      version: "7.0.5",
      variant: "mongo",
      platform: "linux-x86_64",
      url: "file:///x.tgz",
      sha256: "ab".repeat(32),
      size_bytes: 1,
      archive_name: "x.tgz",
    },
    deployDir: "/d",
    cacheDir: "/c",
    clusterDir: "/k",
    validation: { valid: true, errors: [], warnings: [], checks: [] },
    hooks: [],
    baseState: { lineage: "", serial: 0 },
    cached: true,
  });
  const ops = allOperations(plan);
  const installs = ops.filter((o) =>
    o.type === "upload_file" && o.target.params.kind === "binaries"
  );
  assert.deepEqual(installs.map((o) => o.id), ["install-binaries-localhost"]);
  // The one install says which other names of the machine it serves (tester87).
  assert.equal(
    installs[0].description,
    "Install 7.0.5 binaries on localhost (also 127.0.0.1, ::1: the same machine)",
  );
  for (const o of ops.filter((o) => o.type === "start_process")) {
    assert.ok(o.depends_on.includes("install-binaries-localhost"), o.id);
  }
  const init = ops.find((o) => o.type === "init_replica_set")!;
  const members = JSON.parse(init.target.params.config).members.map((m: { host: string }) =>
    m.host
  );
  assert.deepEqual(members, ["localhost:1", "127.0.0.1:2", "[::1]:3"]);
  assert.deepEqual(plan.resources.processes_per_host, { localhost: 3 });
});

Deno.test("net.bindIp that leaves out the member's host is refused, naming the field and what to add", async () => {
  const issues = await issuesOf(
    "mongod_servers:\n  - host: localhost\n    port: 1\n    runtime_config: { net.bindIp: 127.0.0.2 }\n",
  );
  const hit = issues.find((i) => i.code === "bind_ip_excludes_host");
  assert.ok(hit, JSON.stringify(issues));
  assert.equal(hit.location.path, "mongod_servers[0].runtime_config.net.bindIp");
  assert.equal(hit.location.line, 4);
  assert.match(hit.message, /net\.bindIp "127\.0\.0\.2" leaves out localhost/);
  assert.match(hit.hint!, /add 127\.0\.0\.1 to net\.bindIp \("127\.0\.0\.2,127\.0\.0\.1"\)/);

  const global = await issuesOf(
    "global:\n  runtime_config:\n    net: { bindIp: '10.0.0.1' }\nmongod_servers:\n  - { host: '::1', port: 1 }\n",
  );
  const g = global.find((i) => i.code === "bind_ip_excludes_host");
  assert.ok(g, JSON.stringify(global));
  assert.equal(g.location.path, "global.runtime_config.net");
  assert.match(g.hint!, /add ::1 to net\.bindIp/);

  for (
    const ok of [
      "{ net.bindIp: '127.0.0.1,10.0.0.1' }",
      "{ net.bindIp: localhost }",
      "{ net.bindIp: 0.0.0.0 }",
      "{ net.bindIpAll: true }",
      "{ net: { bindIp: '::,0.0.0.0' } }",
    ]
  ) {
    await parseTopology(
      `mongod_servers:\n  - { host: localhost, port: 1, runtime_config: ${ok} }\n`,
      "t.yaml",
    );
  }
});

Deno.test("config server sets refuse arbiters, as MongoDB does", async () => {
  const issues = await issuesOf(
    "config_servers:\n  - { host: localhost, port: 1, replica_set: cfg }\n  - { host: localhost, port: 2, replica_set: cfg }\n  - { host: localhost, port: 3, replica_set: cfg, arbiter_only: true, priority: 0 }\nmongod_servers:\n  - { host: localhost, port: 4, replica_set: s1 }\nmongos_servers:\n  - { host: localhost, port: 5 }\n",
  );
  const hit = issues.find((i) => i.code === "config_arbiter");
  assert.ok(hit, JSON.stringify(issues));
  assert.equal(hit.location.path, "config_servers[2].arbiter_only");
  assert.match(hit.message, /arbiters are not allowed in a config server replica set/);
});

Deno.test("a sharded cluster's config servers and shards must all be localhost references or none; mongos may differ", () => {
  const t = (cfgHost: string, shardHost: string, mongosHost: string): Topology => ({
    global: {},
    config_servers: [{ host: cfgHost, port: 1, replica_set: "cfg" }],
    mongod_servers: [{ host: shardHost, port: 2, replica_set: "s1" }],
    mongos_servers: [{ host: mongosHost, port: 3 }],
  });
  const mixed = (x: Topology) => validateTopology(x).filter((i) => i.code === "mixed_localhost");
  assert.equal(mixed(t("localhost", "db1.example.net", "localhost")).length, 1);
  assert.match(
    mixed(t("localhost", "db1.example.net", "localhost"))[0].message,
    /the sharded cluster mixes localhost addresses/,
  );
  assert.deepEqual(mixed(t("localhost", "127.0.0.1", "db1.example.net")), []);
  assert.deepEqual(mixed(t("db1.example.net", "db2.example.net", "localhost")), []);
});

Deno.test("a mongos on another machine than config servers named by localhost addresses is refused, naming the mongos and the fix", () => {
  const t = (cfgHost: string, mongosHost: string): Topology => ({
    global: {},
    config_servers: [{ host: cfgHost, port: 1, replica_set: "cfg" }],
    mongod_servers: [{ host: cfgHost, port: 2, replica_set: "s1" }],
    mongos_servers: [{ host: "localhost", port: 3 }, { host: mongosHost, port: 4 }],
  });
  const remote = (x: Topology) =>
    validateTopology(x).filter((i) => i.code === "mongos_remote_localhost");
  const [hit, ...rest] = remote(t("localhost", "db1.example.net"));
  assert.equal(rest.length, 0);
  assert.deepEqual(hit.path, ["mongos_servers", 1, "host"]);
  assert.match(hit.message, /mongos db1\.example\.net:4 runs on another machine/);
  assert.match(hit.hint ?? "", /name the config servers and shards by their network addresses/);
  assert.deepEqual(remote(t("127.0.0.1", "127.0.0.2")), [], "loopback: the same machine");
  assert.deepEqual(remote(t("db2.example.net", "db1.example.net")), []);
});
