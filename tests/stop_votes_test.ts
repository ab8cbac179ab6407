/**
 * Vote arithmetic follows the set's live configuration: a member whose votes a DBA set to 0
 * with rs.reconfig does not count, so stopping another member of a 3-member set warns that
 * the set loses its majority (tester50).
 */
import assert from "node:assert/strict";
import { planStop } from "../lib/plan/stop.ts";
import { installFixture } from "./fixture.ts";
import { input } from "./lifecycle_inputs.ts";

installFixture();

Deno.test("stop -N warns of a lost majority by the votes the set's configuration holds, not the recorded ones (tester50)", async () => {
  const base = await input("replica-set.yaml");
  const [primary, a, b] = base.meta.processes;
  const stopA = (facts = base.facts) =>
    planStop({ ...base, facts, filter: { nodes: [`${a.host}:${a.port}`] } }).validation.warnings;
  // As recorded (3 votes): one secondary stops, two of three keep running: no warning.
  assert.deepEqual(stopA().filter((w) => w.code === "majority_lost"), []);
  // b set to votes 0 by hand: only the primary's vote is left of two.
  const live = { ...base.facts, [b.id]: { ...base.facts[b.id], votes: 0, priority: 0 } };
  const [lost] = stopA(live).filter((w) => w.code === "majority_lost");
  assert.ok(lost, JSON.stringify(stopA(live)));
  assert.match(lost.message, /Replica set rs0 loses its majority: 1 of 2 votes keep running/);
  assert.ok(primary);
});
