import assert from "node:assert/strict";
import { undoOps } from "./rollback_undo.ts";
import type { PlannedOperation } from "./schema.ts";

Deno.test("the undo of an add_members removes the members in the reverse of the order they joined: arbiters, which join last, first", () => {
  const add = {
    id: "add-members-rs0",
    type: "add_members",
    description: "Add members",
    target: {
      type: "replica_set",
      name: "rs0",
      host: "h",
      port: 1,
      params: {
        // The arbiter is listed first; it joins last (addOrder), so it leaves first.
        add: JSON.stringify([{ host: "h:5", arbiterOnly: true }, { host: "h:4" }]),
        members: JSON.stringify(["h:1", "h:2", "h:3"]),
      },
    },
    changes: [],
    depends_on: [],
    estimated_ms: 1,
  } as unknown as PlannedOperation;
  const undo = undoOps(add, {
    fresh: false,
    startAgain: {},
    cancelled: new Set(),
    cutOffStarts: new Set(),
    completed: new Set(),
    checks: [],
    cluster: "c",
    recorded: {},
    recordedConfigs: {},
    ops: new Map([[add.id, add]]),
  });
  assert.ok(Array.isArray(undo));
  const [remove] = undo as PlannedOperation[];
  assert.equal(remove.type, "remove_members");
  assert.deepEqual(JSON.parse(remove.target.params.remove), ["h:5", "h:4"]);
  assert.deepEqual(JSON.parse(remove.target.params.members), ["h:1", "h:2", "h:3", "h:5", "h:4"]);
});
