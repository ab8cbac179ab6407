import assert from "node:assert/strict";
import * as path from "node:path";
import { apply } from "../lib/apply/applier.ts";
import { MockExecutor } from "../lib/executor/mock.ts";
import { createDirectory } from "../lib/ops/create_directory.ts";
import { StateStore } from "../lib/state/store.ts";
import type { Plan } from "../lib/plan/schema.ts";
import { syntheticPlan } from "./synthetic.ts";
import { installFixture, tempDir } from "./fixture.ts";

installFixture();

Deno.test("create_directory runs against the mock executor and then reports itself done", async () => {
  const mock = new MockExecutor();
  const ctx = {
    op: {
      id: "op",
      type: "create_directory" as const,
      description: "",
      target: {
        type: "host" as const,
        name: "h",
        host: "h",
        params: { paths: JSON.stringify(["/tmp/test"]), mode: "0755" },
      },
      pre_conditions: [],
      changes: [],
      depends_on: [],
      parallel: true,
      estimated_ms: 1,
    },
    plan: syntheticPlan(1, 1, 1),
    stateId: "s",
    executors: mock,
    signal: new AbortController().signal,
    progress: () => {},
    log: () => {},
  };
  assert.equal(await createDirectory.isDone(ctx), false);
  await createDirectory.run(ctx);
  assert.ok(mock.dirs.has("/tmp/test"));
  assert.equal(await createDirectory.isDone(ctx), true);
});

async function store() {
  return new StateStore(path.join(await tempDir(), "clusters", "synthetic"));
}

Deno.test("apply() with a simulated failure: failed state, checkpoints of finished phases, resume completes without redoing work", async () => {
  const plan = syntheticPlan(4, 3, 3);
  const mock = new MockExecutor();
  mock.failPaths.add("/synthetic/initialize-1-1");
  const s = await store();
  const opts = {
    plan,
    planPath: "/plan.json",
    store: s,
    executors: mock,
    parallelism: 4,
    onSafetyFailure: () => Promise.resolve("abort" as const),
  };
  const failed = await apply(opts);
  assert.equal(failed.status, "failed");
  assert.deepEqual(failed.checkpoints.map((c) => c.id), ["phase1-complete", "phase2-complete"]);
  assert.equal(failed.operation_states["initialize-1-1"].status, "failed");
  assert.equal(failed.operation_states["finalize-0-0"].status, "pending");
  assert.match(failed.errors[0].error, /simulated failure on \/synthetic\/initialize-1-1/);
  // What was persisted is what was returned.
  const loaded = await s.load(failed.state_id);
  assert.equal(loaded.status, "failed");
  assert.deepEqual(loaded.operation_states, failed.operation_states);

  const mkdirsBefore = mock.calls.filter((c) => c.startsWith("mkdir")).length;
  mock.failPaths.clear();
  const resumed = await apply(opts, loaded);
  assert.equal(resumed.status, "completed");
  assert.equal(resumed.resumes, 1);
  assert.deepEqual(resumed.checkpoints.map((c) => c.id), [
    "phase1-complete",
    "phase2-complete",
    "phase3-complete",
    "phase4-complete",
  ]);
  const mkdirsAfter = mock.calls.filter((c) => c.startsWith("mkdir")).length;
  // Only the unfinished operations ran: the failed one, its successor, and all of finalize.
  const unfinished =
    Object.values(failed.operation_states).filter((o) => o.status !== "completed").length;
  assert.equal(mkdirsAfter - mkdirsBefore, unfinished);
  for (const o of Object.values(resumed.operation_states)) {
    assert.ok(o.executions <= (o.id === "initialize-1-1" ? 2 : 1), `${o.id} ran ${o.executions}×`);
  }
});

