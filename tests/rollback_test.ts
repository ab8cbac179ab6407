/**
 * `mup state rollback` of lifecycle applies: a restart whose start of a member failed leaves that
 * member stopped, and its rollback starts it again (the stop is undone, not cancelled by a start
 * that did not complete); an older apply that later applies replaced is refused, and the running
 * cluster and its metadata stay as they are.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { killAll, mup, output, replicaSetTopology, tempHome } from "./helpers.ts";
import { clusterDir, currentState, meta } from "./apply_helpers.ts";
import { deploy, display, livePids, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("state rollback of a restart that failed to start a member starts it again; rolling back an apply a later one replaced is refused and changes nothing", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    const deployId = (await currentState(home, "rs")).state_id;

    // The member on ports[1] stops, then cannot start again.
    const failed = await mup(["cluster", "restart", "rs", "--auto-approve"], {
      home,
      env: { MUP_SIM_CRASH_AT_STARTUP: "14", MUP_SIM_FAULT_PORTS: String(ports[1]) },
    });
    assert.equal(failed.code, 1, output(failed));
    const restart = await currentState(home, "rs");
    assert.equal(restart.status, "failed");
    assert.equal((await livePids(home, "rs")).length, 2, "the member that failed to start is down");

    const planned = await ok(home, [
      "state",
      "rollback",
      "rs",
      "--checkpoint",
      "start",
      "--dry-run",
    ]);
    assert.match(planned.stdout, new RegExp(`Start [^\\n]*:${ports[1]}`), planned.stdout);
    const rb = await ok(home, [
      "state",
      "rollback",
      "rs",
      "--checkpoint",
      "start",
      "--auto-approve",
    ]);
    assert.match(rb.stdout, /Rollback completed successfully!/);
    assert.equal((await livePids(home, "rs")).length, 3, rb.stdout);
    assert.ok((await display(home, "rs")).healthy);
    assert.equal((await meta(home, "rs")).status, "running");

    // The deploy, two applies ago: refused, naming the apply that replaced it.
    const before = await meta(home, "rs");
    const pids = await livePids(home, "rs");
    const old = await ok(home, [
      "state",
      "rollback",
      "rs",
      "--state-id",
      deployId,
      "--checkpoint",
      "phase3-complete",
      "--auto-approve",
    ], 1);
    assert.match(
      old.stderr,
      new RegExp(`apply ${deployId} of cluster rs was replaced by a later apply, apply-`),
    );
    assert.match(old.stderr, /refusing to roll it back/);
    assert.deepEqual(await meta(home, "rs"), before);
    assert.deepEqual(await livePids(home, "rs"), pids);
  } finally {
    await killAll(home);
  }
});

Deno.test("a rollback of a deploy to a checkpoint after its starts is refused, naming what would run on unrecorded; to start it stops and removes them (tester41 H1)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  const port = ports[0];
  try {
    // Fails after the initialize phase: its start (phase 2) is before checkpoint phase2-complete.
    const failed = await deploy(
      home,
      "mid",
      replicaSetTopology(
        ports,
        'hooks:\n  after_phase: { command: "exit 3", phase: initialize }\n',
      ),
    ).catch((e) => e);
    assert.ok(failed instanceof Error, "the deploy fails at its hook");
    const st = await currentState(home, "mid");
    assert.equal(st.status, "failed");
    assert.ok(
      st.checkpoints.some((c) => c.id === "phase2-complete"),
      JSON.stringify(st.checkpoints),
    );
    assert.equal((await livePids(home, "mid")).length, 3);
    const mid = await ok(home, [
      "state",
      "rollback",
      "mid",
      "--checkpoint",
      "phase2-complete",
      "--auto-approve",
    ], 1);
    assert.match(
      mid.stderr,
      new RegExp(
        `rolling apply ${st.state_id} \\(deploy\\) back to checkpoint phase2-complete would leave ` +
          `localhost:${port}, localhost:${ports[1]}, localhost:${ports[2]} running: they were ` +
          "started before that checkpoint, and the metadata does not record them",
      ),
    );
    assert.match(mid.stderr, /`mup state rollback mid --checkpoint start` undoes the whole deploy/);
    assert.equal((await currentState(home, "mid")).status, "failed", "nothing was rolled back");
    // To start: the set it initiated goes with its members' data, so it is not said to stay
    // initiated (tester41 L5).
    const whole = await ok(home, [
      "state",
      "rollback",
      "mid",
      "--checkpoint",
      "start",
      "--plan-only",
    ]);
    // Listed in the order they run: each file before its directory (tester78 #7).
    assert.match(whole.stdout, /Remove file [^\n]*\/conf\/mongod-\d+\/mongod\.conf/);
    assert.match(whole.stdout, /… \d+ more remove_directory operations/);
    const all = (await ok(home, ["plan", "show", "mid", "--all"])).stdout;
    const file = all.search(/Remove file [^\n]*\/conf\/mongod-\d+\/mongod\.conf/);
    const dir = all.search(/Remove directory [^\n]*\/conf\/mongod-\d+ /);
    assert.ok(file > 0 && dir > file, all);
    assert.doesNotMatch(whole.stdout, /stays initiated/);
    // Nor the user it created in that data (tester41 L6).
    assert.doesNotMatch(whole.stdout, /user stays/);
    assert.match(whole.stdout, /not undone: secret-admin/, "what stays is still said");
    // A file of the user's in the deploy root: the root is kept, and the rollback says so
    // (it said only "✓ Remove … if empty": tester50).
    const root = path.join(clusterDir(home, "mid"), "deploy");
    await Deno.writeTextFile(path.join(root, "notes.txt"), "mine");
    const undone = await ok(home, [
      "state",
      "rollback",
      "mid",
      "--checkpoint",
      "start",
      "--auto-approve",
      "--json",
    ]);
    assert.deepEqual(await livePids(home, "mid"), []);
    // Nothing is left to connect to: the end of the apply gives no connection (tester41 L5).
    const end = undone.stdout.trim().split("\n").map((l) => JSON.parse(l))
      .find((e) => e.event === "apply_done");
    assert.equal(end?.status, "completed", undone.stdout);
    assert.equal(end.connection, undefined, JSON.stringify(end));
    assert.equal(end.credentials, undefined, JSON.stringify(end));
    const tidied = undone.stdout.trim().split("\n").map((l) => JSON.parse(l))
      .find((e) => e.event === "op_done" && e.id === `tidy-localhost-${root}`);
    assert.equal(tidied?.notice, `kept localhost:${root}: not empty`, JSON.stringify(tidied));
    assert.equal(await Deno.readTextFile(path.join(root, "notes.txt")), "mine");
    // A first deploy that completed: its metadata goes with the rollback, so the same holds.
    await deploy(home, "done", replicaSetTopology(stablePorts(3)));
    const done = await ok(home, [
      "state",
      "rollback",
      "done",
      "--checkpoint",
      "phase2-complete",
      "--plan-only",
    ], 1);
    assert.match(done.stderr, /back to checkpoint phase2-complete would leave .* running/);
  } finally {
    await killAll(home);
  }
});
