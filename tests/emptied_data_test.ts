/**
 * A repair (`cluster deploy` of a recorded cluster), `cluster start` and `cluster restart` never
 * start a standalone or a whole replica set on data directories that lost their data: mongod
 * would come back as a new, empty database with a new admin user while the review said only
 * "re-check". They are refused, naming the members, the directories and the ways out; a repair
 * planned before the data went and applied after stops at the start's safety check. One member
 * of a set emptied is the normal resync: planned, said in the review, and the member copies its
 * data from the others. A keyfile or configuration deleted from a host is re-installed, and the
 * review says so.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { MongoClient } from "mongodb";
import {
  clusterCredentials,
  deployArgs,
  killAll,
  mup,
  output,
  replicaSetTopology,
  smallShardedTopology,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { withClient } from "./apply_helpers.ts";
import { display, livePids, ok, portFree, stablePorts } from "./lifecycle_helpers.ts";
import { deadline, installFixture } from "./fixture.ts";

installFixture();

const entries = async (dir: string) =>
  (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);

/** Empties `dir` the way an operator does (`rm -rf dir && mkdir dir`), keeping what it held. */
async function emptyInto(dir: string, aside: string): Promise<void> {
  await Deno.rename(dir, aside);
  await Deno.mkdir(dir);
}

Deno.test("a standalone whose data directory was emptied: repair, start and restart are refused, a repair planned before stops at its safety check, nothing is started or created; restored, it starts with its data; a deleted keyfile and configuration are re-installed and the review says so", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const dir = `${home}/data-${port}`;
    const file = await writeTopology(
      home,
      "st.yaml",
      standaloneTopology([port], `    data_dir: ${dir}\n`),
    );
    const mirror = await testMirror();
    const args = (extra: string[]) => deployArgs("st", file, mirror, extra);
    await ok(home, args(["--auto-approve"]));
    const uri = (await display(home, "st")).connection_string;
    await withClient(
      uri,
      (c) => c.db("t").collection("k").insertOne({ _id: 1, v: "kept" } as never),
      { home, cluster: "st" },
    );
    const before = await clusterCredentials(home, "st");
    await ok(home, ["cluster", "stop", "st", "--auto-approve"]);
    // A repair planned while the data was there, applied after it went.
    const early = JSON.parse((await ok(home, args(["--plan-only", "--json"]))).stdout).plan_id;
    const aside = `${home}/backup`;
    await emptyInto(dir, aside);

    const id = `mongod-localhost-${port}`;
    const said = new RegExp(
      `the data of standalone ${id} is gone: data directory localhost:${dir} of ${id} is empty`,
    );
    const refused = await mup(args(["--auto-approve"]), { home });
    assert.equal(refused.code, 1, output(refused));
    assert.match(refused.stdout, said, output(refused));
    assert.match(refused.stdout, /a new, empty database with a newly created admin user/);
    assert.match(refused.stdout, /Restore the data \(from a backup or snapshot\)/);
    assert.match(refused.stdout, /`mup cluster destroy st`\) and deploy it anew/);
    assert.doesNotMatch(refused.stdout, /Applying plan/);
    const json = await mup(args(["--plan-only", "--json"]), { home });
    assert.equal(json.code, 1, output(json));
    const doc = JSON.parse(json.stdout);
    assert.match(doc.error, said);
    assert.ok(doc.checks.some((c: { name: string }) => c.name === "data_lost"), json.stdout);
    for (const cmd of ["start", "restart"]) {
      const r = await mup(["cluster", cmd, "st", "--auto-approve"], { home });
      assert.equal(r.code, 1, output(r));
      assert.match(r.stdout, said, output(r));
      assert.doesNotMatch(r.stdout, /Applying plan/);
    }
    const late = await mup(["plan", "apply", early, "--auto-approve"], { home });
    assert.equal(late.code, 1, output(late));
    assert.match(
      late.stdout + late.stderr,
      new RegExp(
        `data_present: data directory localhost:${dir} of ${id} is empty: started, it ` +
          "would begin as a new, empty database",
      ),
      output(late),
    );
    // Nothing ran: no process, the port free, the directory still empty, the same admin.
    assert.deepEqual(await livePids(home, "st"), []);
    assert.ok(portFree(port));
    assert.deepEqual(await entries(dir), []);
    assert.deepEqual(await clusterCredentials(home, "st"), before);

    // The data restored; the keyfile and the configuration deleted from the host: the review
    // lists them as installed again (not among the re-checks), and so does `plan diff`.
    await Deno.remove(dir);
    await Deno.rename(aside, dir);
    const deployDir = path.join(home, "storage", "clusters", "st", "deploy");
    const keyfile = path.join(deployDir, "secrets", "keyfile");
    const conf = path.join(deployDir, "conf", `mongod-${port}`, "mongod.conf");
    await Deno.remove(keyfile);
    await Deno.remove(conf);
    const plan = await ok(home, args(["--plan-only"]));
    assert.ok(
      plan.stdout.includes(`Install the keyfile on localhost again: ${keyfile} is missing`),
      output(plan),
    );
    assert.ok(
      plan.stdout.includes(`Upload configuration of ${id} again: ${conf} is missing`),
      output(plan),
    );
    const diff = await ok(home, ["plan", "diff", "st"]);
    assert.match(diff.stdout, new RegExp(`\\+ file +localhost:${keyfile} +\\(create\\)`));
    assert.match(diff.stdout, new RegExp(`\\+ file +localhost:${conf} +\\(create\\)`));
    await ok(home, args(["--auto-approve"]));
    assert.ok((await Deno.stat(keyfile)).isFile);
    assert.ok((await Deno.stat(conf)).isFile);
    const kept = await withClient(
      uri,
      (c) => c.db("t").collection("k").findOne({ _id: 1 } as never),
      { home, cluster: "st" },
    );
    assert.equal(kept?.v, "kept", "the restored data, reached with the old password");
  } finally {
    await killAll(home);
  }
});

