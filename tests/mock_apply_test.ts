/**
 * The specification's Mock Apply: a plan mup makes, applied with the mock executor, succeeds (or
 * fails where told to, SimulateFailure) and touches nothing outside the test's state folder.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { apply } from "../lib/apply/applier.ts";
import { MockExecutor } from "../lib/executor/mock.ts";
import { parsePlanText } from "../lib/plan/parse.ts";
import { allOperations } from "../lib/plan/schema.ts";
import { StateStore } from "../lib/state/store.ts";
import {
  deployArgs,
  freePorts,
  mup,
  replicaSetTopology,
  shardedTopology,
  standaloneTopology,
  tempHome,
  testMirror,
  writeTopology,
} from "./helpers.ts";
import { installFixture, tempDir } from "./fixture.ts";

installFixture();

/** Every file and directory under `dir` with its size and modification time. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = path.join(d, e.name);
      const st = await Deno.lstat(p);
      out.push(`${p} ${st.isDirectory ? "dir" : st.size} ${st.mtime?.getTime()}`);
      if (e.isDirectory) await walk(p);
    }
  };
  await walk(dir);
  return out.sort();
}

const KINDS: [string, number, (p: number[]) => string][] = [
  ["standalone", 1, standaloneTopology],
  ["replica set", 3, replicaSetTopology],
  ["sharded", 10, shardedTopology],
];

Deno.test("mock apply: every kind of plan mup makes completes against the mock executor, touching nothing outside the state folder; SimulateFailure fails it where told", async () => {
  const home = await tempHome();
  const stateDir = await tempDir("mup-mock-state-");
  try {
    for (const [kind, n, topology] of KINDS) {
      const ports = freePorts(n);
      const cluster = `mock-${n}`;
      const topo = await writeTopology(home, `${cluster}.yaml`, topology(ports));
      const r = await mup(
        deployArgs(cluster, topo, await testMirror(), ["--plan-only", "--json"]),
        { home },
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const planPath = JSON.parse(r.stdout).path as string;
      const { plan } = parsePlanText(await Deno.readTextFile(planPath), planPath);
      assert.ok(plan, kind);
      const before = await listing(home);
      const store = new StateStore(path.join(stateDir, kind.replace(" ", "-"), cluster));
      const run = (mock: MockExecutor) =>
        apply({
          plan,
          planPath,
          store,
          executors: mock,
          parallelism: 10,
          onSafetyFailure: () => Promise.resolve("abort" as const),
        });

      const mock = new MockExecutor();
      const done = await run(mock);
      assert.equal(done.status, "completed", `${kind}: ${JSON.stringify(done.errors)}`);
      const ops = allOperations(plan);
      assert.ok(
        ops.every((o) => done.operation_states[o.id].status === "completed"),
        `${kind}: every operation completed`,
      );
      assert.ok(mock.calls.some((c) => c.startsWith("op start_process")), kind);
      // No side effects: mup's home (cache, staging, deploy dirs) is as it was; no server runs.
      assert.deepEqual(await listing(home), before, `${kind}: nothing changed outside the state`);
      for (const p of ports) Deno.listen({ hostname: "127.0.0.1", port: p }).close();

      // SimulateFailure: the apply fails at that operation, with the checkpoints before it.
      const phase3 = plan.phases[2];
      const failing = new MockExecutor();
      failing.simulateFailure = phase3.operations[0].id;
      const failed = await run(failing);
      assert.equal(failed.status, "failed", kind);
      assert.equal(failed.operation_states[phase3.operations[0].id].status, "failed");
      assert.match(failed.errors[0].error, /simulated failure of operation/);
      assert.deepEqual(failed.checkpoints.map((c) => c.id), ["phase1-complete", "phase2-complete"]);
      assert.deepEqual(await listing(home), before, `${kind}: nothing changed by the failed apply`);
    }
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
});
