/**
 * A scale-out that does not finish, and one applied after a recorded member went down: other
 * commands refuse to replace it (its new processes would run outside mup's records), a rollback
 * undoes it, and its health check judges what it added, not a member down meanwhile.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  freePorts,
  mup,
  output,
  pausedBefore,
  portFree,
  replicaSetTopology,
  smallShardedTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir, meta, withClient } from "./apply_helpers.ts";
import { display, killMember, killWhen, livePids, ok } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";
import type { Document } from "mongodb";

installFixture();

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("an unfinished scale-out: stop is refused (resume or rollback named), a rollback stops and removes what it started; applied with a recorded member down, it completes and records its member", async () => {
  const home = await tempHome();
  const ports = freePorts(5);
  const mirror = await testMirror();
  const file = await writeTopology(home, "sf.yaml", replicaSetTopology(ports));
  await ok(home, deployArgs("sf", file, mirror, ["--auto-approve"]));
  const grown = await writeTopology(
    home,
    "sf4.yaml",
    replicaSetTopology(ports, `  - { host: localhost, port: ${ports[3]}, replica_set: rs0 }\n`),
  );
  const members = async () =>
    (await withClient(
      `mongodb://localhost:${ports[0]},localhost:${ports[1]}/?replicaSet=rs0`,
      async (c) => (await c.db("admin").command({ replSetGetConfig: 1 })).config,
      { home, cluster: "sf" },
    )).members.map((m: Document) => m.host).sort();

  // A new member starts empty: files in its data directory are refused before anything runs.
  const dataDir = path.join(clusterDir(home, "sf"), "deploy", "data", `mongod-${ports[3]}`);
  await Deno.mkdir(dataDir, { recursive: true });
  await Deno.writeTextFile(path.join(dataDir, "kept.txt"), "someone's\n");
  const filled = await ok(home, ["cluster", "scale-out", "sf", grown, "--auto-approve"], 1);
  assert.match(filled.stdout + filled.stderr, /data directory .* holds files \(kept\.txt\)/);
  await Deno.remove(dataDir, { recursive: true });

  // Cut off once its new member runs, before it joins the set.
  await killWhen(
    home,
    "sf",
    ["cluster", "scale-out", "sf", grown, "--auto-approve"],
    new RegExp(`^wait-mongod-localhost-${ports[3]}$`),
    "completed",
  );
  assert.equal((await livePids(home, "sf")).length, 4, "the new member runs");
  // display names the process the metadata does not list yet (text and JSON).
  const text = await mup(["cluster", "display", "sf"], { home });
  assert.match(
    text.stdout,
    new RegExp(
      `completes it\\. It started localhost:${
        ports[3]
      } \\(answers\\), which the metadata does not list`,
    ),
  );
  const doc = JSON.parse((await mup(["cluster", "display", "sf", "--json"], { home })).stdout);
  assert.deepEqual(doc.unfinished_apply.started, [{ id: `localhost:${ports[3]}`, answers: true }]);
  const stop = await ok(home, ["cluster", "stop", "sf", "--auto-approve"], 1);
  assert.match(stop.stderr, /scale-out \(apply .*\) interrupted part way/);
  assert.match(
    stop.stderr,
    /`mup plan resume sf`.*`mup state rollback sf --checkpoint start` undoes it/s,
  );
  // So is a scale-in of the member it added, saying why, not that -N matches nothing (tester50).
  const outAgain = await ok(home, ["cluster", "scale-in", "sf", "-N", `localhost:${ports[3]}`], 1);
  assert.match(outAgain.stderr, /scale-out \(apply .*\) interrupted part way/);
  assert.doesNotMatch(outAgain.stderr, /matches no process/);
  // Rolled back: the new member stopped and its directories gone; the cluster as recorded.
  const rolled = await ok(home, [
    "state",
    "rollback",
    "sf",
    "--checkpoint",
    "start",
    "--auto-approve",
  ]);
  // The cluster's own host keeps its layout: no "remove if empty" of bin, secrets, the root
  // (tester72).
  assert.doesNotMatch(rolled.stdout, /if empty/, rolled.stdout);
  assert.equal((await livePids(home, "sf")).length, 3);
  const data = path.join(clusterDir(home, "sf"), "deploy", "data", `mongod-${ports[3]}`);
  assert.equal(await exists(data), false, "its data directory was removed");
  assert.deepEqual(await members(), ports.slice(0, 3).map((p) => `localhost:${p}`).sort());
  assert.equal(((await meta(home, "sf")) as { processes: unknown[] }).processes.length, 3);

  // Planned with every member running; a secondary dies before the apply: the new member
  // joins through the primary, the health check judges it, the metadata records it.
  const planned = await ok(home, ["cluster", "scale-out", "sf", grown, "--plan-only", "--json"]);
  const planId = JSON.parse(planned.stdout).plan_id as string;
  // Killed outright (a stop through mup would change the cluster's serial, and the plan with it).
  await killMember(home, "sf", ports[2]);
  const applied = await ok(home, ["plan", "apply", planId, "--auto-approve"]);
  assert.match(applied.stdout, /Scale-out completed successfully/);
  // The metadata says what runs: not every recorded process.
  assert.match(applied.stdout, /Status: partial \(some of its processes run/);
  assert.equal((await meta(home, "sf") as { status: string }).status, "partial");
  assert.deepEqual(
    await members(),
    [0, 1, 2, 3].map((i) => `localhost:${ports[i]}`).sort(),
  );
  assert.equal(((await meta(home, "sf")) as { processes: unknown[] }).processes.length, 4);
  const shown = await display(home, "sf", 1);
  assert.equal(shown.healthy, false, "the member that died is shown down");
  await ok(home, ["cluster", "start", "sf", "--auto-approve"]);
  assert.ok((await display(home, "sf")).healthy);
  assert.equal((await meta(home, "sf") as { status: string }).status, "running");

  // A destroy over an unfinished scale-out removes what it started too.
  const five = await writeTopology(
    home,
    "sf5.yaml",
    (await Deno.readTextFile(grown)) +
      `  - { host: localhost, port: ${ports[4]}, replica_set: rs0 }\n`,
  );
  await killWhen(
    home,
    "sf",
    ["cluster", "scale-out", "sf", five, "--auto-approve"],
    new RegExp(`^wait-mongod-localhost-${ports[4]}$`),
    "completed",
  );
  assert.equal(portFree(ports[4]), false, "the new member runs");
  await ok(home, ["cluster", "destroy", "sf", "--auto-approve"]);
  assert.deepEqual(ports.map(portFree), [true, true, true, true, true], "nothing is left running");
});

Deno.test("a rollback of an unfinished scale-out, killed part way: plan resume completes it (its plan acts on the member the metadata never recorded), the member stopped and removed; destroy afterwards leaves nothing running (tester77 #1)", async () => {
  const home = await tempHome();
  const ports = freePorts(4);
  const mirror = await testMirror();
  // The rollback's last operation is held by its after_operation hook until `flag` exists, so
  // that mup is killed after it and before the rollback records its end.
  const flag = path.join(home, "go-on");
  await Deno.writeTextFile(flag, "");
  const hooks = `hooks:\n  after_operation:\n    command: 'if [ "$MUP_OPERATION_ID" = ` +
    `mark-rolled-back ]; then while [ ! -f ${flag} ]; do sleep 0.1; done; fi'\n`;
  const file = await writeTopology(home, "rb.yaml", replicaSetTopology(ports, hooks));
  await ok(home, deployArgs("rb", file, mirror, ["--auto-approve"]));
  const grown = await writeTopology(
    home,
    "rb4.yaml",
    replicaSetTopology(
      ports,
      `  - { host: localhost, port: ${ports[3]}, replica_set: rs0 }\n${hooks}`,
    ),
  );
  // The scale-out cut off once its new member is in the set.
  const cutScaleOut = () =>
    killWhen(
      home,
      "rb",
      ["cluster", "scale-out", "rb", grown, "--auto-approve"],
      /^add-members-rs0$/,
      "completed",
    );
  await cutScaleOut();
  // The rollback cut off once it took the member out of the set, before its stop.
  await killWhen(
    home,
    "rb",
    ["state", "rollback", "rb", "--checkpoint", "start", "--auto-approve"],
    /^undo-add-members-rs0$/,
    "completed",
  );
  assert.equal(portFree(ports[3]), false, "the new member still runs");
  // display names it (tester78 #6).
  const shown = await mup(["cluster", "display", "rb"], { home });
  assert.match(
    shown.stdout,
    new RegExp(
      `The scale-out it undoes \\(apply \\S+\\) started localhost:${ports[3]} \\(answers\\), ` +
        "which the metadata does not list: the rollback has yet to stop it",
    ),
    output(shown),
  );
  // A destroy planned now stops the member too: it is the cluster's, recorded or not.
  const destroy = await mup(["cluster", "destroy", "rb", "--plan-only", "--json"], { home });
  assert.equal(destroy.code, 0, output(destroy));
  const stops = JSON.parse(destroy.stdout).plan.phases.flatMap((ph: Document) => ph.operations)
    .filter((o: Document) => o.type === "stop_process").map((o: Document) => o.target.port);
  assert.deepEqual(stops.sort(), [...ports].sort(), "every process, the new member's too");
  const resumed = await ok(home, ["plan", "resume", "rb", "--auto-approve"]);
  assert.match(resumed.stdout, /took over a stale lock/);
  assert.equal(portFree(ports[3]), true, "the resume stopped it");
  const data = path.join(clusterDir(home, "rb"), "deploy", "data", `mongod-${ports[3]}`);
  assert.equal(await exists(data), false, "its data directory was removed");
  const config = await withClient(
    `mongodb://localhost:${ports[0]},localhost:${ports[1]}/?replicaSet=rs0`,
    async (c) => (await c.db("admin").command({ replSetGetConfig: 1 })).config,
    { home, cluster: "rb" },
  );
  assert.deepEqual(
    config.members.map((m: Document) => m.host).sort(),
    ports.slice(0, 3).map((p) => `localhost:${p}`).sort(),
  );
  assert.ok((await display(home, "rb")).healthy);

  // Again, the rollback cut off after its last operation (the scale-out marked rolled back,
  // which points the cluster back at it), before it recorded its own end: it is still the
  // newest apply, interrupted, not "superseded", and a resume ends it (tester78 #3).
  await cutScaleOut();
  await Deno.remove(flag);
  await killWhen(
    home,
    "rb",
    ["state", "rollback", "rb", "--checkpoint", "start", "--auto-approve"],
    /^mark-rolled-back$/,
    "completed",
  );
  await Deno.writeTextFile(flag, ""); // the hook's wait ends
  const listed = JSON.parse((await ok(home, ["state", "list", "rb", "--json"])).stdout) as {
    state_id: string;
    status: string;
  }[];
  const [scaledOut, rollback] = listed.slice(-2);
  assert.deepEqual([scaledOut.status, rollback.status], ["rolled_back", "interrupted"]);
  const ended = await ok(home, ["plan", "resume", "rb", "--auto-approve"]);
  assert.match(ended.stdout, new RegExp(`Resuming apply ${rollback.state_id}`), ended.stdout);
  const after = JSON.parse((await ok(home, ["state", "list", "rb", "--json"])).stdout) as {
    status: string;
  }[];
  assert.deepEqual(after.slice(-2).map((s) => s.status), ["rolled_back", "completed"]);
  assert.match(
    (await ok(home, ["plan", "resume", "rb"])).stdout,
    /rolled back to start; nothing to resume/,
  );
  assert.equal(portFree(ports[3]), true);
  await ok(home, ["cluster", "destroy", "rb", "--auto-approve"]);
  assert.deepEqual(ports.map(portFree), [true, true, true, true], "nothing is left running");
});

Deno.test("a scale-out cut off while its addShard was under way: state rollback is refused (the shard may be registered); display names a shard no recorded member serves; plan resume completes it", async () => {
  const home = await tempHome();
  const ports = freePorts(5);
  // The new shard's member is held (SIGSTOP) just before the addShard: the mongos's addShard
  // then waits for it, and mup is killed meanwhile.
  const held = pausedBefore(home, "add-shard-shard3");
  const file = await writeTopology(home, "ss.yaml", smallShardedTopology(ports, held.hooks));
  await ok(home, deployArgs("ss", file, await testMirror(), ["--auto-approve"]));
  const grown = await writeTopology(
    home,
    "ss2.yaml",
    (await Deno.readTextFile(file)).replace(
      "mongos_servers:\n",
      `  - { host: localhost, port: ${ports[4]}, replica_set: shard3 }\nmongos_servers:\n`,
    ),
  );
  const pidFile = path.join(clusterDir(home, "ss"), "deploy", `mongod-${ports[4]}`, "mongod.pid");
  let stopped = 0;
  let since = 0;
  try {
    const killed = killWhen(
      home,
      "ss",
      ["cluster", "scale-out", "ss", grown, "--auto-approve"],
      /^add-shard-shard3$/,
      "executing",
      {},
      // Two seconds into its run: its addShard has reached the mongos (connected, authenticated).
      () => Promise.resolve(stopped > 0 && Date.now() - (since ||= Date.now()) > 2000),
    );
    await held.at(async () => {
      stopped = Number((await Deno.readTextFile(pidFile)).trim());
      Deno.kill(stopped, "SIGSTOP");
    });
    await killed;
    // Its addShard goes on in the mongos once the member answers.
    await new Promise((r) => setTimeout(r, 300));
    Deno.kill(stopped, "SIGCONT");
    stopped = 0;
    const mongos = `mongodb://localhost:${ports[3]}/`;
    const listed = async () =>
      ((await withClient(
        mongos,
        (c) => c.db("admin").command({ listShards: 1 }),
        { home, cluster: "ss" },
      )).shards as Document[]).map((s) => s._id).sort();
    for (const end = Date.now() + 60_000; !(await listed()).includes("shard3");) {
      if (Date.now() > end) throw new Error("shard3 never registered");
      await new Promise((r) => setTimeout(r, 200));
    }
    const undo = await ok(home, [
      "state",
      "rollback",
      "ss",
      "--checkpoint",
      "start",
      "--auto-approve",
    ], 1);
    assert.match(undo.stderr, /its addShard of shard3 was sent and did not finish/);
    assert.match(undo.stderr, /mup plan resume ss/);
    assert.ok(await exists(path.dirname(pidFile)), "nothing of it was removed");
    // The shard the cluster routes to is not in the metadata: not healthy, and said.
    const shown = await display(home, "ss", 1) as unknown as {
      healthy: boolean;
      unrecorded_shards: string[];
    };
    assert.deepEqual([shown.healthy, shown.unrecorded_shards], [false, ["shard3"]]);
    const text = await ok(home, ["cluster", "display", "ss"], 1);
    assert.match(text.stdout, /not in the metadata \(no recorded member serves it\): shard3/);
    await ok(home, ["plan", "resume", "ss"]);
    const after = await display(home, "ss") as unknown as { unrecorded_shards: string[] };
    assert.deepEqual(after.unrecorded_shards, []);
    assert.deepEqual(await listed(), ["shard1", "shard2", "shard3"]);
  } finally {
    if (stopped) Deno.kill(stopped, "SIGCONT");
  }
});
