/**
 * A plan's phases are numbered 1 to N in the order they run, each name once: the progress line
 * counts "Phase i/N" from them, and a phase cut out by hand had shown "Phase 2/1" (tester54).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { sealPlanText } from "../lib/plan/hash.ts";
import type { Plan } from "../lib/plan/schema.ts";
import { checkPlanText } from "../lib/plan/validate.ts";
import { ROOT } from "./helpers.ts";
import { sealedDeploy } from "./lifecycle_inputs.ts";

async function deployPlan(): Promise<Plan> {
  const text = Deno.readTextFileSync(path.join(ROOT, "examples", "replica-set.yaml"));
  return (await sealedDeploy(text, "replica-set.yaml", true)).plan;
}

/** The phase-order refusals of `plan` after `edit`, sealed again as an editor would. */
function refusals(plan: Plan, edit: (p: Plan) => void): string[] {
  const copy = structuredClone(plan);
  edit(copy);
  const { content_hash: _, ...rest } = copy;
  return checkPlanText(sealPlanText(rest).text, "edited.json").issues
    .filter((i) => i.code === "phase_order").map((i) => i.message);
}

Deno.test("phase order: mup's plan passes; a phase cut out, renumbered or named twice is refused by place", async () => {
  const plan = await deployPlan();
  assert.ok(plan.phases.length >= 3);
  assert.deepEqual(plan.phases.map((p) => p.order), plan.phases.map((_, i) => i + 1));
  assert.deepEqual(refusals(plan, () => {}), []);
  // The last phase cut out leaves 1..N-1: still numbered as it runs.
  assert.deepEqual(refusals(plan, (p) => p.phases.pop()), []);
  // The first one cut out leaves 2..N, which the progress showed as "Phase 2/N-1".
  const [first, ...rest] = refusals(plan, (p) => p.phases.shift());
  assert.match(
    first,
    /^phases\[0\] "\S+" has order 2: the phases are numbered 1 to \d+ .* must be 1/,
  );
  assert.equal(rest.length, plan.phases.length - 2);
  assert.deepEqual(
    refusals(plan, (p) => p.phases[1].name = p.phases[0].name),
    [`phases[1]: a second phase named "${plan.phases[0].name}"; each phase is named once`],
  );
});