Deno.test("apply() respects --parallelism and runs non-parallel operations alone", async () => {
  const plan = syntheticPlan(1, 8, 1);
  plan.phases[0].operations[3].parallel = false;
  const mock = new MockExecutor();
  let running = 0;
  let peak = 0;
  let aloneViolated = false;
  const orig = mock.mkdir.bind(mock);
  mock.mkdir = async (p: string) => {
    running++;
    peak = Math.max(peak, running);
    if (p.endsWith("prepare-3-0") && running > 1) aloneViolated = true;
    await new Promise((r) => setTimeout(r, 20));
    if (p.endsWith("prepare-3-0") && running > 1) aloneViolated = true;
    await orig(p);
    running--;
  };
  const st = await apply({
    plan,
    planPath: "/p",
    store: await store(),
    executors: mock,
    parallelism: 3,
    onSafetyFailure: () => Promise.resolve("abort"),
  });
  assert.equal(st.status, "completed");
  assert.equal(peak, 3);
  assert.equal(aloneViolated, false);
});

Deno.test("StateStore.load() ignores a torn last journal line (crash mid-write)", async () => {
  const plan = syntheticPlan(2, 2, 2);
  const s = await store();
  const st = await apply({
    plan,
    planPath: "/p",
    store: s,
    executors: new MockExecutor(),
    parallelism: 2,
    onSafetyFailure: () => Promise.resolve("abort"),
  });
  await Deno.writeTextFile(
    s.journalPath(st.state_id),
    '{"kind":"op","seq":99999,"state":{"id":"prepare-0-0","sta',
    { append: true },
  );
  const loaded = await s.load(st.state_id);
  assert.equal(loaded.status, "completed");
  assert.equal(loaded.operation_states["prepare-0-0"].status, "completed");
});

/** A small synthetic plan whose first operation has a required safety check (port free). */
function guardedPlan() {
  const plan = syntheticPlan(2, 1, 2);
  const guarded = plan.phases[0].operations[0];
  guarded.pre_conditions = [{
    id: "c1",
    description: "port free",
    check_type: "port_available",
    target: "mock:4000",
    params: { host: "mock", port: 4000 },
    required: true,
  }];
  return { plan, guarded };
}

Deno.test("a failed safety check: skip marks the operation skipped and goes on (a resume runs it again); retry re-runs the check", async () => {
  const { plan, guarded } = guardedPlan();
  const { sealPlan } = await import("../lib/plan/hash.ts");
  const sealed = sealPlan(plan);
  const mock = new MockExecutor();
  mock.busyPorts.add(4000);
  const decisions: string[] = [];
  const firstStore = await store();
  const skipped = await apply({
    plan: sealed,
    planPath: "/p",
    store: firstStore,
    executors: mock,
    parallelism: 2,
    onSafetyFailure: (op, check, outcome) => {
      decisions.push(`${op.id}:${check.check_type}:${outcome.status}`);
      return Promise.resolve("skip");
    },
  });
  assert.equal(skipped.status, "completed");
  assert.equal(skipped.operation_states[guarded.id].status, "skipped");
  assert.match(
    skipped.operation_states[guarded.id].error!,
    /skipped by the user after safety check port_available failed/,
  );
  assert.ok(!mock.dirs.has(`/synthetic/${guarded.id}`), "a skipped operation does nothing");
  assert.ok(mock.dirs.has("/synthetic/prepare-0-1"), "its dependents still ran");
  assert.deepEqual(decisions, [`${guarded.id}:port_available:Port now in use`]);

  // A resume runs a skipped operation again, its checks first (here the port is free now):
  // whatever needed its effect could otherwise never complete.
  const mock3 = new MockExecutor();
  const resumed = await apply({
    plan: sealed,
    planPath: "/p",
    store: firstStore,
    executors: mock3,
    parallelism: 2,
    onSafetyFailure: () => Promise.resolve("abort"),
  }, { ...skipped, status: "paused" });
  assert.equal(resumed.status, "completed");
  assert.equal(resumed.operation_states[guarded.id].status, "completed");
  assert.ok(mock3.dirs.has(`/synthetic/${guarded.id}`), "the skipped operation ran on resume");

  const mock2 = new MockExecutor();
  mock2.busyPorts.add(4000);
  let asked = 0;
  const retried = await apply({
    plan: sealed,
    planPath: "/p",
    store: await store(),
    executors: mock2,
    parallelism: 2,
    onSafetyFailure: () => {
      asked++;
      if (asked === 2) mock2.busyPorts.clear(); // the operator fixed it
      return Promise.resolve("retry");
    },
  });
  assert.equal(retried.status, "completed");
  assert.equal(asked, 2);
  assert.equal(retried.operation_states[guarded.id].retries, 2);
  assert.ok(mock2.dirs.has(`/synthetic/${guarded.id}`));
});

