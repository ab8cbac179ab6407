/**
 * plan_members.ts: a plan's sets, shards and users are checked against its topology, so that a
 * plan edited and sealed again cannot initiate a set, add a shard or create a user other than
 * the review names (tester51).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { sealPlan, sealPlanText } from "../lib/plan/hash.ts";
import { planMemberIssues, recordedMemberIssues } from "../lib/plan/plan_members.ts";
import { planStop } from "../lib/plan/stop.ts";
import { planRestart } from "../lib/plan/restart.ts";
import { planRollingIssues } from "../lib/plan/plan_rolling.ts";
import { listProcesses } from "../lib/plan/processes.ts";
import { configFilePath, pidFilePath } from "../lib/plan/mongo_config.ts";
import { planReconfigure } from "../lib/plan/reconfigure.ts";
import { planScaleIn } from "../lib/plan/scale_in.ts";
import { allOperations, type Plan } from "../lib/plan/schema.ts";
import { checkPlanText } from "../lib/plan/validate.ts";
import { mup, output, ROOT, tempHome } from "./helpers.ts";
import { installFixture } from "./fixture.ts";
import { reseal } from "./resealed.ts";
import { input, sealedDeploy, without } from "./lifecycle_inputs.ts";

installFixture();

async function deployPlan(file: string): Promise<Plan> {
  const text = Deno.readTextFileSync(path.join(ROOT, "examples", file));
  // As `cluster deploy` plans it: access control on by default.
  return (await sealedDeploy(text, file, true)).plan;
}

/** `plan` with one operation's parameter set to `value`, sealed again as an editor would. */
function edited(plan: Plan, id: string, key: string, value: string): string {
  return reseal(plan, (p) => allOperations(p).find((o) => o.id === id)!.target.params[key] = value);
}

const messages = (text: string) =>
  checkPlanText(text, "edited.json").issues.filter((i) => i.code === "plan_members")
    .map((i) => i.message);

Deno.test("plan_members: the plans mup makes pass (deploy, scale-in of a member and of a shard, reconfigure)", async () => {
  for (const file of ["standalone.yaml", "replica-set.yaml", "sharded.yaml"]) {
    assert.deepEqual(planMemberIssues(await deployPlan(file)), [], file);
  }
  const sh = await input("sharded.yaml");
  for (const ports of [[27023], [27024, 27025, 27026]]) {
    const plan = sealPlan(
      planScaleIn({ ...sh, topology: without(sh.meta.topology, ...ports), topologyFile: "" }),
    );
    assert.ok(allOperations(plan).some((o) => /^remove-(members|shard)-/.test(o.id)), `${ports}`);
    assert.deepEqual(planMemberIssues(plan), [], `scale-in ${ports}`);
  }
  const rs = await input("replica-set.yaml");
  const topology = structuredClone(rs.meta.topology);
  topology.mongod_servers[1].priority = 5;
  const reconf = sealPlan(planReconfigure({ ...rs, topology, topologyFile: "/t/rs.yaml" }));
  assert.ok(allOperations(reconf).some((o) => o.type === "reconfig_members"));
  assert.deepEqual(planMemberIssues(reconf), []);
});

