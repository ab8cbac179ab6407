import assert from "node:assert/strict";
import type { Document } from "mongodb";
import { unawareOfPrimary } from "./verify_health.ts";

/** A replSetGetStatus answer of `self` (its members' name, health, state: MongoDB's shape). */
function status(self: string, members: [string, number, number][]): Document {
  return {
    set: "rs0",
    ok: 1,
    members: members.map(([name, health, state], _id) => ({
      _id,
      name,
      health,
      state,
      ...(name === self ? { self: true } : {}),
    })),
  };
}

Deno.test("the health check waits for every member to see the primary, as cluster display judges it: a secondary that still sees the new primary as SECONDARY, or cannot reach it, is named", () => {
  const a = "h:27017", b = "h:27018", c = "h:27019";
  // Right after b won the election: the primary's own view is complete, c has not heard yet.
  const views = [
    status(b, [[a, 1, 2], [b, 1, 1], [c, 1, 2]]),
    status(a, [[a, 1, 2], [b, 1, 1], [c, 1, 2]]),
    status(c, [[a, 1, 2], [b, 1, 2], [c, 1, 2]]),
  ];
  assert.deepEqual(unawareOfPrimary("rs0", views, b), [
    "rs0 member h:27019 does not see h:27018 as primary yet",
  ]);
  // One heartbeat later c knows; an arbiter is judged as well, and one that cannot reach it is named.
  views[2] = status(c, [[a, 1, 2], [b, 1, 1], [c, 1, 2]]);
  assert.deepEqual(unawareOfPrimary("rs0", views, b), []);
  views.push(status("h:27020", [[a, 1, 2], [b, 0, 8], [c, 1, 2], ["h:27020", 1, 7]]));
  assert.deepEqual(unawareOfPrimary("rs0", views, b), [
    "rs0 member h:27020 does not see h:27018 as primary yet",
  ]);
});
