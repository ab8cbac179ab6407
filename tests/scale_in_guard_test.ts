/**
 * A saved scale-in applied after a member that stays went down is refused before it runs. One
 * that failed before it removed anything (its safety check found such a member down) does not
 * block another scale-in: only one that changed the cluster part way must be resumed, or
 * repeated, first.
 */
import assert from "node:assert/strict";
import {
  deployArgs,
  killAll,
  mup,
  output,
  pausedBefore,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { currentState } from "./apply_helpers.ts";
import { display, killMember, ok, stablePorts } from "./lifecycle_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

Deno.test("a saved scale-in applied with a member that stays down is refused before it runs; one refused by its safety check changed nothing: another scale-in may replace it", async () => {
  const home = await tempHome();
  const ports = stablePorts(4);
  const [a, b, c, d] = ports.map((p) => `localhost:${p}`);
  try {
    // A member that stays dies just before the members are removed (the first time).
    const dies = pausedBefore(home, "remove-members-rs0");
    const file = await writeTopology(
      home,
      "g.yaml",
      `mongod_servers:\n${
        ports.map((p, i) =>
          `  - { host: localhost, port: ${p}, replica_set: rs0${i === 0 ? ", priority: 2" : ""} }`
        ).join("\n")
      }\n${dies.hooks}`,
    );
    await ok(home, deployArgs("g", file, await testMirror(), ["--auto-approve"]));
    // Planned while every member runs; then a member that would stay dies: the saved plan is
    // refused before anything of it runs, naming the start and the scale-in planned again.
    const plan = await ok(home, ["cluster", "scale-in", "g", "-N", d, "--plan-only", "--json"]);
    const planId = JSON.parse(plan.stdout).plan_id as string;
    await killMember(home, "g", ports[2]);
    const refused = await mup(["plan", "apply", planId, "--auto-approve"], { home });
    assert.equal(refused.code, 1, output(refused));
    assert.match(refused.stderr, new RegExp(`${c} does not answer, and this scale-in needs it`));
    assert.ok(refused.stderr.includes(`\`mup cluster start g -N ${c}\``), output(refused));
    assert.ok(refused.stderr.includes(`\`mup cluster scale-in g -N ${d}\``), output(refused));
    assert.equal((await currentState(home, "g")).operation, "deploy", "nothing was applied");
    await ok(home, ["cluster", "start", "g", "-N", c, "--auto-approve"]);
    // Dies while the scale-in runs: its safety check fails before anything is removed.
    const running = mup(["cluster", "scale-in", "g", "-N", d, "--auto-approve"], { home });
    await dies.at(() => killMember(home, "g", ports[2]), running);
    const failed = await running;
    assert.equal(failed.code, 1, output(failed));
    assert.match(output(failed), /members_reachable/);
    // What brings the member back, and that a resume alone would fail on it again.
    assert.match(
      failed.stdout,
      new RegExp(
        `\`mup cluster start g -N ${c}\` starts it, and replaces this apply \\(it cannot be ` +
          `resumed after that\\): then \`mup cluster scale-in g -N ${d}\` plans this scale-in again`,
      ),
    );
    assert.match(failed.stdout, /A resume alone cannot finish it/);
    const state = await currentState(home, "g");
    assert.equal(state.status, "failed");

    // Another scale-in (the dead member instead): not refused as replacing a scale-in that
    // changed the cluster part way.
    const other = await mup(["cluster", "scale-in", "g", "-N", c, "--auto-approve"], { home });
    assert.equal(other.code, 0, output(other));
    assert.doesNotMatch(output(other), /part way/);
    const after = await display(home, "g");
    assert.deepEqual(after.processes.map((p) => p.id).sort(), [a, b, d].sort());
    assert.ok(after.healthy, JSON.stringify(after));
  } finally {
    await killAll(home);
  }
});
