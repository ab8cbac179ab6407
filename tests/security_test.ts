/**
 * Secure by default (topology global.security): a cluster deployed through the CLI refuses
 * unauthenticated clients (13), accepts the credentials `mup cluster credentials` prints, refuses
 * a wrong password (18); every lifecycle command works on it; no password or keyfile content
 * reaches mup's files, its output (plain and --json) or a command line; every file is 0600 and
 * every directory 0700 with umask 000.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  clusterCredentials,
  deployArgs,
  killAll,
  mup,
  type MupResult,
  replicaSetTopology,
  shardedTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir, currentState } from "./apply_helpers.ts";
import { display, livePids, ok, stablePorts } from "./lifecycle_helpers.ts";
import {
  assertPrivateModes,
  client,
  clusterSecrets,
  failure,
  filesHolding,
  needles,
  psSampler,
} from "./security_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** Deploys while sampling `ps`; returns mup's result and every command line seen. */
async function deployWatched(
  home: string,
  name: string,
  topology: string,
  extra: string[] = [],
): Promise<{ r: MupResult; ps: string[] }> {
  const file = await writeTopology(home, `${name}.yaml`, topology);
  const ps = psSampler();
  const r = await mup(deployArgs(name, file, await testMirror(), ["--auto-approve", ...extra]), {
    home,
  });
  const seen = await ps.stop();
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return { r, ps: seen };
}

/** Unauthenticated: hello answers; find, insert and listDatabases fail with 13. */
async function refusesAnonymous(uri: string): Promise<void> {
  await client(uri, async (c) => {
    assert.equal((await c.db("admin").command({ hello: 1 })).ok, 1);
    assert.equal((await failure(c.db("app").collection("t").findOne({}))).code, 13);
    assert.equal((await failure(c.db("app").collection("t").insertOne({ a: 1 }))).code, 13);
    assert.equal((await failure(c.db("admin").admin().listDatabases())).code, 13);
  });
}

/** With the printed credentials: insert, find, listDatabases; a wrong password fails with 18. */
async function acceptsCredentials(home: string, name: string, uri: string): Promise<void> {
  const cred = await clusterCredentials(home, name);
  assert.equal(cred.user, "admin");
  assert.ok(cred.connection_string.includes(`:${encodeURIComponent(cred.password)}@`));
  await client(cred.connection_string, async (c) => {
    await c.db("app").collection("t").insertOne({ kept: name }, {
      writeConcern: { w: "majority" },
    });
    assert.equal((await c.db("app").collection("t").findOne({}))?.kept, name);
    const dbs = await c.db("admin").admin().listDatabases();
    assert.ok(dbs.databases.some((d) => d.name === "app"));
  });
  const wrong = await client(
    uri,
    (c) => failure(c.db("admin").command({ ping: 1 })),
    { auth: { username: cred.user, password: cred.password + "x" }, authSource: "admin" },
  );
  assert.equal(wrong.code, 18);
}

