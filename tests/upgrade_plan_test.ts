/**
 * The upgrade planner, pure: what it refuses and what it warns of, from the recorded cluster and
 * the facts a probe would give (lib/plan/upgrade.ts).
 */
import assert from "node:assert/strict";
import { planUpgrade, type UpgradePlanInput } from "../lib/plan/upgrade.ts";
import { allOperations, type Release } from "../lib/plan/schema.ts";
import { input } from "./lifecycle_inputs.ts";
import { installFixture } from "./fixture.ts";
import { knownPhases } from "../lib/hooks/phases.ts";

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

Deno.test("upgrade of hosts of two architectures: each build downloaded once, each host installs and starts its own architecture's", async () => {
  const topology = "mongod_servers:\n" +
    "  - { host: ctl.example.net, port: 27017, replica_set: rs0 }\n" +
    "  - { host: arm1.example.net, port: 27017, replica_set: rs0 }\n" +
    "  - { host: arm2.example.net, port: 27017, replica_set: rs0 }\n";
  const arm: Release = {
    ...release("8.0.4"),
    platform: "linux-aarch64",
    url: "file:///mirror/mongodb-linux-aarch64-8.0.4.tgz",
    sha256: "1".repeat(64),
    archive_name: "mongodb-linux-aarch64-8.0.4.tgz",
  };
  const plan = planUpgrade(
    await upgradeInput(topology, "8.0.4", {
      hostReleases: { "arm1.example.net": arm, "arm2.example.net": arm },
      cachedPlatforms: ["linux-aarch64"],
    }),
  );
  assert.deepEqual(plan.validation.errors, []);
  const ops = allOperations(plan);
  const downloads = ops.filter((o) => o.type === "download_binary");
  assert.deepEqual(downloads.map((o) => o.target.params.url).sort(), [
    arm.url,
    release("8.0.4").url,
  ]);
  // The aarch64 archive was found in the cache: its download changes nothing.
  const armDownload = downloads.find((o) => o.target.params.url === arm.url)!;
  assert.equal(armDownload.changes[0].action, "none");
  const install = (host: string) =>
    ops.find((o) => o.id.startsWith("install-binaries-") && o.target.host === host)!;
  assert.match(
    install("arm2.example.net").target.params.source_dir,
    /mongo-8\.0\.4-linux-aarch64\/bin$/,
  );
  assert.match(
    install("ctl.example.net").target.params.source_dir,
    /mongo-8\.0\.4-linux-x86_64\/bin$/,
  );
  assert.ok(install("arm1.example.net").depends_on.includes(armDownload.id));
  const source = (host: string) =>
    ops.find((o) => o.type === "start_process" && o.target.host === host)!.pre_conditions
      .find((c) => c.check_type === "binary_present")!.params.source;
  assert.match(String(source("arm1.example.net")), /linux-aarch64\/bin\/mongod$/);
  assert.match(String(source("ctl.example.net")), /linux-x86_64\/bin\/mongod$/);
});

Deno.test("every phase of an upgrade plan is one a hook may name (knownPhases of its kind)", async () => {
  for (const file of ["standalone.yaml", "replica-set.yaml", "sharded.yaml"]) {
    const plan = planUpgrade(await upgradeInput(file, "8.0.4", { setFcv: true }));
    for (const ph of plan.phases) {
      assert.ok(knownPhases(plan.kind).includes(ph.name), `${file}: ${ph.name}`);
    }
  }
});

Deno.test("an upgrade that raises the FCV says so among its warnings: the one step the binaries cannot go back from without MongoDB's support (tester48)", async () => {
  const raised = planUpgrade(await upgradeInput("replica-set.yaml", "8.0.4", { setFcv: true }));
  const w = raised.validation.warnings.find((x) => x.code === "fcv_raised");
  assert.ok(w, codes(raised.validation.warnings).join());
  assert.match(w.message, /cannot go back to an older release without MongoDB's support/);
  const kept = planUpgrade(await upgradeInput("replica-set.yaml", "8.0.4"));
  assert.ok(!codes(kept.validation.warnings).includes("fcv_raised"));
});

Deno.test("upgrade of a set whose other members were given priority 0 by hand: rolled by the set's live priorities (no step-down no member could take over), and the review says why (tester40 H1)", async () => {
  const base = await upgradeInput("replica-set.yaml", "8.0.4");
  const facts = Object.fromEntries(
    Object.entries(base.facts).map((
      [id, f],
    ) => [id, f.state === "SECONDARY" ? { ...f, priority: 0 } : f]),
  );
  const plan = planUpgrade({ ...base, facts });
  assert.ok(plan.validation.valid, JSON.stringify(plan.validation.errors));
  assert.deepEqual(allOperations(plan).filter((o) => o.type === "step_down"), []);
  const warned = codes(plan.validation.warnings);
  assert.equal(warned.filter((c) => c === "priority_changed").length, 2);
  assert.ok(warned.includes("no_primary_while_restarted"), warned.join());
  const note = (p: typeof plan) =>
    p.validation.warnings.find((w) => w.code === "priority_changed")!.message;
  assert.match(note(plan), /\(changed outside mup\): the restart follows/);
  // Over an unfinished apply the priority may be that apply's own work (tester98 #1).
  const over = planUpgrade({
    ...base,
    facts,
    unfinished: { operation: "reconfigure", stateId: "apply-1234" },
  });
  assert.match(
    note(over),
    /\(changed outside mup, or part way by the unfinished reconfigure, apply apply-1234\)/,
  );
  // As recorded: a step-down hands the primary over.
  assert.ok(allOperations(planUpgrade(base)).some((o) => o.type === "step_down"));
});

Deno.test("upgrade with a running member its set no longer lists (rs.remove, or a scale-in cut off after its reconfig) is refused, naming the scale-in that finishes the removal and the repair: the roll would wait on it until the apply's timeout", async () => {
  const i = await upgradeInput("replica-set.yaml", "8.0.4");
  const gone = i.meta.processes[2];
  i.facts[gone.id] = { ...i.facts[gone.id], removed: true };
  const plan = planUpgrade(i);
  assert.deepEqual(codes(plan.validation.errors), ["member_removed"]);
  assert.match(
    plan.validation.errors[0].message,
    new RegExp(
      `^localhost:${gone.port} runs, but is no longer a member of replica set rs0 .*a rolling ` +
        `upgrade would wait for it to rejoin its set, which it cannot\\. .*\`mup cluster ` +
        `scale-in golden -N localhost:${gone.port}\`.*a repair \\(\`.*mup cluster deploy golden `,
    ),
  );
});
