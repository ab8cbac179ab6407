import assert from "node:assert/strict";
import type { Executor } from "../executor/executor.ts";
import { listProcesses } from "../plan/processes.ts";
import { parseTopology } from "../topology/load.ts";
import { checkStartPorts } from "./start_ports.ts";

/** A host whose port answers "taken" `taken` times, then "free"; no holder can be named. */
function host(taken: number): { executor: Executor; looks: () => number } {
  let looks = 0;
  const executor = {
    portFree: () => Promise.resolve(++looks > taken),
  } as unknown as Executor;
  return { executor, looks: () => looks };
}

Deno.test("checkStartPorts: a port taken for an instant by what no one can name (another mup's probe) is looked at again, not reported; one still taken is", async () => {
  const { topology } = await parseTopology(
    "mongod_servers:\n  - host: localhost\n    port: 28999\n",
    "t.yaml",
  );
  const procs = listProcesses(topology, "/d");
  const brief = host(1);
  const once = await checkStartPorts(procs, new Set(), { forHost: () => brief.executor }, "c");
  assert.deepEqual(once.issues, []);
  assert.equal(brief.looks(), 2);
  const held = host(Infinity);
  const still = await checkStartPorts(procs, new Set(), { forHost: () => held.executor }, "c");
  assert.equal(still.issues.length, 1);
  assert.match(still.issues[0].message, /in use by a process mup cannot name/);
  assert.equal(held.looks(), 4);
});
