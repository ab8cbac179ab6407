/**
 * kill -9 of mup in the middle of stop, restart and destroy, then `plan resume`; `state
 * rollback` after a deploy that failed in its initialize phase. Real processes, through the CLI.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  deployArgs,
  killAll,
  mup,
  output,
  replicaSetTopology,
  spawnMup,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { clusterDir, count, currentState, meta, processLogs, withClient } from "./apply_helpers.ts";
import {
  deploy,
  display,
  killMember,
  killWhen,
  livePids,
  ok,
  savedRestart,
} from "./lifecycle_helpers.ts";
import { memberPid, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** `mup state rollback rs --checkpoint start` with `--plan-only` or `--auto-approve`. */
const rollbackToStart = (home: string, mode: "--plan-only" | "--auto-approve") =>
  ok(home, ["state", "rollback", "rs", "--checkpoint", "start", mode]);

/** Resumes; no operation's work ran twice; returns the state. */
async function resume(home: string, cluster: string, done: RegExp, extra: string[] = []) {
  const crashed = await currentState(home, cluster);
  assert.equal(crashed.status, "running", "a killed apply is left running");
  const r = await ok(home, ["plan", "resume", cluster, ...extra]);
  assert.match(r.stdout, /took over a stale lock/);
  assert.match(r.stdout, done);
  const st = await currentState(home, cluster).catch(() => undefined);
  // An operation cut off by the kill runs again (its isDone saw the work unfinished); every
  // other ran at most once: nothing finished is done twice.
  const inFlight = (id: string) => crashed.operation_states[id]?.status === "running";
  for (const o of Object.values(st?.operation_states ?? {})) {
    assert.ok(
      o.executions <= (inFlight(o.id) ? 2 : 1) || /^(wait|verify)/.test(o.id),
      `${o.id} ran ${o.executions}×`,
    );
  }
  return st;
}

/**
 * Kills `mup cluster restart rs` once an operation matching `when` runs (and `also` holds),
 * resumes it, and checks the set is healthy and every member started exactly twice (deploy,
 * restart): a member stopped a second time would have started a third time.
 */
async function killRestartAndResume(
  home: string,
  when: RegExp,
  env: Record<string, string> = {},
  also?: () => Promise<boolean>,
): Promise<void> {
  await killWhen(
    home,
    "rs",
    ["cluster", "restart", "rs", "--auto-approve"],
    when,
    "running",
    env,
    also,
  );
  await resume(home, "rs", /Restart completed successfully!/);
  assert.ok((await display(home, "rs")).healthy);
  for (const [name, log] of await processLogs(home, "rs")) {
    assert.equal(count(log, /"id":4615611/), 2, `${name} started twice (deploy, restart)`);
  }
}

