import assert from "node:assert/strict";
import * as path from "node:path";
import {
  freePorts,
  killAll,
  mup,
  output,
  planSharded,
  portTakenBefore,
  smallShardedTopology,
  spawnMup,
  tempHome,
} from "./helpers.ts";
import { clusterDir, count, currentState, processLogs, withClient } from "./apply_helpers.ts";
import { Journal } from "../lib/state/journal.ts";
import { procStart } from "../lib/state/lock.ts";
import { installFixture } from "./fixture.ts";

installFixture();

async function healthy(home: string, ports: number[]) {
  await withClient(`mongodb://localhost:${ports[3]}/`, async (c) => {
    const shards = (await c.db("admin").command({ listShards: 1 })).shards.map((
      s: { _id: string },
    ) => s._id).sort();
    assert.deepEqual(shards, ["shard1", "shard2"]);
    await c.db("t").collection("t").insertOne({ ok: 1 });
  }, { home, cluster: "c1" });
}

/** `crashed` names the processes a test made fail at startup: those were started twice. */
async function noneTwice(home: string, crashed: string[] = []) {
  for (const [name, log] of await processLogs(home, "c1")) {
    assert.equal(
      count(log, /"id":4615611/),
      crashed.includes(name) ? 2 : 1,
      `${name} started exactly once (after a successful start)`,
    );
    assert.ok(count(log, /"id":21356,/) <= 1, `${name} received at most one replSetInitiate`);
    if (name.startsWith("mongos")) {
      assert.equal(count(log, /"Added shard"/), 2, "each shard added once");
    }
  }
}

Deno.test("a failure injected at one operation leaves a failed, resumable state; plan resume completes it", async () => {
  const home = await tempHome();
  const ports = freePorts(4);
  try {
    const { plan_id } = await planSharded(home, ports, "c1", smallShardedTopology);
    const failing = await mup(["plan", "apply", plan_id, "--auto-approve"], {
      home,
      env: { MUP_SIM_CRASH_AT_STARTUP: "14", MUP_SIM_FAULT_PORTS: String(ports[1]) },
    });
    assert.equal(failing.code, 1, failing.stdout + failing.stderr);
    assert.match(
      failing.stdout,
      new RegExp(
        `✗ Start shard1 member localhost:${ports[1]} \\[.+\\]\\n    mongod on localhost:${
          ports[1]
        } exited with code 14`,
      ),
    );
    assert.match(
      failing.stdout,
      new RegExp(`Apply failed at phase 2, operation start-mongod-localhost-${ports[1]}\\.`),
    );
    assert.match(failing.stdout, /Last checkpoint: phase1-complete/);
    assert.match(failing.stdout, /To resume: mup plan resume c1/);
    const failed = await currentState(home, "c1");
    assert.equal(failed.status, "failed");
    assert.deepEqual(failed.checkpoints.map((c) => c.id), ["phase1-complete"]);
    assert.equal(failed.operation_states[`start-mongod-localhost-${ports[1]}`].status, "failed");
    const cp = JSON.parse(await Deno.readTextFile(failed.checkpoints[0].path));
    assert.equal(JSON.parse(cp.state).phase_states.prepare.status, "completed");
    // The plan a resume reads cannot be deleted from under it.
    const del = await mup(["plan", "delete", plan_id], { home });
    assert.equal(del.code, 1, del.stdout + del.stderr);
    assert.match(
      del.stderr,
      new RegExp(`plan ${plan_id} is the plan of apply ${failed.state_id}, which is failed`),
    );
    assert.match(del.stderr, /mup plan resume c1/);

    const resumed = await mup(["plan", "resume", "c1"], { home });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(
      resumed.stdout,
      new RegExp(`Resuming apply ${failed.state_id} from checkpoint phase1-complete`),
    );
    assert.doesNotMatch(resumed.stdout, /Phase 1\/4/, "finished phases are not replayed");
    assert.match(resumed.stdout, /Deployment completed successfully!/);
    const done = await currentState(home, "c1");
    assert.equal(done.state_id, failed.state_id);
    assert.equal(done.status, "completed");
    assert.equal(done.resumes, 1);
    await healthy(home, ports);
    await noneTwice(home, [`mongod-${ports[1]}`]);
    const again = await mup(["plan", "resume", "c1"], { home });
    assert.match(again.stdout, /already completed; nothing to resume/);
  } finally {
    await killAll(home);
  }
});

