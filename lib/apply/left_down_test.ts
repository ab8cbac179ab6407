import assert from "node:assert/strict";
import { leftDown } from "./left_down.ts";
import type { Plan } from "../plan/schema.ts";

/** A plan of `ids` (stop-/start- of mongod-a, in rounds), as much of one as leftDown reads. */
function planOf(ids: string[]): Plan {
  const op = (id: string) => ({
    id,
    type: id.startsWith("stop") ? "stop_process" : "start_process",
    target: { type: "process", name: "mongod-a", host: "h", port: 27017, params: {} },
    depends_on: [],
  });
  return { phases: [{ name: "roll", operations: ids.map(op) }] } as unknown as Plan;
}

const states = (s: Record<string, string>) =>
  ({
    operation_states: Object.fromEntries(
      Object.entries(s).map(([id, status]) => [id, { status }]),
    ),
  }) as unknown as Parameters<typeof leftDown>[1];

Deno.test("leftDown pairs each stop with the start after it: a second round's stop, done, leaves the member down though the first round's start completed", () => {
  const plan = planOf(["stop-1", "start-1", "stop-2", "start-2"]);
  const done = { "stop-1": "completed", "start-1": "completed", "stop-2": "completed" };
  assert.deepEqual(leftDown(plan, states(done)).down, ["h:27017"]);
  // Cut off while its second stop runs: said as a stop cut off, not as down.
  const cut = leftDown(
    plan,
    states({ "stop-1": "completed", "start-1": "completed", "stop-2": "running" }),
    new Set(["stop-2"]),
  );
  assert.deepEqual([cut.down, cut.stopping], [[], ["h:27017"]]);
  // Every round done: nothing left down.
  assert.deepEqual(leftDown(plan, states({ ...done, "start-2": "completed" })).down, []);
});
