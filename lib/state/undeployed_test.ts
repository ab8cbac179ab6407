import assert from "node:assert/strict";
import { MARK_OP } from "../plan/mark_op.ts";
import type { ApplyState, OperationState } from "./schema.ts";
import { changedAnything } from "./undeployed.ts";

function applyOf(...ops: Partial<OperationState>[]): ApplyState {
  const states = [{ id: MARK_OP, status: "completed", executions: 1 }, ...ops].map((o) => ({
    retries: 0,
    executions: 0,
    ...o,
  }));
  return {
    operation: "scale-in",
    operation_states: Object.fromEntries(states.map((o) => [o.id, o])),
  } as unknown as ApplyState;
}

Deno.test("changedAnything: only the status mark, or work that never began, changed nothing; a drain paused part way did (tester82)", () => {
  assert.equal(changedAnything(applyOf()), false);
  assert.equal(changedAnything(applyOf({ id: "remove-shard-s3", status: "pending" })), false);
  // A Ctrl-C stopped waiting for the drain, which goes on without mup: recorded pending again,
  // having run once.
  assert.equal(
    changedAnything(applyOf({ id: "remove-shard-s3", status: "pending", executions: 1 })),
    true,
  );
  assert.equal(changedAnything(applyOf({ id: "stop-x", status: "running", executions: 1 })), true);
  // A failure that says it changed nothing did not; any other may have.
  const refused = { no_effect: true };
  assert.equal(
    changedAnything(
      applyOf({
        id: "remove-shard-s3",
        status: "failed",
        executions: 1,
        result: { success: false, changes: [], metadata: refused },
      }),
    ),
    false,
  );
  assert.equal(
    changedAnything(applyOf({ id: "remove-shard-s3", status: "failed", executions: 1 })),
    true,
  );
});
