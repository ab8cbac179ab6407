/**
 * The upgrade planner, pure: what it refuses and what it warns of, from the recorded cluster and
 * the facts a probe would give (lib/plan/upgrade.ts).
 */
import assert from "node:assert/strict";
import { planUpgrade, type UpgradePlanInput } from "../lib/plan/upgrade.ts";
import { allOperations, type Release } from "../lib/plan/schema.ts";
import { input } from "./lifecycle_inputs.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const release = (version: string): Release => ({
  version,
  variant: "mongo",
  platform: "linux-x86_64",
  url: `file:///mirror/mongodb-linux-x86_64-${version}.tgz`,
  sha256: "0".repeat(64),
  size_bytes: 0,
  archive_name: `mongodb-linux-x86_64-${version}.tgz`,
});

/** An upgrade of `file` (recorded at 7.0.5, every member on it at FCV 7.0) to `to`. */
async function upgradeInput(
  file: string,
  to: string,
  over: Partial<UpgradePlanInput> = {},
): Promise<UpgradePlanInput> {
  const base = await input(file);
  const procs = base.meta.processes;
  const dataBearing = procs.filter((p) => p.role !== "mongos");
  return {
    ...base,
    release: release(to),
    cacheDir: "/home/mup/cache",
    cached: true,
    setFcv: false,
    fcvs: Object.fromEntries(dataBearing.map((p) => [p.id, "7.0"])),
    versions: Object.fromEntries(procs.map((p) => [p.id, "7.0.5"])),
    ...over,
  };
}

const codes = (issues: { code: string }[]) => issues.map((i) => i.code);

Deno.test("upgrade warns of what a rolling restart cannot keep available: a standalone is down while it restarts; a set of fewer than three voting members has no primary meanwhile", async () => {
  const alone = planUpgrade(await upgradeInput("standalone.yaml", "8.0.4"));
  assert.deepEqual(alone.validation.errors, []);
  assert.ok(
    codes(alone.validation.warnings).includes("standalone_down_while_restarted"),
    JSON.stringify(alone.validation.warnings),
  );
  const two = planUpgrade(
    await upgradeInput(
      "mongod_servers:\n  - { host: localhost, port: 27017, replica_set: rs0 }\n" +
        "  - { host: localhost, port: 27018, replica_set: rs0 }\n",
      "8.0.4",
    ),
  );
  const w = two.validation.warnings.find((x) => x.code === "no_majority_while_restarted");
  assert.match(w?.message ?? "", /rs0 has 2 voting members: while one restarts the set has no/);
  // Three voting members keep a primary throughout: no such warning.
  const three = planUpgrade(await upgradeInput("replica-set.yaml", "8.0.4"));
  assert.ok(!codes(three.validation.warnings).includes("no_majority_while_restarted"));
  assert.ok(allOperations(three).some((o) => o.type === "step_down"));
});

Deno.test("upgrade to a release older than one a member already runs is refused (an unfinished upgrade moved it there), naming resume and restart; no operations", async () => {
  const i = await upgradeInput("replica-set.yaml", "8.0.3");
  const moved = i.meta.processes[1].id;
  i.versions[moved] = "8.0.4";
  const plan = planUpgrade(i);
  assert.deepEqual(codes(plan.validation.errors), ["member_newer"]);
  assert.match(
    plan.validation.errors[0].message,
    /runs 8\.0\.4, newer than 8\.0\.3: an upgrade that did not finish moved it there\. Finish it \(`mup plan resume golden`\), or go back to the recorded 7\.0\.5 with `mup cluster restart golden` first/,
  );
  assert.deepEqual(allOperations(plan), []);
  // The same member at the asked release is not refused: it is simply not restarted again.
  i.versions[moved] = "8.0.3";
  const resumed = planUpgrade(i);
  assert.deepEqual(resumed.validation.errors, []);
  assert.ok(!allOperations(resumed).some((o) => o.id === `stop-${moved}`));
});
