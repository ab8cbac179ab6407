/** The lifecycle planners, pure: golden plans, operation order and dependencies, no-op plans. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { planDestroy } from "../lib/plan/destroy.ts";
import { metaFromPlan } from "../lib/state/meta_from_plan.ts";
import { listProcesses } from "../lib/plan/processes.ts";
import { offerForceOnlyAlone, planRestart } from "../lib/plan/restart.ts";
import { planReconfigure } from "../lib/plan/reconfigure.ts";
import { describeLifecycleEffects } from "../lib/cli/lifecycle_effects.ts";
import { planRollback } from "../lib/plan/rollback.ts";
import { allOperations, type Plan } from "../lib/plan/schema.ts";
import { planStart } from "../lib/plan/start.ts";
import { planStop } from "../lib/plan/stop.ts";
import { startAgainOps } from "../lib/plan/lifecycle_ops.ts";
import { repairCommand } from "../lib/plan/recorded.ts";
import { sealPlan, sealPlanText } from "../lib/plan/hash.ts";
import { planDiff, withLiveMembers } from "../lib/plan/diff.ts";
import { noChanges, operationsLeft, renderDiff } from "../lib/render/plan_diff.ts";
import { destructive } from "../lib/cli/confirm.ts";
import { describeEffects } from "../lib/cli/deploy_effects.ts";
import { renderPlan } from "../lib/render/plan_text.ts";
import { checkPlanText } from "../lib/plan/validate.ts";
import type { ApplyState } from "../lib/state/schema.ts";
import { MupError } from "../lib/errors.ts";
import { ROOT } from "./helpers.ts";
import { installFixture } from "./fixture.ts";
import { knownPhases, TLS_PHASE_STEPS, unknownPhase } from "../lib/hooks/phases.ts";
import { TLS_STEPS } from "../lib/plan/mongo_config.ts";
import { restartsOf } from "../lib/apply/apply_graph.ts";
import { unreachableErrors } from "../lib/plan/gone_hosts.ts";
import type { ProcessFact } from "../lib/plan/lifecycle.ts";
import { CLUSTER_DIR, DEPLOY, input, metaFor } from "./lifecycle_inputs.ts";

installFixture();

function shape(plan: Omit<Plan, "content_hash">) {
  return plan.phases.map((ph) => ({
    phase: ph.name,
    operations: ph.operations.map((o) => ({ id: o.id, type: o.type, depends_on: o.depends_on })),
  }));
}

async function golden(name: string, plan: Omit<Plan, "content_hash">): Promise<void> {
  const file = path.join(ROOT, "tests", "golden", `${name}.json`);
  const actual = JSON.stringify(shape(plan), null, 1) + "\n";
  if (Deno.env.get("UPDATE_GOLDEN")) await Deno.writeTextFile(file, actual);
  assert.deepEqual(
    JSON.parse(actual),
    JSON.parse(await Deno.readTextFile(file)),
    `${name} differs from ${file} (UPDATE_GOLDEN=1 rewrites it)`,
  );
  // Every lifecycle plan is a valid plan document: schema, hash, graph.
  const { text } = sealPlanText(plan);
  // Its paths included (plan_paths.ts): destroy and rollback remove staging files in the store.
  const storeRoot = path.dirname(path.dirname(CLUSTER_DIR));
  assert.deepEqual(
    checkPlanText(text, name, { storeRoot }).issues.filter((i) => i.severity === "error"),
    [],
  );
}

/** Position of each operation in a topological walk that respects depends_on. */
function before(plan: Omit<Plan, "content_hash">, a: string, b: string): boolean {
  const ops = new Map(allOperations(plan).map((o) => [o.id, o]));
  const reach = (from: string, to: string, seen = new Set<string>()): boolean =>
    ops.get(from)!.depends_on.some((d) =>
      d === to || (!seen.has(d) && seen.add(d) && reach(d, to, seen))
    );
  const phase = (id: string) => plan.phases.findIndex((p) => p.operations.some((o) => o.id === id));
  return phase(a) < phase(b) || reach(b, a);
}

Deno.test("golden plans: stop, start, rolling and forced restart, destroy of the sharded example", async () => {
  await golden("stop-sharded", planStop(await input("sharded.yaml")));
  await golden("start-sharded", planStart(await input("sharded.yaml", {}, false)));
  await golden("restart-sharded", planRestart(await input("sharded.yaml")));
  await golden("restart-force-sharded", planRestart(await input("sharded.yaml", { force: true })));
  await golden("restart-replica-set", planRestart(await input("replica-set.yaml")));
  await golden("destroy-sharded", planDestroy(await input("sharded.yaml")));
});

Deno.test("stop order: mongos, then shard secondaries, shard primaries, config secondaries, config primary", async () => {
  const plan = planStop(await input("sharded.yaml"));
  const id = (role: string, port: number) => `stop-${role}-localhost-${port}`;
  assert.ok(before(plan, id("mongos", 27017), id("mongod", 27022)));
  assert.ok(before(plan, id("mongod", 27022), id("mongod", 27018)), "secondary before primary");
  assert.ok(before(plan, id("mongod", 27018), id("config", 27020)), "shards before config");
  assert.ok(before(plan, id("config", 27020), id("config", 27019)), "config primary last");
  // The set stops whole: its primary cannot step down, so it is shut down with force.
  const cfgPrimary = allOperations(plan).find((o) => o.id === id("config", 27019))!;
  assert.equal(cfgPrimary.target.params.force, "true");
  assert.equal(plan.operation, "stop");
  assert.equal(plan.phases.at(-1)!.operations[0].type, "update_metadata");
});

Deno.test("stop -N of a primary says why its stop takes seconds: the hand-over wait and the quiesce period of MongoDB's shutdown; a whole set's forced one does not (tester109)", async () => {
  const one = planStop(await input("replica-set.yaml", { filter: { nodes: ["localhost:27017"] } }));
  const primary = allOperations(one).find((o) => o.type === "stop_process")!;
  assert.equal(
    primary.description,
    "Stop rs0 member localhost:27017 (the primary: it waits up to 10 s for a secondary to catch " +
      "up and take over, then quiesces for 10 s, as MongoDB's shutdown does)",
  );
  // Estimated as that, whatever stops (of secondaries, mostly) mup measured (tester112 A).
  assert.equal(primary.estimated_ms, 12_000);
  const measured = planStop(
    await input("replica-set.yaml", {
      filter: { nodes: ["localhost:27017"] },
      measured: {
        samples: { localhost: { stop_process: [1_200, 1_200, 1_300] } },
        applies: 3,
        clusters: ["golden"],
      },
    }),
  );
  assert.equal(
    allOperations(measured).find((o) => o.type === "stop_process")!.estimated_ms,
    12_000,
  );
  const whole = planStop(await input("replica-set.yaml"));
  for (const o of allOperations(whole).filter((o) => o.type === "stop_process")) {
    assert.doesNotMatch(o.description, /quiesces/, o.description);
  }
});

Deno.test("rolling restart: one member at a time, primary stepped down last; config set, then shards, then mongos one at a time", async () => {
  const plan = planRestart(await input("sharded.yaml"));
  assert.deepEqual(plan.phases.map((p) => p.name), [
    "prepare",
    "restart-config",
    "restart-shards",
    "restart-mongos",
    "finalize",
  ]);
  // The status is recorded as unknown before anything changes.
  assert.deepEqual(plan.phases[0].operations.map((o) => o.type), ["update_metadata"]);
  const cfg = plan.phases[1].operations.map((o) => o.id);
  assert.deepEqual(cfg, [
    "stop-config-localhost-27020",
    "start-config-localhost-27020",
    "wait-state-config-localhost-27020",
    "stop-config-localhost-27021",
    "start-config-localhost-27021",
    "wait-state-config-localhost-27021",
    "step-down-cfg",
    "wait-primary-cfg",
    "stop-config-localhost-27019",
    "start-config-localhost-27019",
    "wait-state-config-localhost-27019",
  ]);
  // A chain: each operation waits for the one before it.
  const ops = plan.phases[1].operations;
  for (let i = 1; i < ops.length; i++) assert.deepEqual(ops[i].depends_on, [ops[i - 1].id]);
  // The two shards roll side by side, each one member at a time.
  const shards = plan.phases[2].operations;
  assert.deepEqual(shards.filter((o) => o.depends_on.length === 0).map((o) => o.id), [
    "stop-mongod-localhost-27022",
    "stop-mongod-localhost-27025",
  ]);
  const stop = allOperations(plan).find((o) => o.id === "stop-mongod-localhost-27022")!;
  assert.deepEqual(stop.pre_conditions.map((c) => c.check_type), ["replica_set_healthy"]);
  // A mongos is stopped only while the config servers its start needs answer.
  const router = allOperations(plan).find((o) => o.id === "stop-mongos-localhost-27017")!;
  assert.deepEqual(router.pre_conditions.map((c) => [c.id, c.check_type, c.params.members]), [[
    "stop-mongos-localhost-27017:deps",
    "dependencies_running",
    ["localhost:27019", "localhost:27020", "localhost:27021"],
  ]]);
  assert.equal(
    allOperations(plan).find((o) => o.id === "wait-primary-shard1")!.target.params.not,
    "localhost:27018",
  );
  // Every set member's stop steps it down first should it be primary when the stop comes (the
  // stepped-down primary taking the primary back, or an election since the plan was made); the
  // mongos's have no set.
  const again = allOperations(plan).filter((o) => o.target.params.step_down_first);
  const memberStops = allOperations(plan).filter((o) =>
    o.type === "stop_process" && !o.id.startsWith("stop-mongos-")
  );
  assert.deepEqual(
    again.map((o) => o.id).sort(),
    memberStops.map((o) => o.id).sort(),
  );
  assert.equal(
    allOperations(plan).find((o) => o.id === "stop-mongod-localhost-27018")!.target.params
      .step_down_first,
    "shard1",
  );
});