Deno.test("kill -9 of mup in the middle of restart, stop and destroy; plan resume completes each, nothing twice", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports));

    await killRestartAndResume(home, /^step-down-/);

    await killWhen(home, "rs", ["cluster", "stop", "rs", "--auto-approve"], /^stop-/, "completed");
    // A new plan meanwhile says that it would replace the unfinished stop.
    const other = await ok(home, ["cluster", "start", "rs", "--plan-only"]);
    assert.match(
      other.stdout,
      /apply apply-\w+ \(stop\) is interrupted, not finished: this plan replaces it/,
    );
    // Display explains the members it finds down: an unfinished stop, and the way to finish it.
    const noted = await mup(["cluster", "display", "rs"], { home });
    assert.match(
      noted.stdout,
      /Note: the last apply \(stop, apply-\w+\) is interrupted, not finished; `mup plan resume rs` completes it/,
      output(noted),
    );
    await resume(home, "rs", /Stop completed successfully!/);
    assert.deepEqual(await livePids(home, "rs"), []);
    await ok(home, ["cluster", "start", "rs", "--auto-approve"]);

    await killWhen(
      home,
      "rs",
      ["cluster", "destroy", "rs", "--auto-approve"],
      /^archive-/,
      "completed",
    );
    // Every process is stopped: the list must not claim `running`; the state says who is gone.
    const listed = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
    assert.equal(listed[0].status, "unknown");
    assert.equal(listed[0].last_apply?.status, "interrupted", "as state show says, not running");
    const shown = await ok(home, ["state", "show", "rs"]);
    assert.match(
      shown.stdout,
      /Status: running \(interrupted: the mup process \d+ is gone; `mup plan resume rs`\)/,
    );
    const shownJson = JSON.parse((await ok(home, ["state", "show", "rs", "--json"])).stdout);
    assert.match(shownJson.interrupted.reason, /is gone/);
    // Last updated when its last operation moved (the journal), not at its last snapshot.
    const moved = Object.values(
      shownJson.operation_states as Record<string, { started_at?: string; completed_at?: string }>,
    ).map((o) => o.completed_at ?? o.started_at ?? "").sort().at(-1)!;
    assert.ok(shownJson.updated_at >= moved, `${shownJson.updated_at} < ${moved}`);
    // The destroy was started with --auto-approve; its resume asks again (the cluster's name),
    // and without an answer (no terminal) refuses, naming the flag, having changed nothing.
    const asked = await ok(home, ["plan", "resume", "rs"], 1);
    assert.match(asked.stdout, /Type the cluster name \(rs\) to resume and destroy it/);
    assert.match(asked.stdout, /Resume cancelled: no answer was given .*pass --auto-approve/);
    const askedJson = await ok(home, ["plan", "resume", "rs", "--json"], 1);
    const refusal = JSON.parse(askedJson.stdout.trim().split("\n").at(-1)!);
    assert.equal(refusal.type, "error");
    assert.match(refusal.error, /resume cancelled: .*pass --auto-approve/);
    // A "yes" typed by habit is not the cluster's name.
    const habit = await mup(["plan", "resume", "rs"], { home, stdin: "yes\n" });
    assert.equal(habit.code, 1, habit.stdout + habit.stderr);
    assert.match(
      habit.stdout,
      /Resume cancelled: "yes" is not the cluster's name; only rs approves\.\nNothing was changed; the apply stays resumable/,
    );
    assert.ok(await exists(path.join(clusterDir(home, "rs"), "meta.yaml")), "nothing removed");
    await resume(home, "rs", /Destroy completed successfully!/, ["--auto-approve"]);
    assert.deepEqual(await livePids(home, "rs"), []);
    assert.ok(!(await exists(clusterDir(home, "rs"))));
    assert.equal(JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout).length, 0);
  } finally {
    await killAll(home);
  }
});

Deno.test("state rollback after a deploy failed in the initialize phase: processes stopped, directories gone, rolled_back, deployable afresh", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    const topo = await writeTopology(home, "rs.yaml", replicaSetTopology(ports));
    const failed = await mup(deployArgs("rs", topo, await testMirror(), ["--auto-approve"]), {
      home,
      env: { MUP_SIM_REFUSE_INITIATE: "1" },
    });
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, /Apply failed at phase 3, operation init-rs-rs0/);
    assert.equal((await livePids(home, "rs")).length, 3);
    const failedState = await currentState(home, "rs");
    // Its servers run: the cluster commands show the cluster and say how to end the apply.
    const id = failedState.state_id;
    const [row] = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
    assert.equal(row.name, "rs");
    assert.equal(row.status, `not deployed (apply ${id} failed)`);
    assert.equal(row.processes, 3);
    assert.match((await ok(home, ["cluster", "list"])).stdout, /not deployed \(apply/);
    const stop = await ok(home, ["cluster", "stop", "rs"], 1);
    assert.match(stop.stderr, new RegExp(`its apply ${id} \\(deploy\\) failed`));
    assert.match(stop.stderr, /`mup plan resume rs` continues it/);
    assert.match(stop.stderr, /`mup state rollback rs --checkpoint start` undoes it/);

    const unknownCp = await ok(home, ["state", "rollback", "rs", "--checkpoint", "nope"], 1);
    assert.match(unknownCp.stderr, /has no checkpoint "nope"/);
    const planned = await rollbackToStart(home, "--plan-only");
    assert.match(planned.stdout, /Operation: rollback/);
    // The refused initiation initiated nothing: no "stays initiated" warning.
    assert.doesNotMatch(planned.stdout, /not undone: init-rs-rs0|stays initiated/);
    // It removes directories: a habitual "yes" is not enough, the cluster's name is asked.
    const habit = await mup(["state", "rollback", "rs", "--checkpoint", "start"], {
      home,
      stdin: "yes\n",
    });
    assert.equal(habit.code, 1, habit.stdout + habit.stderr);
    assert.match(
      habit.stdout,
      /Type the cluster name \(rs\) to roll back and remove its directories/,
    );
    assert.match(habit.stdout, /Apply cancelled/);
    assert.equal((await livePids(home, "rs")).length, 3, "nothing was stopped");
    const rb = await mup(["state", "rollback", "rs", "--checkpoint", "start"], {
      home,
      stdin: "rs\n",
    });
    assert.match(rb.stdout, /Rollback completed successfully!/, rb.stdout + rb.stderr);
    assert.deepEqual(await livePids(home, "rs"), []);
    assert.ok(!(await exists(path.join(clusterDir(home, "rs"), "deploy"))), "directories gone");
    const st = await currentState(home, "rs");
    assert.equal(st.state_id, failedState.state_id);
    assert.equal(st.status, "rolled_back");
    // Nothing is pending: said, exit 0; asked for by its ID, it cannot be resumed.
    const resumed = await ok(home, ["plan", "resume", "rs"]);
    assert.match(resumed.stdout, /was rolled back to start; nothing to resume/);
    const byId = await ok(home, ["plan", "resume", "--state-id", st.state_id], 1);
    assert.match(byId.stderr, /was rolled back; it cannot be resumed/);
    // The hint is the deploy that plans it again, with its own topology and version (tester38).
    assert.ok(
      byId.stderr.replace(/\s+/g, " ").includes(
        `\`mup cluster deploy rs ${topo} --version 7.0.14 --mirror `,
      ),
      byId.stderr,
    );

    await ok(home, deployArgs("rs", topo, await testMirror(), ["--auto-approve"]));
    assert.ok((await display(home, "rs")).healthy);
  } finally {
    await killAll(home);
  }
});