Deno.test("a port taken between plan and apply is refused before anything starts; one taken while the apply runs trips its start's safety check: pause, a resume refused while it is held, then resume", async () => {
  const home = await tempHome();
  const ports = freePorts(4);
  const start = `start-mongod-localhost-${ports[2]}`;
  const taken = portTakenBefore(home, start, ports[2]);
  try {
    const { plan_id } = await planSharded(
      home,
      ports,
      "c1",
      (p) => smallShardedTopology(p, taken.hooks),
    );
    let squatter = Deno.listen({ hostname: "127.0.0.1", port: ports[2] });
    try {
      const refused = await mup(["plan", "apply", plan_id, "--auto-approve"], { home });
      assert.equal(refused.code, 1, output(refused));
      assert.match(
        refused.stderr,
        /ports that other processes have taken since it was made; nothing was started/,
      );
      assert.match(
        refused.stderr,
        new RegExp(
          `mongod-localhost-${ports[2]} cannot start: its port localhost:${
            ports[2]
          } is held by PID ${Deno.pid}`,
        ),
      );
      assert.equal(
        await currentState(home, "c1").catch(() => undefined),
        undefined,
        "no apply began",
      );
    } finally {
      squatter.close();
    }

    // Taken while the apply runs, after the others started: that start's check fails.
    const apply = spawnMup(
      ["plan", "apply", plan_id, "--auto-approve", "--on-failure", "pause"],
      home,
    );
    squatter = await taken.take();
    try {
      const out = await apply.output();
      const stdout = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 1, output(out));
      assert.match(
        stdout,
        new RegExp(
          `Safety check failed for operation ${start}:\\n    Check: port_available\\n    Status: Port now in use by PID ${Deno.pid}`,
        ),
      );
      assert.match(stdout, /Apply paused at phase 2/);
      assert.equal((await currentState(home, "c1")).status, "paused");
      // Still held: the resume is refused before it starts anything.
      const early = await mup(["plan", "resume", "c1"], { home });
      assert.equal(early.code, 1, output(early));
      assert.match(early.stderr, /nothing was resumed/);
      assert.equal((await currentState(home, "c1")).status, "paused");
    } finally {
      squatter.close();
    }
    const resumed = await mup(["plan", "resume", "c1"], { home });
    assert.equal(resumed.code, 0, output(resumed));
    await healthy(home, ports);
    await noneTwice(home);
  } finally {
    await killAll(home);
  }
});

Deno.test("two concurrent applies on one cluster: the second is refused at once, naming the holder", async () => {
  const home = await tempHome();
  const ports = freePorts(4);
  try {
    const { plan_id } = await planSharded(home, ports, "c1", smallShardedTopology);
    const first = spawnMup(["plan", "apply", plan_id, "--auto-approve"], home, {
      MUP_SIM_STARTUP_DELAY_MS: "400",
    });
    const lockFile = path.join(clusterDir(home, "c1"), "state", "lock.json");
    const t0 = Date.now();
    while (!(await Deno.stat(lockFile).then(() => true, () => false))) {
      if (Date.now() - t0 > 20_000) throw new Error("first apply never took the lock");
      await new Promise((r) => setTimeout(r, 50));
    }
    const second = await mup(["plan", "apply", plan_id, "--auto-approve"], { home });
    assert.equal(second.code, 1, output(second));
    assert.match(
      second.stderr,
      /Error acquiring the state lock: cluster c1 is locked by another mup process/,
    );
    assert.match(second.stderr, new RegExp(`PID:       ${first.pid}`));
    assert.match(second.stderr, new RegExp(`Nothing was applied; plan ${plan_id} is kept\\.`));
    assert.match(second.stderr, /Operation: apply plan-/);
    assert.match(second.stderr, /Since: +\d{4}-/);
    const out = await first.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stdout));
    await assert.rejects(Deno.stat(lockFile), "the lock is released at the end");
  } finally {
    await killAll(home);
  }
});

