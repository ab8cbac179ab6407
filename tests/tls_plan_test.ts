/** The `cluster tls` planner, pure: the order MongoDB's procedure needs, metadata last. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { listProcesses } from "../lib/plan/processes.ts";
import { allOperations, type Plan } from "../lib/plan/schema.ts";
import { planTls, type TlsPlanInput } from "../lib/plan/tls.ts";
import { sealPlanText } from "../lib/plan/hash.ts";
import { checkPlanText } from "../lib/plan/validate.ts";
import { DEPLOY, input as lifecycleInput } from "./lifecycle_inputs.ts";
import { installFixture } from "./fixture.ts";
import { knownPhases } from "../lib/hooks/phases.ts";
import { describeLifecycleEffects } from "../lib/cli/lifecycle_effects.ts";

installFixture();

/** The example `file` (or the topology `given`) recorded as cluster "t" with `tls` as it is. */
async function input(
  file: string,
  action: "enable" | "disable",
  tls: boolean,
  running: (id: string) => boolean = () => true,
  /** The topology itself, instead of the example named `file`. */
  given?: string,
): Promise<TlsPlanInput> {
  const base = await lifecycleInput(given ?? file);
  const t0 = base.meta.topology;
  const topology = {
    ...t0,
    global: { ...t0.global, security: { auth: true, tls, admin_user: "admin" } },
  };
  const facts = Object.fromEntries(
    Object.entries(base.facts).map(([id, f]) => [id, running(id) ? f : { running: false }]),
  );
  return {
    ...base,
    planId: "plan-tls",
    meta: { ...base.meta, name: "t", serial: 3, topology },
    hooks: [],
    facts,
    action,
  };
}

function valid(plan: Omit<Plan, "content_hash">): void {
  const { text } = sealPlanText(plan);
  assert.deepEqual(checkPlanText(text, "tls").issues.filter((i) => i.severity === "error"), []);
  const ids = allOperations(plan).map((o) => o.id);
  assert.equal(new Set(ids).size, ids.length, "operation IDs are unique");
  // Each phase is one a hook may name (topology validation warns of any other).
  for (const ph of plan.phases) assert.ok(knownPhases(plan.kind).includes(ph.name), ph.name);
}

Deno.test("tls enable plan: certificates, allowTLS configs, a rolling restart, preferTLS then requireTLS at runtime, requireTLS configs, metadata last", async () => {
  const plan = planTls(await input("sharded.yaml", "enable", false));
  assert.ok(plan.validation.valid, JSON.stringify(plan.validation.errors));
  valid(plan);
  assert.deepEqual(plan.phases.map((p) => p.name), [
    "prepare",
    "certificates",
    "configure-allowTLS",
    "restart-config-allowTLS",
    "restart-mongod-allowTLS",
    "restart-mongos-allowTLS",
    "set-preferTLS",
    "set-requireTLS",
    "configure-requireTLS",
    "finalize",
  ]);
  const n = listProcesses(plan.topology, DEPLOY).length;
  const phase = (name: string) => plan.phases.find((p) => p.name === name)!.operations;
  assert.equal(phase("set-preferTLS").length, n);
  assert.ok(phase("set-requireTLS").every((o) => o.target.params.value === "requireTLS"));
  assert.ok(
    phase("configure-allowTLS").filter((o) => o.type === "generate_config")
      .every((o) => /mode: allowTLS/.test(o.target.params.content)),
  );
  assert.ok(
    phase("configure-requireTLS").filter((o) => o.type === "generate_config")
      .every((o) => /mode: requireTLS/.test(o.target.params.content)),
  );
  assert.equal(phase("restart-mongod-allowTLS").filter((o) => o.type === "step_down").length, 2);
  const last = plan.phases.at(-1)!.operations.at(-1)!;
  assert.equal(last.type, "update_metadata");
  assert.equal(last.target.params.security_tls, "true");
  assert.equal(
    allOperations(plan).filter((o) => o.target.params.security_tls !== undefined).length,
    1,
    "only the last operation records TLS",
  );
  // The plan holds secret references, never a certificate or key.
  assert.doesNotMatch(JSON.stringify(plan), /BEGIN (CERTIFICATE|[A-Z ]*PRIVATE KEY)/);
  // The example's one mongos restarts in every round: clients lose their router meanwhile.
  assert.deepEqual(
    plan.validation.warnings.map((w) => w.code).filter((c) => c === "single_mongos"),
    ["single_mongos"],
  );
});