Deno.test("replica set: one member emptied resyncs from the others, as the review says; every member emptied is refused, and destroy then deploy starts it empty", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    const file = await writeTopology(home, "rs.yaml", replicaSetTopology(ports));
    const mirror = await testMirror();
    const args = (extra: string[]) => deployArgs("rs", file, mirror, extra);
    await ok(home, args(["--auto-approve"]));
    const shown = await display(home, "rs");
    await withClient(
      shown.connection_string,
      (c) =>
        c.db("t").collection("k").insertOne({ _id: 1, v: "kept" } as never, {
          writeConcern: { w: "majority" },
        }),
      { home, cluster: "rs" },
    );
    const dirOf = (port: number) =>
      path.join(home, "storage", "clusters", "rs", "deploy", "data", `mongod-${port}`);
    // The member listed first (the primary, highest priority): create_user asks it first too.
    const last = ports[0];
    const others = ports.filter((p) => p !== last);
    const id = `mongod-localhost-${last}`;
    await ok(home, ["cluster", "stop", "rs", "-N", `localhost:${last}`, "--auto-approve"]);
    // Missing (an unmounted volume?) is refused, with the way to resync: create it empty.
    await Deno.rename(dirOf(last), `${home}/aside`);
    const missing = await mup(args(["--plan-only"]), { home });
    assert.equal(missing.code, 1, output(missing));
    assert.ok(
      missing.stdout.includes(
        `data directory localhost:${dirOf(last)} of ${id} is missing (an unmounted volume?): ` +
          `restore it, or, for the member to copy its data from the other members of rs0`,
      ),
      output(missing),
    );
    await Deno.mkdir(dirOf(last));
    // Two running members' configurations deleted too: each named as written again.
    const confOf = (port: number) =>
      path.join(
        home,
        "storage",
        "clusters",
        "rs",
        "deploy",
        "conf",
        `mongod-${port}`,
        "mongod.conf",
      );
    for (const p of others) await Deno.remove(confOf(p));

    const plan = await ok(home, args(["--plan-only"]));
    for (const p of others) {
      assert.ok(
        plan.stdout.includes(
          `Upload configuration of mongod-localhost-${p} again: ${confOf(p)} is missing`,
        ),
        output(plan),
      );
    }
    assert.ok(
      plan.stdout.includes(
        `data directory localhost:${dirOf(last)} of ${id} holds no data: once started, ${id} ` +
          `copies its data from the other members of rs0 (localhost:${others[0]}, ` +
          `localhost:${others[1]}; initial sync)`,
      ),
      output(plan),
    );
    assert.ok(
      plan.stdout.includes(
        `Start rs0 member localhost:${last} (empty data directory: initial sync from ` +
          `localhost:${others[0]}, localhost:${others[1]})`,
      ),
      output(plan),
    );
    await ok(home, args(["--auto-approve"]));
    for (const p of others) assert.ok((await Deno.stat(confOf(p))).isFile);
    // The member copied the set's data: read on it alone.
    const cred = await clusterCredentials(home, "rs");
    const direct = new MongoClient(`mongodb://localhost:${last}/?directConnection=true`, {
      auth: { username: cred.user, password: cred.password },
      authSource: "admin",
      readPreference: "secondaryPreferred",
      serverSelectionTimeoutMS: deadline(15_000),
    });
    try {
      const until = Date.now() + deadline(30_000);
      let found: unknown = null;
      while (!found && Date.now() < until) {
        found = await direct.db("t").collection("k").findOne({ _id: 1 } as never)
          .catch(() => null);
        if (!found) await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal((found as { v?: string } | null)?.v, "kept", "the member resynced");
    } finally {
      await direct.close();
    }

    // Every member emptied: the set's data is gone, refused for the repair and the start.
    await ok(home, ["cluster", "stop", "rs", "--auto-approve"]);
    for (const [i, p] of ports.entries()) await emptyInto(dirOf(p), `${home}/aside-${i}`);
    const said =
      /the data of replica set rs0 \(every member\) is gone: data directory .* is empty; data directory .* is empty; data directory .* is empty, and no other member of the set holds data/;
    for (const cmd of [args(["--plan-only"]), ["cluster", "start", "rs", "--auto-approve"]]) {
      const r = await mup(cmd, { home });
      assert.equal(r.code, 1, output(r));
      assert.match(r.stdout, said, output(r));
    }
    assert.deepEqual(await livePids(home, "rs"), []);
    for (const p of ports) assert.deepEqual(await entries(dirOf(p)), []);
    // The way out the refusal gives to start empty on purpose: destroy, then deploy anew.
    await ok(home, ["cluster", "destroy", "rs", "--auto-approve"]);
    await ok(home, args(["--auto-approve"]));
    const fresh = await withClient(
      (await display(home, "rs")).connection_string,
      (c) => c.db("t").collection("k").countDocuments(),
      { home, cluster: "rs" },
    );
    assert.equal(fresh, 0, "a new, empty replica set");
  } finally {
    await killAll(home);
  }
});