Deno.test("apply() given a signal already aborted (Ctrl-C between the confirmation and the start) pauses before any operation", async () => {
  const plan = syntheticPlan(2, 2, 1);
  const mock = new MockExecutor();
  const ac = new AbortController();
  ac.abort();
  const st = await apply({
    plan,
    planPath: "/p",
    store: await store(),
    executors: mock,
    parallelism: 2,
    signal: ac.signal,
    onSafetyFailure: () => Promise.resolve("abort"),
  });
  assert.equal(st.status, "paused");
  assert.deepEqual(mock.calls.filter((c) => c.startsWith("mkdir")), [], "nothing ran");
});

Deno.test("the time spent answering a failed safety check (the menu) is not counted in the operation's duration", async () => {
  const { plan, guarded } = guardedPlan();
  const { sealPlan } = await import("../lib/plan/hash.ts");
  const { Emitter } = await import("../lib/apply/events.ts");
  const mock = new MockExecutor();
  mock.busyPorts.add(4000);
  const emitter = new Emitter();
  const seen: { type: string; at: number; ms?: number }[] = [];
  emitter.on((e) => {
    if ("id" in e && e.id === guarded.id) {
      seen.push({ type: e.type, at: performance.now(), ...("ms" in e ? { ms: e.ms } : {}) });
    }
  });
  const st = await apply({
    plan: sealPlan(plan),
    planPath: "/p",
    store: await store(),
    executors: mock,
    parallelism: 2,
    emitter,
    // The operator thinks for a while, frees the port, and answers retry.
    onSafetyFailure: async () => {
      await new Promise((r) => setTimeout(r, 300));
      mock.busyPorts.clear();
      return "retry";
    },
  });
  assert.equal(st.status, "completed");
  const start = seen.find((e) => e.type === "op_start")!;
  const answer = seen.find((e) => e.type === "answer_wait")!;
  const done = seen.find((e) => e.type === "op_done")!;
  assert.ok(answer && answer.ms! > 0, JSON.stringify(seen));
  // Reported duration + time at the menu fit in the time between the events: the menu's time
  // is not in the duration as well.
  assert.ok(
    done.ms! + answer.ms! <= done.at - start.at + 1,
    `op_done ${done.ms} ms + answer ${answer.ms} ms > ${done.at - start.at} ms between events`,
  );
});

Deno.test("a Ctrl-C while the last operations run: the apply completes (its phases closed), not paused with nothing left; with an after_apply hook to run, or in an earlier phase, it pauses after closing what finished (tester101 #5)", async () => {
  const interruptedAt = async (opId: string, hooks: Plan["hooks"] = []) => {
    const plan = syntheticPlan(2, 2, 1, hooks);
    const mock = new MockExecutor();
    const ac = new AbortController();
    const orig = mock.mkdir.bind(mock);
    mock.mkdir = async (p: string) => {
      // The Ctrl-C comes while this operation runs: it finishes.
      if (p.endsWith(opId)) ac.abort();
      await orig(p);
    };
    return await apply({
      plan,
      planPath: "/p",
      store: await store(),
      executors: mock,
      parallelism: 1,
      signal: ac.signal,
      onSafetyFailure: () => Promise.resolve("abort"),
    });
  };
  const last = await interruptedAt("deploy-1-0");
  assert.equal(last.status, "completed");
  assert.deepEqual(last.checkpoints.map((c) => c.id), ["phase1-complete", "phase2-complete"]);

  const early = await interruptedAt("prepare-1-0");
  assert.equal(early.status, "paused");
  // The phase whose operations all finished is closed; the next one never started.
  assert.deepEqual(early.checkpoints.map((c) => c.id), ["phase1-complete"]);
  assert.equal(early.operation_states["deploy-0-0"].status, "pending");

  const hooked = await interruptedAt("deploy-1-0", [{
    name: "after",
    event: "after_apply",
    command: "true",
    timeout_ms: 5000,
    environment: {},
    continue_on_error: false,
    working_dir: "/",
  }]);
  assert.equal(hooked.status, "paused", "the after_apply hook is left to the resume");
});