Deno.test("state rollback of a stop starts the cluster again and records it running; then of a restart, undoes nothing", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    await ok(home, ["cluster", "stop", "rs", "--auto-approve"]);
    assert.deepEqual(await livePids(home, "rs"), []);
    // Every member stopped on purpose: the start named is the whole cluster's, not one -N each.
    const noted = await ok(home, ["cluster", "display", "rs"], 1);
    assert.match(
      noted.stdout,
      /were stopped by the last apply \(stop, apply-\w+\); `mup cluster start rs` starts them again\./,
    );
    const planned = await rollbackToStart(home, "--plan-only");
    assert.match(planned.stdout, /Operation: rollback/);
    const rb = await rollbackToStart(home, "--auto-approve");
    assert.match(rb.stdout, /Rollback completed successfully!/);
    assert.equal((await livePids(home, "rs")).length, 3);
    assert.ok((await display(home, "rs")).healthy);
    assert.equal((await meta(home, "rs")).status, "running");
    const undone = await currentState(home, "rs");
    assert.equal(undone.status, "rolled_back");
    // The stop plan reads as undone, not as stale; a resume of the cluster has nothing to do.
    const plans = JSON.parse((await ok(home, ["plan", "list", "rs", "--json"])).stdout) as {
      plan_id: string;
      status: string;
    }[];
    assert.equal(plans.find((p) => p.plan_id === undone.plan_id)?.status, "rolled_back");
    assert.match((await ok(home, ["plan", "resume", "rs"])).stdout, /nothing to resume/);
    // The cluster's last apply is the rollback, naming the stop it undid (tester80).
    const listed = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout)[0];
    assert.equal(listed.last_apply.operation, "rollback");
    assert.equal(listed.last_apply.status, "completed");
    assert.equal(listed.last_apply.rolled_back, undone.state_id);
    assert.equal(listed.last_apply.state_id, undone.rolled_back_by);
    assert.match(
      (await ok(home, ["cluster", "list"])).stdout,
      new RegExp(`apply-\\w+ rollback completed \\S+ \\(undid ${undone.state_id}\\)`),
    );

    // A whole restart changed nothing to undo: the rollback stops and starts nothing.
    await ok(home, ["cluster", "restart", "rs", "--auto-approve"]);
    const pids = await livePids(home, "rs");
    const again = await rollbackToStart(home, "--auto-approve");
    assert.match(again.stdout, /not undone: step-down-rs0/);
    assert.deepEqual(await livePids(home, "rs"), pids);
    assert.equal((await meta(home, "rs")).status, "running");
  } finally {
    await killAll(home);
  }
});