Deno.test("sharded: a whole shard or the config server set emptied is refused for the repair and the start, naming it", async () => {
  const home = await tempHome();
  const ports = stablePorts(4);
  try {
    const file = await writeTopology(home, "sh.yaml", smallShardedTopology(ports));
    const mirror = await testMirror();
    const args = (extra: string[]) => deployArgs("sh", file, mirror, extra);
    await ok(home, args(["--auto-approve"]));
    await ok(home, ["cluster", "stop", "sh", "--auto-approve"]);
    const data = path.join(home, "storage", "clusters", "sh", "deploy", "data");
    const refused = async (said: RegExp) => {
      for (const cmd of [args(["--plan-only"]), ["cluster", "start", "sh", "--auto-approve"]]) {
        const r = await mup(cmd, { home });
        assert.equal(r.code, 1, output(r));
        assert.match(r.stdout, said, output(r));
        assert.doesNotMatch(r.stdout, /Applying plan/);
      }
      assert.deepEqual(await livePids(home, "sh"), []);
    };
    const shard2 = path.join(data, `mongod-${ports[2]}`);
    await emptyInto(shard2, `${home}/aside-shard2`);
    await refused(
      new RegExp(
        `the data of shard shard2 \\(every member\\) is gone: data directory localhost:${shard2} ` +
          `of mongod-localhost-${
            ports[2]
          } is empty.*which removes the data of the other shards too`,
      ),
    );
    await Deno.remove(shard2);
    await Deno.rename(`${home}/aside-shard2`, shard2);
    const cfg = path.join(data, `config-${ports[0]}`);
    await emptyInto(cfg, `${home}/aside-cfg`);
    await refused(
      new RegExp(
        `the data of the config server replica set cfg is gone: data directory localhost:${cfg} ` +
          `of config-localhost-${ports[0]} is empty.*which removes the data of every shard too`,
      ),
    );
    assert.deepEqual(await entries(cfg), []);
  } finally {
    await killAll(home);
  }
});

