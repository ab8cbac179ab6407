/**
 * A rolling restart whose set loses a majority of its votes mid-way, on real simulator processes
 * through the CLI: the wait for the restarted member cannot end well (no primary can be
 * elected), so it must say so soon, naming the members down, rather than wait out its timeout
 * and blame the member. Starting them replaces the restart's apply (a resume then says so, not
 * that the restart is done), and the restart planned again finishes. A restarted member that
 * exits during its wait is said to have exited within seconds, and a resume starts it again.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { killAll, output, replicaSetTopology, tempHome } from "./helpers.ts";
import { deploy, display, ok, stablePorts } from "./lifecycle_helpers.ts";
import { mup } from "./helpers.ts";
import { clusterDir, currentState } from "./apply_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

/**
 * Deploys 3-member set `name` (its first member of priority 2, the primary) whose
 * before_operation hook kills (-9), once, the members armed for the operation about to run.
 * Returns the ports of its secondaries, and `arm(opId, ports)`, which names the members to kill
 * before that operation.
 */
async function deployKillable(home: string, name: string, ports: number[]) {
  const hook = `hooks:
  before_operation:
    command: 'f="${home}/kill-$MUP_OPERATION_ID"; if [ -f "$f" ]; then pkill -9 -f "$(cat "$f")"; rm -f "${home}"/kill-*; fi'
`;
  await deploy(home, name, replicaSetTopology(ports, hook));
  const conf = path.join(clusterDir(home, name), "deploy", "conf");
  const secondaries = (await display(home, name)).processes.filter((p) => p.state === "SECONDARY")
    .map((p) => Number(p.id.split(":")[1]));
  // One pattern for pkill: the members' configuration files, as their command lines name them.
  const arm = (opId: string, victims: number[]) =>
    Deno.writeTextFile(
      path.join(home, `kill-${opId}`),
      `${conf}/mongod-(${victims.join("|")})/mongod.conf`,
    );
  return { secondaries, arm };
}

/** The ID of the wait for member localhost:`port` after its restart. */
const waitOf = (port: number) => `wait-state-mongod-localhost-${port}`;

Deno.test("rolling restart: a set left without a majority mid-way fails the wait at once, naming the unreachable members; cluster start then a new restart finish it (a resume says the restart was replaced)", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    // Before the first wait for a restarted member, its two peers die (kill -9).
    const nm = await deployKillable(home, "nm", ports);
    for (const s of nm.secondaries) await nm.arm(waitOf(s), ports.filter((p) => p !== s));

    const restart = await mup(["cluster", "restart", "nm", "--auto-approve"], { home });
    assert.equal(restart.code, 1, output(restart));
    const text = output(restart);
    assert.match(
      text,
      /cannot become SECONDARY: its set has no primary and cannot elect one: 2 of its 3 voting members are unreachable \(localhost:\d+, localhost:\d+\)/,
    );
    // The way out: start what is down (which replaces this apply), then plan the restart
    // again; a resume alone cannot finish it, and the output does not offer one.
    const advice =
      /`mup cluster start nm((?: -N localhost:\d+){2})` starts them, and replaces this apply \(it cannot be resumed after that\): then `mup cluster restart nm` plans this restart again/
        .exec(text);
    assert.ok(advice, text);
    assert.match(
      restart.stdout,
      /A resume alone cannot finish it while that stands: the error above says what does/,
    );
    assert.doesNotMatch(restart.stdout, /To resume:/);
    assert.doesNotMatch(text, /did not become SECONDARY/);

    await ok(home, ["cluster", "start", "nm", ...advice[1].trim().split(" "), "--auto-approve"]);
    // A resume now says the restart was replaced, and what plans it again, and fails: never
    // that the restart is done.
    const resumed = await mup(["plan", "resume", "nm", "--auto-approve"], { home });
    assert.equal(resumed.code, 1, output(resumed));
    assert.match(
      resumed.stderr,
      /it replaced apply apply-\w+ \(restart\), left failed before it finished, which cannot be resumed now/,
    );
    assert.match(resumed.stderr, /`mup cluster restart nm` plans that restart again/);
    await ok(home, ["cluster", "restart", "nm", "--auto-approve"]);
    const state = await currentState(home, "nm");
    assert.equal(state.operation, "restart");
    assert.equal(state.status, "completed");
    const after = (await display(home, "nm")).processes;
    assert.equal(after.filter((p) => p.state === "PRIMARY").length, 1, JSON.stringify(after));
    assert.equal(after.filter((p) => p.state === "SECONDARY").length, 2, JSON.stringify(after));
  } finally {
    await killAll(home);
  }
});