Deno.test("rolling restart of a cluster with one mongos warns that clients lose their router; --force warns per set instead (or of the router, when only it restarts); two mongos do not", async () => {
  // Only the router's warning: the sets' hand-back notes are the next test's.
  const routerOnly = (p: Omit<Plan, "content_hash">) =>
    p.validation.warnings.filter((w) => w.code !== "primary_handback");
  const one = planRestart(await input("sharded.yaml"));
  assert.deepEqual(routerOnly(one).map((w) => w.code), ["single_mongos"]);
  assert.match(one.validation.warnings[0].message, /only mongos.*two or more mongos/s);
  assert.equal(one.validation.valid, true);
  assert.deepEqual(
    planRestart(await input("sharded.yaml", { force: true })).validation.warnings
      .filter((w) => w.code !== "force_majority_down"),
    [],
  );
  // --force of the mongos alone: no set warns, the lost router is said.
  assert.deepEqual(
    planRestart(await input("sharded.yaml", { force: true, filter: { roles: ["mongos"] } }))
      .validation.warnings.map((w) => w.code),
    ["single_mongos"],
  );
  // -R mongod leaves the mongos alone: nothing to warn about.
  const shardsOnly = planRestart(await input("sharded.yaml", { filter: { roles: ["mongod"] } }));
  assert.deepEqual(routerOnly(shardsOnly), []);
  assert.deepEqual(routerOnly(planRestart(await input("replica-set.yaml"))), []);
  const two = await input("sharded.yaml");
  two.meta.topology.mongos_servers.push({ ...two.meta.topology.mongos_servers[0], port: 27100 });
  two.facts["mongos-localhost-27100"] = { running: true };
  const plan = planRestart(two);
  assert.deepEqual(routerOnly(plan), []);
  assert.ok(allOperations(plan).some((o) => o.id === "stop-mongos-localhost-27100"));
});

Deno.test("restart warns when a set loses its majority: --force of a set's majority, -N of a member while another is down; a rolling restart of a healthy set does not", async () => {
  const codes = (p: Omit<Plan, "content_hash">) =>
    p.validation.warnings.map((w) => w.code).filter((c) => /majority/.test(c));
  const forced = planRestart(await input("sharded.yaml", { force: true }));
  assert.deepEqual(codes(forced), [
    "force_majority_down",
    "force_majority_down",
    "force_majority_down",
  ]);
  assert.match(
    forced.validation.warnings.find((w) => w.code === "force_majority_down")!.message,
    /--force stops .* at once, leaving 0 of 3 votes up \(2 needed\): the set has no primary/,
  );
  // One member of a set, forced: the other two keep the majority.
  const one = await input("replica-set.yaml", {
    force: true,
    filter: { nodes: ["localhost:27019"] },
  });
  assert.deepEqual(codes(planRestart(one)), []);
  assert.deepEqual(codes(planRestart(await input("replica-set.yaml"))), []);
  // Rolling, -N of a running member while another is down: 2 of 3 votes run, 2 needed.
  const degraded = await input("replica-set.yaml", { filter: { nodes: ["localhost:27018"] } });
  degraded.facts["mongod-localhost-27019"] = { running: false };
  const plan = planRestart(degraded);
  assert.deepEqual(codes(plan), ["majority_at_risk"]);
  assert.match(plan.validation.warnings.at(-1)!.message, /has 2 of 3 votes running \(2 needed\)/);
  // The other member's host could not be asked: whether it runs is unknown, and its votes are
  // not counted as down; the warning says they cannot be counted.
  degraded.facts["mongod-localhost-27019"] = { running: false, unreachable: "ssh: timed out" };
  const unknown = planRestart(degraded).validation.warnings;
  assert.deepEqual(codes({ ...plan, validation: { ...plan.validation, warnings: unknown } }), []);
  assert.ok(
    unknown.some((w) =>
      w.code === "votes_unknown" &&
      w.message ===
        "rs0: localhost:27019 could not be asked (ssh: timed out), so whether the set keeps its " +
          "majority while localhost:27018 restarts cannot be told (`mup cluster display` shows what " +
          "answers)"
    ),
    JSON.stringify(unknown),
  );
});

Deno.test("restart of a mongos while config servers are down is refused: it could not start again", async () => {
  const i = await input("sharded.yaml", { filter: { roles: ["mongos"] } });
  for (const port of [27019, 27020, 27021]) {
    i.facts[`config-localhost-${port}`] = { running: false };
  }
  const plan = planRestart(i);
  assert.equal(plan.validation.valid, false);
  const e = plan.validation.errors.find((x) => x.code === "config_servers_down");
  assert.match(
    e?.message ?? JSON.stringify(plan.validation.errors),
    /^mongos localhost:27017 could not start again: config servers localhost:27019, localhost:27020, localhost:27021 are not running.*`mup cluster start golden`/,
  );
  // A start of the mongos alone, one config server down: refused the same way; a start of the
  // whole cluster starts that config server first, and is planned.
  const stopped = await input("sharded.yaml", {}, false);
  for (const [id, f] of Object.entries(i.facts)) {
    if (!id.startsWith("config-")) stopped.facts[id] = f;
  }
  stopped.facts["config-localhost-27019"] = { running: false };
  stopped.facts["config-localhost-27020"] = { running: true, state: "PRIMARY" };
  stopped.facts["config-localhost-27021"] = { running: true, state: "SECONDARY" };
  stopped.facts["mongos-localhost-27017"] = { running: false };
  const alone = planStart({ ...stopped, filter: { roles: ["mongos"] } });
  assert.match(
    alone.validation.errors.map((x) => x.message).join("\n"),
    /^mongos localhost:27017 cannot start: config server localhost:27019 is not running/,
  );
  assert.equal(planStart(stopped).validation.valid, true);
  // With the config servers up, the same restart is planned.
  assert.equal(
    planRestart(await input("sharded.yaml", { filter: { roles: ["mongos"] } }))
      .validation.valid,
    true,
  );
});

Deno.test("start of fewer members than a majority: no wait for a primary it cannot elect, and a warning; with the majority, the wait", async () => {
  const one = await input("replica-set.yaml", { filter: { nodes: ["localhost:27017"] } }, false);
  const plan = planStart(one);
  assert.ok(!allOperations(plan).some((o) => o.type === "wait_for_primary"));
  assert.deepEqual(plan.validation.warnings.map((w) => w.code), ["no_majority_after_start"]);
  assert.match(plan.validation.warnings[0].message, /rs0 will have 1 of 3 votes running/);
  const two = await input("replica-set.yaml", {}, false);
  two.facts["mongod-localhost-27018"] = { running: true, state: "SECONDARY" };
  two.filter = { nodes: ["localhost:27017"] };
  assert.ok(allOperations(planStart(two)).some((o) => o.type === "wait_for_primary"));
  assert.deepEqual(planStart(two).validation.warnings, []);
});

Deno.test("stop of a stopped cluster and start of a running one plan nothing", async () => {
  assert.equal(allOperations(planStop(await input("sharded.yaml", {}, false))).length, 0);
  assert.equal(allOperations(planStart(await input("sharded.yaml"))).length, 0);
  // meta says running but nothing runs: only the metadata is corrected.
  const crashed = await input("sharded.yaml", {}, false);
  crashed.meta.status = "running";
  assert.deepEqual(allOperations(planStop(crashed)).map((o) => o.type), ["update_metadata"]);
});