/** display, stop, start, rolling restart, on the secured cluster; the data survives. */
async function lifecycle(home: string, name: string): Promise<string[]> {
  const outputs: string[] = [];
  const run = async (args: string[], code = 0) => {
    const r = await ok(home, args, code);
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  assert.ok((await display(home, name)).healthy);
  const text = await run(["cluster", "display", name]);
  assert.match(text.stdout, /Connection: mongodb:\/\/admin@/);
  assert.match(text.stdout, new RegExp(`Password: run \`mup cluster credentials ${name}\``));
  await run(["cluster", "stop", name, "--auto-approve"]);
  assert.deepEqual(await livePids(home, name), []);
  // Each process stopped on the shutdown command, which needs an authenticated client.
  const stopped = await currentState(home, name);
  const how = Object.entries(stopped.operation_states).filter(([id]) => id.startsWith("stop-"))
    .map(([id, o]) => `${id}: ${o.result?.output}`);
  assert.ok(how.length > 0);
  for (const h of how) assert.match(h, /with shutdown/);
  await run(["cluster", "start", name, "--auto-approve"]);
  assert.ok((await display(home, name)).healthy);
  const restart = await run(["cluster", "restart", name, "--auto-approve"]);
  assert.match(restart.stdout, /Restart completed successfully!/);
  assert.ok((await display(home, name)).healthy);
  const cred = await clusterCredentials(home, name);
  await client(cred.connection_string, async (c) => {
    assert.equal((await c.db("app").collection("t").findOne({}))?.kept, name);
  });
  return outputs;
}

Deno.test("secure by default: replica set with umask 000: 13 without credentials, the printed credentials work, 18 with a wrong password; display, stop, start, restart, destroy; no secret in files, output or ps; modes 0600/0700", async () => {
  const home = await tempHome();
  const old = Deno.umask(0o000);
  try {
    const ports = stablePorts(3);
    // A hook writes its whole environment beside the topology (in $MUP_HOME): scanned below.
    const hook = `hooks:\n  after_phase: { command: "env > hook-env-$MUP_PHASE.txt" }\n`;
    const { r, ps } = await deployWatched(home, "rs", replicaSetTopology(ports, hook));
    assert.match(r.stdout, /✓ Create admin on rs0/);
    assert.match(await Deno.readTextFile(path.join(home, "hook-env-initialize.txt")), /MUP_PHASE=/);
    assert.match(r.stdout, /Connection: mongosh 'mongodb:\/\/admin@localhost:/);
    const s = await clusterSecrets(home, "rs");
    assert.ok(s.key.length >= 1008, "756 random bytes, base64");
    // Members authenticate to each other with the keyfile; mongod has authorization on.
    const conf = await Deno.readTextFile(
      path.join(clusterDir(home, "rs"), "deploy", "conf", `mongod-${ports[0]}`, "mongod.conf"),
    );
    assert.match(conf, /keyFile: .*\/deploy\/secrets\/keyfile/);
    assert.match(conf, /authorization: enabled/);
    const members = `mongodb://localhost:${ports.join(",localhost:")}/?replicaSet=rs0`;
    await refusesAnonymous(members);
    await acceptsCredentials(home, "rs", members);
    // A member reached directly is not open either.
    await refusesAnonymous(`mongodb://localhost:${ports[1]}/?directConnection=true`);
    const outputs = [r.stdout, r.stderr, ...(await lifecycle(home, "rs"))];
    const secretDir = path.join(clusterDir(home, "rs"), "secrets");
    assert.equal((await Deno.stat(secretDir)).mode! & 0o777, 0o700);
    assert.ok((await assertPrivateModes(home)) > 20);
    const look = needles(s);
    assert.deepEqual(await filesHolding(home, look), [], "no secret under $MUP_HOME");
    for (const o of outputs) for (const n of look) assert.ok(!o.includes(n), "no secret printed");
    for (const n of look) assert.ok(!ps.some((l) => l.includes(n)), "no secret on a command line");
    const destroyed = await ok(home, ["cluster", "destroy", "rs", "--auto-approve"]);
    assert.match(destroyed.stdout, /Destroy completed successfully!/);
    assert.deepEqual(await livePids(home, "rs"), []);
    assert.ok(!(await Deno.stat(secretDir).then(() => true, () => false)), "secrets removed");
    await assertPrivateModes(home);
    assert.deepEqual(await filesHolding(home, look), [], "nothing in the archive either");
  } finally {
    Deno.umask(old);
    await killAll(home);
  }
});

Deno.test("secure by default: sharded cluster deployed with --json: mongos and every shard refuse anonymous clients; the user made through mongos and the shard-local users authenticate; lifecycle commands; no secret in the NDJSON stream, plans, DOT or ps", async () => {
  const home = await tempHome();
  try {
    const ports = stablePorts(10);
    const { r, ps } = await deployWatched(home, "sh", shardedTopology(ports), ["--json"]);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const done = events.find((e) => e.event === "apply_done" || e.type === "apply_done");
    assert.ok(done, r.stdout.slice(-500));
    const s = await clusterSecrets(home, "sh");
    const mongos = `mongodb://localhost:${ports[9]}/`;
    await refusesAnonymous(mongos);
    await acceptsCredentials(home, "sh", mongos);
    const cred = await clusterCredentials(home, "sh");
    const auth = { auth: { username: cred.user, password: cred.password }, authSource: "admin" };
    for (const p of [ports[0], ports[3], ports[6]]) {
      // Config servers keep the cluster's users; each shard has its own admin user.
      const direct = `mongodb://localhost:${p}/?directConnection=true`;
      await refusesAnonymous(direct);
      await client(direct, async (c) => {
        assert.equal(
          (await c.db("admin").command({ connectionStatus: 1 })).authInfo
            .authenticatedUsers[0].user,
          "admin",
        );
        await c.db("admin").admin().listDatabases();
      }, auth);
    }
    const plans = path.join(clusterDir(home, "sh"), "plans");
    const planFile = path.join(plans, [...Deno.readDirSync(plans)][0].name);
    const planText = await Deno.readTextFile(planFile);
    assert.match(planText, /"secret": ?"secret:keyfile"/);
    assert.match(planText, /"secret": ?"secret:admin"/);
    const planId = path.basename(planFile, ".json");
    const exported = await ok(home, ["plan", "export", planId]);
    const dot = await ok(home, ["plan", "graph", planId]);
    const outputs = [
      r.stdout,
      r.stderr,
      exported.stdout,
      dot.stdout,
      ...(await lifecycle(home, "sh")),
    ];
    const look = needles(s);
    assert.deepEqual(await filesHolding(home, look), []);
    for (const o of outputs) for (const n of look) assert.ok(!o.includes(n), "no secret printed");
    for (const n of look) assert.ok(!ps.some((l) => l.includes(n)), "no secret on a command line");
    await ok(home, ["cluster", "destroy", "sh", "--auto-approve"]);
    assert.deepEqual(await livePids(home, "sh"), []);
  } finally {
    await killAll(home);
  }
});

Deno.test("security settings: auth: false is a plan warning and leaves the cluster open (no credentials); a re-deploy that changes security is refused", async () => {
  const home = await tempHome();
  try {
    const ports = stablePorts(1);
    const open = `mongod_servers:\n  - { host: localhost, port: ${ports[0]} }\n` +
      "global:\n  security: { auth: false }\n";
    const topo = await writeTopology(home, "open.yaml", open);
    const r = await ok(home, deployArgs("open", topo, await testMirror(), ["--auto-approve"]));
    assert.match(r.stdout, /access control is off/);
    assert.doesNotMatch(r.stdout, /Password: run/);
    await client(`mongodb://localhost:${ports[0]}/`, async (c) => {
      await c.db("app").collection("t").insertOne({ a: 1 });
    });
    const cred = await mup(["cluster", "credentials", "open"], { home });
    assert.equal(cred.code, 1);
    assert.match(cred.stderr, /runs without access control/);
    // The same topology without `auth: false` would turn access control on: refused.
    const secured = await writeTopology(
      home,
      "secured.yaml",
      `mongod_servers:\n  - { host: localhost, port: ${ports[0]} }\n`,
    );
    const again = await mup(deployArgs("open", secured, await testMirror(), ["--auto-approve"]), {
      home,
    });
    assert.equal(again.code, 1, again.stdout + again.stderr);
    assert.match(again.stdout + again.stderr, /security\.auth off → on/);
  } finally {
    await killAll(home);
  }
});

Deno.test("secure by default: an apply that fails and is resumed with umask 000 keeps every file 0600 and directory 0700, creates the admin user once, and writes no secret", async () => {
  const home = await tempHome();
  const old = Deno.umask(0o000);
  try {
    const ports = stablePorts(3);
    const file = await writeTopology(home, "rs.yaml", replicaSetTopology(ports));
    const failing = await mup(deployArgs("rs", file, await testMirror(), ["--auto-approve"]), {
      home,
      env: { MUP_SIM_CRASH_AT_STARTUP: "14", MUP_SIM_FAULT_PORTS: String(ports[2]) },
    });
    assert.equal(failing.code, 1, failing.stdout + failing.stderr);
    assert.doesNotMatch(failing.stdout, /✓ Create admin/);
    await assertPrivateModes(home);
    const resumed = await ok(home, ["plan", "resume", "rs"]);
    assert.match(resumed.stdout, /✓ Create admin on rs0/);
    await assertPrivateModes(home);
    const members = `mongodb://localhost:${ports.join(",localhost:")}/?replicaSet=rs0`;
    await refusesAnonymous(members);
    await acceptsCredentials(home, "rs", members);
    const look = needles(await clusterSecrets(home, "rs"));
    assert.deepEqual(await filesHolding(home, look), []);
    for (const o of [failing.stdout, failing.stderr, resumed.stdout, resumed.stderr]) {
      for (const n of look) assert.ok(!o.includes(n));
    }
  } finally {
    Deno.umask(old);
    await killAll(home);
  }
});