Deno.test("rolling restart: a restarted member that exits during its wait fails the wait within seconds, saying so; a resume starts it again and finishes", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    // Right before the wait for a restarted member, that member dies (kill -9).
    const ex = await deployKillable(home, "ex", ports);
    for (const s of ex.secondaries) await ex.arm(waitOf(s), [s]);
    const restart = await mup(["cluster", "restart", "ex", "--auto-approve"], { home });
    assert.equal(restart.code, 1, output(restart));
    const text = output(restart);
    assert.match(
      text,
      /localhost:\d+ exited while the wait for it to become SECONDARY went on \(no live PID in .*\): waiting longer would not help; see its log, then `mup plan resume ex` starts it again/,
    );
    assert.doesNotMatch(text, /within 120s/);

    const resumed = await mup(["plan", "resume", "ex", "--auto-approve"], { home });
    assert.equal(resumed.code, 0, output(resumed));
    assert.equal((await currentState(home, "ex")).status, "completed");
    const after = await display(home, "ex");
    assert.ok(after.healthy, JSON.stringify(after));
  } finally {
    await killAll(home);
  }
});

Deno.test("rolling restart: the priority-2 member exiting while the plan waits for it to take the primary back fails the wait within seconds, saying so and naming the primary meanwhile", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    const hb = await deployKillable(home, "hb", ports);
    await hb.arm("wait-handback-rs0", [ports[0]]);
    const restart = await mup(["cluster", "restart", "hb", "--auto-approve"], { home });
    assert.equal(restart.code, 1, output(restart));
    assert.match(
      output(restart),
      new RegExp(
        `localhost:${ports[0]} exited before it took the primary of rs0 back \\(no live PID in ` +
          `.*\\); localhost:\\d+ is the primary meanwhile: waiting longer would not help`,
      ),
    );
    assert.doesNotMatch(output(restart), /after 60s/);
    const resumed = await mup(["plan", "resume", "hb", "--auto-approve"], { home });
    assert.equal(resumed.code, 0, output(resumed));
    const after = await display(home, "hb");
    assert.equal(after.processes.find((p) => p.id === `localhost:${ports[0]}`)?.state, "PRIMARY");
  } finally {
    await killAll(home);
  }
});

Deno.test("cluster start: members this plan started that die before the set elects a primary, or before the health check, are started again by a resume, and the advice says so", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    const st = await deployKillable(home, "st", ports);
    await ok(home, ["cluster", "stop", "st", "--auto-approve"]);
    // All three, so that no primary is left for the wait to find at once.
    await st.arm("wait-primary-rs0", ports);
    const start = await mup(["cluster", "start", "st", "--auto-approve"], { home });
    assert.equal(start.code, 1, output(start));
    assert.match(
      output(start),
      /replica set rs0 has no primary and cannot elect one: 3 of its 3 voting members do not answer \(localhost:\d+, localhost:\d+, localhost:\d+\); `mup plan resume st` starts them again \(this plan's starts of them run again\) and goes on/,
    );
    assert.match(start.stdout, /To resume: mup plan resume st/);
    const resumed = await mup(["plan", "resume", "st", "--auto-approve"], { home });
    assert.equal(resumed.code, 0, output(resumed));
    assert.ok((await display(home, "st")).healthy);

    // A member that dies once the set is up, before the health check: the check says it exited
    // (not at its timeout), and the resume starts it again.
    await ok(home, ["cluster", "stop", "st", "--auto-approve"]);
    await st.arm("verify-health", [ports[1]]);
    const again = await mup(["cluster", "start", "st", "--auto-approve"], { home });
    assert.equal(again.code, 1, output(again));
    assert.match(
      output(again),
      new RegExp(
        `localhost:${ports[1]} exited \\(no live PID in its pid file\\): waiting longer would ` +
          "not help; see its log, then `mup plan resume st` starts it again",
      ),
    );
    assert.doesNotMatch(output(again), /not healthy after/);
    assert.equal((await mup(["plan", "resume", "st", "--auto-approve"], { home })).code, 0);
    assert.ok((await display(home, "st")).healthy);
  } finally {
    await killAll(home);
  }
});