Deno.test("a stop rolled back to a checkpoint after its stops still holds them: display says the stop stopped them, and a rollback to an earlier checkpoint starts them again (tester113 #1)", async () => {
  const home = await tempHome();
  const ports = stablePorts(1);
  try {
    await deploy(home, "sa", standaloneTopology(ports));
    await ok(home, ["cluster", "stop", "sa", "--auto-approve"]);
    const rollback = (to: string, code = 0) =>
      ok(home, ["state", "rollback", "sa", "--checkpoint", to, "--auto-approve"], code);
    // After the stop phase: only the metadata's record is undone, the stop stands.
    await rollback("phase2-complete");
    assert.deepEqual(await livePids(home, "sa"), []);
    const shown = await ok(home, ["cluster", "display", "sa"], 1);
    assert.match(shown.stdout, /was stopped by the last apply \(stop, apply-\w+\)/);
    assert.doesNotMatch(shown.stdout, /did not stop it/);
    assert.match(
      output(await rollback("phase2-complete", 1)),
      /already rolled back to phase2-complete[\s\S]*only a checkpoint before phase2-complete is left to roll back to: start, phase1-complete/,
    );
    // Before it: the stop is undone too.
    await rollback("phase1-complete");
    assert.equal((await livePids(home, "sa")).length, 1);
    assert.equal((await meta(home, "sa")).status, "running");
    assert.equal((await currentState(home, "sa")).rolled_back_to, "phase1-complete");
  } finally {
    await killAll(home);
  }
});

Deno.test("kill -9 of a first deploy: cluster list shows it interrupted, cluster display shows its running server as not deployed, naming the apply and the ways on", async () => {
  const home = await tempHome();
  try {
    const topo = await writeTopology(home, "one.yaml", standaloneTopology(stablePorts(1)));
    await killWhen(
      home,
      "one",
      deployArgs("one", topo, await testMirror(), ["--auto-approve"]),
      /^wait-/,
      "running",
    );
    const id = (await currentState(home, "one")).state_id;
    const [row] = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
    assert.equal(row.status, `not deployed (apply ${id} interrupted)`);
    // Display shows what the deploy left from its plan, the started server running, under a
    // note that the cluster is not deployed and the ways on; never healthy.
    const shown = await ok(home, ["cluster", "display", "one"], 1);
    assert.match(
      shown.stdout,
      new RegExp(
        `cluster one is not deployed: its first deploy \\(apply ${id}\\) was interrupted ` +
          "\\(the mup process \\d+ is gone\\)",
      ),
      output(shown),
    );
    assert.match(shown.stdout, /`mup state rollback one --checkpoint start` undoes it/);
    const json = JSON.parse((await ok(home, ["cluster", "display", "one", "--json"], 1)).stdout);
    assert.equal(json.deployed, false);
    assert.deepEqual(json.first_deploy, { state_id: id, status: "interrupted" });
    assert.equal(json.healthy, false);
    assert.equal(json.processes.length, 1);
    assert.notEqual(json.processes[0].state, "DOWN", JSON.stringify(json.processes[0]));
    assert.ok(json.processes[0].pid > 0, JSON.stringify(json.processes[0]));
    // Killed after the start, before the admin user: not "changed or dropped outside mup".
    assert.doesNotMatch(String(json.processes[0].reason), /outside mup/);
    assert.match(String(json.processes[0].reason), /first deploy may not have created it yet/);
    // Its state names the wait cut off, and the resume that checks it again...
    const cut = await ok(home, ["state", "show", "one"]);
    assert.match(cut.stdout, /1 interrupted/, cut.stdout);
    assert.match(cut.stdout, /\(interrupted: running when mup stopped.*`mup plan resume one`/);
    // ...which, once the deploy is rolled back, it no longer offers.
    await ok(home, ["state", "rollback", "one", "--checkpoint", "start", "--auto-approve"]);
    const undone = await ok(home, ["state", "show", "one", "--state-id", id]);
    assert.match(undone.stdout, /Status: rolled_back/, undone.stdout);
    assert.doesNotMatch(undone.stdout, /plan resume/, undone.stdout);
    // A second rollback of it: refused, saying there is nothing left to undo (tester38 L3).
    const twice = await ok(home, [
      "state",
      "rollback",
      "one",
      "--state-id",
      id,
      "--checkpoint",
      "start",
      "--json",
    ], 1);
    const refusal = JSON.parse(twice.stdout);
    assert.match(refusal.error, new RegExp(`apply ${id} was already rolled back`));
    assert.match(refusal.hint, /nothing of it is left to undo: `mup cluster display one`/);
  } finally {
    await killAll(home);
  }
});

Deno.test("kill -9 of a first deploy of a replica set before replSetInitiate: display shows its member NOT_INITIATED, said so, not UNKNOWN (tester77 #5)", async () => {
  const home = await tempHome();
  try {
    const topo = await writeTopology(
      home,
      "rs1.yaml",
      standaloneTopology(stablePorts(1), "    replica_set: rs1\n"),
    );
    await killWhen(
      home,
      "rs1",
      deployArgs("rs1", topo, await testMirror(), ["--auto-approve"]),
      /^wait-/,
      "running",
    );
    const json = JSON.parse((await ok(home, ["cluster", "display", "rs1", "--json"], 1)).stdout);
    assert.equal(json.processes.length, 1);
    const [member] = json.processes;
    assert.equal(member.state, "NOT_INITIATED", JSON.stringify(member));
    assert.match(member.reason, /no replica set configuration yet \(replSetInitiate has not run/);
    await ok(home, ["state", "rollback", "rs1", "--checkpoint", "start", "--auto-approve"]);
  } finally {
    await killAll(home);
  }
});

Deno.test("state rollback removes only the directories the deploy made: a data_dir that was there before stays, with its neighbours' files", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    // An empty data_dir made beforehand (one holding other files is refused at pre-flight:
    // data_dir_test), next to the user's files.
    const precious = path.join(home, "precious");
    const db = path.join(precious, "db");
    await Deno.mkdir(db, { recursive: true });
    await Deno.writeTextFile(path.join(precious, "keep.txt"), "important");
    const topo = await writeTopology(
      home,
      "prec.yaml",
      `mongod_servers:\n  - { host: localhost, port: ${port}, data_dir: ${db} }\n`,
    );
    const failed = await mup(deployArgs("prec", topo, await testMirror(), ["--auto-approve"]), {
      home,
      env: { MUP_SIM_CRASH_AT_STARTUP: "14", MUP_SIM_FAULT_PORTS: String(port) },
    });
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    const rb = await ok(home, [
      "state",
      "rollback",
      "prec",
      "--checkpoint",
      "start",
      "--auto-approve",
    ]);
    assert.match(rb.stdout, /Rollback completed successfully!/);
    assert.equal(await Deno.readTextFile(path.join(precious, "keep.txt")), "important");
    assert.ok(await exists(db), "the data_dir that was there before the deploy stays");
    // What the deploy made is gone.
    assert.ok(!(await exists(path.join(clusterDir(home, "prec"), "deploy"))), "deploy dir removed");
  } finally {
    await killAll(home);
  }
});

