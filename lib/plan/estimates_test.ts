import assert from "node:assert/strict";
import { describeEstimateSource, refreshEstimates } from "./estimates.ts";
import type { Plan, PlannedOperation } from "./schema.ts";
import { downloadEstimate } from "./prepare_steps.ts";

Deno.test("operations added after the planner estimated are estimated and counted: 'for all N operations' counts what the plan holds (tester31 L7)", () => {
  const op = (id: string, type: string, deps: string[] = []) =>
    ({
      id,
      type,
      description: id,
      target: { type: "process", host: "localhost", port: 1, params: {} },
      depends_on: deps,
      changes: [],
      estimated_ms: 1000,
      safety_checks: [],
    }) as unknown as PlannedOperation;
  const plan = {
    phases: [{
      name: "finalize",
      description: "",
      order: 1,
      operations: [op("a", "verify_health"), op("b", "reconfig_members", ["a"])],
      estimated_duration: "1s",
    }],
    estimate_source: {
      kind: "measured",
      measured_operations: 1,
      total_operations: 1,
      applies: 1,
      clusters: ["rs"],
    },
  } as unknown as Pick<Plan, "phases" | "estimate_source">;
  refreshEstimates(plan, {
    samples: { localhost: { verify_health: [200], reconfig_members: [300] } },
    applies: 1,
    clusters: ["rs"],
  });
  assert.equal(plan.estimate_source?.total_operations, 2);
  assert.equal(plan.estimate_source?.measured_operations, 2);
  assert.equal(plan.estimate_source?.kind, "measured");
  assert.equal(plan.phases[0].estimated_duration, "500ms");
});

Deno.test("estimate source: built-in defaults say whether nothing was measured or only other kinds of operation (tester60)", () => {
  const none = { measured_operations: 0, total_operations: 9, clusters: [] };
  assert.equal(
    describeEstimateSource({ kind: "defaults", applies: 0, ...none }),
    "built-in defaults (no durations measured on these hosts yet)",
  );
  assert.equal(
    describeEstimateSource({ kind: "defaults", applies: 2, ...none, clusters: ["c1"] }),
    "built-in defaults (none of this plan's kinds of operation measured on these hosts yet)",
  );
});

Deno.test("built-in download estimate: by size, a copy from a mirror on this machine far shorter than a download over HTTPS (tester76)", () => {
  assert.equal(downloadEstimate("/srv/mirror/mongodb-linux-x86_64-7.0.14.tgz", 1_000), 500);
  assert.equal(downloadEstimate("file:///srv/m/a.tgz", 400_000_000), 2_000);
  assert.equal(downloadEstimate("https://fastdl.mongodb.org/a.tgz", 100_000_000), 22_000);
  // Unknown size: the old constant.
  assert.equal(downloadEstimate("https://fastdl.mongodb.org/a.tgz", 0), 60_000);
});
