import assert from "node:assert/strict";
import { hookFailureAdvice } from "./hook_advice.ts";
import type { Plan } from "../plan/schema.ts";

const plan = {
  cluster_name: "e",
  operation: "restart",
  phases: [{
    name: "restart-mongod",
    operations: [
      { id: "step-down-rs", type: "step_down", target: { name: "m1" }, depends_on: [] },
      { id: "stop-m1", type: "stop_process", target: { name: "m1" }, depends_on: [] },
      { id: "step-down-alone", type: "step_down", target: { name: "m2" }, depends_on: [] },
    ],
  }],
} as unknown as Plan;

Deno.test("hookFailureAdvice: a failed after_operation hook of a step-down says a resume makes the step-down, and runs the hook, again (tester70); of another operation, that it goes on after it", () => {
  const failed = (id: string) =>
    hookFailureAdvice(plan, {
      error: "hook after_operation of operation x exited with 3",
      status: "failed",
      failed_operation: id,
    })!;
  assert.match(failed("step-down-rs"), /a resume makes it again[\s\S]*runs the hook again/);
  assert.match(failed("step-down-rs"), /mup plan resume e --no-hooks/);
  assert.match(failed("stop-m1"), /goes on after it and does not run that hook again/);
  // A step-down with no stop after it is not made again.
  assert.match(failed("step-down-alone"), /goes on after it and does not run that hook again/);
});
