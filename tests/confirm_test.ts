/** The question before a resume says what is left to do, not what the apply already did. */
import assert from "node:assert/strict";
import { leftToDo } from "../lib/cli/confirm.ts";
import { describeEffects } from "../lib/cli/deploy_effects.ts";
import { sealPlan } from "../lib/plan/hash.ts";
import { planStop } from "../lib/plan/stop.ts";
import { planDestroy } from "../lib/plan/destroy.ts";
import { allOperations } from "../lib/plan/schema.ts";
import { input } from "./lifecycle_inputs.ts";

Deno.test("a resume's 'This will:' lists only the operations its apply has not completed (tester78 #5)", async () => {
  const plan = sealPlan(planStop(await input("replica-set.yaml")));
  const stops = allOperations(plan).filter((o) => o.type === "stop_process");
  assert.equal(stops.length, 3);
  assert.match(describeEffects(plan), /Stop 3 MongoDB processes/);
  const done = { status: "completed" as const, retries: 0, executions: 1 };
  const state = {
    operation_states: Object.fromEntries(
      stops.slice(0, 2).map((o) => [o.id, { id: o.id, ...done }]),
    ),
  };
  const left = describeEffects(leftToDo(plan, state));
  assert.match(left, /Stop 1 MongoDB process\b/);
  assert.doesNotMatch(left, /Stop 3/);
  // The plan itself is left as it is.
  assert.equal(allOperations(plan).filter((o) => o.type === "stop_process").length, 3);
});

Deno.test("the 'This will:' of a removal names what the removed paths hold, from their layout directories (tester78 #5)", async () => {
  const destroy = describeEffects(sealPlan(planDestroy(await input("replica-set.yaml"))));
  assert.match(destroy, /Remove \d+ directories and files \(data, logs, configuration, binaries/);
  const kept = describeEffects(
    sealPlan(planDestroy({ ...await input("replica-set.yaml"), retainData: true })),
  );
  assert.doesNotMatch(kept, /\(data,/, "data retained: not said removed");
});
