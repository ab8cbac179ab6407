/**
 * A re-deploy onto data `mup cluster destroy --retain-data` kept, under another replica-set name:
 * mongod keeps the data's own set (rs0) and never becomes a member of the planned one (rsX), so
 * the deploy must fail, naming the member, both names, the data and the fix, and never record
 * or print a cluster that is not there.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { MongoClient } from "mongodb";
import {
  deployArgs,
  killAll,
  mup,
  smallShardedTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { deploy, livePids, ok, stablePorts } from "./lifecycle_helpers.ts";
import { exists } from "./lifecycle_steps.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const topology = (p: number[], set: string, extra = "") =>
  `mongod_servers:
  - { host: localhost, port: ${p[0]}, replica_set: ${set}, priority: 2 }
  - { host: localhost, port: ${p[1]}, replica_set: ${set} }
  - { host: localhost, port: ${p[2]}, replica_set: ${set} }
${extra}`;

/** The set name each member reports to a direct connection (hello.setName). */
async function setNames(ports: number[]): Promise<unknown[]> {
  return await Promise.all(ports.map(async (p) => {
    const c = new MongoClient(
      `mongodb://localhost:${p}/?directConnection=true&serverSelectionTimeoutMS=5000`,
    );
    try {
      return (await c.db("admin").command({ hello: 1 })).setName;
    } catch {
      return undefined;
    }
  }));
}

Deno.test("re-deploy onto retained data of set rs0 as rsX: the apply fails naming the member, both names, the data and the fix; nothing claims rsX", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  // Without auth the deploy needs no archived secrets, and with the archive out of the way
  // pre-flight cannot tell which set the data is of: the operations themselves must notice.
  const open = "global:\n  security: { auth: false }\n";
  try {
    await deploy(home, "kept", topology(ports, "rs0", open));
    await ok(home, ["cluster", "destroy", "kept", "--auto-approve", "--retain-data"]);
    const archiveRoot = path.join(home, "storage", "archive");
    await Deno.rename(archiveRoot, path.join(home, "aside"));

    const file = await writeTopology(home, "rsX.yaml", topology(ports, "rsX", open));
    const r = await mup(deployArgs("kept", file, await testMirror(), ["--auto-approve"]), {
      home,
    });
    const said = r.stdout + r.stderr;
    assert.notEqual(r.code, 0, said);
    assert.doesNotMatch(said, /Deployment completed successfully/);
    assert.match(
      said,
      new RegExp(
        `member localhost:(${
          ports.join("|")
        }) reports replica set rs0 \\(so do .*\\), but the plan expects rsX`,
      ),
    );
    assert.match(said, /the data in \S*mongod-\d+\S* belongs to replica set rs0/);
    assert.match(
      said,
      /Deploy with replica_set: rs0 .*or remove the data \(`rm -rf \S+ \S+ \S+`\)/,
    );

    // Whatever is left recorded does not claim a set rsX with a primary.
    const shown = await mup(["cluster", "display", "kept", "--json"], { home });
    if (shown.code === 0) {
      const d = JSON.parse(shown.stdout);
      for (const p of d.processes) assert.notEqual(p.state, "PRIMARY", shown.stdout);
    }
    // Members still running (a failed deploy may leave them for inspection) are of rs0.
    for (const n of await setNames(ports)) assert.ok(n === undefined || n === "rs0", String(n));
  } finally {
    await killAll(home);
  }
});

Deno.test("re-deploy onto retained data of set rs0 as rsX: pre-flight refuses before anything starts, naming the data, both names and the fix", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "kept", topology(ports, "rs0"));
    await ok(home, ["cluster", "destroy", "kept", "--auto-approve", "--retain-data"]);

    const file = await writeTopology(home, "rsX.yaml", topology(ports, "rsX"));
    const mirror = await testMirror();
    const r = await mup(deployArgs("kept", file, mirror, ["--auto-approve"]), { home });
    const said = r.stdout + r.stderr;
    assert.equal(r.code, 1, said);
    assert.match(said, /data directory localhost:\S*mongod-\d+ holds data of replica set rs0/);
    assert.match(said, /but the topology puts it in replica set rsX/);
    assert.match(said, /replica_set: rs0/);
    assert.match(said, /`rm -rf [^`]*mongod-\d+/);
    assert.deepEqual(await livePids(home, "kept"), [], "nothing was started");
    assert.ok(!(await exists(path.join(home, "storage", "clusters", "kept", "meta.yaml"))));

    // Under its own name the data deploys as before.
    const again = await mup(
      deployArgs("kept", await writeTopology(home, "rs0.yaml", topology(ports, "rs0")), mirror, [
        "--auto-approve",
      ]),
      { home },
    );
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.deepEqual(await setNames(ports), ["rs0", "rs0", "rs0"]);
  } finally {
    await killAll(home);
  }
});

