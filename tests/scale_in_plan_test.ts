/** The scale-in planner, pure: its golden plan, the order that keeps the metadata true, refusals. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { planScaleIn } from "../lib/plan/scale_in.ts";
import { allOperations, type Plan } from "../lib/plan/schema.ts";
import { sealPlanText } from "../lib/plan/hash.ts";
import { checkPlanText } from "../lib/plan/validate.ts";
import { renderPlan } from "../lib/render/plan_text.ts";
import { ROOT } from "./helpers.ts";
import { installFixture } from "./fixture.ts";
import { CLUSTER_DIR, input, without } from "./lifecycle_inputs.ts";

installFixture();

async function scaleIn(ports: number[], running = true) {
  const base = await input("sharded.yaml");
  if (!running) base.facts["mongod-localhost-27025"] = { running: false };
  return planScaleIn({
    ...base,
    topology: without(base.meta.topology, ...ports),
    topologyFile: "/topologies/smaller.yaml",
  });
}

const ids = (plan: Omit<Plan, "content_hash">) => allOperations(plan).map((o) => o.id);

Deno.test("scale-in plan of a shard member: removed through its set, stopped, the rest verified, recorded, then its directories go", async () => {
  const plan = await scaleIn([27023]);
  assert.equal(plan.validation.valid, true, JSON.stringify(plan.validation.errors));
  const shape = plan.phases.map((ph) => ({
    phase: ph.name,
    operations: ph.operations.map((o) => ({ id: o.id, type: o.type, depends_on: o.depends_on })),
  }));
  const file = path.join(ROOT, "tests", "golden", "scale-in-sharded.json");
  const actual = JSON.stringify(shape, null, 1) + "\n";
  if (Deno.env.get("UPDATE_GOLDEN")) await Deno.writeTextFile(file, actual);
  assert.deepEqual(JSON.parse(actual), JSON.parse(await Deno.readTextFile(file)));
  // The member goes through shard1's primary; the metadata is written before any file goes.
  const remove = allOperations(plan).find((o) => o.type === "remove_members")!;
  assert.deepEqual(JSON.parse(remove.target.params.remove), ["localhost:27023"]);
  const save = allOperations(plan).find((o) => o.type === "save_metadata")!;
  for (const o of allOperations(plan).filter((o) => o.type === "remove_directory")) {
    assert.ok(o.depends_on.includes(save.id), `${o.id} waits for the metadata`);
  }
  // The health check is of what stays; the plan records the smaller topology.
  const verify = allOperations(plan).find((o) => o.type === "verify_health")!;
  assert.ok(!verify.target.params.processes.includes("27023"));
  assert.equal(plan.topology.mongod_servers.length, 5);
  // …and counts the processes that stay (the plan's review shows them as its resources).
  assert.equal(plan.resources.total_processes, 9);
  assert.ok(!plan.resources.ports_used.includes(27023));
  // A valid plan document: schema, hash, graph, paths inside the cluster's own.
  const storeRoot = path.dirname(path.dirname(CLUSTER_DIR));
  assert.deepEqual(
    checkPlanText(sealPlanText(plan).text, "scale-in", { storeRoot }).issues.filter((i) =>
      i.severity === "error"
    ),
    [],
  );
});

Deno.test("scale-in drains a whole shard before its members stop; removes a config server member, its mongos's configuration following; refuses the last shard, the last mongos, every config server member, and a cluster with a staying process down", async () => {
  const codes = (plan: Omit<Plan, "content_hash">) =>
    plan.validation.errors.map((e) => e.code).sort();
  const shard = await scaleIn([27024, 27025, 27026]);
  assert.deepEqual(codes(shard), []);
  const drain = allOperations(shard).find((o) => o.type === "remove_shard")!;
  assert.equal(drain.target.params.move_primary_to, "shard1");
  assert.equal(drain.target.port, 27017, "through the mongos");
  for (const o of allOperations(shard).filter((o) => o.type === "stop_process")) {
    assert.deepEqual(o.depends_on, ["remove-shard-shard2"]);
  }
  assert.ok(!ids(shard).includes("remove-members-shard2"), "no reconfig of a set that goes");
  assert.match(
    shard.validation.warnings.map((w) => w.message).join("\n"),
    /drains its chunks .*waits up to 1h \(--wait-timeout sets it\)/,
  );
  // The review says the wait --wait-timeout gives (a bare 3600 is milliseconds: 3.6s).
  const sharded = await input("sharded.yaml");
  const short = planScaleIn({
    ...sharded,
    topology: without(sharded.meta.topology, 27024, 27025, 27026),
    topologyFile: "",
    waitTimeoutMs: 3600,
  });
  assert.match(
    short.validation.warnings.map((w) => w.message).join("\n"),
    /waits up to 3\.6s \(--wait-timeout\)/,
  );
  assert.deepEqual(
    codes(await scaleIn([27018, 27022, 27023, 27024, 27025, 27026])),
    ["last_shard"],
  );
  assert.deepEqual(codes(await scaleIn([27017])), ["last_mongos"]);
  assert.deepEqual(codes(await scaleIn([27019, 27020, 27021])), ["config_servers_removal"]);
  // A config server member goes through its set; the mongos's configuration is written
  // without it (its next start reads it) before the health check and the metadata.
  const cfg = await scaleIn([27021]);
  assert.deepEqual(codes(cfg), []);
  const cfgOps = allOperations(cfg);
  assert.deepEqual(
    JSON.parse(cfgOps.find((o) => o.id === "remove-members-cfg")!.target.params.remove),
    ["localhost:27021"],
  );
  assert.deepEqual(
    cfgOps.find((o) => o.id === "stop-config-localhost-27021")?.depends_on,
    ["remove-members-cfg"],
  );
  const conf = cfgOps.find((o) => o.id === "config-mongos-localhost-27017")!;
  assert.deepEqual(conf.depends_on, ["remove-members-cfg"]);
  assert.match(conf.target.params.content, /configDB: cfg\/localhost:27019,localhost:27020\n/);
  assert.ok(
    cfgOps.find((o) => o.type === "verify_health")!.depends_on.includes(
      "upload-config-mongos-localhost-27017",
    ),
  );
  assert.deepEqual(codes(await scaleIn([27023], false)), ["not_running"]);
  // A dead member may itself be removed: only what stays must run.
  const base = await input("sharded.yaml");
  base.facts["mongod-localhost-27023"] = { running: false };
  const dead = planScaleIn({
    ...base,
    topology: without(base.meta.topology, 27023),
    topologyFile: "",
  });
  assert.equal(dead.validation.valid, true);
  assert.ok(ids(dead).includes("remove-members-shard1"));
});

Deno.test("scale-in that leaves a set one voting member warns that it has no failover, as the topology's own check does; one that leaves two warns of the even number instead (tester111 #3)", async () => {
  const one = await scaleIn([27020, 27021]);
  assert.deepEqual(one.validation.errors, []);
  const single = one.validation.warnings.filter((w) => w.code === "single_voter");
  assert.deepEqual(single.map((w) => w.message), [
    "replica set cfg keeps one voting member (localhost:27019): it has no failover (while that " +
    "member is down or restarting the set has no primary, and a rolling restart cannot keep it " +
    "writable)",
  ]);
  const two = await scaleIn([27022]);
  const codes = two.validation.warnings.map((w) => w.code);
  assert.ok(codes.includes("even_voters") && !codes.includes("single_voter"), codes.join());
});

Deno.test("scale-in of a TLS cluster removes the removed member's certificate and key from its host, after the metadata; a down member is removed first", async () => {
  const text = Deno.readTextFileSync(path.join(ROOT, "examples", "replica-set.yaml"))
    .replace("global:\n", "global:\n  security: { tls: true }\n");
  const base = await input(text);
  // 27018 is down: removed before the running 27019 (each config in between keeps a majority).
  base.facts["mongod-localhost-27018"] = { running: false };
  const plan = planScaleIn({
    ...base,
    topology: without(base.meta.topology, 27018, 27019),
    topologyFile: "",
  });
  const remove = allOperations(plan).find((o) => o.type === "remove_members")!;
  assert.deepEqual(JSON.parse(remove.target.params.remove), [
    "localhost:27018",
    "localhost:27019",
  ]);
  const certs = allOperations(plan).filter((o) =>
    o.type === "remove_directory" && o.target.params.path.endsWith(".pem")
  );
  assert.deepEqual(
    certs.map((o) => path.basename(o.target.params.path)).sort(),
    ["mongod-localhost-27018.pem", "mongod-localhost-27019.pem"],
  );
  for (const o of certs) assert.deepEqual(o.depends_on, ["save-metadata"]);
  const storeRoot = path.dirname(path.dirname(CLUSTER_DIR));
  assert.deepEqual(
    checkPlanText(sealPlanText(plan).text, "scale-in-tls", { storeRoot }).issues.filter((i) =>
      i.severity === "error"
    ),
    [],
  );
});

Deno.test("scale-in of members whose set has no primary (a majority down) is refused, naming the start and then the scale-in that work", async () => {
  const rs = await input("replica-set.yaml");
  rs.facts["mongod-localhost-27017"] = { running: true, state: "SECONDARY" };
  rs.facts["mongod-localhost-27018"] = { running: false };
  rs.facts["mongod-localhost-27019"] = { running: false };
  const plan = planScaleIn({
    ...rs,
    topology: without(rs.meta.topology, 27018, 27019),
    topologyFile: "",
  });
  assert.deepEqual(plan.validation.errors.map((e) => e.code), ["no_primary"]);
  assert.match(
    plan.validation.errors[0].message,
    new RegExp(
      "replica set rs0 has no primary \\(1 of 3 votes run, 2 needed to elect one\\): members " +
        "are removed only through its primary\\. Start what is down first \\(`mup cluster " +
        "start golden -N localhost:27018 -N localhost:27019`\\), then scale in \\(`mup cluster " +
        "scale-in golden -N localhost:27018 -N localhost:27019`\\)",
    ),
  );
  // With one of them running again the set has its primary: removing both is planned.
  rs.facts["mongod-localhost-27017"] = { running: true, state: "PRIMARY" };
  rs.facts["mongod-localhost-27018"] = { running: true, state: "SECONDARY" };
  const again = planScaleIn({
    ...rs,
    topology: without(rs.meta.topology, 27018, 27019),
    topologyFile: "",
  });
  assert.deepEqual(again.validation.errors, []);
});

Deno.test("scale-in review: the processes acted on are counted among those the cluster has now, not those it keeps (tester53)", async () => {
  const text = renderPlan(sealPlanText(await scaleIn([27023])).plan);
  assert.match(text, /Total processes: 9 \(3 config, 5 mongod, 1 mongos\), after it \(10 now\)/);
  assert.match(text, /Acted on: 1 of 10 processes \(stopped\)/);
  // Shards of different sizes are each named with theirs (it said "2 shards, 2/3 nodes").
  assert.match(text, /Topology: Sharded cluster \(2 shards: shard1 of 2 nodes, shard2 of 3\)/);
});
