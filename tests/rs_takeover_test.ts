/**
 * A rolling restart that meets MongoDB's priority takeover mid-way, on real simulator processes
 * through the CLI: the priority-2 member is a secondary when the restart is planned (it stepped
 * down), so the plan restarts it as a secondary; once back and caught up it takes the primary
 * over. The restart must take that as the member being back, not wait for SECONDARY until its
 * timeout.
 */
import assert from "node:assert/strict";
import { clusterCredentials, killAll, replicaSetTopology, tempHome } from "./helpers.ts";
import { deploy, display, ok, stablePorts } from "./lifecycle_helpers.ts";
import { client } from "./security_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("rolling restart: a restarted secondary that takes the primary over (priority takeover) counts as back in the set; a start of that member alone says it takes the primary back", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    const top = `localhost:${ports[0]}`; // priority 2
    // The wait after the priority-2 member's restart starts late (a hook holds it), so that the
    // member has taken the primary over when the wait first looks: the interleaving a loaded
    // machine produces by chance.
    const waitId = `wait-state-mongod-localhost-${ports[0]}`;
    const hook = `hooks:
  before_operation:
    command: 'if [ "$MUP_OPERATION_ID" = "${waitId}" ]; then sleep 4; fi'
`;
    await deploy(home, "tk", replicaSetTopology(ports, hook));
    assert.equal((await display(home, "tk")).processes.find((p) => p.id === top)?.state, "PRIMARY");

    // Step the priority-2 member down for longer than the test: it stays a secondary until a
    // restart clears its step-down period (kept in memory only, as MongoDB keeps it).
    const { password } = await clusterCredentials(home, "tk");
    await client(
      `mongodb://localhost:${ports[0]}/?directConnection=true`,
      (c) => c.db("admin").command({ replSetStepDown: 600, secondaryCatchUpPeriodSecs: 10 }),
      { auth: { username: "admin", password }, authSource: "admin" },
    ).catch(() => {}); // older servers close the connection on step-down
    let states = (await display(home, "tk")).processes;
    for (let i = 0; i < 100 && !states.some((p) => p.state === "PRIMARY"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      states = (await display(home, "tk")).processes;
    }
    assert.equal(states.find((p) => p.id === top)?.state, "SECONDARY", JSON.stringify(states));

    const plan = await ok(home, ["cluster", "restart", "tk", "--plan-only"]);
    assert.match(plan.stdout, new RegExp(`Wait until ${top} is SECONDARY and caught up`));
    // The plan says the election coming.
    assert.match(
      plan.stdout,
      new RegExp(`${top} has the highest priority \\(2\\) but is a secondary`),
    );

    const restart = await ok(home, ["cluster", "restart", "tk", "--auto-approve", "--json"]);
    const events = restart.stdout.trim().split("\n").map((l) => JSON.parse(l));
    // The wait found the member back (as PRIMARY by then), instead of failing after 120 s
    // waiting for SECONDARY.
    assert.ok(events.some((e) => e.event === "op_done" && e.id === waitId), restart.stdout);
    assert.equal(events.at(-1)?.event, "apply_done", restart.stdout);
    const after = (await display(home, "tk")).processes;
    assert.equal(after.find((p) => p.id === top)?.state, "PRIMARY", JSON.stringify(after));
    assert.equal(after.filter((p) => p.state === "SECONDARY").length, 2, JSON.stringify(after));

    // Stopped, the priority-2 member leaves the primary to another; started alone again, the
    // plan says it takes the primary back, and it does.
    const stop = await ok(home, ["cluster", "stop", "tk", "-N", top, "--auto-approve"]);
    assert.match(stop.stdout, new RegExp(`Stops ${top}, the primary of rs0: it steps down first`));
    const others = (await display(home, "tk", 1)).processes;
    const interim = others.find((p) => p.state === "PRIMARY")?.id;
    assert.ok(interim && interim !== top, JSON.stringify(others));
    const start = await ok(home, ["cluster", "start", "tk", "-N", top, "--plan-only"]);
    assert.match(
      start.stdout,
      new RegExp(
        `${top} has the highest priority \\(2\\): once started and caught up it ` +
          `takes the primary over from ${interim}`,
      ),
    );
    await ok(home, ["cluster", "start", "tk", "-N", top, "--auto-approve"]);
    let back = (await display(home, "tk")).processes;
    for (let i = 0; i < 200 && back.find((p) => p.id === top)?.state !== "PRIMARY"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      back = (await display(home, "tk")).processes;
    }
    assert.equal(back.find((p) => p.id === top)?.state, "PRIMARY", JSON.stringify(back));
  } finally {
    await killAll(home);
  }
});