Deno.test("what failed first deploys leave is listed and destroy removes it, even after a rollback to start", async () => {
  const home = await tempHome();
  const [p1, p2] = stablePorts(2);
  try {
    const crash = { MUP_SIM_CRASH_AT_STARTUP: "14" };
    // Two failed first deploys. Moving the server to another port in between is refused: the
    // first attempt's server and directories would belong to no command.
    for (const port of [p1, p2, p1]) {
      const topo = await writeTopology(home, "left.yaml", standaloneTopology([port]));
      const failed = await mup(deployArgs("left", topo, await testMirror(), ["--auto-approve"]), {
        home,
        env: crash,
      });
      assert.equal(failed.code, 1, failed.stdout + failed.stderr);
      if (port === p2) {
        assert.match(
          failed.stdout + failed.stderr,
          new RegExp(
            `earlier deploy of cluster left that did not complete holds localhost:${p1}.*\`mup cluster destroy left\``,
          ),
        );
        assert.doesNotMatch(failed.stdout, /Applying plan/);
      }
    }
    const gone = await ok(home, ["cluster", "destroy", "nope", "--auto-approve"], 1);
    assert.match(gone.stderr, /no deployed cluster named "nope"/);
    // The second apply found the binaries and the keyfile in place: its rollback leaves them.
    const rolled = await ok(home, [
      "state",
      "rollback",
      "left",
      "--checkpoint",
      "start",
      "--auto-approve",
    ]);
    // It says what it leaves: the first attempt's own doing, and the commands that undo it.
    assert.match(
      rolled.stdout,
      /apply apply-\w+ \(an earlier deploy, failed\) keeps what it started and made: `mup state rollback left --state-id apply-\w+ --checkpoint start` undoes it too, or `mup cluster destroy left`/,
    );
    const dir = clusterDir(home, "left");
    const keyfile = path.join(dir, "secrets", "keyfile");
    const bin = path.join(dir, "deploy", "bin");
    assert.ok(await exists(keyfile) && await exists(bin), "left behind by the earlier attempt");
    const id = (await currentState(home, "left")).state_id;
    const [row] = JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout);
    assert.equal(row?.name, "left", "what is left is listed");
    assert.equal(row.status, `not deployed (apply ${id} rolled back to start)`);
    const stop = await ok(home, ["cluster", "stop", "left"], 1);
    assert.match(stop.stderr, /`mup cluster destroy left` removes what is left/);
    const destroyed = await ok(home, ["cluster", "destroy", "left", "--auto-approve"]);
    assert.match(destroyed.stdout, /Destroy completed successfully!/);
    assert.match(destroyed.stdout, new RegExp(`data/mongod-${p1}`), "the first attempt's too");
    assert.ok(!(await exists(dir)), "nothing of the cluster is left");
    assert.equal(JSON.parse((await ok(home, ["cluster", "list", "--json"])).stdout).length, 0);
    const again = await ok(home, ["cluster", "destroy", "left", "--auto-approve"]);
    assert.match(again.stdout, /already destroyed/);
    // The name used again, by a first deploy that fails: its leftovers are destroyed, not taken
    // for the earlier cluster's archive.
    const topo = await writeTopology(home, "left.yaml", standaloneTopology([p1]));
    const failedAgain = await mup(
      deployArgs("left", topo, await testMirror(), ["--auto-approve"]),
      {
        home,
        env: crash,
      },
    );
    assert.equal(failedAgain.code, 1, failedAgain.stdout + failedAgain.stderr);
    assert.ok(await exists(keyfile), "the failed deploy made a keyfile");
    const reused = await ok(home, ["cluster", "destroy", "left", "--auto-approve"]);
    assert.match(reused.stdout, /Destroy completed successfully!/);
    assert.ok(!(await exists(dir)), "nothing of the reused name is left");
  } finally {
    await killAll(home);
  }
});