Deno.test("rolling restart with a member its set no longer lists (rs.remove, or a scale-in cut off after its reconfig): refused, naming the scale-in that finishes the removal and the repair that adds it back, not waited on until the apply times out", async () => {
  const removed = await input("replica-set.yaml");
  removed.facts["mongod-localhost-27018"] = {
    ...removed.facts["mongod-localhost-27018"],
    state: undefined,
    removed: true,
  };
  const refused = planRestart(removed);
  assert.equal(refused.validation.valid, false);
  assert.deepEqual(refused.validation.errors.map((e) => e.code), ["member_removed"]);
  assert.match(
    refused.validation.errors[0].message,
    /^localhost:27018 runs, but is no longer a member of replica set \S+ .*`mup cluster scale-in \S+ -N localhost:27018`.*comes back with a repair \(`.*mup cluster deploy /,
  );
  // Even where the member answers with a state of its own (REMOVED).
  removed.facts["mongod-localhost-27018"].state = "REMOVED";
  assert.deepEqual(
    planRestart(removed).validation.errors.map((e) => e.code),
    ["member_removed"],
  );
});

Deno.test("start with a member that runs but does not answer: refused when nothing else is to start (not 'already running'); with starts, planned with a warning that the health check meets it (tester34 M3)", async () => {
  const hung = await input("replica-set.yaml");
  hung.facts["mongod-localhost-27018"] = { running: true, answering: false };
  const refused = planStart(hung);
  assert.equal(allOperations(refused).length, 0);
  assert.equal(refused.validation.valid, false);
  assert.deepEqual(refused.validation.errors.map((e) => e.code), ["not_answering"]);
  assert.match(
    refused.validation.errors[0].message,
    /^localhost:27018 runs but does not answer, and a start leaves a running server alone: `mup cluster display \S+` says why .*`mup cluster stop \S+ -N localhost:27018` ends it, then `mup cluster start \S+ -N localhost:27018`$/,
  );
  // On a certificate the cluster's CA did not sign: no stop and start mends it; the repair
  // that signs it again does, restarting it on that one (tester35).
  const foreign = await input("replica-set.yaml");
  foreign.facts["mongod-localhost-27018"] = {
    running: true,
    answering: false,
    untrusted: "invalid peer certificate",
  };
  const told = planStart(foreign).validation.errors[0].message;
  assert.match(
    told,
    /it speaks TLS with a certificate the cluster's CA did not sign for it \(invalid peer certificate\), which no restart on that certificate mends\. A repair \(`[^`]*mup cluster deploy \S+ [^`]+`\) signs its certificate again, installs it and restarts the member on it/,
  );
  // The repair restarts it itself: no restart of it is asked for (tester37).
  assert.doesNotMatch(told, /cluster stop|cluster restart/);
  // Another member down: its start goes ahead, and the review warns of the hung one.
  hung.facts["mongod-localhost-27019"] = { running: false };
  const planned = planStart(hung);
  assert.equal(planned.validation.valid, true);
  assert.ok(allOperations(planned).some((o) => o.id === "start-mongod-localhost-27019"));
  assert.match(
    planned.validation.warnings.find((w) => w.code === "not_answering")?.message ?? "",
    /^localhost:27018 runs but does not answer, and a start leaves a running server alone \(the health check at the end of this start will fail on it\)/,
  );
  // Not selected (-N of another member): not this start's concern.
  hung.filter = { nodes: ["localhost:27019"] };
  assert.ok(!planStart(hung).validation.warnings.some((w) => w.code === "not_answering"));
});

Deno.test("-R and -N select processes; a -N that matches nothing is refused", async () => {
  const plan = planStop(await input("sharded.yaml", { filter: { roles: ["mongos"] } }));
  assert.deepEqual(allOperations(plan).map((o) => o.id), [
    "mark-status-unknown",
    "stop-mongos-localhost-27017",
    "update-metadata",
  ]);
  const one = planRestart(await input("sharded.yaml", { filter: { nodes: ["localhost:27022"] } }));
  assert.deepEqual(allOperations(one).map((o) => o.type), [
    "update_metadata",
    "stop_process",
    "start_process",
    "wait_for_member_state",
    "update_metadata",
  ]);
  await assert.rejects(
    async () => planStop(await input("sharded.yaml", { filter: { nodes: ["localhost:1"] } })),
    (e) => e instanceof MupError && /-N localhost:1 matches no process/.test(e.message),
  );
});

Deno.test("a stop of a set's primary warns of the election its step-down holds; of a secondary it does not", async () => {
  const primary = planStop(
    await input("replica-set.yaml", { filter: { nodes: ["localhost:27017"] } }),
  );
  assert.deepEqual(primary.validation.warnings.map((w) => w.code), ["primary_steps_down"]);
  assert.match(
    primary.validation.warnings[0].message,
    /Stops localhost:27017, the primary of rs0: it steps down first \(replSetStepDown; an election/,
  );
  const secondary = planStop(
    await input("replica-set.yaml", { filter: { nodes: ["localhost:27018"] } }),
  );
  assert.deepEqual(secondary.validation.warnings, []);
  // The whole set stopping holds no election.
  assert.deepEqual(planStop(await input("replica-set.yaml")).validation.warnings, []);
});

Deno.test("rolling restart of a one-member set restarts it in place (no one to step down to)", async () => {
  const i = await input("replica-set.yaml");
  i.meta.topology.mongod_servers = i.meta.topology.mongod_servers.slice(0, 1);
  assert.deepEqual(allOperations(planRestart(i)).map((o) => o.type), [
    "update_metadata",
    "stop_process",
    "start_process",
    "wait_for_member_state",
    "verify_health",
    "update_metadata",
  ]);
});

Deno.test("restart of a cluster with a process down is an invalid plan naming it", async () => {
  const i = await input("replica-set.yaml");
  i.facts["mongod-localhost-27019"] = { running: false };
  const plan = planRestart(i);
  assert.equal(plan.validation.valid, false);
  assert.match(plan.validation.errors[0].message, /localhost:27019 is not running/);
});

Deno.test("a rolling restart of a set with a member that runs but does not say what it is (hung) is invalid; --force is not", async () => {
  const i = await input("replica-set.yaml");
  i.facts["mongod-localhost-27019"] = { running: true }; // no state: hello went unanswered
  const plan = planRestart(i);
  assert.equal(plan.validation.valid, false);
  assert.match(
    plan.validation.errors.map((e) => e.message).join("\n"),
    /localhost:27019 runs but is neither primary, secondary nor arbiter/,
  );
  assert.equal(planRestart({ ...i, force: true }).validation.valid, true);
  // --force is offered while nothing else refuses the plan; once pre-flight refuses it for
  // anything else, which --force would not get past, it is not (tester37).
  const alone = planRestart(i).validation.errors;
  offerForceOnlyAlone(alone);
  assert.match(alone[0].message, /`--force` restarts everything at once without asking/);
  const more = [...planRestart(i).validation.errors, {
    code: "files_present",
    severity: "error" as const,
    message: "configuration file differs",
  }];
  offerForceOnlyAlone(more);
  assert.doesNotMatch(more[0].message, /--force/);
  assert.match(more[0].message, /runs but is neither primary, secondary nor arbiter/);
  // Stopped (SIGSTOP): resumed with kill -CONT, not restarted, as display says (tester39).
  i.facts["mongod-localhost-27019"] = { running: true, stopped: { pid: 4242, stat: "Tl" } };
  const stopped = planRestart(i).validation.errors[0].message;
  assert.match(
    stopped,
    /^localhost:27019 runs \(PID 4242\) but does not answer: it is stopped \(process state Tl\).*`kill -CONT 4242` on localhost resumes it; or `mup cluster stop \S+ -N localhost:27019` ends it$/,
  );
  assert.doesNotMatch(stopped, /--force/);
});

Deno.test("a destroy, and only it among the lifecycle plans, asks for the cluster's name, also on resume", async () => {
  assert.equal(destructive(sealPlan(planDestroy(await input("replica-set.yaml")))), true);
  assert.equal(
    destructive(sealPlan(planDestroy(await input("replica-set.yaml", { retainData: true })))),
    true,
  );
  for (const plan of [planStop, planRestart]) {
    assert.equal(destructive(sealPlan(plan(await input("replica-set.yaml")))), false);
  }
  assert.equal(destructive(sealPlan(planStart(await input("replica-set.yaml", {}, false)))), false);
});

Deno.test("destroy removes every directory, keeps data with retainData, archives first", async () => {
  const all = planDestroy(await input("sharded.yaml"));
  const removed = allOperations(all).filter((o) => o.type === "remove_directory").map((o) =>
    o.target.params.path
  );
  assert.ok(removed.includes(`${DEPLOY}/data/mongod-27018`));
  // First the status becomes unknown: a destroy cut off mid-way must not leave `running`.
  assert.deepEqual(all.phases.map((p) => p.name), ["prepare", "stop", "archive", "remove"]);
  assert.deepEqual(all.phases[0].operations.map((o) => o.id), ["mark-status-unknown"]);
  const kept = planDestroy(await input("sharded.yaml", { retainData: true }));
  const removedKept = allOperations(kept).filter((o) => o.type === "remove_directory").map((o) =>
    o.target.params.path
  );
  assert.ok(!removedKept.some((p) => p.includes("/data/")));
  // The review names where the data stays (9 mongod and config server directories).
  const kept9 = kept.validation.warnings.find((w) => w.code === "data_kept");
  assert.ok(kept9, "a warning names the kept data");
  assert.match(kept9.message, /data kept \(--retain-data\) in 9 directories: .*data\/mongod-27018/);
  assert.equal(all.validation.warnings.some((w) => w.code === "data_kept"), false);
  // A stop that has to SIGKILL says the data goes (no journal recovery) only when it does.
  const stopsOf = (p: typeof all) => allOperations(p).filter((o) => o.type === "stop_process");
  assert.ok(stopsOf(all).every((o) => o.target.params.data_removed === "true"));
  assert.ok(stopsOf(kept).every((o) => o.target.params.data_removed === undefined));
  // Data that goes is stopped all at once, with force; kept data as `cluster stop` stops it.
  assert.ok(stopsOf(all).every((o) => o.depends_on.length === 0 && o.target.params.force));
  const stopped = planStop(await input("sharded.yaml"));
  const order = (p: typeof all) =>
    Object.fromEntries(stopsOf(p).map((o) => [o.id, [o.depends_on, o.target.params.force]]));
  assert.deepEqual(order(kept), order(stopped));
  assert.ok(stopsOf(kept).some((o) => o.depends_on.length > 0), "ordered");
});

Deno.test("destroy leaves the data an earlier scale-in kept, names it, and counts it as the cluster's in the parents it keeps", async () => {
  const i = await input("replica-set.yaml");
  const keptDir = `${DEPLOY}/data/mongod-27099`;
  const meta = {
    ...i.meta,
    retained_data: [{
      id: "mongod-localhost-27099",
      host: "localhost",
      path: keptDir,
      plan_id: "plan-earlier",
      at: "2026-11-30T10:00:00.000Z",
    }],
  };
  const plan = planDestroy({ ...i, meta });
  const removes = allOperations(plan).filter((o) => o.type === "remove_directory");
  assert.ok(!removes.some((o) => o.target.params.path === keptDir), "not removed");
  const parent = removes.find((o) => o.target.params.path === `${DEPLOY}/data`);
  assert.deepEqual(JSON.parse(parent?.target.params.retained_data ?? "[]"), [keptDir]);
  const w = plan.validation.warnings.find((w) => w.code === "scaled_in_data_kept");
  assert.match(
    w?.message ?? "",
    /kept: localhost:\S+\/data\/mongod-27099 \(mongod-localhost-27099, scaled in 2026-11-30\)/,
  );
  assert.equal(
    planDestroy(i).validation.warnings.some((w) => w.code === "scaled_in_data_kept"),
    false,
  );
});

Deno.test("recorded kept data goes from the metadata once a process of the cluster has that directory again", async () => {
  const i = await input("replica-set.yaml");
  const used = listProcesses(i.meta.topology, DEPLOY)[0];
  const entry = (id: string, p: string) => ({
    id,
    host: "localhost",
    path: p,
    plan_id: "plan-earlier",
    at: "2026-11-30T10:00:00.000Z",
  });
  const prev = {
    ...i.meta,
    retained_data: [entry(used.id, used.dirs.data), entry("mongod-localhost-27099", "/d/27099")],
  };
  const plan = planStop({ ...i, meta: prev }) as Plan;
  const next = metaFromPlan(plan, CLUSTER_DIR, { prev, stateId: "state-1" });
  assert.deepEqual(next.retained_data?.map((r) => r.path), ["/d/27099"]);
});

Deno.test("rollback undoes, in reverse order, only what ran after the checkpoint; names what it cannot undo", async () => {
  const { meta } = await metaFor("replica-set.yaml");
  const { planDeploy } = await import("../lib/plan/planner.ts");
  const deploy = sealPlanText(planDeploy({
    planId: "plan-d",
    createdAt: "2026-01-01T00:00:00.000Z",
    clusterName: "golden",
    topology: meta.topology,
    topologyFile: "/t.yaml",
    release: {
      version: "7.0.5",
      variant: "mongo",
      platform: "linux-x86_64",
      url: "u",
      sha256: "ab".repeat(32),
      size_bytes: 1,
      archive_name: "a.tgz",
    },
    deployDir: DEPLOY,
    cacheDir: "/cache",
    clusterDir: CLUSTER_DIR,
    validation: { valid: true, errors: [], warnings: [], checks: [] },
    hooks: [],
    baseState: { lineage: "", serial: 0 },
    cached: true,
  })).plan;
  const ops = allOperations(deploy);
  const states = Object.fromEntries(ops.map((o) => {
    const ran = !o.id.startsWith("verify") && !o.id.startsWith("save") &&
      o.type !== "download_binary";
    return [o.id, {
      id: o.id,
      status: ran ? "completed" as const : "pending" as const,
      retries: 0,
      executions: ran ? 1 : 0,
    }];
  }));
  const state = { state_id: "apply-1", operation_states: states } as unknown as ApplyState;
  const plan = planRollback({
    planId: "plan-rb",
    createdAt: "2026-01-01T00:00:00.000Z",
    original: deploy,
    state,
    checkpoint: { id: "start" },
    stateDir: `${CLUSTER_DIR}/state`,
    baseState: { lineage: "", serial: 0 },
    hooks: [],
  });
  await golden("rollback-replica-set", plan);
  // The request (-N, -R) of the plan it undoes is not the rollback's (tester107 #7).
  const ofSelection = planRollback({
    planId: "plan-rb-n",
    createdAt: "2026-01-01T00:00:00.000Z",
    original: { ...deploy, request: { nodes: ["localhost:27018"] } },
    state,
    checkpoint: { id: "start" },
    stateDir: `${CLUSTER_DIR}/state`,
    baseState: { lineage: "", serial: 0 },
    hooks: [],
  });
  assert.equal(ofSelection.request, undefined);
  // It removes directories: confirmed with the cluster's name, also when resumed.
  assert.equal(destructive(sealPlan(plan)), true);
  // The initialize phase only initiated the set, which cannot be undone: no phase for it.
  assert.deepEqual(plan.phases.map((p) => p.name), [
    "undo-deploy",
    "undo-prepare",
    "finalize",
  ]);
  assert.match(plan.validation.warnings.map((w) => w.message).join("\n"), /init-rs-rs0/);
  // The uploaded config file goes before its directory.
  const rmConf = allOperations(plan).find((o) =>
    o.id === "undo-upload-config-mongod-localhost-27017"
  )!;
  const rmDirs = allOperations(plan).filter((o) =>
    o.id.startsWith("undo-mkdir-mongod-localhost-27017")
  );
  for (const d of rmDirs) assert.ok(d.depends_on.includes(rmConf.id), d.id);
  // From the deploy phase's checkpoint: only the initialize phase's work is undone.
  const cpState = {
    operation_states: Object.fromEntries(
      Object.entries(states).filter(([id]) => !id.startsWith("init-")),
    ),
  } as unknown as ApplyState;
  const later = planRollback({
    planId: "plan-rb2",
    createdAt: "2026-01-01T00:00:00.000Z",
    original: deploy,
    state,
    checkpoint: { id: "phase2-complete", state: cpState },
    stateDir: `${CLUSTER_DIR}/state`,
    baseState: { lineage: "", serial: 0 },
    hooks: [],
  });
  assert.deepEqual(allOperations(later).map((o) => o.type), ["mark_rolled_back"]);
  // A completed first deploy, rolled back: the cluster's metadata goes too, after the stops.
  const all = Object.fromEntries(
    Object.entries(states).map(([id, st]) => [id, { ...st, status: "completed", executions: 1 }]),
  );
  const whole = planRollback({
    planId: "plan-rb3",
    createdAt: "2026-01-01T00:00:00.000Z",
    original: deploy,
    state: { ...state, operation_states: all } as ApplyState,
    checkpoint: { id: "start" },
    stateDir: `${CLUSTER_DIR}/state`,
    baseState: { lineage: "lineage-1", serial: 1 },
    hooks: [],
  });
  const last = whole.phases.at(-1)!;
  assert.equal(last.name, "finalize");
  assert.deepEqual(
    last.operations.filter((o) => o.type === "update_metadata").map((o) => o.target.params.status),
    ["removed"],
  );
  assert.ok(!whole.phases.some((p) => p.name === "undo-finalize"));
});

/** Apply state of `plan` in which the operations `ran` says ran, completed. */
function ranState(plan: Plan, ran: (id: string) => boolean): ApplyState {
  const states = Object.fromEntries(
    allOperations(plan).map((o) => [o.id, {
      id: o.id,
      status: ran(o.id) ? "completed" as const : "pending" as const,
      retries: 0,
      executions: ran(o.id) ? 1 : 0,
    }]),
  );
  return { state_id: "apply-1", operation_states: states } as unknown as ApplyState;
}

function rollbackOf(plan: Plan, ran: (id: string) => boolean) {
  return rollbackOfState(plan, ranState(plan, ran));
}

async function rollbackOfState(plan: Plan, state: ApplyState) {
  const { meta } = await metaFor("sharded.yaml");
  return planRollback({
    planId: "plan-rb",
    createdAt: "2026-01-01T00:00:00.000Z",
    original: plan,
    state,
    checkpoint: { id: "start" },
    stateDir: `${CLUSTER_DIR}/state`,
    baseState: { lineage: "lineage-1", serial: 2 },
    hooks: [],
    startAgain: startAgainOps(meta, DEPLOY),
  });
}

Deno.test("rollback of a stop starts every stopped process again in start order and records the status as found", async () => {
  const stop = sealPlanText(planStop(await input("sharded.yaml"))).plan;
  const plan = await rollbackOf(stop, () => true);
  const ops = allOperations(plan);
  const starts = ops.filter((o) => o.type === "start_process");
  assert.equal(starts.length, 10);
  assert.deepEqual(plan.validation.warnings, []);
  // Config servers start before shard members, and shard members before mongos: reverse order
  // of the stop, through the undo operations' dependencies.
  const byId = new Map(ops.map((o) => [o.id, o]));
  const after = (id: string, seen = new Set<string>()): Set<string> => {
    for (const d of byId.get(id)!.depends_on) if (!seen.has(d)) after(d, seen.add(d));
    return seen;
  };
  const mongos = starts.find((o) => o.target.name.startsWith("mongos"))!.id;
  assert.ok(after(mongos).has("undo-stop-mongod-localhost-27022"), [...after(mongos)].join());
  assert.ok(after("undo-stop-mongod-localhost-27022").has("undo-stop-config-localhost-27019"));
  // Each start is followed by a wait for the process, and the status is recorded last.
  const wait = ops.find((o) => o.id === "undo-stop-config-localhost-27019-wait")!;
  assert.equal(wait.type, "wait_for_process");
  assert.deepEqual(wait.depends_on, ["undo-stop-config-localhost-27019"]);
  const last = plan.phases.at(-1)!.operations.map((o) => o.id);
  assert.deepEqual(last, ["update-metadata", "mark-rolled-back"]);
  assert.equal(ops.find((o) => o.id === "update-metadata")!.target.params.status, "auto");
  // Each phase's estimate is its critical path (the chain of starts and waits), as the plan's
  // total is: not its longest single operation (tester80).
  const { planCriticalPath } = await import("../lib/plan/graph.ts");
  const { formatDuration } = await import("../lib/util/format.ts");
  for (const ph of plan.phases) {
    const chain = planCriticalPath({ phases: [ph] }).length;
    assert.equal(ph.estimated_duration, formatDuration(chain), ph.name);
    assert.ok(
      chain > Math.max(...ph.operations.map((o) => o.estimated_ms)) || ph.name !== "undo-stop",
    );
  }
  // It removes nothing: a resume of it does not ask again.
  assert.equal(destructive(sealPlan(plan)), false);
});

Deno.test("rollback of a restart: a stop and start of the same process cancel out; a stop without its start is undone", async () => {
  const restart = sealPlanText(planRestart(await input("replica-set.yaml"))).plan;
  const whole = await rollbackOf(restart, () => true);
  assert.equal(allOperations(whole).filter((o) => /_process$/.test(o.type)).length, 0);
  // The step-down is named as not undone, never silently skipped.
  assert.match(whole.validation.warnings.map((w) => w.message).join("\n"), /step-down-rs0/);
  // Failed after stopping the first secondary: rolling back starts it again.
  const firstStop = allOperations(restart).find((o) => o.type === "stop_process")!;
  const half = await rollbackOf(restart, (id) => id === firstStop.id || id.startsWith("mark"));
  assert.deepEqual(
    allOperations(half).filter((o) => o.type === "start_process").map((o) => o.id),
    [`undo-${firstStop.id}`],
  );
  // A member that died during the restart: its stop found it down (completed, nothing run),
  // its start brought it back. The rollback leaves it running (tester72).
  const died = ranState(restart, () => true);
  died.operation_states[firstStop.id].executions = 0;
  const found = await rollbackOfState(restart, died);
  assert.deepEqual(
    allOperations(found).filter((o) => /_process$/.test(o.type)).map((o) => o.id),
    [],
  );
  // mup killed while the start after the first stop ran: the start may have brought the
  // member back, so it is not stopped again; the stop's undo starts it only if it is not
  // running (tester103 #3: the rollback stopped and started a healthy member).
  const firstStart = allOperations(restart).find((o) =>
    o.type === "start_process" && o.target.name === firstStop.target.name
  )!;
  const cut = ranState(restart, (id) => id === firstStop.id || id.startsWith("mark"));
  cut.operation_states[firstStart.id] = {
    ...cut.operation_states[firstStart.id],
    status: "running",
    executions: 1,
  };
  const back = await rollbackOfState(restart, cut);
  assert.deepEqual(
    allOperations(back).filter((o) => /_process$/.test(o.type)).map((o) => `${o.type} ${o.id}`),
    [`start_process undo-${firstStop.id}`, `wait_for_process undo-${firstStop.id}-wait`],
  );
});

Deno.test("a plan's critical path runs phase after phase (the applier's barriers): the rolling restart's spans every phase", async () => {
  const { planCriticalPath } = await import("../lib/plan/graph.ts");
  const plan = planRestart(await input("sharded.yaml"));
  const cp = planCriticalPath(plan);
  const phaseOf = new Map(
    plan.phases.flatMap((ph) => ph.operations.map((o) => [o.id, ph.order] as const)),
  );
  // Every phase is on it, in order.
  const orders = [...new Set(cp.path.map((id) => phaseOf.get(id)!))];
  assert.deepEqual(orders, plan.phases.map((ph) => ph.order));
  const ms = new Map(allOperations(plan).map((o) => [o.id, o.estimated_ms]));
  assert.equal(cp.length, cp.path.reduce((n, id) => n + ms.get(id)!, 0));
  // The config set's chain and the mongos chain run one after the other, never side by side.
  const chain = (phase: string) =>
    plan.phases.find((p) => p.name === phase)!.operations.reduce((n, o) => n + o.estimated_ms, 0);
  assert.ok(cp.length >= chain("restart-config") + chain("restart-mongos"), `${cp.length}`);
});

Deno.test("lifecycle plans take their estimates from the durations measured on the cluster's hosts", async () => {
  const measured = {
    samples: { localhost: { stop_process: [111, 333, 222] } },
    applies: 2,
    clusters: ["golden"],
  };
  const plan = planStop(await input("sharded.yaml", { measured }));
  const stops = allOperations(plan).filter((o) => o.type === "stop_process");
  assert.ok(stops.length > 0);
  for (const o of stops) assert.equal(o.estimated_ms, 222);
  assert.equal(plan.estimate_source?.kind, "mixed");
  assert.equal(plan.estimate_source?.measured_operations, stops.length);
});

Deno.test("plan diff of a rolling restart names the primary its step-down moves from, not '(none)' (tester43)", async () => {
  const rs = await input("replica-set.yaml");
  const plan = sealPlan(planRestart(rs));
  const primary = Object.entries(rs.facts).find(([, f]) => f.state === "PRIMARY")![0];
  const port = rs.meta.processes.find((p) => p.id === primary)!.port;
  const text = renderDiff(plan, planDiff(plan, rs.meta, new Set()));
  assert.match(text, new RegExp(`rs0  \\(change: primary localhost:${port} → another member\\)`));
  assert.doesNotMatch(text, /\(none\)/);
});

Deno.test("plan diff of a stop lists the metadata once; after the stop was applied, no changes", async () => {
  const before = await input("replica-set.yaml");
  const plan = sealPlan(planStop(before));
  const ids = before.meta.processes.map((p) => p.id);
  // Before: every member stops; the metadata, recorded by two operations, is one change.
  const pending = planDiff(plan, before.meta, new Set());
  const metaFile = `${CLUSTER_DIR}/meta.yaml`;
  const metaLines = pending.changes.filter((c) => c.resource_id === metaFile);
  assert.equal(metaLines.length, 1, JSON.stringify(pending.changes));
  assert.equal(metaLines[0].action, "update");
  assert.deepEqual(metaLines[0].operations, ["mark-status-unknown", "update-metadata"]);
  assert.equal(pending.summary.stop, ids.length);
  assert.equal(pending.summary.update, 1);
  const text = renderDiff(plan, pending);
  assert.equal(text.split("\n").filter((l) => l.includes(metaFile)).length, 1, text);
  // After the stop was applied: every member is down, the metadata says stopped.
  const stopped = structuredClone(before.meta);
  stopped.status = "stopped";
  const applied = planDiff(plan, stopped, new Set(ids));
  assert.ok(noChanges(applied), JSON.stringify(applied.changes));
  assert.match(renderDiff(plan, applied), /No changes\./);
  // Its apply failed before its last operations: nothing left to change, but work left to do.
  const last = plan.phases.flatMap((ph) => ph.operations).map((o) => o.id);
  const failed = planDiff(plan, stopped, new Set(ids), {
    state_id: "apply-1",
    status: "failed",
    completed: new Set(last.slice(0, -1)),
  });
  assert.ok(noChanges(failed));
  assert.equal(operationsLeft(failed), 1);
  const failedText = renderDiff(plan, failed);
  assert.doesNotMatch(failedText, /No changes/);
  assert.match(
    failedText,
    /1 of the apply's \d+ operations have not run: `mup plan resume \S+` runs them/,
  );
  // Stopped but still recorded as unknown (the stop was cut off before its last record).
  const unknown = structuredClone(before.meta);
  unknown.status = "unknown";
  const cut = planDiff(plan, unknown, new Set(ids));
  assert.deepEqual(cut.changes.filter((c) => c.action !== "none").map((c) => c.resource_id), [
    metaFile,
  ]);
});

Deno.test("rolling restart warns about what it cannot keep available: each set of fewer than three voting members, a standalone", async () => {
  const small = await input("sharded.yaml");
  const t = small.meta.topology;
  // One member per set, as in the smallest sharded cluster.
  const onePerSet = <T extends { replica_set?: string }>(list: T[]) =>
    list.filter((s, i) => list.findIndex((x) => x.replica_set === s.replica_set) === i);
  t.config_servers = onePerSet(t.config_servers);
  t.mongod_servers = onePerSet(t.mongod_servers);
  const sets = [...new Set([...t.config_servers, ...t.mongod_servers].map((s) => s.replica_set))];
  const plan = planRestart(small);
  const noMajority = plan.validation.warnings.filter((w) =>
    w.code === "no_majority_while_restarted"
  );
  assert.deepEqual(noMajority.map((w) => w.message.split(" ")[0]).sort(), [...sets].sort());
  assert.match(noMajority[0].message, /has 1 voting member: .* no primary and takes no writes/);
  assert.equal(plan.validation.valid, true, "a warning, not a refusal");
  const standalone = planRestart(await input("standalone.yaml")).validation.warnings;
  assert.deepEqual(standalone.map((w) => w.code), ["standalone_down_while_restarted"]);
  // Three voting members stay writable through a rolling restart: nothing to say.
  assert.ok(
    !planRestart(await input("replica-set.yaml")).validation.warnings.some((w) =>
      w.code === "no_majority_while_restarted"
    ),
  );
});

Deno.test("IPv6 members are named as MongoDB names them ([::1]:port) in a restart's parameters and descriptions", async () => {
  const i = await input("replica-set.yaml");
  for (const s of i.meta.topology.mongod_servers) s.host = "::1";
  const seen = new Set<string>();
  i.facts = {};
  for (const p of listProcesses(i.meta.topology, DEPLOY)) {
    i.facts[p.id] = { running: true, state: seen.size ? "SECONDARY" : "PRIMARY" };
    seen.add(p.id);
  }
  const ops = allOperations(planRestart(i));
  const wait = ops.find((o) => o.type === "wait_for_primary")!;
  assert.deepEqual(JSON.parse(wait.target.params.members), [
    "[::1]:27017",
    "[::1]:27018",
    "[::1]:27019",
  ]);
  assert.equal(wait.target.params.not, "[::1]:27017");
  assert.ok(ops.some((o) => o.description === "Step down rs0 primary [::1]:27017"));
  assert.ok(!ops.some((o) => /(^|[^[]):{2}1:\d/.test(o.description)), "no unbracketed ::1:port");
});

Deno.test("plan show of a lifecycle plan says how many of the cluster's processes it acts on", async () => {
  const one = sealPlan(planRestart(await input("sharded.yaml", { filter: { roles: ["mongos"] } })));
  const text = renderPlan(one);
  assert.match(text, /Total processes: 10 \(3 config, 6 mongod, 1 mongos\)/);
  assert.match(text, /Acted on: 1 of 10 processes \(started, stopped\)/);
  const all = renderPlan(sealPlan(planStop(await input("sharded.yaml"))));
  assert.match(all, /Acted on: 10 of 10 processes \(stopped\)/);
  // A reconfigure of members' options restarts nothing: it names the members it reconfigures.
  const rs = await input("replica-set.yaml");
  const topology = structuredClone(rs.meta.topology);
  topology.mongod_servers[1].priority = 5;
  topology.mongod_servers[2].hidden = true;
  const members = renderPlan(
    sealPlan(planReconfigure({ ...rs, topology, topologyFile: "/topologies/rs.yaml" })),
  );
  assert.match(members, /Acted on: 2 members' options set by replSetReconfig \(no restart\)/);
});

Deno.test("the confirmation of a reconfigure that writes new configuration files says so: no binaries are installed (tester109 #4)", async () => {
  const rs = await input("replica-set.yaml");
  const topology = structuredClone(rs.meta.topology);
  topology.global = { runtime_config: { operationProfiling: { slowOpThresholdMs: 300 } } };
  const plan = sealPlan(planReconfigure({ ...rs, topology, topologyFile: "/t/rs.yaml" }));
  assert.deepEqual(plan.validation.errors, []);
  const said = describeLifecycleEffects(plan);
  assert.match(said, /• Write new configuration files of 3 processes\n/, said);
  assert.doesNotMatch(said, /binaries/, said);
});

Deno.test("a reconfigure that restarts the primary it gives priority 0 reconfigures the set after the secondaries' restarts, before the primary's: the reconfiguration steps it down, and it restarts as a secondary (tester42, tester76)", async () => {
  const rs = await input("replica-set.yaml");
  const primary = Object.entries(rs.facts).find(([, f]) => f.state === "PRIMARY")![0];
  const at = rs.meta.topology.mongod_servers.findIndex((s) => primary.endsWith(`-${s.port}`));
  const host = `localhost:${rs.meta.topology.mongod_servers[at].port}`;
  const optionsOnly = structuredClone(rs.meta.topology);
  optionsOnly.mongod_servers[at].priority = 0;
  const restarting = structuredClone(optionsOnly);
  for (const s of restarting.mongod_servers) {
    s.runtime_config = { operationProfiling: { slowOpThresholdMs: 250 } };
  }
  const said = (t: typeof optionsOnly) => {
    const plan = planReconfigure({ ...rs, topology: t, topologyFile: "/t/rs.yaml" });
    assert.deepEqual(plan.validation.errors, []);
    return {
      plan,
      op: allOperations(plan).find((o) => o.type === "reconfig_members")!.description,
      warning: plan.validation.warnings.find((w) => w.code === "primary_steps_down")!.message,
    };
  };
  const only = said(optionsOnly);
  assert.match(only.op, new RegExp(`; the primary ${host} steps down first: an election\\)$`));
  assert.match(only.warning, /gets priority 0: it is stepped down first/);
  const both = said(restarting);
  assert.match(both.op, new RegExp(`; the primary ${host} steps down first: an election\\)$`));
  assert.match(
    both.warning,
    /the primary of rs0 now, gets priority 0: it is stepped down .* once the set's secondaries are restarted, then restarted itself as a secondary/,
  );
  // In the restart phase: the secondaries' restarts, the reconfiguration, then the primary's.
  const phase = both.plan.phases.find((ph) => ph.name === "restart-mongod")!;
  const ids = phase.operations.map((o) => o.id);
  const reconfig = ids.indexOf("reconfig-members-rs0");
  assert.ok(reconfig > 0, ids.join(" "));
  assert.ok(ids.slice(0, reconfig).every((id) => !id.endsWith(primary)), ids.join(" "));
  assert.equal(ids[reconfig + 1], "step-down-rs0", ids.join(" "));
  assert.deepEqual(phase.operations[reconfig + 1].depends_on, ["reconfig-members-rs0"]);
  assert.ok(!ids.some((id) => id.startsWith("wait-handback-")), ids.join(" "));
  assert.ok(
    !both.plan.phases.some((ph) => ph.name === "reconfigure-members"),
    both.plan.phases.map((ph) => ph.name).join(" "),
  );
});

Deno.test("a reconfigure of members' options only is planned with a member down (it stays down, the running ones are judged); one with restarts, or with the set's primary down, is refused", async () => {
  const rs = await input("replica-set.yaml");
  const [first, , third] = rs.meta.topology.mongod_servers;
  const ids = Object.keys(rs.facts);
  const down = ids.find((id) => id.endsWith(String(third.port)))!;
  rs.facts[down] = { running: false };
  const topology = structuredClone(rs.meta.topology);
  topology.mongod_servers[2].priority = 0;
  topology.mongod_servers[1].priority = 3;
  const plan = planReconfigure({ ...rs, topology, topologyFile: "/t/rs.yaml" });
  assert.deepEqual(plan.validation.errors, []);
  assert.ok(
    plan.validation.warnings.some((w) =>
      w.code === "stays_down" && w.message.includes(
        `:${third.port} is down and stays down: ` +
          "its new options are in its set's configuration",
      )
    ),
    JSON.stringify(plan.validation.warnings),
  );
  const ops = allOperations(plan);
  const verify = ops.find((o) => o.type === "verify_health")!;
  assert.equal(verify.target.params.only_listed, "true");
  assert.deepEqual(
    (JSON.parse(verify.target.params.processes) as { id: string }[]).map((p) => p.id).sort(),
    ids.filter((id) => id !== down).sort(),
  );
  assert.ok(!ops.some((o) => o.type === "start_process" || o.type === "stop_process"));
  // The member that outranks the primary takes over: waited for, as it runs.
  assert.ok(ops.some((o) => o.id === "wait-takeover-rs0"), ops.map((o) => o.id).join(" "));
  // Its reading of the reachable members, at apply time, leaves the down one out.
  const mark = ops.find((o) => o.id === "mark-status-unknown")!;
  const reach = mark.pre_conditions.find((c) => c.check_type === "members_reachable")!;
  const members = reach.params.members as string[];
  assert.equal(members.length, 2);
  assert.ok(!JSON.stringify(members).includes(`:${third.port}`), JSON.stringify(members));

  // A down member that will outrank the primary takes over once started: not waited for.
  const outranks = structuredClone(rs.meta.topology);
  outranks.mongod_servers[2].priority = 3;
  const later = allOperations(planReconfigure({ ...rs, topology: outranks, topologyFile: "t" }));
  assert.ok(later.some((o) => o.type === "reconfig_members"));
  assert.ok(!later.some((o) => o.id.startsWith("wait-takeover-")));
  const outranking = planReconfigure({ ...rs, topology: outranks, topologyFile: "t" });
  assert.match(
    outranking.validation.warnings.find((w) => w.code === "stays_down")!.message,
    /starts it, and it then takes the primary over: an election\)$/,
  );
  assert.doesNotMatch(
    plan.validation.warnings.find((w) => w.code === "stays_down")!.message,
    /takes the primary over/,
  );

  // The same with a runtime_config change (a restart) is refused, naming the start.
  const restarting = structuredClone(topology);
  for (const s of restarting.mongod_servers) {
    s.runtime_config = { operationProfiling: { slowOpThresholdMs: 250 } };
  }
  const refused = planReconfigure({ ...rs, topology: restarting, topologyFile: "/t/rs.yaml" });
  assert.deepEqual(refused.validation.errors.map((e) => e.code), ["not_running"]);
  assert.ok(
    !allOperations(refused).some((o) => o.type === "start_process" && o.target.name === down),
    "no start of the down member shown",
  );

  // With the primary down, no replSetReconfig can run.
  const noPrimary = await input("replica-set.yaml");
  const primary = Object.keys(noPrimary.facts).find((id) => id.endsWith(String(first.port)))!;
  noPrimary.facts[primary] = { running: false };
  const none = planReconfigure({ ...noPrimary, topology, topologyFile: "/t/rs.yaml" });
  assert.deepEqual(none.validation.errors.map((e) => e.code), ["no_primary"]);
  assert.match(none.validation.errors[0].message, /mup cluster start /);

  // One that runs but does not answer (SIGSTOP) would fail the apply's check: refused now.
  const hung = await input("replica-set.yaml");
  hung.facts[down] = { running: true, answering: false };
  const stuck = planReconfigure({ ...hung, topology, topologyFile: "/t/rs.yaml" });
  assert.deepEqual(stuck.validation.errors.map((e) => e.code), ["not_answering"]);
  assert.match(
    stuck.validation.errors[0].message,
    new RegExp(`:${third.port} runs but does not answer .*mup cluster stop .* -N `),
  );
});

Deno.test("the repair a refusal names: the recorded topology (show-config) written beside the topology file deployed, where the hooks run (its directory made again if gone), never over it", async () => {
  const { meta } = await metaFor("replica-set.yaml", "running");
  const file = { ...meta, topology_file: "/topologies/rs.yaml" };
  const recorded = `/topologies/${meta.name}.recorded.yaml`;
  assert.equal(
    repairCommand(file),
    `mkdir -p /topologies && mup cluster show-config ${meta.name} > ${recorded} && ` +
      `mup cluster deploy ${meta.name} ${recorded} --version ${meta.version}`,
  );
  // After cluster tls as well; a path that needs quoting is quoted; none recorded: here.
  assert.equal(
    repairCommand({ ...file, topology_changed: { by: "cluster tls", at: "2026-01-01T00:00:00Z" } }),
    repairCommand(file),
  );
  assert.match(
    repairCommand({ ...meta, topology_file: "/my topologies/rs.yaml" }),
    new RegExp(
      `^mkdir -p '/my topologies' && .* > '/my topologies/${meta.name}\\.recorded\\.yaml' && `,
    ),
  );
  assert.match(
    repairCommand({ ...meta, topology_file: undefined }),
    new RegExp(`^mup cluster show-config ${meta.name} > ${meta.name}\\.recorded\\.yaml && `),
  );
});

Deno.test("what an interrupted apply still runs (restartsOf): each start of a process the plan stopped; with --force also the phase barriers and the waits that gate those starts; never a stop", async () => {
  const rolling = planRestart(await input("sharded.yaml"));
  const r = restartsOf(rolling as Plan);
  const ops = allOperations(rolling);
  assert.deepEqual(
    ops.filter((o) => r(o.id)).map((o) => o.id),
    ops.filter((o) => o.type === "start_process").map((o) => o.id),
  );
  assert.ok(!rolling.phases.some((ph) => r(`phase:${ph.name}:start`) || r(`phase:${ph.name}:end`)));

  const forced = planRestart(await input("sharded.yaml", { force: true }));
  const f = restartsOf(forced as Plan);
  const fops = allOperations(forced);
  assert.ok(fops.filter((o) => o.type === "start_process").every((o) => f(o.id)));
  assert.ok(!fops.some((o) => o.type === "stop_process" && f(o.id)));
  assert.ok(f("phase:stop:end") && f("phase:start:start") && !f("phase:start:end"));
  // The config servers' waits gate the shards' starts: they run too; the last waits do not.
  assert.ok(
    fops.some((o) => o.type === "wait_for_process" && o.target.params.role !== "mongos" && f(o.id)),
  );
  assert.ok(!fops.some((o) => o.type === "verify_health" && f(o.id)));
  const mongosWaits = fops.filter((o) => o.id.startsWith("wait-mongos-"));
  assert.ok(mongosWaits.length && mongosWaits.every((o) => !f(o.id)));
});

Deno.test("a rolling restart's review says the cluster stays writable only when no warning says a part of it goes away (the only mongos)", async () => {
  const rs = describeEffects(sealPlan(planRestart(await input("replica-set.yaml"))));
  assert.match(
    rs,
    /Restart one member at a time per replica set \(rolling; the cluster stays writable\)/,
  );
  const sh = sealPlan(planRestart(await input("sharded.yaml")));
  assert.ok(sh.validation.warnings.some((w) => w.code === "single_mongos"));
  const text = describeEffects(sh);
  assert.match(text, /\(rolling; see the warnings below\)/);
  assert.doesNotMatch(text, /stays writable/);
  assert.match(text, /! .* is the cluster's only mongos/);
  // One secondary (-N) restarts in turn too: named, never called "not rolling"; --force is.
  const one = describeEffects(
    sealPlan(
      planRestart(await input("replica-set.yaml", { filter: { nodes: ["localhost:27018"] } })),
    ),
  );
  assert.match(one, /Restart localhost:27018 \(one process; the cluster stays writable\)/);
  const forced = describeEffects(
    sealPlan(planRestart(await input("replica-set.yaml", { force: true }))),
  );
  assert.match(forced, /Restart the processes all at once \(--force: not rolling\)/);
});

Deno.test("a start of the member with the highest priority warns that it takes the primary over from the running one; a start of the whole set does not", async () => {
  const rs = await input("replica-set.yaml");
  const meta = structuredClone(rs.meta);
  const third = meta.topology.mongod_servers[2];
  third.priority = 5;
  const down = Object.keys(rs.facts).find((id) => id.endsWith(String(third.port)))!;
  const node = `localhost:${third.port}`;
  const facts = { ...rs.facts, [down]: { running: false } };
  const plan = planStart({ ...rs, meta, facts, filter: { nodes: [node] } });
  assert.deepEqual(plan.validation.warnings.map((w) => w.code), ["priority_takeover"]);
  assert.match(
    plan.validation.warnings[0].message,
    new RegExp(
      `rs0: ${node} has the highest priority \\(5\\): once started and caught up it ` +
        "takes the primary over from localhost:27017",
    ),
  );
  // With the priorities equal it starts as a secondary and stays one.
  const equal = planStart({ ...rs, facts, filter: { nodes: [node] } });
  assert.deepEqual(equal.validation.warnings, []);
  // The set's configuration decides, not the records: raised by hand, it warns; lowered by
  // hand, it does not.
  const raised = { ...facts, [down]: { running: false, priority: 5 } };
  assert.deepEqual(
    planStart({ ...rs, facts: raised, filter: { nodes: [node] } }).validation.warnings
      .map((w) => w.code),
    ["priority_takeover"],
  );
  const lowered = { ...facts, [down]: { running: false, priority: 1 } };
  assert.deepEqual(
    planStart({ ...rs, meta, facts: lowered, filter: { nodes: [node] } }).validation.warnings,
    [],
  );
  // The whole set started: it elects that member, no primary to take over from.
  const stopped = await input("replica-set.yaml", {}, false);
  assert.deepEqual(planStart({ ...stopped, meta }).validation.warnings, []);
});

Deno.test("a reconfigure's diff with members changed by hand: the planned one starts from its live value, another of its set is set back, one of a set it does not reconfigure is left", async () => {
  const sh = await input("sharded.yaml");
  const topology = structuredClone(sh.meta.topology);
  topology.mongod_servers[1].priority = 3; // shard1's localhost:27022
  const plan = sealPlan(planReconfigure({ ...sh, topology, topologyFile: "/topologies/sh.yaml" }));
  const procs = listProcesses(topology, DEPLOY);
  const proc = (port: number) => procs.find((p) => p.port === port)!;
  const opts = (port: number, priority: number) => ({
    host: `localhost:${port}`,
    priority,
    votes: 1,
    hidden: false,
  });
  const drift = [
    { proc: proc(27022), was: opts(27022, 2), want: opts(27022, 3) },
    { proc: proc(27023), was: opts(27023, 4), want: opts(27023, 1) },
    { proc: proc(27025), was: opts(27025, 5), want: opts(27025, 1) },
  ];
  const { diff, untouched } = withLiveMembers(plan, planDiff(plan, sh.meta, new Set()), drift);
  assert.deepEqual(untouched.map((m) => m.proc.port), [27025]);
  const text = renderDiff(plan, diff);
  assert.match(
    text,
    /shard1\/localhost:27022 {2}\(change: priority 2 → 3; changed outside mup since the plan was made, which read priority 1\)/,
  );
  assert.match(
    text,
    /shard1\/localhost:27023 {2}\(change: priority 4 → 1; changed outside mup: reconfig-members-shard1 sets every member of shard1/,
  );
  assert.doesNotMatch(text, /27025/);
  // The two members, and the metadata, which records the new topology: not "unchanged" because
  // its status record alone would be (tester80).
  assert.equal(diff.summary.update, 3);
  const meta = diff.changes.filter((c) => c.resource_id.endsWith("meta.yaml"));
  assert.deepEqual(meta.map((c) => [c.action, c.operations]), [
    ["update", ["mark-status-unknown", "update-metadata"]],
  ]);
});

Deno.test("every phase of a stop, start, restart (rolling and --force) and destroy plan is one a hook may name (knownPhases of its kind); a name of none, or of the other kind, is said", async () => {
  for (const file of ["standalone.yaml", "replica-set.yaml", "sharded.yaml"]) {
    const plans = [
      planStop(await input(file)),
      planRestart(await input(file)),
      planRestart(await input(file, { force: true })),
      planDestroy(await input(file)),
      planStart(await input(file, {}, false)),
    ];
    for (const plan of plans) {
      for (const ph of plan.phases) {
        assert.ok(
          knownPhases(plan.kind).includes(ph.name),
          `${file} ${plan.operation}: ${ph.name}`,
        );
      }
    }
  }
  assert.equal(unknownPhase("restart-mongod", "replica_set"), undefined);
  assert.equal(unknownPhase("undo-initialize", "sharded"), undefined);
  assert.deepEqual(unknownPhase("restart-mongod", "sharded"), {
    note: 'a sharded cluster names that phase "restart-shards"; restart-mongod is a replica set\'s',
  });
  assert.deepEqual(unknownPhase("restart-mongd", "standalone"), {
    note: 'did you mean "restart-mongod"?',
  });
  assert.deepEqual(unknownPhase("backup", "standalone"), {});
  // A sharded cluster's own phases (config servers, mongos, the balancer) are no replica set's.
  for (const p of ["restart-config", "stop-balancer", "restart-mongos-requireTLS"]) {
    assert.equal(unknownPhase(p, "sharded"), undefined, p);
    assert.notEqual(unknownPhase(p, "replica_set"), undefined, p);
  }
  assert.deepEqual([...TLS_PHASE_STEPS], [...TLS_STEPS]);
});

Deno.test("every phase of the golden plans (deploy, scale-in, rollback among them) is one a hook may name", async () => {
  const dir = path.join(ROOT, "tests", "golden");
  for await (const e of Deno.readDir(dir)) {
    const kind = /sharded/.test(e.name)
      ? "sharded"
      : /replica-set/.test(e.name)
      ? "replica_set"
      : "standalone";
    const phases = JSON.parse(await Deno.readTextFile(path.join(dir, e.name))) as {
      phase: string;
    }[];
    for (const { phase } of phases) {
      assert.ok(knownPhases(kind).includes(phase), `${e.name}: ${phase}`);
    }
  }
});

Deno.test("reconfigure that restarts and ranks another member highest: the new options are set before the primary's restart, the member they rank highest takes over once, and nothing is handed back (tester50, tester76)", async () => {
  const rs = await input("replica-set.yaml");
  const t = structuredClone(rs.meta.topology);
  for (const s of t.mongod_servers) {
    s.runtime_config = { operationProfiling: { slowOpThresholdMs: 250 } };
  }
  t.mongod_servers[1].priority = 3;
  const plan = planReconfigure({ ...rs, topology: t, topologyFile: "/t/rs.yaml" });
  assert.ok(!plan.validation.warnings.some((x) => x.code === "primary_handback"));
  const ids = allOperations(plan).map((o) => o.id);
  const order = ["reconfig-members-rs0", "wait-takeover-rs0", "step-down-rs0"].map((id) =>
    ids.indexOf(id)
  );
  assert.deepEqual(order, [...order].sort((a, b) => a - b), ids.join(" "));
  assert.match(
    allOperations(plan).find((o) => o.id === "step-down-rs0")!.description,
    /^Step down rs0 primary localhost:27017 if it still is \(else it is frozen, replSetFreeze/,
  );
  assert.ok(order[0] > 0 && order[1] === order[0] + 1 && order[2] === order[1] + 1, ids.join(" "));
  assert.ok(!ids.some((id) => id.startsWith("wait-handback-")), ids.join(" "));
  assert.match(
    allOperations(plan).find((o) => o.id === "wait-takeover-rs0")!.description,
    /Wait for localhost:27018 \(priority 3\) to take the primary of rs0 over/,
  );
});

Deno.test("a reconfigure of the default write concern with nothing to send it through is refused when planned, never 'No changes': a sharded cluster without a running mongos, a set without its primary (tester73)", async () => {
  const sh = await input("sharded.yaml");
  for (const [id, f] of Object.entries(sh.facts)) {
    if (id.startsWith("mongos")) sh.facts[id] = { ...f, running: false };
  }
  const wc = (t: typeof sh.meta.topology) => {
    const out = structuredClone(t);
    out.global.default_write_concern = { w: "majority" };
    return out;
  };
  const sharded = planReconfigure({ ...sh, topology: wc(sh.meta.topology), topologyFile: "t" });
  const [noMongos] = sharded.validation.errors.filter((e) => e.code === "no_mongos");
  assert.match(
    noMongos?.message ?? JSON.stringify(sharded.validation.errors),
    /no mongos of cluster \S+ runs: a sharded cluster's default write concern is set through mongos/,
  );
  const rs = await input("replica-set.yaml", {}, false);
  const stopped = planReconfigure({ ...rs, topology: wc(rs.meta.topology), topologyFile: "t" });
  assert.match(
    stopped.validation.errors.map((e) => e.message).join("\n"),
    /replica set rs0 has no primary to set the default write concern on/,
  );
  // Running: planned.
  const up = await input("replica-set.yaml");
  const planned = planReconfigure({ ...up, topology: wc(up.meta.topology), topologyFile: "t" });
  assert.deepEqual(planned.validation.errors, []);
  assert.ok(allOperations(planned).some((o) => o.type === "set_default_write_concern"));
});

Deno.test("destroy --host-gone: nothing is planned on the gone host, the review names what it keeps; what an earlier scale-in --host-gone left is named as left again", async () => {
  const yaml = [
    "mongod_servers:",
    ...["a.example", "b.example", "c.example"].map((h) =>
      `  - host: ${h}\n    port: 27017\n    replica_set: rs0`
    ),
    "",
  ].join("\n");
  const i = await input(yaml);
  const lost = i.meta.processes.find((p) => p.host === "c.example")!;
  i.facts[lost.id] = { running: false, unreachable: "cannot reach c.example over SSH" };
  i.meta.forgotten = [{
    id: "mongod-d.example-27017",
    host: "d.example",
    port: 27017,
    paths: ["/d/data"],
    plan_id: "plan-earlier",
    at: "2026-01-02T00:00:00.000Z",
  }];
  const plan = planDestroy({ ...i, goneHosts: ["C.example."] });
  const ops = allOperations(plan);
  assert.ok(ops.length > 0);
  assert.deepEqual(ops.filter((o) => o.target.host === "c.example").map((o) => o.id), []);
  assert.ok(ops.some((o) => o.target.host === "b.example" && o.type === "stop_process"));
  assert.deepEqual(plan.request?.gone_hosts, ["C.example."]);
  const warn = (code: string) => plan.validation.warnings.find((w) => w.code === code)?.message;
  assert.match(
    warn("host_gone") ?? "",
    /c\.example is taken as gone for good \(--host-gone\): this destroy does nothing there\. Its process mongod-c\.example-27017 \(c\.example:27017\) is forgotten, not stopped/,
  );
  assert.match(warn("forgotten_kept") ?? "", /mongod-d\.example-27017 on d\.example \(\/d\/data\)/);
});

Deno.test("reconfigure of a sharded cluster that restarts every process and ranks another config server highest: the config set's new options come inside its restart, before its primary's step-down; the plan validates (tester76)", async () => {
  const sh = await input("sharded.yaml");
  const t = structuredClone(sh.meta.topology);
  t.global.runtime_config = { operationProfiling: { slowOpThresholdMs: 250 } };
  t.config_servers[1].priority = 5;
  const plan = sealPlan(planReconfigure({ ...sh, topology: t, topologyFile: "/t/sh.yaml" }));
  assert.deepEqual(plan.validation.errors, []);
  const phase = plan.phases.find((ph) => ph.name === "restart-config")!;
  const ids = phase.operations.map((o) => o.id);
  const cfg = phase.operations.find((o) => o.type === "reconfig_members")!.target.name;
  const at = ids.indexOf(`reconfig-members-${cfg}`);
  assert.deepEqual(
    ids.slice(at, at + 3),
    [`reconfig-members-${cfg}`, `wait-takeover-${cfg}`, `step-down-${cfg}`],
    ids.join(" "),
  );
  assert.ok(!plan.phases.some((ph) => ph.name === "reconfigure-members"));
  const { text } = sealPlanText((({ content_hash: _, ...r }) => r)(plan));
  assert.deepEqual(
    checkPlanText(text, "sh.json").issues.filter((i) => i.severity === "error"),
    [],
  );
});

Deno.test("a rolling restart of a set whose primary alone can be primary, with two voting members, says both why it has no majority and that the primary restarts without a step-down (tester79)", async () => {
  const text = `mongod_servers:
  - { host: localhost, port: 27017, replica_set: rs0, priority: 2 }
  - { host: localhost, port: 27018, replica_set: rs0, priority: 0 }
  - { host: localhost, port: 27019, replica_set: rs0, priority: 0, votes: 0 }
`;
  const plan = planRestart(await input(text));
  assert.deepEqual(allOperations(plan).filter((o) => o.type === "step_down"), []);
  const said = new Map(plan.validation.warnings.map((w) => [w.code, w.message]));
  assert.match(said.get("no_majority_while_restarted") ?? "", /rs0 has 2 voting members/);
  assert.match(
    said.get("no_primary_while_restarted") ?? "",
    /^localhost:27017 is the only member of rs0 that can be primary \(the others have priority 0\): it restarts without a step-down, as no other member could take over/,
  );
});

Deno.test("a host that cannot be asked is offered --host-gone only when it may be gone: not for a refused login, a changed host key, or servers that answer (tester96)", async () => {
  const i = await input("replica-set.yaml");
  const lost = i.meta.processes.filter((p) => p.port === 27019);
  const unreachable = (facts: Record<string, unknown>) => {
    const [e] = unreachableErrors("restart", "c1", i.meta.processes, lost, {
      [lost[0].id]: { running: false, ...facts } as ProcessFact,
    });
    return e.message;
  };
  assert.match(unreachable({ unreachable: "ssh: timed out" }), /is gone for good/);
  for (
    const facts of [
      { unreachable: "localhost port 22 refused authentication for user mongo with key k" },
      { unreachable: "the SSH host key of localhost port 22 has changed" },
      { unreachable: "ssh: timed out", answering: true, running: true },
    ]
  ) {
    const message = unreachable(facts);
    assert.doesNotMatch(message, /gone for good|--host-gone/, JSON.stringify(facts));
    assert.match(message, /then plan again$/);
  }
});
