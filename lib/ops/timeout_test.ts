import assert from "node:assert/strict";
import { membersDownAdvice, startThenReplan, waitedFor } from "./timeout.ts";
import type { OperationContext } from "./operation.ts";
import type { Plan, PlannedOperation } from "../plan/schema.ts";

/** A scale-out plan's essentials: one new shard started, then added through mongos 28017. */
function scaleOut(shards: string[]): { plan: Plan; ops: PlannedOperation[] } {
  const op = (id: string, type: string, extra: Partial<PlannedOperation> = {}) =>
    ({
      id,
      type,
      description: id,
      target: { type: "process", name: id, params: {} },
      pre_conditions: [],
      changes: [],
      depends_on: [],
      ...extra,
    }) as unknown as PlannedOperation;
  const start = op("start-mongod-localhost-28030", "start_process", {
    target: {
      type: "process",
      name: "mongod-localhost-28030",
      host: "localhost",
      port: 28030,
      params: {
        binary: "/d/c1/deploy/bin/mongo-7.0.14/bin/mongod",
        config: "/d/c1/deploy/conf/mongod-28030/mongod.conf",
      },
    },
  });
  const adds = shards.map((s) =>
    op(`add-shard-${s}`, "add_shard", { depends_on: [start.id] } as Partial<PlannedOperation>)
  );
  const verify = op("verify-health", "verify_health", { depends_on: adds.map((a) => a.id) });
  const plan = {
    plan_id: "plan-t",
    cluster_name: "c1",
    operation: "scale-out",
    version: "7.0.14",
    variant: "mongo",
    topology_file: "/d/grown.yaml",
    topology: { mongos_servers: [{ host: "localhost", port: 28017 }] },
    phases: [{ name: "all", operations: [start, ...adds, verify] }],
  } as unknown as Plan;
  return { plan, ops: [start, ...adds, verify] };
}

const ctxOf = (plan: Plan, op: PlannedOperation) => ({ plan, op } as unknown as OperationContext);

Deno.test("a scale-out's way out with its mongos down: before any addShard, the rollback, the start and the scale-out again; once one may be registered, the mongos's own start command and the resume", () => {
  const { plan, ops } = scaleOut(["shard3"]);
  const add = ops.find((o) => o.id === "add-shard-shard3")!;
  const before = startThenReplan(ctxOf(plan, add), ["localhost:28017"]);
  assert.match(before, /^`mup state rollback c1 --checkpoint start` undoes this scale-out/);
  assert.match(before, /`mup cluster start c1 -N localhost:28017` starts it/);
  assert.doesNotMatch(before, /by hand/);
  // Its addShard was sent: the shard may be registered.
  const sent = startThenReplan(ctxOf(plan, add), ["localhost:28017"], true);
  assert.match(sent, /a shard may be registered already, so a rollback is refused/);
  assert.ok(
    sent.includes(
      "start localhost:28017 by hand with the configuration file mup wrote " +
        "(`/d/c1/deploy/bin/mongo-7.0.14/bin/mongos -f " +
        "/d/c1/deploy/conf/mongos-28017/mongos.conf`), then `mup plan resume c1`",
    ),
    sent,
  );
  // After the addShard (the health check): the same.
  const verify = ops.find((o) => o.id === "verify-health")!;
  assert.match(startThenReplan(ctxOf(plan, verify), ["localhost:28017"]), /by hand/);
  // Two shards, the first one's add failing before it ran: the other may be added; both said.
  const two = scaleOut(["shard3", "shard4"]);
  const first = two.ops.find((o) => o.id === "add-shard-shard3")!;
  const both = startThenReplan(ctxOf(two.plan, first), ["localhost:28017"]);
  assert.match(both, /undoes this scale-out.*once it has added a shard, a rollback is refused too/);
});

Deno.test("a wait that gave up says how long it took when its looks stretched it past its timeout, else its timeout", () => {
  assert.equal(waitedFor(0, 60_000, "after", 61_000), "after 60s");
  assert.equal(waitedFor(0, 60_000, "within", 61_000), "within 60s");
  assert.equal(waitedFor(0, 60_000, "after", 100_000), "after 1m 40s (its timeout is 60s)");
  assert.equal(waitedFor(0, 1_500, "within", 30_000), "after 30s (its timeout is 1.5s)");
});

Deno.test("a deploy that needs members it starts only later (an order mup never plans) says to plan again, not to start them (tester89)", () => {
  const { plan, ops } = scaleOut(["sh"]);
  const init = {
    ...ops[1],
    id: "init-rs-rs0",
    type: "init_replica_set",
    depends_on: [],
  } as PlannedOperation;
  // The init moved to a phase of its own before the start, its dependencies emptied.
  const deploy = {
    ...plan,
    operation: "deploy",
    phases: [{ name: "prepare", operations: [init] }, ...plan.phases],
  } as unknown as Plan;
  const { advice, replan } = membersDownAdvice(ctxOf(deploy, init), ["localhost:28030"]);
  assert.match(advice, /this plan starts it only after init-rs-rs0, an order mup never plans/);
  assert.match(advice, /plan again \(`mup cluster deploy c1 /);
  assert.doesNotMatch(advice, /cluster start/);
  assert.equal(replan, advice);
  // A restart starts members later on purpose: its advice is not this one.
  const restart = { ...deploy, operation: "restart" } as unknown as Plan;
  assert.doesNotMatch(
    membersDownAdvice(ctxOf(restart, init), ["localhost:28030"]).advice,
    /an order mup never plans/,
  );
});
