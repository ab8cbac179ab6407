import assert from "node:assert/strict";
import { commandOf, replanFlags } from "./command_of.ts";
import type { Plan } from "./schema.ts";

const planOf = (
  operation: string,
  ops: { type: string; params: Record<string, string> }[],
  request?: Plan["request"],
) =>
  ({
    operation,
    variant: "mongo",
    request,
    phases: [{
      operations: ops.map((o, i) => ({ id: `op${i}`, type: o.type, target: { params: o.params } })),
    }],
  }) as unknown as Plan;

Deno.test("replanFlags: a rollback is made again to its checkpoint, never with the -N of the scale-in it undoes (tester107 #7); a stop of a selection with its -N", () => {
  const rollback = planOf("rollback", [{
    type: "mark_rolled_back",
    params: { checkpoint: "start" },
  }]);
  assert.equal(
    commandOf("rollback", "c1") + replanFlags(rollback),
    "state rollback c1 --checkpoint start",
  );
  const stop = planOf("stop", [], { nodes: ["localhost:27017"] });
  assert.equal(replanFlags(stop), " -N localhost:27017");
});
