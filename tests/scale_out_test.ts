/**
 * `cluster scale-out`: processes added to a running cluster — replica set members (with the
 * set's data copied to them), a new shard, a mongos — checked through the real driver
 * (replSetGetConfig, listShards, reads on the new members), the metadata and the commands that
 * read it; killed part way and resumed without a second reconfig; other changes refused.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  output,
  pausedBefore,
  portFree,
  replicaSetTopology,
  smallShardedTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { currentState, meta, withClient } from "./apply_helpers.ts";
import { display, killMember, killWhen, ok } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";
import { waitFor } from "./sim_helpers.ts";
import type { Document } from "mongodb";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { allOperations, type Plan } from "../lib/plan/schema.ts";

installFixture();

/**
 * The set's config as `port` stores it (local.system.replset, with the `newlyAdded` fields
 * replSetGetConfig leaves out), as the cluster's admin.
 */
function storedConfig(home: string, cluster: string, port: number): Promise<Document> {
  return withClient(
    `mongodb://localhost:${port}/?directConnection=true`,
    async (c) => (await c.db("local").collection("system.replset").findOne({}))!,
    { home, cluster },
  );
}

/** replSetGetConfig through `port`, as the cluster's admin. */
function setConfig(home: string, cluster: string, port: number): Promise<Document> {
  return withClient(
    `mongodb://localhost:${port}/?directConnection=true`,
    async (c) => (await c.db("admin").command({ replSetGetConfig: 1 })).config,
    { home, cluster },
  );
}