Deno.test("kill -9 of mup in the middle of a deploy, then resume: a healthy cluster, no operation done twice", async () => {
  const home = await tempHome();
  const ports = freePorts(4);
  try {
    const { plan_id } = await planSharded(home, ports, "c1", smallShardedTopology);
    const child = spawnMup(
      ["plan", "apply", plan_id, "--auto-approve", "--parallelism", "3"],
      home,
    );
    const stateDir = path.join(clusterDir(home, "c1"), "state");
    // Wait until replica sets are being initiated, then kill mup without warning.
    const t0 = Date.now();
    let killed = false;
    while (Date.now() - t0 < 30_000 && !killed) {
      const names = await Array.fromAsync(Deno.readDir(stateDir)).catch(() =>
        [] as Deno.DirEntry[]
      );
      for (const e of names) {
        if (!e.name.endsWith(".journal")) continue;
        const lines = await Journal.read(path.join(stateDir, e.name)) as {
          kind: string;
          state?: { id: string; status: string };
        }[];
        if (
          lines.some((l) =>
            l.kind === "op" && l.state?.id.startsWith("init-rs-") && l.state.status === "running"
          )
        ) {
          child.kill("SIGKILL");
          killed = true;
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(killed, "mup reached the initialize phase");
    await child.status;
    child.stdout.cancel();
    child.stderr.cancel();
    const crashed = await currentState(home, "c1");
    assert.equal(crashed.status, "running", "a crashed apply is left as running");
    // plan diff, by cluster or by the plan's ID, says it was cut off, not that it runs.
    for (const ref of ["c1", plan_id]) {
      const diff = await mup(["plan", "diff", ref], { home });
      assert.equal(diff.code, 0, diff.stdout + diff.stderr);
      assert.match(
        diff.stdout,
        new RegExp(
          `^Plan ${plan_id} for cluster c1 \\(its apply ${crashed.state_id} is interrupted: `,
        ),
      );
    }
    const resumed = await mup(["plan", "resume", "c1"], { home });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /Note: took over a stale lock left by PID \d+/);
    assert.match(resumed.stdout, /Deployment completed successfully!/);
    await healthy(home, ports);
    await noneTwice(home);
    const st = await currentState(home, "c1");
    for (const o of Object.values(st.operation_states)) {
      assert.ok(
        o.executions <= 1 || o.id.startsWith("wait-") || o.id.startsWith("verify-"),
        `${o.id} executed ${o.executions}×`,
      );
    }
  } finally {
    await killAll(home);
  }
});

Deno.test("a stale plan and a tampered plan are refused", async () => {
  const home = await tempHome();
  const ports = freePorts(4);
  try {
    const a = await planSharded(home, ports, "c1", smallShardedTopology);
    const b = await planSharded(home, ports, "c1", smallShardedTopology);
    const tamperedPath = path.join(home, "tampered.json");
    const plan = JSON.parse(await Deno.readTextFile(b.path));
    plan.phases[1].operations[0].target.params.binary = "/bin/sh";
    await Deno.writeTextFile(tamperedPath, JSON.stringify(plan, null, 2) + "\n");
    const tampered = await mup(["plan", "apply", tamperedPath, "--auto-approve"], { home });
    assert.equal(tampered.code, 1, output(tampered));
    assert.match(
      tampered.stderr,
      /content hash mismatch: the plan was modified after it was generated/,
    );
    assert.equal((await mup(["plan", "apply", a.plan_id, "--auto-approve"], { home })).code, 0);
    const stale = await mup(["plan", "apply", b.plan_id, "--auto-approve"], { home });
    assert.equal(stale.code, 1, output(stale));
    assert.match(
      stale.stderr,
      /Saved plan is stale: plan plan-\w+ can no longer be applied because cluster c1 was changed by another operation after the plan was created \(state serial 0 → 1\)/,
    );
  } finally {
    await killAll(home);
  }
});

Deno.test("state list, checkpoints and unlock", async () => {
  const home = await tempHome();
  const ports = freePorts(4);
  try {
    const { plan_id } = await planSharded(home, ports, "c1", smallShardedTopology);
    assert.equal((await mup(["plan", "apply", plan_id, "--auto-approve"], { home })).code, 0);
    const list = JSON.parse((await mup(["state", "list", "c1", "--json"], { home })).stdout);
    assert.equal(list.length, 1);
    assert.equal(list[0].status, "completed");
    const byId = await mup(["plan", "resume", "--state-id", list[0].state_id], { home });
    assert.match(
      byId.stdout,
      new RegExp(`Apply ${list[0].state_id} of cluster c1 already completed; nothing to resume`),
    );
    const shown = JSON.parse(
      (await mup(["state", "show", "--state-id", list[0].state_id, "--json"], { home })).stdout,
    );
    assert.equal(shown.plan_id, plan_id);
    const cps = JSON.parse((await mup(["state", "checkpoints", "c1", "--json"], { home })).stdout);
    assert.deepEqual(cps.map((c: { id: string }) => c.id), [
      "phase1-complete",
      "phase2-complete",
      "phase3-complete",
      "phase4-complete",
    ]);
    for (const c of cps) {
      assert.match(c.path, /state\/apply-\w+-checkpoints\/checkpoint-00\d\.json$/);
    }
    const link = await Deno.readLink(
      path.join(clusterDir(home, "c1"), "state", "current-apply.json"),
    );
    assert.equal(link, `${list[0].state_id}.json`);
    const lockFile = path.join(clusterDir(home, "c1"), "state", "lock.json");
    await Deno.writeTextFile(
      lockFile,
      JSON.stringify({
        format_version: 1,
        id: "x",
        operation: "apply plan-x",
        who: "a@b",
        host: "elsewhere",
        pid: 1,
        created: new Date().toISOString(),
      }),
    );
    const locked = await mup(["plan", "resume", "c1"], { home });
    assert.match(locked.stdout + locked.stderr, /already completed|locked by another/);
    const unlocked = await mup(["state", "unlock", "c1", "--force"], { home });
    assert.match(unlocked.stdout, /successfully unlocked/);
    await assert.rejects(Deno.stat(lockFile));
    // A holder alive on this machine (here: the test runner's own pid) is never unlocked from
    // under it, even with --force.
    const held = {
      format_version: 1,
      id: "y",
      operation: "apply plan-y",
      who: "a@b",
      host: Deno.hostname(),
      pid: Deno.pid,
      pid_start: procStart(Deno.pid),
      created: new Date().toISOString(),
    };
    await Deno.writeTextFile(lockFile, JSON.stringify(held));
    const refused = await mup(["state", "unlock", "c1", "--force"], { home });
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, new RegExp(`locked by a running mup \\(pid ${Deno.pid}`));
    assert.ok(await Deno.stat(lockFile), "the live holder's lock stays");
    // Written by hand (no start time, as mup records): the live process is not called a mup.
    await Deno.writeTextFile(lockFile, JSON.stringify({ ...held, pid_start: undefined }));
    const handWritten = await mup(["state", "unlock", "c1", "--force"], { home });
    assert.equal(handWritten.code, 1, output(handWritten));
    const said = handWritten.stderr.replace(/\s+/g, " ");
    assert.doesNotMatch(said, /a running mup/);
    assert.ok(
      said.includes(
        `locked by process ${Deno.pid} on this machine, which is alive (command line: `,
      ),
      said,
    );
    assert.ok(said.includes(`remove it yourself (\`rm ${lockFile}\`)`), said);
    assert.ok(await Deno.stat(lockFile), "still refused: the process may be a mup");
    const noted = (await mup(["cluster", "display", "c1"], { home })).stdout.replace(/\s+/g, " ");
    assert.doesNotMatch(noted, /an apply is in progress/, noted);
    assert.ok(
      noted.includes(`Note: the cluster's lock names process ${Deno.pid} on this machine`) &&
        noted.includes(`remove the lock: \`rm ${lockFile}\``),
      noted,
    );
    const planning = await mup(["cluster", "restart", "c1", "--plan-only"], { home });
    assert.equal(planning.code, 1, output(planning));
    assert.ok(
      planning.stderr.replace(/\s+/g, " ").includes(
        `if process ${Deno.pid} is not a mup applying a plan to c1, the lock was not written by ` +
          `mup: remove it yourself (\`rm ${lockFile}\`)`,
      ),
      output(planning),
    );
    await Deno.remove(lockFile);
  } finally {
    await killAll(home);
  }
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`${signal === "SIGINT" ? "Ctrl-C" : "SIGTERM (systemd, CI cancellation)"} during an apply: running operations finish, the state is paused, the lock released, resume completes`, () =>
    interrupted(signal));
}

async function interrupted(signal: "SIGINT" | "SIGTERM") {
  const home = await tempHome();
  const ports = freePorts(4);
  try {
    const { plan_id } = await planSharded(home, ports, "c1", smallShardedTopology);
    const child = spawnMup(
      ["plan", "apply", plan_id, "--auto-approve", "--parallelism", "2"],
      home,
    );
    const stateDir = path.join(clusterDir(home, "c1"), "state");
    const t0 = Date.now();
    let sent = false;
    while (!sent && Date.now() - t0 < 30_000) {
      const names = await Array.fromAsync(Deno.readDir(stateDir)).catch(() =>
        [] as Deno.DirEntry[]
      );
      for (const e of names.filter((n) => n.name.endsWith(".journal"))) {
        const lines = await Journal.read(path.join(stateDir, e.name)) as {
          kind: string;
          state?: { id: string; status: string };
        }[];
        if (
          lines.some((l) =>
            l.kind === "op" && l.state?.id.startsWith("start-") && l.state.status === "running"
          )
        ) {
          child.kill(signal);
          sent = true;
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(sent);
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout);
    // Interrupted (SIGINT or SIGTERM), not failed: 130, as the second Ctrl-C exits.
    assert.equal(out.code, 130, output(out));
    assert.match(
      new TextDecoder().decode(out.stderr),
      // A deploy stops nothing: no member of it "starts again".
      /Interrupted: letting running operations finish, then saving state/,
    );
    assert.match(
      stdout,
      /Apply paused \(interrupted\) during phase 2 \(deploy\); running operations were allowed to finish\./,
    );
    assert.match(stdout, /To resume: mup plan resume c1/);
    const st = await currentState(home, "c1");
    assert.equal(st.status, "paused");
    assert.equal(
      Object.values(st.operation_states).filter((o) => o.status === "running").length,
      0,
      "nothing left half-recorded",
    );
    assert.equal(await Deno.stat(path.join(stateDir, "lock.json")).catch(() => null), null);
    const resumed = await mup(["plan", "resume", "c1"], { home });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    await healthy(home, ports);
    await noneTwice(home);
  } finally {
    await killAll(home);
  }
}