Deno.test("plan_members: a set initiated, a shard added, a user created or a member set other than the topology says is refused, naming the operation (tester51)", async () => {
  const rs = await deployPlan("replica-set.yaml");
  const init = allOperations(rs).find((o) => o.type === "init_replica_set")!;
  const config = JSON.parse(init.target.params.config);
  // Untouched, it is valid.
  assert.deepEqual(messages(sealPlanText((({ content_hash: _, ...r }) => r)(rs)).text), []);

  const priority = structuredClone(config);
  priority.members[0].priority = 0;
  const [p] = messages(edited(rs, init.id, "config", JSON.stringify(priority)));
  assert.match(
    p,
    new RegExp(`operation ${init.id} \\(init_replica_set\\) initiates rs0 with .*"priority":0`),
  );
  assert.match(p, /not as this plan's topology gives it/);
  assert.match(p, /Plans are made by mup, not edited/);

  const extra = structuredClone(config);
  extra.members.push({ _id: 3, host: "evil.example:27017", priority: 5 });
  assert.equal(messages(edited(rs, init.id, "config", JSON.stringify(extra))).length, 1);

  const user = allOperations(rs).find((o) => o.type === "create_user")!;
  assert.match(
    messages(edited(rs, user.id, "user", "hacker"))[0],
    /creates user "hacker"; this plan's topology's admin user is "admin"/,
  );
  assert.match(
    messages(edited(rs, user.id, "members", JSON.stringify(["evil.example:27017"])))[0],
    /not processes of this plan's topology/,
  );

  const sh = await deployPlan("sharded.yaml");
  const add = allOperations(sh).find((o) => o.type === "add_shard")!;
  assert.match(
    messages(edited(sh, add.id, "shard", "shard1/evil.example:27017"))[0],
    /adds shard "shard1\/evil\.example:27017", not a shard of this plan's topology \(shard1\/localhost:/,
  );

  const r = await input("replica-set.yaml");
  const topology = structuredClone(r.meta.topology);
  topology.mongod_servers[1].priority = 5;
  const reconf = sealPlan(planReconfigure({ ...r, topology, topologyFile: "/t/rs.yaml" }));
  const op = allOperations(reconf).find((o) => o.type === "reconfig_members")!;
  const options = JSON.parse(op.target.params.options);
  options[1].priority = 50;
  assert.match(
    messages(edited(reconf, op.id, "options", JSON.stringify(options)))[0],
    /sets .*"priority":50.* in rs0, not its members' options as this plan's topology gives them/,
  );
});

Deno.test("plan_members: a deploy with access control whose admin user's creation was taken out (its dependants rewired, sealed again) is refused, naming the operation (tester113 #2)", async () => {
  /** `plan` without operation `id`, nothing depending on it any more, sealed again. */
  const dropped = (plan: Plan, id: string): string =>
    reseal(plan, (p) => {
      for (const ph of p.phases) {
        ph.operations = ph.operations.filter((o) => o.id !== id);
        for (const o of ph.operations) o.depends_on = o.depends_on.filter((d) => d !== id);
      }
    });
  /** `plan` with operation `id` made a copy of operation `like` (its ID kept), sealed again. */
  const swapped = (plan: Plan, id: string, like: string): string =>
    reseal(plan, (p) => {
      const body = structuredClone(allOperations(p).find((o) => o.id === like)!);
      for (const ph of p.phases) {
        ph.operations = ph.operations.map((o) => o.id === id ? { ...body, id } : o);
      }
    });
  const refused = (text: string, id: string, what: string) => {
    const found = messages(text);
    assert.equal(found.length, 1, `${what}: ${found.join("\n")}`);
    assert.match(
      found[0],
      new RegExp(
        `^the plan has no operation ${id} that creates the admin user \\(create_user, via ` +
          "\\w+, with the cluster's admin password\\): with access control on, .* must get " +
          'the admin user "admin", or it runs open to the localhost exception',
      ),
    );
  };
  for (const file of ["standalone.yaml", "replica-set.yaml", "sharded.yaml"]) {
    const plan = await deployPlan(file);
    const users = allOperations(plan).filter((o) => o.type === "create_user");
    assert.ok(users.length, file);
    // Kept under its ID but made something else (tester114 A), or made with another secret.
    const wait = allOperations(plan).find((o) => o.type === "wait_for_process")!;
    refused(swapped(plan, users[0].id, wait.id), users[0].id, `${file}: a wait as ${users[0].id}`);
    refused(edited(plan, users[0].id, "secret", "secret:keyfile"), users[0].id, `${file}: secret`);
    refused(edited(plan, users[0].id, "via", "elsewhere"), users[0].id, `${file}: via`);
    for (const u of users) {
      const text = dropped(plan, u.id);
      refused(text, u.id, `${file} without ${u.id}`);
      // Otherwise valid, as the tester's was: this is the one error that stops it.
      assert.deepEqual(
        checkPlanText(text, "edited.json").issues.filter((i) => i.severity === "error")
          .map((i) => i.code),
        ["plan_members"],
      );
    }
  }
});

Deno.test("plan_descriptions: an operation described as something else than it does is refused, naming it (tester51)", async () => {
  const rs = await deployPlan("replica-set.yaml");
  const start = allOperations(rs).find((o) => o.type === "start_process")!;
  const codes = (text: string) =>
    checkPlanText(text, "edited.json").issues.filter((i) => i.code === "plan_description")
      .map((i) => i.message);
  const sealed = (plan: Plan) => sealPlanText((({ content_hash: _, ...r }) => r)(plan)).text;
  assert.deepEqual(codes(sealed(rs)), []);
  const with_ = (description: string) => {
    const copy = structuredClone(rs);
    allOperations(copy).find((o) => o.id === start.id)!.description = description;
    return sealed(copy);
  };
  const [noop] = codes(with_("Harmless no-op"));
  assert.match(
    noop,
    new RegExp(
      `operation ${start.id} \\(start_process\\) is described as "Harmless no-op", which does ` +
        `not start with what a start_process does \\("Start …"\\)`,
    ),
  );
  assert.match(noop, /Plans are made by mup, not edited/);
  // The right verb, another process.
  assert.match(
    codes(with_("Start rs0 member otherhost:1"))[0],
    /does not name the process it acts on \(mongod-localhost-\d+ or localhost:\d+\)/,
  );
  const init = allOperations(rs).find((o) => o.type === "init_replica_set")!;
  const copy = structuredClone(rs);
  allOperations(copy).find((o) => o.id === init.id)!.description = "Initialize replica set";
  assert.match(codes(sealed(copy))[0], /does not name the replica set or shard it acts on \(rs0\)/);
});

Deno.test("plan_targets: a stop aimed at another process than it names, an operation its kind of plan never has, a description that takes its verb back, a plan of a topology the metadata does not have: refused (tester54)", async () => {
  const base = await input("replica-set.yaml");
  const [, a] = base.meta.processes;
  const stop = sealPlan(
    planStop({ ...base, filter: { nodes: [`${a.host}:${a.port}`] } }),
  );
  const codes = (plan: Plan) =>
    checkPlanText(sealPlanText((({ content_hash: _, ...r }) => r)(plan)).text, "x.json").issues
      .filter((i) => i.severity === "error").map((i) => `${i.code}: ${i.message}`);
  assert.deepEqual(codes(stop), []);
  const op = allOperations(stop).find((o) => o.type === "stop_process")!;
  const edit = (f: (p: Plan, o: typeof op) => void) => {
    const copy = structuredClone(stop);
    f(copy, allOperations(copy).find((o) => o.id === op.id)!);
    return codes(copy);
  };
  // Aimed at the primary's port, still named (and described) as the secondary.
  assert.match(
    edit((_p, o) => o.target.port = 27017).join("\n"),
    /plan_target: operation stop-mongod-localhost-27018 \(stop_process\) names mongod-localhost-27018 but targets localhost:27017, not its localhost:27018/,
  );
  assert.match(
    edit((_p, o) => o.target.params.pid_file = o.target.params.pid_file.replace("27018", "27017"))
      .join("\n"),
    /names mongod-localhost-27018 but its pid_file is \S+27017\S*, not /,
  );
  // A directory removal added to a stop plan.
  assert.match(
    edit((p) =>
      p.phases[p.phases.length - 1].operations.push({
        ...structuredClone(op),
        id: "rm-data",
        type: "remove_directory",
        description: "Remove localhost:/data/x",
        target: { type: "host", name: "localhost", host: "localhost", params: { path: "/data/x" } },
        depends_on: [],
      })
    ).join("\n"),
    /plan_operation_kind: operation rm-data \(remove_directory\) is not an operation of a stop plan \(mup makes it only in destroy, scale-in, rollback, tls-disable plans\)/,
  );
  assert.match(
    edit((_p, o) => o.description = "Stop nothing: localhost:27018 keeps running").join("\n"),
    /plan_description: .* says it does nothing/,
  );
  // Its topology edited together with its target: the recorded cluster says otherwise.
  const forged = structuredClone(stop);
  forged.deploy_dir = "/elsewhere/deploy";
  assert.deepEqual(recordedMemberIssues(stop, base.meta), []);
  const moved = listProcesses(forged.topology, forged.deploy_dir).find((p) => p.port === 27018)!;
  const target = allOperations(forged).find((o) => o.id === op.id)!;
  target.target.params.pid_file = pidFilePath(moved);
  target.target.params.config = configFilePath(moved);
  assert.deepEqual(codes(forged), [], "consistent with its own (forged) topology");
  assert.match(
    recordedMemberIssues(forged, base.meta).map((i) => i.message).join("\n"),
    /^cluster golden as recorded in its metadata: operation stop-mongod-localhost-27018 \(stop_process\) names mongod-localhost-27018 but its config is \/elsewhere/,
  );
});

Deno.test("a plan other than a deploy of a cluster this store never deployed nor tried to is refused (tester54)", async () => {
  const home = await tempHome();
  const base = await input("replica-set.yaml");
  const { text } = sealPlanText(planStop({ ...base, filter: { nodes: ["localhost:27018"] } }));
  const file = path.join(home, "stop.json");
  await Deno.writeTextFile(file, text);
  const r = await mup(["plan", "validate", file, "--json"], { home });
  assert.equal(r.code, 1, output(r));
  assert.ok(
    r.stdout.includes(
      "is a stop of cluster golden, which this store has neither deployed nor tried to deploy",
    ),
    r.stdout,
  );
});

Deno.test("plan_rolling: a rolling restart whose stops were unchained (depends_on edited) is refused; as planned it passes (tester56)", async () => {
  const sh = await input("sharded.yaml");
  const plan = sealPlan(planRestart(sh));
  assert.deepEqual(planRollingIssues(plan), []);
  const unchained = structuredClone(plan);
  for (const ph of unchained.phases) {
    for (const o of ph.operations) if (o.type !== "start_process") o.depends_on = [];
  }
  const said = planRollingIssues(unchained).map((i) => i.message).join("\n");
  assert.match(
    said,
    /mongod-localhost-\d+ and mongod-localhost-\d+ of shard1 could be down at once in the rolling phase restart-shards/,
  );
  assert.match(said, /of cfg could be down at once in the rolling phase restart-config/);
  const wait = allOperations(plan).find((o) => o.type === "wait_for_member_state")!;
  const noWait = structuredClone(plan);
  for (const ph of noWait.phases) ph.operations = ph.operations.filter((o) => o.id !== wait.id);
  assert.match(
    planRollingIssues(noWait).map((i) => i.message).join("\n"),
    /no operation there waits for it to return before another stops/,
  );
});

Deno.test("plan_members: a reconfigure whose options were edited with its topology, its description left, is refused: the review would not say what it sets (tester56)", async () => {
  const r = await input("replica-set.yaml");
  const topology = structuredClone(r.meta.topology);
  topology.mongod_servers[1].priority = 0;
  topology.mongod_servers[1].hidden = true;
  const plan = sealPlan(planReconfigure({ ...r, topology, topologyFile: "/t/rs.yaml" }));
  assert.deepEqual(planMemberIssues(plan), []);
  const forged = structuredClone(plan);
  forged.topology.mongod_servers[0].priority = 0;
  forged.topology.mongod_servers[0].votes = 0;
  const op = allOperations(forged).find((o) => o.type === "reconfig_members")!;
  const options = JSON.parse(op.target.params.options);
  options[0].priority = 0;
  options[0].votes = 0;
  op.target.params.options = JSON.stringify(options);
  assert.match(
    planMemberIssues(forged).map((i) => i.message).join("\n"),
    /is described as setting localhost:27018 priority 1 → 0, hidden false → true, but it sets localhost:27017 priority 2 → 0, votes 1 → 0; localhost:27018 priority 1 → 0, hidden false → true/,
  );
});

Deno.test("plan_targets: a member's wait for another state than its description says, or for a few ms, is refused (tester56)", async () => {
  const plan = sealPlan(planRestart(await input("replica-set.yaml")));
  const errors = (p: Plan) =>
    checkPlanText(sealPlanText((({ content_hash: _, ...r }) => r)(p)).text, "x.json").issues
      .filter((i) => i.severity === "error").map((i) => i.message).join("\n");
  assert.equal(errors(plan), "");
  const wait = allOperations(plan).find((o) => o.type === "wait_for_member_state")!;
  const edited = (f: (o: typeof wait) => void) => {
    const copy = structuredClone(plan);
    f(allOperations(copy).find((o) => o.id === wait.id)!);
    return errors(copy);
  };
  assert.match(
    edited((o) => o.target.params.state = "STARTUP2"),
    /waits for STARTUP2 and caught up, which its description \("Wait until localhost:\d+ is SECONDARY and caught up"\) does not say/,
  );
  assert.match(edited((o) => o.target.params.caught_up = "false"), /which its description/);
  assert.match(
    edited((o) => o.target.timeout_ms = 1),
    /waits 1ms, less than the 1s mup ever gives/,
  );
});

Deno.test("plan_targets: a rollback's stop of a process the metadata never recorded passes only when the apply it undoes planned that process (an unfinished scale-out's member; tester77)", async () => {
  const base = await input("replica-set.yaml");
  const grown = structuredClone(base.meta.topology);
  grown.mongod_servers.push({ ...grown.mongod_servers[1], port: 27020 });
  const undone = { topology: grown, deploy_dir: base.meta.deploy_dir };
  const added = listProcesses(grown, base.meta.deploy_dir).find((p) => p.port === 27020)!;
  const plan = structuredClone(
    sealPlan(planStop({ ...base, filter: { nodes: ["localhost:27018"] } })),
  );
  plan.operation = "rollback";
  const stop = allOperations(plan).find((o) => o.type === "stop_process")!;
  Object.assign(stop.target, { name: added.id, port: 27020 });
  stop.target.params.pid_file = pidFilePath(added);
  stop.target.params.config = configFilePath(added);
  const said = (u?: typeof undone) =>
    recordedMemberIssues(plan, base.meta, u).filter((i) => i.code === "plan_target")
      .map((i) => i.message).join("\n");
  assert.match(said(), /acts on "mongod-localhost-27020", which is no process of the cluster/);
  assert.equal(said(undone), "");
  // Aimed elsewhere than the undone apply's process: still refused.
  stop.target.port = 27017;
  assert.match(said(undone), /names mongod-localhost-27020 but targets localhost:27017/);
});
