/**
 * `cluster reconfigure` of members' priority, votes and hidden: set by replSetReconfig on the
 * running set (no restart), the primary stepped down when it loses its priority, the metadata
 * recording it; options changed by hand outside mup seen and set back; checked through the real
 * driver (replSetGetConfig, hello) on the simulated set.
 */
import assert from "node:assert/strict";
import type { Document } from "mongodb";
import {
  deployArgs,
  freePorts,
  killAll,
  mup,
  replicaSetTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { count, currentState, meta, processLogs, withClient } from "./apply_helpers.ts";
import { display, killWhen, ok } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/** The set's config as the member on `port` holds it. */
async function config(home: string, port: number): Promise<Document> {
  return await withClient(
    `mongodb://localhost:${port}/?directConnection=true`,
    async (c) => (await c.db("admin").command({ replSetGetConfig: 1 })).config,
    { home, cluster: "rm" },
  );
}

/** Each member's [priority, votes, hidden] in the config the member on `port` holds. */
async function options(home: string, ports: number[]): Promise<unknown[][]> {
  const members = (await config(home, ports[1])).members as Document[];
  return ports.map((p) => {
    const m = members.find((x) => x.host === `localhost:${p}`)!;
    return [m.priority, m.votes, m.hidden];
  });
}

/** The set's primary as the member on `port` reports it (hello). */
async function primary(home: string, port: number): Promise<string | undefined> {
  return await withClient(
    `mongodb://localhost:${port}/?directConnection=true`,
    async (c) => (await c.db("admin").command({ hello: 1 })).primary,
    { home, cluster: "rm" },
  );
}

/** Cluster rm: a 3-member set (the first member priority 2), deployed from rm.yaml. */
async function deployRm(home: string) {
  const ports = freePorts(3);
  const mirror = await testMirror();
  const file = await writeTopology(home, "rm.yaml", replicaSetTopology(ports));
  await ok(home, deployArgs("rm", file, mirror, ["--auto-approve"]));
  return { ports, mirror, file };
}

/**
 * What a DBA does by hand (rs.reconfig): the set's config, read from its primary, with its
 * members as `edit` makes them, installed as the next version.
 */
async function byHand(
  home: string,
  ports: number[],
  edit: (members: Document[]) => Document[],
): Promise<void> {
  const uri = `mongodb://${ports.map((p) => `localhost:${p}`).join(",")}/?replicaSet=rs0`;
  await withClient(uri, async (c) => {
    const cfg = (await c.db("admin").command({ replSetGetConfig: 1 })).config;
    delete cfg.term;
    cfg.version += 1;
    cfg.members = edit(cfg.members);
    await c.db("admin").command({ replSetReconfig: cfg });
  }, { home, cluster: "rm" });
}

/**
 * A saved plan (its ID) of `cluster reconfigure rm` giving ports[1] priority 3, from rm3.yaml
 * (its path in `file`), not applied.
 */
async function savedRaise(home: string, ports: number[]): Promise<{ file: string; plan: string }> {
  const file = await writeTopology(
    home,
    "rm3.yaml",
    replicaSetTopology(ports).replace(
      `port: ${ports[1]}, replica_set: rs0 }`,
      `port: ${ports[1]}, replica_set: rs0, priority: 3 }`,
    ),
  );
  const r = await ok(home, ["cluster", "reconfigure", "rm", file, "--plan-only", "--json"]);
  return { file, plan: JSON.parse(r.stdout).plan_id };
}

/** `members` with the one on `port` given `fields`. */
const setOn = (port: number, fields: Document) => (members: Document[]) =>
  members.map((m) => m.host === `localhost:${port}` ? { ...m, ...fields } : m);

/** `members` without the one on `port`. */
const without = (port: number) => (members: Document[]) =>
  members.filter((m) => m.host !== `localhost:${port}`);

Deno.test("cluster reconfigure sets members' priority and hidden by replSetReconfig without a restart, stepping the primary down first; a kill part way resumes; a change made by hand is seen and set back", async () => {
  const home = await tempHome();
  try {
    const { ports, mirror } = await deployRm(home);
    // ports[0] has priority 2: the primary.
    assert.equal(await primary(home, ports[1]), `localhost:${ports[0]}`);

    // The primary is to lose its priority, another member to outrank it, the third to be hidden.
    const asked = replicaSetTopology(ports)
      .replace(
        `port: ${ports[0]}, replica_set: rs0, priority: 2`,
        `port: ${ports[0]}, replica_set: rs0, priority: 0`,
      )
      .replace(
        `port: ${ports[1]}, replica_set: rs0 }`,
        `port: ${ports[1]}, replica_set: rs0, priority: 3 }`,
      )
      .replace(
        `port: ${ports[2]}, replica_set: rs0 }`,
        `port: ${ports[2]}, replica_set: rs0, hidden: true }`,
      );
    const next = await writeTopology(home, "rm2.yaml", asked);

    // cluster deploy names the command that makes the change.
    const refused = await ok(home, deployArgs("rm", next, mirror, ["--plan-only"]), 1);
    assert.match(
      refused.stderr,
      new RegExp(
        `localhost:${
          ports[0]
        }: priority 2 → 0: made on the running cluster by \`mup cluster reconfigure rm .*rm2\\.yaml\``,
      ),
    );

    // The review says what changes, and nothing is restarted.
    const args = ["cluster", "reconfigure", "rm", next, "--auto-approve"];
    const review = await ok(home, ["cluster", "reconfigure", "rm", next, "--plan-only"]);
    assert.match(review.stdout, new RegExp(`localhost:${ports[0]} priority 2 → 0`));
    assert.match(
      review.stdout,
      new RegExp(`localhost:${ports[2]} priority 1 → 0, hidden false → true`),
    );
    assert.doesNotMatch(review.stdout, /Restart/);
    // The operation that steps the primary down says so, as the warning does.
    assert.match(
      review.stdout,
      new RegExp(`one replSetReconfig each; the primary localhost:${ports[0]} steps down first`),
    );
    assert.match(
      review.stdout,
      new RegExp(`localhost:${ports[0]}, the primary of rs0, gets priority 0: it is stepped down`),
    );

    // Killed once the set's reconfiguration runs, then resumed.
    await killWhen(home, "rm", args, /^reconfig-members-rs0$/, "running");
    // What it had changed before the kill is not blamed on someone outside mup.
    const between = await mup(["cluster", "display", "rm"], { home });
    assert.doesNotMatch(between.stdout, /changed outside mup/);
    if (/Members whose options/.test(between.stdout)) {
      assert.match(between.stdout, /may have changed them part way: `mup plan resume rm`/);
    }
    const resumed = await ok(home, ["plan", "resume", "rm"]);
    assert.match(resumed.stdout, /Record the new member options/);
    assert.equal((await currentState(home, "rm")).status, "completed");
    assert.deepEqual(await options(home, ports), [[0, 1, false], [3, 1, false], [0, 1, true]]);
    assert.equal(await primary(home, ports[2]), `localhost:${ports[1]}`, "priority 3 leads");
    // No member was restarted: each started once, by the deploy.
    for (const [name, log] of await processLogs(home, "rm")) {
      assert.equal(count(log, /"id":4615611/), 1, `${name} started once`);
    }
    const recorded = (await meta(home, "rm")).topology as { mongod_servers: Document[] };
    assert.deepEqual(
      recorded.mongod_servers.map((s) => [s.priority, s.hidden]),
      [[0, undefined], [3, undefined], [undefined, true]],
    );
    // The connection string lists no hidden member (a driver could not use it).
    const uri = (await meta(home, "rm")).connection_string as string;
    assert.ok(uri.includes(`localhost:${ports[1]}`), uri);
    assert.ok(!uri.includes(`localhost:${ports[2]}`), uri);
    assert.ok((await display(home, "rm")).healthy);
    const same = await ok(home, args);
    assert.match(
      same.stdout,
      /No changes\. Cluster rm already runs this runtime_config and these member options\./,
    );
    // Applied, the plan has nothing left to do.
    const done = await ok(home, ["plan", "diff", "rm", "--detailed-exitcode"]);
    assert.match(done.stdout, /\(reconfigure\) was applied .*nothing of it is left to do/);

    // A DBA raises ports[0]'s priority by hand: the recorded topology given again sets it back.
    await byHand(home, ports, setOn(ports[0], { priority: 5 }));
    const back = await ok(home, ["cluster", "reconfigure", "rm", next, "--plan-only"]);
    assert.match(back.stdout, new RegExp(`localhost:${ports[0]} priority 5 → 0`));
    await ok(home, args);
    assert.deepEqual(await options(home, ports), [[0, 1, false], [3, 1, false], [0, 1, true]]);
    assert.equal(await primary(home, ports[2]), `localhost:${ports[1]}`);
    assert.ok((await display(home, "rm")).healthy);
  } finally {
    await killAll(home);
  }
});

Deno.test("a reconfigure that ranks highest a member an earlier reconfigure stepped down ends its step-down period (replSetFreeze 0) instead of waiting up to a minute for its takeover (tester111 #4)", async () => {
  const home = await tempHome();
  try {
    const { ports } = await deployRm(home);
    assert.equal(await primary(home, ports[1]), `localhost:${ports[0]}`);
    const rank = async (name: string, first: number) =>
      await writeTopology(
        home,
        name,
        replicaSetTopology(ports)
          .replace(
            `port: ${ports[0]}, replica_set: rs0, priority: 2`,
            `port: ${ports[0]}, replica_set: rs0, priority: ${first}`,
          ),
      );
    // The primary loses its priority: stepped down, it may not stand again for 60 s.
    // (No other member outranks it first, so it is stepped down by replSetStepDown: 60 s.)
    await ok(home, ["cluster", "reconfigure", "rm", await rank("a.yaml", 0), "--auto-approve"]);
    assert.notEqual(await primary(home, ports[2]), `localhost:${ports[0]}`);
    // Ranked highest again at once: it takes the primary over, its step-down period ended.
    const b = await ok(home, [
      "cluster",
      "reconfigure",
      "rm",
      await rank("b.yaml", 5),
      "--auto-approve",
      "--json",
    ]);
    assert.equal(await primary(home, ports[2]), `localhost:${ports[0]}`);
    const takeover = b.stdout.trim().split("\n").map((l) => JSON.parse(l))
      .find((e) => e.event === "op_done" && e.id === "wait-takeover-rs0");
    assert.match(
      String(takeover?.output),
      new RegExp(
        `^primary localhost:${ports[0]} after \\d+ms \\(localhost:${
          ports[0]
        } was sent replSetFreeze 0 first`,
      ),
      b.stdout.split("\n").filter((l) => l.includes("op_done")).join("\n"),
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("a member's priority changed outside mup: plan diff shows it, a repair deploy sets it back; a saved reconfigure's diff starts from the live options", async () => {
  const home = await tempHome();
  try {
    const { ports, mirror, file } = await deployRm(home);
    const diff = ["plan", "diff", "rm", "--detailed-exitcode"];
    assert.match((await ok(home, diff)).stdout, /No changes\. The cluster matches the topology\./);

    // rs.reconfig by hand: the third member gets priority 4 and is hidden from no one.
    await byHand(home, ports, setOn(ports[2], { priority: 4 }));

    // display says so, with the repair.
    const shown = await ok(home, ["cluster", "display", "rm"]);
    assert.match(
      shown.stdout,
      new RegExp(
        `changed outside mup\\): localhost:${
          ports[2]
        } priority 4 \\(recorded: priority 1\\); \`mkdir -p \\S+ && mup cluster show-config rm > \\S+/rm\\.recorded\\.yaml && mup cluster deploy rm \\S+ --version 7\\.0\\.\\d+ --mirror \\S+\` \\(a repair\\) sets them back`,
      ),
    );
    const doc = JSON.parse((await ok(home, ["cluster", "display", "rm", "--json"])).stdout);
    assert.deepEqual(doc.options_changed, [{
      id: `localhost:${ports[2]}`,
      live: { priority: 4 },
      recorded: { priority: 1 },
    }]);
    const seen = await ok(home, diff, 2);
    assert.match(
      seen.stdout,
      new RegExp(
        `~ replica_set_member rs0/localhost:${
          ports[2]
        } {2}\\(priority 4 live; the topology has priority 1\\)`,
      ),
    );
    assert.match(seen.stdout, /mup cluster deploy rm .*rm\.yaml --version 7\.0\.\d+` plans it/);
    const json = JSON.parse((await ok(home, ["plan", "diff", "rm", "--json"])).stdout);
    assert.equal(json.no_changes, false);
    assert.deepEqual(json.drift, [{
      member: `localhost:${ports[2]}`,
      set: "rs0",
      live: { priority: 4 },
      topology: { priority: 1 },
    }]);

    // The repair deploy plans it, says why, and sets it back.
    const plan = await ok(home, deployArgs("rm", file, mirror, ["--plan-only"]));
    assert.match(
      plan.stdout,
      new RegExp(`localhost:${ports[2]} has priority 4 in rs0's configuration and priority 1`),
    );
    assert.match(plan.stdout, new RegExp(`Set localhost:${ports[2]} priority 4 → 1`));
    await ok(home, deployArgs("rm", file, mirror, ["--auto-approve"]));
    assert.deepEqual(await options(home, ports), [[2, 1, false], [1, 1, false], [1, 1, false]]);
    assert.match((await ok(home, diff)).stdout, /No changes\. The cluster matches the topology\./);
    assert.match(
      (await ok(home, deployArgs("rm", file, mirror, ["--plan-only"]))).stdout,
      /No changes\. The cluster matches the topology\./,
    );

    // A saved reconfigure (ports[1] to priority 3), then changes by hand to that member and to
    // one it does not plan: its diff starts from the live values and lists both, as its apply
    // sets both.
    const { plan: saved } = await savedRaise(home, ports);
    await byHand(
      home,
      ports,
      (m) => setOn(ports[2], { priority: 4 })(setOn(ports[1], { priority: 2 })(m)),
    );
    const live = await ok(home, ["plan", "diff", saved, "--detailed-exitcode"], 2);
    assert.match(
      live.stdout,
      new RegExp(
        `~ replica_set_member rs0/localhost:${ports[1]} {2}\\(change: priority 2 → 3; changed ` +
          "outside mup since the plan was made, which read priority 1\\)",
      ),
    );
    assert.match(
      live.stdout,
      new RegExp(
        `~ replica_set_member rs0/localhost:${ports[2]} {2}\\(change: priority 4 → 1; changed ` +
          "outside mup: reconfig-members-rs0 sets every member of rs0 to the plan's topology\\)",
      ),
    );
    await ok(home, ["plan", "apply", saved, "--auto-approve"]);
    assert.deepEqual(await options(home, ports), [[2, 1, false], [3, 1, false], [1, 1, false]]);
  } finally {
    await killAll(home);
  }
});

Deno.test("a repair planned while every member of the set is down, after a member's priority was changed by hand: it cannot read the options when planned, so it compares them once the set runs and sets them back, rather than report success over them (tester109 #2)", async () => {
  const home = await tempHome();
  try {
    const { ports, mirror, file } = await deployRm(home);
    await byHand(home, ports, setOn(ports[2], { priority: 4 }));
    await ok(home, ["cluster", "stop", "rm", "--auto-approve"]);
    const planned = await ok(home, deployArgs("rm", file, mirror, ["--plan-only"]));
    assert.match(
      planned.stdout,
      /Set rs0 members' priority, votes and hidden as the topology gives them where its configuration \(unread when planned: every member was down\) differs/,
      planned.stdout,
    );
    await ok(home, deployArgs("rm", file, mirror, ["--auto-approve"]));
    assert.deepEqual(await options(home, ports), [[2, 1, false], [1, 1, false], [1, 1, false]]);
    const shown = await ok(home, ["cluster", "display", "rm"]);
    assert.doesNotMatch(shown.stdout, /changed outside mup/, shown.stdout);
  } finally {
    await killAll(home);
  }
});

Deno.test("a repair planned while every member of the set is down, after a member was removed by hand (rs.remove): it adds the member back once the set runs, instead of failing on the set's other members (tester110 #2)", async () => {
  const home = await tempHome();
  try {
    const { ports, mirror, file } = await deployRm(home);
    await byHand(home, ports, without(ports[2]));
    await ok(home, ["cluster", "stop", "rm", "--auto-approve"]);
    const planned = await ok(home, deployArgs("rm", file, mirror, ["--plan-only"]));
    assert.match(
      planned.stdout,
      /Add back to replica set rs0 any recorded member its configuration no longer lists \(unread when planned: every member was down\)/,
      planned.stdout,
    );
    await ok(home, deployArgs("rm", file, mirror, ["--auto-approve"]));
    assert.deepEqual(
      ((await config(home, ports[0])).members as Document[]).map((m) => m.host).sort(),
      ports.map((p) => `localhost:${p}`).sort(),
    );
    assert.deepEqual(await options(home, ports), [[2, 1, false], [1, 1, false], [1, 1, false]]);
    assert.ok((await display(home, "rm")).healthy);
  } finally {
    await killAll(home);
  }
});

Deno.test("a member removed from its set outside mup (rs.remove): a repair deploy adds it back, and it catches up", async () => {
  const home = await tempHome();
  try {
    const { ports, mirror, file } = await deployRm(home);
    const uri = `mongodb://localhost:${ports[0]},localhost:${ports[1]}/?replicaSet=rs0`;
    await byHand(home, ports, without(ports[2]));
    // Written while it is out: it must have them once back.
    await withClient(uri, async (c) => {
      await c.db("app").collection("t").insertOne({ _id: 1 } as Document, {
        writeConcern: { w: "majority" },
      });
    }, { home, cluster: "rm" });

    const shown = await mup(["cluster", "display", "rm"], { home });
    assert.match(
      shown.stdout,
      /removed by hand, `mkdir -p \S+ && mup cluster show-config rm > \S+ && mup cluster deploy rm \S+ --version 7\.0\.\d+ --mirror \S+` \(a repair\) adds them back/,
    );
    const seen = await ok(home, ["plan", "diff", "rm", "--detailed-exitcode"], 2);
    assert.match(
      seen.stdout,
      new RegExp(
        `\\+ replica_set_member rs0/localhost:${ports[2]} {2}\\(not in the set's configuration`,
      ),
    );
    const plan = await ok(home, deployArgs("rm", file, mirror, ["--plan-only"]));
    assert.match(
      plan.stdout,
      new RegExp(`localhost:${ports[2]} is not in rs0's configuration \\(removed outside mup\\)`),
    );
    assert.match(plan.stdout, new RegExp(`Add localhost:${ports[2]} to replica set rs0`));
    // The estimate counts the operation added for it too (it said 24 of 25).
    const total = /Total operations: (\d+)/.exec(plan.stdout)?.[1];
    const counted = /for (?:all |\d+ of )(\d+) operations/.exec(plan.stdout)?.[1];
    assert.ok(total && counted === total, plan.stdout);
    await ok(home, deployArgs("rm", file, mirror, ["--auto-approve"]));
    assert.deepEqual(
      ((await config(home, ports[0])).members as Document[]).map((m) => m.host).sort(),
      ports.map((p) => `localhost:${p}`).sort(),
    );
    assert.ok((await display(home, "rm")).healthy);
    const back = await withClient(
      `mongodb://localhost:${ports[2]}/?directConnection=true`,
      (c) => c.db("app").collection("t").countDocuments({}, { readPreference: "secondary" }),
      { home, cluster: "rm" },
    );
    assert.equal(back, 1);
    assert.match(
      (await ok(home, deployArgs("rm", file, mirror, ["--plan-only"]))).stdout,
      /No changes\. The cluster matches the topology\./,
    );
    assert.match(
      (await ok(home, ["plan", "diff", "rm", "--detailed-exitcode"])).stdout,
      /No changes\. The cluster matches the topology\./,
    );

    // Removed by hand while it is stopped: the repair adds it back as it starts it (it started
    // it outside its set, then failed to initiate the set: tester32).
    await byHand(home, ports, without(ports[2]));
    await ok(home, ["cluster", "stop", "rm", "-N", `localhost:${ports[2]}`, "--auto-approve"]);
    const whileDown = await ok(home, deployArgs("rm", file, mirror, ["--plan-only"]));
    assert.match(whileDown.stdout, new RegExp(`Add localhost:${ports[2]} to replica set rs0`));
    await ok(home, deployArgs("rm", file, mirror, ["--auto-approve"]));
    assert.deepEqual(
      ((await config(home, ports[0])).members as Document[]).map((m) => m.host).sort(),
      ports.map((p) => `localhost:${p}`).sort(),
    );
    assert.ok((await display(home, "rm")).healthy);

    // Removed again, after a reconfigure was planned: a new reconfigure is refused, naming the
    // repair; the saved one fails on it before it changes anything (its reconfiguration sets every
    // member, that one too), and the repair is not refused over that failure: it adds the member
    // back and the recorded priority too.
    const { file: raised, plan: saved } = await savedRaise(home, ports);
    await byHand(home, ports, without(ports[2]));
    const refused = await ok(home, ["cluster", "reconfigure", "rm", raised, "--plan-only"], 1);
    assert.match(
      refused.stdout + refused.stderr,
      new RegExp(
        `localhost:${
          ports[2]
        } is not in rs0's configuration: no reconfigure can set its options\\. .*a member removed by hand \\(rs\\.remove\\) comes back with a repair \\(\`mkdir -p \\S+ && mup cluster show-config rm > \\S+/rm\\.recorded\\.yaml && mup cluster deploy rm `,
      ),
    );
    const failed = await ok(home, ["plan", "apply", saved, "--auto-approve"], 1);
    assert.match(
      failed.stdout,
      new RegExp(
        `✗ Set .*\\n.*localhost:${
          ports[2]
        } is not in the config of replica set rs0 \\(removed outside mup\\?\\): \`mkdir -p \\S+ && mup cluster show-config rm > \\S+/rm\\.recorded\\.yaml && mup cluster deploy rm \\S+ --version 7\\.0\\.\\d+ --mirror \\S+\` \\(a repair\\)`,
      ),
    );
    await ok(home, deployArgs("rm", file, mirror, ["--auto-approve"]));
    assert.deepEqual(await options(home, ports), [[2, 1, false], [1, 1, false], [1, 1, false]]);
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster reconfigure of members' options with a member down: the running set is reconfigured, the down member keeps its new options when started", async () => {
  const home = await tempHome();
  try {
    const { ports } = await deployRm(home);
    await ok(home, ["cluster", "stop", "rm", "-N", `localhost:${ports[2]}`, "--auto-approve"]);
    const asked = replicaSetTopology(ports)
      .replace(
        `port: ${ports[1]}, replica_set: rs0 }`,
        `port: ${ports[1]}, replica_set: rs0, priority: 3 }`,
      )
      .replace(
        `port: ${ports[2]}, replica_set: rs0 }`,
        `port: ${ports[2]}, replica_set: rs0, priority: 0 }`,
      );
    const next = await writeTopology(home, "rm2.yaml", asked);
    const args = ["cluster", "reconfigure", "rm", next];
    const review = await ok(home, [...args, "--plan-only"]);
    assert.match(
      review.stdout,
      new RegExp(`localhost:${ports[2]} is down and stays down: its new options are in`),
    );
    assert.match(review.stdout, /Verify the health of the running processes/);
    // Saved, then ports[1]'s priority changed by hand before it is applied, and ports[0]'s (which
    // the plan leaves as it is): both set as the topology gives them, as a new plan would, and
    // the apply says what it found instead of what the plan read.
    const saved = JSON.parse((await ok(home, [...args, "--plan-only", "--json"])).stdout);
    await byHand(
      home,
      ports,
      (m) => setOn(ports[0], { priority: 1 })(setOn(ports[1], { priority: 4 })(m)),
    );
    const applied = await ok(home, ["plan", "apply", saved.plan_id, "--auto-approve"]);
    assert.match(
      applied.stdout,
      new RegExp(
        `! Set .*: changed outside mup since the plan was made: .*localhost:${
          ports[1]
        } priority 4 \\(the plan read 1\\)`,
      ),
    );
    assert.match(
      applied.stdout,
      new RegExp(`localhost:${ports[0]} priority 1 \\(the plan read 2\\)`),
    );
    assert.deepEqual(await options(home, ports), [
      [2, 1, false],
      [3, 1, false],
      [0, 1, false],
    ]);
    assert.equal(await primary(home, ports[0]), `localhost:${ports[1]}`, "priority 3 took over");
    const shown = await display(home, "rm", 1);
    const down = shown.processes.filter((p) => p.state === "DOWN").map((p) => p.id);
    assert.deepEqual(down, [`localhost:${ports[2]}`], "still down, as it was");
    const recorded = (await meta(home, "rm")).topology as { mongod_servers: Document[] };
    assert.deepEqual(recorded.mongod_servers.map((s) => s.priority), [2, 3, 0]);

    // Started, it reads its new options from the set: nothing left to change.
    await ok(home, ["cluster", "start", "rm", "--auto-approve"]);
    assert.ok((await display(home, "rm")).healthy);
    assert.match(
      (await ok(home, [...args, "--plan-only"])).stdout,
      /No changes\. Cluster rm already runs this runtime_config and these member options\./,
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster reconfigure that restarts every member and ranks a secondary highest: the new options come after the secondaries' restarts, that member takes over once, and the old primary restarts as a secondary, frozen, not handed the primary back (tester76 #2)", async () => {
  const home = await tempHome();
  try {
    const { ports, file } = await deployRm(home);
    const raised = await writeTopology(
      home,
      "rm-raised.yaml",
      `global:\n  runtime_config:\n    operationProfiling: { slowOpThresholdMs: 250 }\n` +
        (await Deno.readTextFile(file)).replace(
          `port: ${ports[1]}, replica_set: rs0 }`,
          `port: ${ports[1]}, replica_set: rs0, priority: 3 }`,
        ),
    );
    const r = await ok(home, ["cluster", "reconfigure", "rm", raised, "--auto-approve"]);
    assert.doesNotMatch(r.stdout, /take the primary of rs0 back/);
    const st = await currentState(home, "rm");
    assert.equal(st.status, "completed");
    const ops = st.operation_states;
    assert.equal(ops["wait-handback-rs0"], undefined);
    // The takeover came first: the old primary's step-down found it a secondary.
    assert.match(
      ops["step-down-rs0"].result?.output ?? "",
      new RegExp(`another member is primary; localhost:${ports[0]} is not, and is frozen`),
    );
    assert.equal(await primary(home, ports[2]), `localhost:${ports[1]}`);
    assert.deepEqual((await options(home, ports)).map((o) => o[0]), [2, 3, 1]);
    assert.ok((await display(home, "rm")).healthy);
  } finally {
    await killAll(home);
  }
});