/**
 * A 3-member set deployed, then a rolling restart killed (kill -9) while a member starts again,
 * at the moment `when(home)` says, the servers slowed by `env`; the resume completes it, each
 * member started twice in all (killRestartAndResume).
 */
async function killWhileStarting(
  env: Record<string, string>,
  when: (home: string) => Promise<boolean>,
): Promise<void> {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "rs", replicaSetTopology(ports));
    await killRestartAndResume(home, /^start-/, env, () => when(home));
  } finally {
    await killAll(home);
  }
}

Deno.test("one Ctrl-C in a rolling or a --force restart never pauses with a member down (its start runs first); a resume after the step-down lapsed makes it again; plan resume completes each", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    // The first stop's after_operation hook holds its node for 2 s once the stop is recorded
    // done: the interrupt lands there, before the member's start could have begun.
    const hook = `hooks:\n  after_operation:\n    command: '[ "$MUP_OPERATION_TYPE" != ` +
      `stop_process ] || [ -e stopped ] || { touch stopped; sleep 2; }'\n`;
    await deploy(home, "rs", replicaSetTopology(ports, hook));
    const r = await killWhen(
      home,
      "rs",
      ["cluster", "restart", "rs", "--auto-approve"],
      /^stop-/,
      "completed",
      {},
      undefined,
      120_000,
      "SIGINT",
    );
    // A restart starts what it stopped before it pauses, and says so.
    assert.match(
      r.stderr,
      /Interrupted: letting running operations finish \(a member they stopped starts again\)/,
      output(r),
    );
    const st = await currentState(home, "rs");
    assert.equal(st.status, "paused", output(r));
    const stopped = Object.values(st.operation_states).filter((o) =>
      o.id.startsWith("stop-") && o.status === "completed"
    );
    assert.equal(stopped.length, 1, "one member was stopped before the pause");
    const started = st.operation_states[stopped[0].id.replace(/^stop-/, "start-")];
    assert.equal(started?.status, "completed", "its start ran before the pause");
    assert.equal((await livePids(home, "rs")).length, 3, "every member runs during the pause");
    // plan diff shows what is left: the two members not restarted yet, not the one that was.
    const left = await ok(home, ["plan", "diff", "rs"]);
    assert.match(
      left.stdout,
      /\(its apply \S+ is paused: \d+ of \d+ operations done, `mup plan resume rs`/,
    );
    const restarts = left.stdout.split("\n").filter((l) => /~ process .*\(restart\)/.test(l));
    assert.equal(restarts.length, 2, left.stdout);
    const id = stopped[0].id.replace(/^stop-/, "");
    assert.ok(!restarts.some((l) => l.includes(` ${id} `)), left.stdout);
    const resumed = await ok(home, ["plan", "resume", "rs"]);
    assert.match(resumed.stdout, /Restart completed successfully!/);
    assert.ok((await display(home, "rs")).healthy);
    for (const [name, log] of await processLogs(home, "rs")) {
      assert.equal(count(log, /"id":4615611/), 2, `${name} started twice (deploy, restart)`);
    }

    // --force: every stop at once, then every start. One Ctrl-C while the first stop's hook
    // holds its node: the other stops finish, and every member starts again before the pause.
    await Deno.remove(path.join(home, "stopped"));
    const forced = await killWhen(
      home,
      "rs",
      ["cluster", "restart", "rs", "--force", "--auto-approve"],
      /^stop-/,
      "completed",
      {},
      undefined,
      120_000,
      "SIGINT",
    );
    assert.equal((await currentState(home, "rs")).status, "paused", output(forced));
    assert.equal((await livePids(home, "rs")).length, 3, "every member runs during the pause");
    assert.match((await ok(home, ["plan", "resume", "rs"])).stdout, /Restart completed/);

    // Paused again, right after the primary's step-down; the stepped-down member (priority 2)
    // is primary again before the resume, as it is once the step-down's 60 s have passed
    // (replSetFreeze: 0 ends its step-down period, then replSetStepUp, not to wait them out).
    // The resume steps it down again, then goes on.
    const top = `localhost:${ports[0]}`;
    await killWhen(
      home,
      "rs",
      ["cluster", "restart", "rs", "--auto-approve"],
      /^step-down-/,
      "completed",
      {},
      undefined,
      120_000,
      "SIGINT",
    );
    assert.equal((await currentState(home, "rs")).status, "paused");
    // Display exits 1 (the restart is paused, not settled) while every member answers.
    const stateOf = async () =>
      (await display(home, "rs", 1)).processes.find((p) => p.id === top)?.state;
    const deadline = Date.now() + 60_000;
    while ((await stateOf()) !== "PRIMARY") {
      assert.ok(Date.now() < deadline, `${top} did not become primary again`);
      await withClient(
        `mongodb://${top}/?directConnection=true`,
        async (c) => {
          await c.db("admin").command({ replSetFreeze: 0 });
          return await c.db("admin").command({ replSetStepUp: 1 });
        },
        { home, cluster: "rs" },
      ).catch(() => {});
      await new Promise((r) => setTimeout(r, 500));
    }
    const again = await ok(home, ["plan", "resume", "rs"]);
    assert.match(again.stdout, /Restart completed successfully!/);
    assert.match(again.stdout, /a step-down lasts 60 s and the member's stop has not run/);
    assert.ok((await display(home, "rs")).healthy);
  } finally {
    await killAll(home);
  }
});