Deno.test("tls disable plan: rolling restarts through preferTLS, allowTLS and no TLS, metadata last", async () => {
  const plan = planTls(await input("replica-set.yaml", "disable", true));
  assert.ok(plan.validation.valid, JSON.stringify(plan.validation.errors));
  valid(plan);
  assert.deepEqual(plan.phases.map((p) => p.name), [
    "prepare",
    "configure-preferTLS",
    "restart-mongod-preferTLS",
    "configure-allowTLS",
    "restart-mongod-allowTLS",
    "configure-disabled",
    "restart-mongod-disabled",
    "finalize",
    "remove-certificates",
  ]);
  // The certificates and keys nothing reads any more leave the hosts once TLS is recorded off
  // (tester111 #1): each process's, and the CA certificate.
  const removed = plan.phases.at(-1)!.operations;
  assert.deepEqual(
    removed.map((o) => [o.type, path.basename(o.target.params.path), o.depends_on]),
    [
      ...[27017, 27018, 27019].map((p) => [
        "remove_directory",
        `mongod-localhost-${p}.pem`,
        ["update-metadata"],
      ]),
      ["remove_directory", "ca.pem", ["update-metadata"]],
    ],
  );
  // A tls-disable plan edited to remove anything else is refused.
  const edited = structuredClone(plan);
  edited.phases.at(-1)!.operations[0].target.params.path = "/home/mup/data/db";
  const { text } = sealPlanText(edited);
  assert.match(
    checkPlanText(text, "tls").issues.map((i) => i.message).join("\n"),
    /removes \/home\/mup\/data\/db, which is not a TLS certificate: a tls-disable plan removes only the certificates on the hosts/,
  );
  const none = plan.phases.find((p) => p.name === "configure-disabled")!.operations;
  assert.ok(
    none.filter((o) => o.type === "generate_config").every((o) =>
      !/tls:/.test(o.target.params.content)
    ),
  );
  assert.ok(!allOperations(plan).some((o) => o.type === "set_parameter"));
  // Each round ends with the highest-priority member primary again (priority takeover), so the
  // next round never starts in the middle of that election; the others only wait to be healthy.
  const waits = allOperations(plan).filter((o) => o.type === "wait_for_member_state");
  assert.deepEqual(
    waits.filter((o) => o.target.params.state === "PRIMARY").map((o) => o.id),
    ["preferTLS", "allowTLS", "disabled"].map((m) => `wait-state-mongod-localhost-27017-to-${m}`),
  );
  assert.ok(
    waits.filter((o) => o.target.name !== "mongod-localhost-27017")
      .every((o) => o.target.params.state === "HEALTHY"),
  );
  assert.equal(plan.phases.at(-2)!.operations.at(-1)!.target.params.security_tls, "false");
  assert.match(
    describeLifecycleEffects(plan as Plan),
    /• Remove the TLS certificates and keys of 3 processes and the CA certificate from the hosts \(the cluster's CA stays in mup's store\)\n/,
  );
  // Three processes, each stopped and started once per round (tester112 C).
  assert.match(
    describeLifecycleEffects(plan as Plan),
    /• Stop 3 MongoDB processes \(9 stops in all: each once per restart round\)\n {2}• Start 3 MongoDB processes \(9 starts in all: each once per restart round\)\n/,
  );
});

Deno.test("the confirmation of a TLS switch counts what it writes once each: every process's configuration (written twice), the CA certificate and each process's certificate; no keyfile or binaries (tester110 #4)", async () => {
  const plan = planTls(await input("replica-set.yaml", "enable", false)) as Plan;
  const said = describeLifecycleEffects(plan);
  assert.match(said, /• Write new configuration files of 3 processes\n/, said);
  assert.match(said, /• Install the CA certificate and 3 TLS certificates\n/, said);
  assert.doesNotMatch(said, /keyfile|binaries/, said);
});