Deno.test("cluster scale-out adds replica set members: each joins once (a kill part way resumes without a second reconfig), copies the set's data, and the metadata, display and deploy agree; other changes are refused", async () => {
  const home = await tempHome();
  const ports = freePorts(5);
  const mirror = await testMirror();
  const file = await writeTopology(home, "so.yaml", replicaSetTopology(ports));
  await ok(home, deployArgs("so", file, mirror, ["--auto-approve"]));
  // Data the new members must copy (initial sync), written with w: majority.
  await withClient(
    `mongodb://localhost:${ports[0]},localhost:${ports[1]}/?replicaSet=rs0`,
    (c) =>
      c.db("app").collection<{ _id: number }>("orders").insertMany(
        Array.from({ length: 20 }, (_, i) => ({ _id: i })),
        { writeConcern: { w: "majority" } },
      ),
    { home, cluster: "so" },
  );
  const before = await setConfig(home, "so", ports[0]);

  const grown = await writeTopology(
    home,
    "so5.yaml",
    replicaSetTopology(
      ports,
      `  - { host: localhost, port: ${ports[3]}, replica_set: rs0 }\n` +
        `  - { host: 127.0.0.1, port: ${ports[4]}, replica_set: rs0, priority: 0, hidden: true }\n`,
    ),
  );
  // cluster deploy names the command that makes the change.
  const refused = await ok(home, deployArgs("so", grown, mirror, ["--plan-only"]), 1);
  assert.match(
    refused.stderr,
    new RegExp(
      `add rs0 member localhost:${ports[3]}: made on the running cluster by \`mup cluster ` +
        "scale-out so .*so5\\.yaml`",
    ),
  );

  // The review says what it adds; killed while the members are being added, then resumed.
  const args = ["cluster", "scale-out", "so", grown, "--auto-approve"];
  const plan = await ok(home, ["cluster", "scale-out", "so", grown, "--plan-only"]);
  assert.match(
    plan.stdout,
    new RegExp(`Add localhost:${ports[3]}, 127\\.0\\.0\\.1:${ports[4]} to replica set rs0`),
  );
  assert.match(plan.stdout, /Acted on: 2 of 5 processes/);
  // A new member's initial sync gets an hour, or what --wait-timeout gives every wait.
  const waitsOf = async (extra: string[]) => {
    const r = await ok(home, [
      "cluster",
      "scale-out",
      "so",
      grown,
      "--plan-only",
      "--json",
      ...extra,
    ]);
    const doc = JSON.parse(r.stdout) as { plan: Plan };
    return allOperations(doc.plan).filter((o) => o.type === "wait_for_member_state").map((o) =>
      o.target.timeout_ms
    );
  };
  assert.deepEqual(await waitsOf([]), [3_600_000, 3_600_000]);
  assert.deepEqual(await waitsOf(["--wait-timeout", "2h"]), [7_200_000, 7_200_000]);
  // A member joining with the highest priority takes the primary: the plan says so and waits.
  const top = await writeTopology(
    home,
    "so-top.yaml",
    replicaSetTopology(
      ports,
      `  - { host: localhost, port: ${ports[3]}, replica_set: rs0, priority: 3 }\n`,
    ),
  );
  const topRun = await ok(home, ["cluster", "scale-out", "so", top, "--plan-only", "--json"]);
  const topPlan = (JSON.parse(topRun.stdout) as { plan: Plan }).plan;
  assert.match(
    topPlan.validation.warnings.map((w) => w.message).join("\n"),
    new RegExp(
      `localhost:${ports[3]} joins with the highest priority \\(3\\): .*takes the primary`,
    ),
  );
  const takeover = allOperations(topPlan).find((o) => o.id === "wait-handback-rs0");
  assert.equal(takeover?.target.params.is, `localhost:${ports[3]}`);
  assert.deepEqual(takeover?.depends_on, [`wait-state-mongod-localhost-${ports[3]}`]);
  assert.ok(
    allOperations(topPlan).find((o) => o.type === "verify_health")?.depends_on.includes(
      "wait-handback-rs0",
    ),
  );
  assert.ok(
    !allOperations(
      JSON.parse(
        (await ok(home, ["cluster", "scale-out", "so", grown, "--plan-only", "--json"])).stdout,
      ).plan,
    )
      .some((o: { id: string }) => o.id === "wait-handback-rs0"),
    "members of lower priority take nothing over",
  );
  await killWhen(home, "so", args, /^add-members-rs0$/, "running");
  const resumed = await ok(home, ["plan", "resume", "so", "--json"]);
  // Its health check says it judged what it added (tester91: read as the cluster's count).
  const health = resumed.stdout.trim().split("\n").map((l) => JSON.parse(l))
    .find((e) => e.event === "op_done" && e.id === "verify-health");
  assert.equal(health?.output, "2 added processes healthy", resumed.stdout);
  const st = await currentState(home, "so");
  assert.equal(st.status, "completed");
  assert.equal(st.operation, "scale-out");
  // Applied, nothing of it is left to do; the first deploy's plan describes a smaller set.
  const left = await ok(home, ["plan", "diff", "so", "--detailed-exitcode"]);
  assert.match(left.stdout, /\(scale-out\) was applied .*nothing of it is left to do/);
  const plans = JSON.parse((await ok(home, ["plan", "list", "so", "--json"])).stdout) as {
    plan_id: string;
    created_at: string;
  }[];
  const first = plans.toSorted((a, b) => a.created_at.localeCompare(b.created_at))[0];
  const old = await ok(home, ["plan", "diff", first.plan_id, "--detailed-exitcode"]);
  assert.match(old.stdout, /\(deploy\) was applied .*the cluster's topology changed since/);

  // Each new member is in the set's config once, added by one reconfig each (none twice), with
  // the settings the topology gives.
  const after = await setConfig(home, "so", ports[0]);
  const hosts = (after.members as Document[]).map((m) => m.host).sort();
  assert.deepEqual(
    hosts,
    [
      ...ports.slice(0, 4).map((p) => `localhost:${p}`),
      `127.0.0.1:${ports[4]}`,
    ].sort(),
  );
  // MongoDB 4.4+ adds them newlyAdded and, once each is SECONDARY, clears that with a reconfig
  // of its own: two versions per member, one of them mup's.
  const settled = await waitFor(async () => {
    const c = await storedConfig(home, "so", ports[0]);
    return (c.members as Document[]).some((m) => m.newlyAdded) ? undefined : c;
  }, 30_000);
  assert.equal(settled.version, before.version + 4, "one replSetReconfig per added member");
  const hidden = (after.members as Document[]).find((m) => m.host === `127.0.0.1:${ports[4]}`)!;
  assert.equal(hidden.hidden, true);
  assert.equal(hidden.priority, 0);
  // The new members hold the set's data (read from each directly).
  for (const p of ports.slice(3)) {
    const n = await withClient(
      `mongodb://localhost:${p}/?directConnection=true&readPreference=secondaryPreferred`,
      (c) => c.db("app").collection("orders").countDocuments(),
      { home, cluster: "so" },
    );
    assert.equal(n, 20, `member ${p} copied the set's data`);
  }
  // What reads the metadata agrees.
  const recorded = await meta(home, "so") as { processes: { port: number }[] };
  assert.deepEqual(recorded.processes.map((p) => p.port).sort(), [...ports].sort());
  const shown = await display(home, "so");
  assert.ok(shown.healthy);
  const again = await ok(home, deployArgs("so", grown, mirror, ["--plan-only"]));
  assert.match(again.stdout, /No changes\. The cluster matches the topology\./);
  // A repair reads the mirror the cluster's release came from (no --mirror needed).
  const noMirror = await ok(home, [
    "cluster",
    "deploy",
    "so",
    grown,
    "--version",
    "7.0",
    "--plan-only",
  ]);
  assert.match(noMirror.stdout, /No changes\. The cluster matches the topology\./);
  const none = await ok(home, args);
  assert.match(none.stdout, /No changes\. .*adds no process to cluster so\./);
  // Its members cannot be taken out by a rollback.
  const back = await ok(home, ["state", "rollback", "so", "--checkpoint", "phase1-complete"], 1);
  assert.match(back.stderr, /\(scale-out\) cannot be rolled back/);
  // A new member is a member like the others: restarted from what the metadata records.
  await ok(home, ["cluster", "restart", "so", "-N", `localhost:${ports[3]}`, "--auto-approve"]);

  // Removing a member, or changing one, is another command's change.
  const fewer = await ok(home, ["cluster", "scale-out", "so", file, "--auto-approve"], 1);
  assert.match(
    fewer.stderr,
    /more than added processes:\n.*remove rs0 member .*made on the running cluster by `mup cluster scale-in so /,
  );
  const changed = await writeTopology(
    home,
    "so6.yaml",
    (await Deno.readTextFile(grown)).replace(
      `port: ${ports[1]}, replica_set: rs0`,
      `port: ${ports[1]}, replica_set: rs0, priority: 3`,
    ) + `  - { host: localhost, port: ${freePorts(1)[0]}, replica_set: rs0 }\n`,
  );
  const other = await ok(home, ["cluster", "scale-out", "so", changed, "--auto-approve"], 1);
  assert.match(other.stderr, /priority 1 → 3/);

  // A member removed by hand (rs.remove): display says the set no longer has it, and the
  // scale-in it names finishes the removal (its replSetReconfig already in place).
  const gone = `127.0.0.1:${ports[4]}`;
  await withClient(
    `mongodb://localhost:${ports[0]},localhost:${ports[1]}/?replicaSet=rs0`,
    async (c) => {
      const cfg = (await c.db("admin").command({ replSetGetConfig: 1 })).config as Document;
      delete cfg.term;
      cfg.version++;
      cfg.members = (cfg.members as Document[]).filter((m) => m.host !== gone);
      await c.db("admin").command({ replSetReconfig: cfg });
    },
    { home, cluster: "so" },
  );
  const dropped = await ok(home, ["cluster", "display", "so"], 1);
  assert.match(
    dropped.stdout,
    new RegExp(`no longer lists .*: ${gone} \\(rs0\\); \`mup cluster scale-in so -N ${gone}\``),
  );
  await ok(home, ["cluster", "scale-in", "so", "-N", gone, "--auto-approve"]);
  assert.ok((await display(home, "so")).healthy);
});

Deno.test("cluster scale-out of a sharded cluster: a member for a shard, a new shard added through mongos (whose death just before its addShard fails that operation's safety check, naming the rollback of the scale-out, the start of the mongos and the scale-out again, which finish; the start alone is refused), a new mongos that routes to it, a config server member (every mongos's configuration following); scale-in takes the member, a mongos and a config server member out again, refusing the last mongos and the last config server member, then drains and removes the new shard (a Ctrl-C during the draining stops the wait; with its mongos killed since, the resume's failure names the start of it and the scale-in again, which finish)", async () => {
  const home = await tempHome();
  const ports = freePorts(7);
  const mirror = await testMirror();
  // A gate before each finalize phase (run in the topology's directory): taken away, an apply
  // stops there, after its initialize phase.
  const gate = path.join(home, "gate");
  await Deno.writeTextFile(gate, "");
  // The mongos that adds shard3 dies just before its addShard (the first time only).
  const routerDies = pausedBefore(home, "add-shard-shard3");
  const file = await writeTopology(
    home,
    "ss.yaml",
    smallShardedTopology(
      ports,
      `hooks:\n  before_phase: { phase: finalize, command: "test -e gate" }\n` +
        routerDies.hooks.replace("hooks:\n", ""),
    ),
  );
  await ok(home, deployArgs("ss", file, mirror, ["--auto-approve"]));
  const base = await Deno.readTextFile(file);
  const grown = await writeTopology(
    home,
    "ss2.yaml",
    base.replace(
      "mongos_servers:\n",
      `  - { host: localhost, port: ${ports[4]}, replica_set: shard1 }\n` +
        `  - { host: localhost, port: ${ports[5]}, replica_set: shard3 }\n` +
        `mongos_servers:\n  - { host: localhost, port: ${ports[6]} }\n`,
    ),
  );
  const scaleOut = ok(home, ["cluster", "scale-out", "ss", grown, "--auto-approve"], 1);
  await routerDies.at(() => killMember(home, "ss", ports[3], "mongos"), scaleOut);
  // Its safety check finds it gone. A resume alone would fail the same way (this plan does not
  // start that mongos): the failure names its start and the scale-out made again, which finish.
  const routerGone = await scaleOut;
  const gone = routerGone.stdout + routerGone.stderr;
  assert.ok(gone.includes(`not answering: localhost:${ports[3]}`), output(routerGone));
  assert.ok(gone.includes(`mup cluster start ss -N localhost:${ports[3]}`), output(routerGone));
  assert.ok(gone.includes(`mup cluster scale-out ss`), output(routerGone));
  const startRouter = ["cluster", "start", "ss", "-N", `localhost:${ports[3]}`, "--auto-approve"];
  assert.ok(gone.includes("mup state rollback ss --checkpoint start"), output(routerGone));
  // cluster display repeats it, not "plan resume completes it".
  const noted = (await ok(home, ["cluster", "display", "ss"], 1)).stdout;
  assert.match(
    noted,
    /a resume alone cannot finish it \(its failure stands\): `mup state rollback/,
  );
  assert.doesNotMatch(noted, /`mup plan resume ss` completes it/);
  // Not before the rollback: the scale-out's new processes are not in the metadata.
  const startRefused = (await ok(home, startRouter, 1)).stderr;
  assert.match(startRefused, /scale-out .* failed part way/);
  // Its hint leads with what works, not with a resume that fails the same way (tester26).
  assert.match(
    startRefused,
    /a resume alone cannot finish it while its failure stands: `mup state rollback ss --checkpoint start`/,
  );
  assert.doesNotMatch(startRefused, /`mup plan resume ss` completes it/);
  await ok(home, ["state", "rollback", "ss", "--checkpoint", "start", "--auto-approve"]);
  await ok(home, startRouter);
  const applied = await ok(home, ["cluster", "scale-out", "ss", grown, "--auto-approve"]);
  assert.match(applied.stdout, /Scale-out completed successfully/);
  // Each new process's files are named by its address: no line said twice (tester40 L10).
  assert.match(applied.stdout, new RegExp(`Generated the configuration of localhost:${ports[6]}`));
  const fileLines = applied.stdout.split("\n").map((l) => l.replace(/\s*\[[^\]]*\]\s*$/, ""))
    .filter((l) => /(Generated|Created|Uploaded) /.test(l));
  assert.ok(fileLines.length >= 3, applied.stdout);
  assert.equal(new Set(fileLines).size, fileLines.length, fileLines.join("\n"));
  // Through the new mongos: three shards; shard1 with its new member.
  const shards = await withClient(
    `mongodb://localhost:${ports[6]}/`,
    async (c) => (await c.db("admin").command({ listShards: 1 })).shards as Document[],
    { home, cluster: "ss" },
  );
  assert.deepEqual(shards.map((s) => s._id).sort(), ["shard1", "shard2", "shard3"]);
  // The shard's connection string follows its set (the server's replica set monitor).
  const shard1 = shards.find((s) => s._id === "shard1")!;
  assert.match(shard1.host, new RegExp(`^shard1/.*localhost:${ports[4]}`));
  const cfg = await setConfig(home, "ss", ports[1]);
  assert.equal((cfg.members as Document[]).length, 2);
  assert.ok((await display(home, "ss")).healthy);
  const recorded = await meta(home, "ss") as { processes: unknown[] };
  assert.equal(recorded.processes.length, 7);

  // A config server member: the config server set grows by it, and every mongos's
  // configuration file names it (sharding.configDB, read at the next start).
  const cfgPort = freePorts(1)[0];
  const cfgGrown = await writeTopology(
    home,
    "ss3.yaml",
    (await Deno.readTextFile(grown)).replace(
      "mongod_servers:\n",
      `  - { host: localhost, port: ${cfgPort}, replica_set: cfg }\nmongod_servers:\n`,
    ),
  );
  const mongosConfig = async (port: number) => {
    const rec = (await meta(home, "ss")) as { processes: { port: number; config: string }[] };
    return await Deno.readTextFile(rec.processes.find((p) => p.port === port)!.config);
  };
  // Stopped before its finalize phase: the member added and the mongos configurations written
  // again, the metadata not. A rollback takes the member out and puts the recorded mongos
  // configurations back; the scale-out made again finishes.
  await Deno.remove(gate);
  await ok(home, ["cluster", "scale-out", "ss", cfgGrown, "--auto-approve"], 1);
  assert.match(await mongosConfig(ports[3]), new RegExp(`localhost:${cfgPort}`));
  // The set has a member the metadata does not list yet: display names it (exit 1: the
  // scale-out is unfinished).
  const mid = await display(home, "ss", 1) as unknown as {
    unlisted_members?: { host: string; replica_set: string; reachable: boolean }[];
  };
  assert.deepEqual(mid.unlisted_members?.map((m) => [m.replica_set, m.host, m.reachable]), [
    ["cfg", `localhost:${cfgPort}`, true],
  ]);
  await ok(home, [
    "state",
    "rollback",
    "ss",
    "--checkpoint",
    "start",
    "--no-hooks",
    "--auto-approve",
  ]);
  for (const p of [ports[3], ports[6]]) {
    assert.doesNotMatch(await mongosConfig(p), new RegExp(`localhost:${cfgPort}`));
  }
  assert.deepEqual(
    ((await setConfig(home, "ss", ports[0])).members as Document[]).map((m) => m.host),
    [`localhost:${ports[0]}`],
  );
  assert.equal(portFree(cfgPort), true, "the new member stopped");
  await Deno.writeTextFile(gate, "");
  await ok(home, ["cluster", "scale-out", "ss", cfgGrown, "--auto-approve"]);
  const cfgHosts = async () =>
    ((await setConfig(home, "ss", cfgPort)).members as Document[])
      .map((m) => m.host).sort();
  assert.deepEqual(await cfgHosts(), [`localhost:${ports[0]}`, `localhost:${cfgPort}`].sort());
  for (const p of [ports[3], ports[6]]) {
    assert.match(await mongosConfig(p), new RegExp(`configDB: cfg/.*localhost:${cfgPort}`));
  }

  // And back: the added shard member, the first mongos and the first config server member go
  // (the mongos that stays was started knowing only that one: it follows the set); every
  // mongos, or every config server member, is refused.
  const refused = await ok(home, [
    "cluster",
    "scale-in",
    "ss",
    "-N",
    `localhost:${ports[5]},localhost:${ports[3]},localhost:${ports[6]},localhost:${ports[0]},` +
    `localhost:${cfgPort}`,
    "--auto-approve",
  ], 1);
  const said = refused.stdout + refused.stderr;
  assert.match(said, /every mongos would go/);
  assert.match(said, /every config server member \(replica set cfg\) would go/);
  // Refused before any plan is shown, with the way forward (tester42).
  assert.doesNotMatch(refused.stdout, /Phases:/);
  assert.match(
    refused.stderr,
    /add the new one first \(`mup cluster scale-out ss <topology>` with it\)/,
  );
  // Every shard going is no destroy: refused as the loss of the last shard (tester44).
  const shardsGone = await ok(home, [
    "cluster",
    "scale-in",
    "ss",
    "-N",
    [1, 4, 2, 5].map((i) => `localhost:${ports[i]}`).join(","),
    "--auto-approve",
  ], 1);
  assert.match(shardsGone.stderr, /every shard of cluster ss would go/);
  assert.doesNotMatch(shardsGone.stderr, /destroy/);
  await ok(home, [
    "cluster",
    "scale-in",
    "ss",
    "-N",
    `localhost:${ports[4]},localhost:${ports[3]},localhost:${ports[0]}`,
    "--auto-approve",
  ]);
  assert.deepEqual(await cfgHosts(), [`localhost:${cfgPort}`]);
  assert.doesNotMatch(await mongosConfig(ports[6]), new RegExp(`localhost:${ports[0]}\\b`));
  // Its next start reads the configuration written for it: it finds the config servers there.
  await ok(home, ["cluster", "restart", "ss", "-N", `localhost:${ports[6]}`, "--auto-approve"]);
  const left = await withClient(
    `mongodb://localhost:${ports[6]}/`,
    async (c) => (await c.db("admin").command({ listShards: 1 })).shards as Document[],
    { home, cluster: "ss" },
  );
  assert.equal(left.find((s) => s._id === "shard1")!.host, `shard1/localhost:${ports[1]}`);
  assert.equal(((await meta(home, "ss")) as { processes: unknown[] }).processes.length, 5);
  assert.ok((await display(home, "ss")).healthy);

  // The whole of shard3 goes: drained (its chunks of a hashed collection, and a database whose
  // primary it is), removed through mongos, then stopped; every document is still there.
  const mongosUri = `mongodb://localhost:${ports[6]}/`;
  await withClient(mongosUri, async (c) => {
    const admin = c.db("admin");
    await admin.command({ enableSharding: "app" });
    await admin.command({ shardCollection: "app.h", key: { _id: "hashed" } });
    await c.db("app").collection<{ _id: number }>("h").insertMany(
      Array.from({ length: 30 }, (_, i) => ({ _id: i })),
    );
    await c.db("d3").collection("c").insertOne({ x: 1 });
    await admin.command({ movePrimary: "d3", to: "shard3" });
  }, { home, cluster: "ss" });
  const onShard3 = () =>
    withClient(
      mongosUri,
      (c) => c.db("config").collection("chunks").countDocuments({ shard: "shard3" }),
      { home, cluster: "ss" },
    );
  assert.ok(await onShard3() > 0, "shard3 holds chunks before");
  // With the balancer off nothing would drain: refused when planned.
  const balancer = (on: boolean) =>
    withClient(
      mongosUri,
      (c) => c.db("admin").command({ [on ? "balancerStart" : "balancerStop"]: 1 }),
      { home, cluster: "ss" },
    );
  await balancer(false);
  const off = await ok(home, ["cluster", "scale-in", "ss", "-N", `localhost:${ports[5]}`], 1);
  assert.match(off.stdout + off.stderr, /the balancer is off, and removing shard3 needs it/);
  await balancer(true);
  // Sixty more ranges on shard3, so that its draining (one range per balancer round) outlasts
  // a Ctrl-C: the first one stops the wait, not the draining; the apply pauses, a resume
  // waits again.
  await withClient(mongosUri, async (c) => {
    const admin = c.db("admin");
    await admin.command({ shardCollection: "app.r", key: { k: 1 } });
    for (let k = 1; k <= 60; k++) await admin.command({ split: "app.r", middle: { k } });
    for (let k = 1; k <= 60; k++) {
      await admin.command({ moveChunk: "app.r", find: { k }, to: "shard3" });
    }
  }, { home, cluster: "ss" });
  const interrupted = await killWhen(
    home,
    "ss",
    ["cluster", "scale-in", "ss", "-N", `localhost:${ports[5]}`, "--auto-approve"],
    // Once its work began (past its hook: a Ctrl-C during that pauses before the draining).
    /^remove-shard-shard3$/,
    "executing",
    {},
    undefined,
    120_000,
    "SIGINT",
  );
  assert.match(interrupted.stderr, /Interrupted: letting running operations finish/);
  const paused = await currentState(home, "ss");
  assert.equal(paused.status, "paused", output(interrupted));
  // The wait stopped before the draining ended: its operation is left for the resume. (Ranges
  // left on shard3 are not asserted: on a loaded machine the draining may end before they are
  // counted, as it continues without mup.)
  assert.notEqual(
    paused.operation_states["remove-shard-shard3"]?.status,
    "completed",
    "paused while shard3 still drains: the wait stopped",
  );
  // display does not call the cluster healthy while a shard is half removed, and names the
  // resume that finishes it (tester38 M4). Drained or not, shard3 stays listed as draining
  // until a removeShard completes its removal.
  const halfRemoved = await display(home, "ss", 1) as unknown as Record<string, unknown>;
  assert.equal(halfRemoved.healthy, false);
  assert.deepEqual(halfRemoved.draining_shards, ["shard3"]);
  const shown = await ok(home, ["cluster", "display", "ss"], 1);
  assert.match(shown.stdout, /Shards \(listShards\): shard1, shard2, shard3 \(draining\)/);
  assert.ok(
    shown.stdout.replace(/\s+/g, " ").includes(
      "Note: shard shard3 is draining: its removal (removeShard) began and has not finished; " +
        `\`mup plan resume ss\` finishes the scale-in (apply ${paused.state_id})`,
    ),
    shown.stdout,
  );
  // The mongos it drains through dies meanwhile: a resume alone cannot finish (this plan never
  // starts it). The failure says so, with the start that brings it back and the scale-in made
  // again, which is what finishes it.
  await killMember(home, "ss", ports[6], "mongos");
  const stuck = await ok(home, ["plan", "resume", "ss"], 1);
  const startIt = `mup cluster start ss -N localhost:${ports[6]}`;
  assert.match(
    stuck.stdout + stuck.stderr,
    new RegExp(`mongos localhost:${ports[6]} does not answer`),
  );
  assert.ok((stuck.stdout + stuck.stderr).includes(startIt), output(stuck));
  assert.ok(
    (stuck.stdout + stuck.stderr).includes(`mup cluster scale-in ss -N localhost:${ports[5]}`),
    output(stuck),
  );
  await ok(home, [...startIt.split(" ").slice(1), "--auto-approve"]);
  const drained = await ok(home, [
    "cluster",
    "scale-in",
    "ss",
    "-N",
    `localhost:${ports[5]}`,
    "--auto-approve",
  ]);
  assert.match(drained.stdout, /completed successfully/);
  const after = await withClient(mongosUri, async (c) => ({
    shards: ((await c.db("admin").command({ listShards: 1 })).shards as Document[]).map((s) =>
      s._id
    ).sort(),
    docs: await c.db("app").collection("h").countDocuments(),
    d3: await c.db("d3").collection("c").countDocuments(),
    primary: (await c.db("config").collection("databases").findOne({ _id: "d3" as never }))
      ?.primary,
  }), { home, cluster: "ss" });
  assert.deepEqual(after, { shards: ["shard1", "shard2"], docs: 30, d3: 1, primary: "shard1" });
  assert.equal(await onShard3(), 0);
  assert.equal(portFree(ports[5]), true, "its member stopped");
  assert.ok((await display(home, "ss")).healthy);
});

Deno.test("a topology's relative keyfile is its file's, not the working directory's; a scale-out from a file in another directory (gone since) leaves the cluster's hooks running where they did (tester84)", async () => {
  const home = await tempHome();
  const ports = freePorts(2);
  const mirror = await testMirror();
  // The topology beside its keyfile and hook script; mup runs from another directory.
  const dir = path.join(home, "topologies");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(
    path.join(dir, "key.txt"),
    btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(96)))) + "\n",
    { mode: 0o600 },
  );
  await Deno.writeTextFile(
    path.join(dir, "mark.sh"),
    '#!/bin/sh\necho "$MUP_OPERATION" >> applied.log\n',
    { mode: 0o755 },
  );
  const settings = "global:\n  security:\n    keyfile: key.txt\nhooks:\n  after_apply:\n" +
    "    command: ./mark.sh\n";
  const file = path.join(dir, "rk.yaml");
  await Deno.writeTextFile(
    file,
    `mongod_servers:\n  - { host: localhost, port: ${ports[0]}, replica_set: rs0 }\n${settings}`,
  );
  await ok(home, deployArgs("rk", file, mirror, ["--auto-approve"]));
  const recorded = await meta(home, "rk") as Document;
  assert.equal(recorded.topology.global.security.keyfile, path.join(dir, "key.txt"));

  // CI writes the grown topology to a temporary directory and removes it afterwards.
  const ci = await Deno.makeTempDir({ dir: home });
  const grown = path.join(ci, "grown.yaml");
  const shown = await ok(home, ["cluster", "show-config", "rk"]);
  const t = parseYaml(shown.stdout) as { mongod_servers: Document[] };
  t.mongod_servers.push({ host: "localhost", port: ports[1], replica_set: "rs0" });
  await Deno.writeTextFile(grown, stringifyYaml(t));
  const scaled = await ok(home, ["cluster", "scale-out", "rk", grown, "--auto-approve"]);
  assert.match(scaled.stdout, new RegExp(`Add localhost:${ports[1]} to replica set rs0`));
  await Deno.remove(ci, { recursive: true });
  const after = await meta(home, "rk") as Document;
  assert.equal(after.topology_file, file, "the file whose directory the hooks run in");
  assert.equal(after.topology_changed?.by, "cluster scale-out");
  assert.equal(after.processes.length, 2);
  const config = await ok(home, ["cluster", "show-config", "rk"]);
  assert.match(config.stdout, new RegExp(`its hooks run in ${dir} `));
  // The next plan's hooks still run there (the temporary directory is gone).
  await ok(home, ["cluster", "restart", "rk", "-N", `localhost:${ports[1]}`, "--auto-approve"]);
  assert.deepEqual(
    (await Deno.readTextFile(path.join(dir, "applied.log"))).trim().split("\n"),
    ["deploy", "scale-out", "restart"],
  );
  await ok(home, ["cluster", "destroy", "rk", "--auto-approve"]);
});