Deno.test("kill -9 of mup while a rolling restart starts a member again: plan resume does not stop that member a second time", async () => {
  // Slow starts: mup is killed while the first restarted member is starting, once its process
  // runs and answers, its pid file written (it lives in a process group of its own and comes
  // up without mup): the --fork parent is told it is ready 2 s late, which is the window.
  await killWhileStarting(
    { MUP_SIM_READY_DELAY_MS: "2000" },
    async (home) => (await livePids(home, "rs")).length === 3,
  );
});

Deno.test("kill -9 of mup while a member it restarts is still starting (no pid file, not listening): plan resume awaits that start and starts no second server", async () => {
  // Each start waits 8 s before it takes the data directory's lock, writes its pid file and
  // listens: mup is killed inside that wait, when only the process shows the start (the
  // resume's own checks take seconds before it reaches that start again).
  await killWhileStarting({ MUP_SIM_STARTUP_DELAY_MS: "8000" }, async (home) => {
    const live = new Set(await livePids(home, "rs"));
    return live.size === 2 && (await serversOf(home)).some((pid) => !live.has(pid));
  });
});

/** PIDs of the simulated servers (not their --fork parents) running with a config under home. */
async function serversOf(home: string): Promise<number[]> {
  const found: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const read = (f: string) => Deno.readTextFile(`/proc/${e.name}/${f}`).catch(() => "");
    const argv = (await read("cmdline")).split("\0");
    if (!argv.some((a) => a.startsWith(home) && a.endsWith("mongod.conf"))) continue;
    if ((await read("environ")).split("\0").includes("MUP_SIM_FORKED=1")) {
      found.push(Number(e.name));
    }
  }
  return found;
}

