import assert from "node:assert/strict";
import { Dag } from "./dag.ts";
import { walk } from "./walk.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("walk() starts a node only after all its dependencies are done", async () => {
  const dag = new Dag([
    { id: "a", dependsOn: [], parallel: true },
    { id: "b", dependsOn: ["a"], parallel: true },
    { id: "c", dependsOn: ["a"], parallel: true },
    { id: "d", dependsOn: ["b", "c"], parallel: true },
  ]);
  const done: string[] = [];
  const r = await walk(dag, {
    concurrency: 4,
    run: async (id) => {
      for (const dep of dag.dependencies(id)) assert.ok(done.includes(dep), `${id} before ${dep}`);
      await sleep(5);
      done.push(id);
    },
  });
  assert.deepEqual(r.failed, []);
  assert.equal(done.length, 4);
  assert.equal(done[3], "d");
});

Deno.test("walk() keeps to the concurrency limit", async () => {
  const dag = new Dag(
    Array.from({ length: 12 }, (_, i) => ({ id: `n${i}`, dependsOn: [], parallel: true })),
  );
  let running = 0, peak = 0;
  await walk(dag, {
    concurrency: 3,
    run: async () => {
      peak = Math.max(peak, ++running);
      await sleep(10);
      running--;
    },
  });
  assert.equal(peak, 3);
});

Deno.test("walk(): a failure stops new work, running nodes finish, the rest is reported not run", async () => {
  const dag = new Dag([
    { id: "slow", dependsOn: [], parallel: true },
    { id: "bad", dependsOn: [], parallel: true },
    { id: "after-slow", dependsOn: ["slow"], parallel: true },
    { id: "after-bad", dependsOn: ["bad"], parallel: true },
  ]);
  let slowFinished = false;
  const r = await walk(dag, {
    concurrency: 4,
    run: async (id) => {
      if (id === "bad") throw new Error("boom");
      if (id === "slow") {
        await sleep(50);
        slowFinished = true;
      }
    },
  });
  assert.equal(slowFinished, true, "a running node is allowed to finish");
  assert.deepEqual(r.failed.map((f) => f.id), ["bad"]);
  assert.deepEqual(r.completed, ["slow"]);
  assert.deepEqual(r.notRun.sort(), ["after-bad", "after-slow"]);
});

Deno.test("walk() skips completed nodes and runs non-parallel nodes alone", async () => {
  const dag = new Dag([
    { id: "a", dependsOn: [], parallel: true },
    { id: "b", dependsOn: [], parallel: true },
    { id: "x", dependsOn: [], parallel: false },
    { id: "c", dependsOn: [], parallel: true },
  ]);
  const ran: string[] = [];
  let running = 0;
  let xAlone = true;
  await walk(dag, {
    concurrency: 4,
    completed: ["a"],
    run: async (id) => {
      running++;
      ran.push(id);
      await sleep(10);
      if (id === "x" && running > 1) xAlone = false;
      running--;
    },
  });
  assert.ok(!ran.includes("a"));
  assert.equal(ran.length, 3);
  assert.equal(xAlone, true);
});

Deno.test("walk() stops starting nodes when aborted", async () => {
  const dag = new Dag(
    Array.from(
      { length: 5 },
      (_, i) => ({ id: `n${i}`, dependsOn: i ? [`n${i - 1}`] : [], parallel: true }),
    ),
  );
  const ac = new AbortController();
  const r = await walk(dag, {
    concurrency: 1,
    signal: ac.signal,
    run: async (id) => {
      if (id === "n1") ac.abort();
      await sleep(1);
    },
  });
  assert.equal(r.aborted, true);
  assert.deepEqual(r.completed, ["n0", "n1"]);
  assert.equal(r.notRun.length, 3);
});

Deno.test("walk(): an abort while the last node runs cuts nothing short, so the walk is not aborted", async () => {
  const dag = new Dag([
    { id: "a", dependsOn: [], parallel: true },
    { id: "b", dependsOn: ["a"], parallel: true },
  ]);
  const ac = new AbortController();
  const r = await walk(dag, {
    concurrency: 1,
    signal: ac.signal,
    run: async (id) => {
      if (id === "b") ac.abort();
      await sleep(1);
    },
  });
  assert.deepEqual([r.aborted, r.completed, r.notRun], [false, ["a", "b"], []]);
});

/** stop-x → start-x → wait-x, and stop-y → start-y: starts finish what a done stop began. */
const restartDag = () =>
  new Dag([
    { id: "stop-x", dependsOn: [], parallel: false },
    { id: "start-x", dependsOn: ["stop-x"], parallel: false },
    { id: "wait-x", dependsOn: ["start-x"], parallel: false },
    { id: "stop-y", dependsOn: ["wait-x"], parallel: false },
    { id: "start-y", dependsOn: ["stop-y"], parallel: false },
  ]);

Deno.test("walk(): after an abort, a node that finishes a done dependency's work still runs; nothing else starts", async () => {
  const ac = new AbortController();
  const r = await walk(restartDag(), {
    concurrency: 2,
    signal: ac.signal,
    finishes: (id) => id.startsWith("start-"),
    run: async (id) => {
      if (id === "stop-x") ac.abort();
      await sleep(1);
    },
  });
  assert.deepEqual([r.aborted, r.completed, r.notRun], [
    true,
    ["stop-x", "start-x"],
    ["wait-x", "stop-y", "start-y"],
  ]);
});

Deno.test("walk(): after a failure elsewhere, a finishing node still runs; a hard stop starts nothing more", async () => {
  const dag = new Dag([
    { id: "stop-x", dependsOn: [], parallel: true },
    { id: "start-x", dependsOn: ["stop-x"], parallel: true },
    { id: "other", dependsOn: [], parallel: true },
  ]);
  const r = await walk(dag, {
    concurrency: 2,
    finishes: (id) => id === "start-x",
    run: async (id) => {
      if (id === "other") throw new Error("boom");
      await sleep(5);
    },
  });
  assert.deepEqual([r.failed.map((f) => f.id), r.completed], [["other"], ["stop-x", "start-x"]]);

  const soft = new AbortController(), hard = new AbortController();
  const h = await walk(restartDag(), {
    concurrency: 1,
    signal: soft.signal,
    hardSignal: hard.signal,
    finishes: (id) => id.startsWith("start-"),
    run: async (id) => {
      if (id === "stop-x") {
        soft.abort();
        hard.abort();
      }
      await sleep(1);
    },
  });
  assert.deepEqual([h.completed, h.notRun.length], [["stop-x"], 4]);
});
