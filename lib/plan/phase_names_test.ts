import assert from "node:assert/strict";
import { hookPhaseWarnings, membersPhase, otherKindsPhase } from "./phase_names.ts";
import type { Plan } from "./schema.ts";

/** A plan's parts the warnings read: its phases (by name), hooks, kind and operation. */
function plan(kind: Plan["kind"], operation: Plan["operation"], phases: string[], hook: string) {
  return {
    kind,
    operation,
    phases: phases.map((name) => ({ name })) as Plan["phases"],
    hooks: [{ name: "h", event: "after_phase", phase: hook }] as Plan["hooks"],
  };
}

Deno.test("a phase hook named for the other kind of cluster gets this kind's name, not the nearest spelling (restart-mongod in a sharded restart is restart-shards, not restart-mongos)", () => {
  const sharded = ["stop-balancer", "restart-config", membersPhase("restart", "sharded")];
  sharded.push("restart-mongos", "start-balancer");
  const [w] = hookPhaseWarnings(plan("sharded", "restart", sharded, "restart-mongod"));
  assert.equal(
    w.message,
    "hook h (after_phase) is for phase restart-mongod, which this restart plan does not have " +
      `(its phases: ${sharded.join(", ")}): it will not run; a sharded cluster names that ` +
      'phase "restart-shards" (restart-mongod is a replica set\'s)',
  );
  const rs = ["restart-config", membersPhase("upgrade", "replica_set"), "finalize"];
  assert.match(
    hookPhaseWarnings(plan("replica_set", "upgrade", rs, "upgrade-shards"))[0].message,
    /a replica set names that phase "upgrade-mongod" \(upgrade-shards is a sharded cluster's\)$/,
  );
  // A misspelling still gets its guess; the plan's own phase, or another plan's, no warning.
  assert.match(
    hookPhaseWarnings(plan("sharded", "restart", sharded, "restart-mongoss"))[0].message,
    /did you mean "restart-mongos"\?$/,
  );
  assert.deepEqual(hookPhaseWarnings(plan("sharded", "restart", sharded, "restart-shards")), []);
  assert.deepEqual(hookPhaseWarnings(plan("sharded", "deploy", ["deploy"], "upgrade-config")), []);
  assert.equal(otherKindsPhase("restart-config"), undefined);
});