Deno.test("a rollback of a stop, over a standalone's data emptied since (a lock file alone left), stops at the start's data_present check and starts nothing; a start is refused", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const dir = `${home}/data-${port}`;
    const file = await writeTopology(
      home,
      "rb.yaml",
      standaloneTopology([port], `    data_dir: ${dir}\n`),
    );
    await ok(home, deployArgs("rb", file, await testMirror(), ["--auto-approve"]));
    await ok(home, ["cluster", "stop", "rb", "--auto-approve"]);
    // What mongod's storage engine leaves in a data directory, as tools recognise it.
    const held = await entries(dir);
    assert.ok(held.includes("storage.bson") && held.includes("WiredTiger"), held.join(", "));
    await emptyInto(dir, `${home}/backup`);
    // A lock file alone (a start that failed, a stray touch) is not data.
    await Deno.writeTextFile(`${dir}/mongod.lock`, "");
    const back = await mup(
      ["state", "rollback", "rb", "--checkpoint", "start", "--auto-approve"],
      { home },
    );
    assert.equal(back.code, 1, output(back));
    assert.match(
      back.stdout + back.stderr,
      new RegExp(
        `data_present: data directory localhost:${dir} of mongod-localhost-${port} is empty`,
      ),
      output(back),
    );
    assert.deepEqual(await livePids(home, "rb"), []);
    assert.deepEqual(await entries(dir), ["mongod.lock"]);
    // Pre-flight says the same of a start planned now.
    const start = await mup(["cluster", "start", "rb", "--auto-approve"], { home });
    assert.equal(start.code, 1, output(start));
    assert.match(
      start.stdout,
      /the data of standalone mongod-localhost-\d+ is gone/,
      output(start),
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("a stop of a standalone whose data directory was emptied while it ran warns that it cannot start on it again, and still stops it", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    const dir = `${home}/data-${port}`;
    const file = await writeTopology(
      home,
      "run.yaml",
      standaloneTopology([port], `    data_dir: ${dir}\n`),
    );
    await ok(home, deployArgs("run", file, await testMirror(), ["--auto-approve"]));
    await emptyInto(dir, `${home}/aside`);
    const id = `mongod-localhost-${port}`;
    const warning = `data directory localhost:${dir} of ${id} holds no data while ${id} runs: ` +
      "once stopped, it cannot start on it";
    const planned = JSON.parse(
      (await ok(home, ["cluster", "stop", "run", "--plan-only", "--json"])).stdout,
    );
    assert.ok(
      planned.plan.validation.warnings.some((w: { code: string; message: string }) =>
        w.code === "data_gone_while_running" && w.message.startsWith(warning)
      ),
      JSON.stringify(planned.plan.validation.warnings),
    );
    const stopped = await ok(home, ["cluster", "stop", "run", "--auto-approve"]);
    assert.ok(stopped.stdout.includes(warning), output(stopped));
    assert.ok(await portFree(port), "stopped");
  } finally {
    await killAll(home);
  }
});