Deno.test("tls plans are refused when TLS already is as asked or a process is down, naming the command", async () => {
  const same = planTls(await input("replica-set.yaml", "enable", true));
  assert.ok(!same.validation.valid);
  assert.match(same.validation.errors[0].message, /already enabled.*mup cluster tls t disable/);
  const down = planTls(
    await input("replica-set.yaml", "enable", false, (id) => !id.endsWith("27018")),
  );
  assert.ok(!down.validation.valid);
  assert.match(down.validation.errors[0].message, /not running.*mup cluster start t/);
  // A member its set no longer lists (rs.remove by hand) would leave the switch stuck between
  // modes: refused, naming the scale-in and the repair (tester110 #1).
  const removed = await input("replica-set.yaml", "enable", false);
  const gone = Object.keys(removed.facts).find((id) => id.endsWith("27018"))!;
  removed.facts[gone] = { ...removed.facts[gone], removed: true };
  const refused = planTls(removed);
  assert.deepEqual(refused.validation.errors.map((e) => e.code), ["member_removed"]);
  assert.match(
    refused.validation.errors[0].message,
    /^localhost:27018 runs, but is no longer a member of replica set \S+ .*a rolling TLS change would wait .*`mup cluster scale-in t -N localhost:27018`.*a repair \(`/,
  );
});

/** Two members of equal priority (no highest-priority one) and an arbiter. */
const WITH_ARBITER = `mongod_servers:
  - { host: localhost, port: 27017, replica_set: rs0 }
  - { host: localhost, port: 27018, replica_set: rs0 }
  - { host: localhost, port: 27019, replica_set: rs0, arbiter_only: true, priority: 0 }
`;

Deno.test("tls enable plan with an arbiter: no setParameter is sent to it (no login reaches an arbiter); it restarts with the requireTLS configuration once that is written", async () => {
  const arbiter = "mongod-localhost-27019";
  const plan = planTls(
    await input(
      "arbiter.yaml",
      "enable",
      false,
      undefined,
      WITH_ARBITER,
    ),
  );
  valid(plan);
  const ops = allOperations(plan);
  assert.ok(ops.some((o) => o.type === "set_parameter"));
  assert.ok(!ops.some((o) => o.type === "set_parameter" && o.target.name === arbiter));
  const names = plan.phases.map((p) => p.name);
  const last = names.indexOf("restart-arbiters-requireTLS");
  assert.ok(last > names.indexOf("configure-requireTLS"), names.join(", "));
  assert.deepEqual(
    plan.phases[last].operations.map((o) => [o.type, o.target.name]),
    [["stop_process", arbiter], ["start_process", arbiter], ["wait_for_member_state", arbiter]],
  );
});

Deno.test("tls disable plan on a set with no highest-priority member: after the first round, whoever is primary may be stopped; every rolling stop steps a primary down first, none is refused as a moved primary", async () => {
  const plan = planTls(
    await input(
      "leaderless.yaml",
      "disable",
      true,
      undefined,
      WITH_ARBITER,
    ),
  );
  valid(plan);
  // Each round's stops of set members: stepped down first should they be primary by then.
  for (const mode of ["preferTLS", "allowTLS", "disabled"]) {
    const stops = allOperations(plan).filter((o) =>
      o.type === "stop_process" && o.id.endsWith(`-to-${mode}`) &&
      o.pre_conditions.some((c) => c.check_type === "replica_set_healthy")
    );
    assert.ok(stops.length >= 2, mode);
    for (const o of stops) {
      assert.ok(o.target.params.step_down_first, `${o.id} steps a primary down first`);
      for (const c of o.pre_conditions) assert.equal(c.params.secondary, undefined, o.id);
    }
  }
});

Deno.test("tls enable plan on a set whose other members were given priority 0 by hand: rolled by the set's live priorities, no step-down that no member could take over, and the review says why (tester40 H1)", async () => {
  const base = await input("replica-set.yaml", "enable", false);
  const secondaries = Object.entries(base.facts).filter(([, f]) => f.state === "SECONDARY");
  assert.equal(secondaries.length, 2);
  const facts = { ...base.facts };
  for (const [id, f] of secondaries) facts[id] = { ...f, priority: 0 };
  const plan = planTls({ ...base, facts });
  assert.ok(plan.validation.valid, JSON.stringify(plan.validation.errors));
  valid(plan);
  const ops = allOperations(plan);
  assert.deepEqual(ops.filter((o) => o.type === "step_down").map((o) => o.id), []);
  assert.deepEqual(ops.filter((o) => o.id.startsWith("wait-handback-")).map((o) => o.id), []);
  const codes = plan.validation.warnings.map((w) => w.code);
  assert.equal(codes.filter((c) => c === "priority_changed").length, 2);
  const lone = plan.validation.warnings.find((w) => w.code === "no_primary_while_restarted");
  assert.match(
    lone?.message ?? "",
    /localhost:27017 is the only member of rs0 that can be primary \(the others have priority 0\): it restarts without a step-down, as no other member could take over, and while it restarts the set has no primary/,
  );
  // As recorded, the same set hands the primary over: a step-down each round.
  const recorded = planTls(base);
  assert.ok(allOperations(recorded).some((o) => o.type === "step_down"));
  assert.ok(allOperations(recorded).some((o) => o.id.startsWith("wait-handback-")));
  assert.ok(!recorded.validation.warnings.some((w) => w.code === "no_primary_while_restarted"));
});
