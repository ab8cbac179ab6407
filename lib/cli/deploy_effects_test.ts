import assert from "node:assert/strict";
import { describeEffects } from "./deploy_effects.ts";
import type { Plan } from "../plan/schema.ts";

Deno.test("the review counts only the hooks that can run: not one for a phase the plan does not have (tester31)", () => {
  const hook = (event: string, phase?: string) => ({
    name: `${event}${phase ?? ""}`,
    event,
    command: "true",
    timeout_ms: 1000,
    environment: {},
    continue_on_error: false,
    working_dir: "/",
    ...(phase ? { phase } : {}),
  });
  const plan = (hooks: ReturnType<typeof hook>[]) =>
    ({
      plan_id: "plan-1",
      cluster_name: "rs",
      operation: "deploy",
      base_state: { lineage: "apply-1" },
      phases: [{ name: "deploy", operations: [] }],
      hooks,
      validation: { valid: true, errors: [], warnings: [], checks: [] },
    }) as unknown as Plan;
  const text = describeEffects(plan([
    hook("after_phase", "deploy"),
    hook("after_phase", "deplyo"),
    hook("after_phase", "restart-shards"),
    hook("on_success"),
  ]));
  assert.match(text, /• Run 2 hooks \(after_phase, on_success\)/);
  assert.doesNotMatch(describeEffects(plan([hook("after_phase", "nowhere")])), /• Run/);
});
