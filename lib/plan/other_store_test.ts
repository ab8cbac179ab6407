import assert from "node:assert/strict";
import { otherStoreIssue } from "./other_store.ts";
import type { Plan } from "./schema.ts";

const planOf = (cluster: string, deployDir: string) =>
  ({
    cluster_name: cluster,
    deploy_dir: deployDir,
    topology: { global: {} },
    phases: [],
  }) as unknown as Plan;

Deno.test("a plan renamed to another cluster of this store is said to be that cluster's, not another store's (tester72)", () => {
  const root = "/h/storage";
  const renamed = otherStoreIssue(root, planOf("arb", "/h/storage/clusters/rs1/deploy"), "error");
  assert.match(
    renamed?.message ?? "",
    /the plan names cluster arb but places it in \/h\/storage\/clusters\/rs1\/deploy, cluster rs1's directory in this store: it was made for rs1/,
  );
  assert.doesNotMatch(renamed!.message, /MUP_HOME/);
  const elsewhere = otherStoreIssue(root, planOf("arb", "/o/storage/clusters/arb/deploy"), "error");
  assert.match(
    elsewhere?.message ?? "",
    /this store keeps it in .*make the plan with this MUP_HOME/,
  );
  assert.equal(
    otherStoreIssue(root, planOf("arb", "/h/storage/clusters/arb/deploy"), "error"),
    undefined,
  );
});
