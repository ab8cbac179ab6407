import assert from "node:assert/strict";
import { pendingChanges } from "./reconfig_members.ts";
import { repairCommandOfPlan } from "../plan/command_of.ts";
import type { Plan } from "../plan/schema.ts";

const config = {
  _id: "rs0",
  members: [
    { _id: 0, host: "a:1", priority: 2, votes: 1, hidden: false },
    { _id: 1, host: "b:1", priority: 1, votes: 1, hidden: false },
    { _id: 2, host: "c:1" }, // fields left out: MongoDB's defaults (1, 1, false)
  ],
};

Deno.test("pendingChanges: members that gain go first, the primary that loses last; members already as wanted are left out", () => {
  const order = pendingChanges(
    [
      { host: "a:1", priority: 0, votes: 1, hidden: false }, // the primary, losing
      { host: "c:1", priority: 0, votes: 1, hidden: true }, // losing
      { host: "b:1", priority: 3, votes: 1, hidden: false }, // gaining
    ],
    config,
    "a:1",
  );
  assert.deepEqual(order.map((c) => c.want.host), ["b:1", "c:1", "a:1"]);
  assert.deepEqual(order.map((c) => c.index), [1, 2, 0]);
  assert.deepEqual(order[1].was, { priority: 1, votes: 1, hidden: false });
  // A member whose config leaves the fields out has the defaults: as wanted, nothing to do.
  assert.deepEqual(
    pendingChanges([{ host: "c:1", priority: 1, votes: 1, hidden: false }], config, "a:1"),
    [],
  );
});

Deno.test("pendingChanges: a member the config does not list is an error naming it", () => {
  assert.throws(
    () =>
      pendingChanges(
        [{ host: "d:1", priority: 1, votes: 1, hidden: false }],
        config,
        "a:1",
        repairCommandOfPlan({
          cluster_name: "c9",
          version: "7.0.14",
          topology_file: "/srv/t/c9.yaml",
          release: { mirror: "/m" } as Plan["release"],
        }),
      ),
    /d:1 is not in the config of replica set rs0 \(removed outside mup\?\): `mkdir -p \/srv\/t && mup cluster show-config c9 > \/srv\/t\/c9\.recorded\.yaml && mup cluster deploy c9 \/srv\/t\/c9\.recorded\.yaml --version 7\.0\.14 --mirror \/m` \(a repair\) adds it back/,
  );
});