Deno.test("an interrupted apply that a later apply replaced is not resumed by --state-id: its plan no longer describes the cluster", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    await deploy(home, "one", standaloneTopology([port]));
    await killWhen(
      home,
      "one",
      ["cluster", "stop", "one", "--auto-approve"],
      /^stop-/,
      "completed",
    );
    const interrupted = await currentState(home, "one");
    assert.equal(interrupted.status, "running", "killed mid-way");
    // A later plan replaces it (and says so), and completes.
    const started = await ok(home, ["cluster", "start", "one", "--auto-approve"]);
    assert.match(started.stdout, /\(stop\) is interrupted, not finished: this plan replaces it/);
    const old = await ok(
      home,
      ["plan", "resume", "--state-id", interrupted.state_id],
      1,
    );
    assert.match(
      old.stderr,
      new RegExp(`apply ${interrupted.state_id} of cluster one was replaced by a later apply`),
    );
    // Its own plan's command is the one named (a stop), not another operation's (tester98 #4).
    assert.match(
      old.stderr,
      /Hint: plan it again \(`mup cluster stop one`\), or what you need now/,
    );
    assert.equal((await livePids(home, "one")).length, 1, "the later start stands");
  } finally {
    await killAll(home);
  }
});

Deno.test("a resume that starts again a member a rolling restart had restarted (it died since) waits for it again, back in its set, before going on", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "again", replicaSetTopology(ports));
    const { planId, stops: [firstStop, secondStop] } = await savedRestart(home, "again");
    const first = firstStop.id.replace(/^stop-/, "");
    const port = firstStop.port;
    // mup killed as the second member's stop begins: the first is restarted and waited for.
    const cut = await killWhen(
      home,
      "again",
      ["plan", "apply", planId, "--auto-approve"],
      new RegExp(`^${secondStop.id}$`),
      "running",
    );
    assert.notEqual(cut.code, 0, output(cut));
    const waitId = `wait-member-${first}`;
    const st = await currentState(home, "again");
    const wait = Object.values(st.operation_states).find((o) =>
      o.id.startsWith("wait-") && o.id.endsWith(first)
    );
    assert.equal(wait?.status, "completed", `${waitId}: ${JSON.stringify(wait)}`);
    // The restarted member dies before the resume.
    await killMember(home, "again", port);
    const r = await mup(["plan", "resume", "again"], { home });
    assert.equal(r.code, 0, output(r));
    const lines = r.stdout.split("\n");
    const start = lines.findIndex((l) => l.includes(`↻ Start rs0 member localhost:${port}`));
    const rewait = lines.findIndex((l) =>
      l.includes(`localhost:${port}`) && l.includes("↻") &&
      l.includes("the process it waited for is started again")
    );
    assert.ok(start >= 0 && rewait > start, r.stdout);
    assert.ok((await display(home, "again")).healthy);
  } finally {
    await killAll(home);
  }
});

Deno.test("a resume over a started member that no longer answers (SIGSTOP) waits for it again without claiming a start, and goes on once it answers", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  let frozen = 0;
  try {
    const file = await writeTopology(home, "held.yaml", replicaSetTopology(ports));
    // mup killed as the set is initiated: every member was started and waited for.
    const cut = await killWhen(
      home,
      "held",
      deployArgs("held", file, await testMirror(), ["--auto-approve"]),
      /^init-rs-rs0$/,
      "running",
    );
    assert.notEqual(cut.code, 0, output(cut));
    // One member still runs (its pid is alive) but does not answer.
    const port = ports[1];
    frozen = await memberPid(home, "held", port);
    Deno.kill(frozen, "SIGSTOP");
    const child = spawnMup(["plan", "resume", "held"], home);
    const stderr = new Response(child.stderr).text();
    // Once the resume says what it runs again, the member is let go on.
    let seen = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    while (!/↻ .*no longer answers/.test(seen)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    Deno.kill(frozen, "SIGCONT");
    frozen = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    const { code } = await child.status;
    assert.equal(code, 0, seen + await stderr);
    const lines = seen.split("\n");
    assert.ok(
      lines.some((l) =>
        l.includes("↻") && l.includes(`localhost:${port}`) &&
        l.includes("the process it waited for no longer answers as it did")
      ),
      seen,
    );
    // No start of that member ran, so none is claimed.
    assert.ok(!lines.some((l) => l.includes(`↻ Start`)), seen);
    assert.ok(!seen.includes("is started again"), seen);
    assert.ok((await display(home, "held")).healthy);
  } finally {
    if (frozen) Deno.kill(frozen, "SIGCONT");
    await killAll(home);
  }
});