Deno.test("re-deploy onto retained data of rs0 with other members: pre-flight refuses, naming the members added or left out and the fix", async () => {
  const home = await tempHome();
  const ports = stablePorts(4);
  try {
    await deploy(home, "kept", topology(ports, "rs0"));
    const destroyed = await ok(home, [
      "cluster",
      "destroy",
      "kept",
      "--auto-approve",
      "--retain-data",
      "--json",
    ]);
    // The destroy's last word points where its records are now, and at no cluster.
    const done = JSON.parse(destroyed.stdout.trim().split("\n").at(-1)!);
    assert.equal(done.event, "apply_done");
    assert.equal(done.status, "completed");
    assert.ok(done.state_path.startsWith(done.archive), done.state_path);
    assert.ok(await exists(done.state_path), `${done.state_path} exists`);
    assert.equal(done.connection, undefined);
    assert.equal(done.credentials, undefined);
    const mirror = await testMirror();
    const recorded = ports.slice(0, 3).map((p) => `localhost:${p}`).sort().join(", ");

    const more = await writeTopology(
      home,
      "more.yaml",
      topology(ports, "rs0", `  - { host: localhost, port: ${ports[3]}, replica_set: rs0 }\n`),
    );
    const added = await mup(deployArgs("kept", more, mirror, ["--auto-approve"]), { home });
    const said = added.stdout + added.stderr;
    assert.equal(added.code, 1, said);
    assert.ok(
      said.includes(`with members ${recorded}, but the topology adds localhost:${ports[3]}`),
      said,
    );
    assert.match(said, /an added member would never join the set/);
    assert.ok(said.includes(`deploy rs0 with members ${recorded}, or remove the data first`), said);

    const fewer = await writeTopology(
      home,
      "fewer.yaml",
      `mongod_servers:\n${
        ports.slice(0, 2).map((p) => `  - { host: localhost, port: ${p}, replica_set: rs0 }\n`)
          .join("")
      }`,
    );
    const dropped = await mup(deployArgs("kept", fewer, mirror, ["--auto-approve"]), { home });
    const told = dropped.stdout + dropped.stderr;
    assert.equal(dropped.code, 1, told);
    assert.ok(told.includes(`but the topology leaves out localhost:${ports[2]}`), told);
    assert.match(told, /a left-out member would still count in its majority/);
    // The removal it names takes the left-out member's data too (it holds the set's config).
    const rm = /`rm -rf ([^`]*)`/.exec(told)?.[1].split(" ") ?? [];
    assert.equal(rm.length, 3, told);
    assert.ok(rm.some((d) => d.endsWith(`mongod-${ports[2]}`)), told);
    assert.deepEqual(await livePids(home, "kept"), [], "nothing was started");
    assert.ok(!(await exists(path.join(home, "storage", "clusters", "kept", "meta.yaml"))));
  } finally {
    await killAll(home);
  }
});

Deno.test("re-deploy onto retained data of a sharded cluster whose config server set was emptied: pre-flight refuses (the shards' data would belong to no database the cluster knows); nothing starts", async () => {
  const home = await tempHome();
  const ports = stablePorts(4);
  try {
    const text = smallShardedTopology(ports);
    await deploy(home, "sk", text);
    await ok(home, ["cluster", "destroy", "sk", "--auto-approve", "--retain-data"]);
    const cfgData = path.join(
      home,
      "storage",
      "clusters",
      "sk",
      "deploy",
      "data",
      `config-${ports[0]}`,
    );
    assert.ok(await exists(path.join(cfgData, "storage.bson")), "the config set's data was kept");
    await Deno.remove(cfgData, { recursive: true });
    await Deno.mkdir(cfgData);
    const file = await writeTopology(home, "sk.yaml", text);
    const again = await mup(deployArgs("sk", file, await testMirror(), ["--auto-approve"]), {
      home,
    });
    const said = again.stdout + again.stderr;
    assert.equal(again.code, 1, said);
    assert.match(
      said,
      /the config server set cfg holds no data .*while the cluster's other data directories hold retained data/,
    );
    assert.match(said, /the shards' data would belong to no database the cluster knows/);
    assert.doesNotMatch(again.stdout, /Applying plan/);
    assert.deepEqual(await livePids(home, "sk"), [], "nothing was started");
  } finally {
    await killAll(home);
  }
});
