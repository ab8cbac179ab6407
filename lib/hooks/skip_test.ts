import assert from "node:assert/strict";
import { withoutHooks } from "./skip.ts";
import type { Plan } from "../plan/schema.ts";

Deno.test("--no-hooks names the hooks it skips that would have run: not one for a phase the plan does not have", () => {
  const hook = (event: string, phase?: string) => ({
    name: event,
    event,
    command: "true",
    timeout_ms: 1000,
    environment: {},
    continue_on_error: false,
    working_dir: "/",
    ...(phase ? { phase } : {}),
  });
  const plan = {
    hooks: [
      hook("before_apply"),
      hook("before_operation", "restart-mongod"),
      hook("after_phase", "stop"),
    ],
    phases: [{ name: "prepare", operations: [] }, { name: "stop", operations: [] }],
    validation: { valid: true, errors: [], warnings: [], checks: [] },
  } as unknown as Pick<Plan, "hooks" | "phases" | "validation">;
  withoutHooks(plan);
  assert.deepEqual(plan.hooks, []);
  assert.deepEqual(plan.validation.warnings.map((w) => w.message), [
    "the cluster's hooks are skipped (--no-hooks): before_apply, after_phase (stop) will not run " +
    "for this plan",
  ]);
});
