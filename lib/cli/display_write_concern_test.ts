import assert from "node:assert/strict";
import { writeConcernLine } from "./display_write_concern.ts";
import type { ClusterMeta } from "../state/meta.ts";

const meta = (dwc?: Record<string, unknown>) =>
  ({ topology: { global: dwc ? { default_write_concern: dwc } : {} } }) as unknown as ClusterMeta;

Deno.test("writeConcernLine: the implicit default, one set by mup, one set outside mup, and a change since", () => {
  assert.equal(
    writeConcernLine(meta(), { source: "implicit", value: { w: "majority", wtimeout: 0 } }),
    'Default write concern: {w: "majority"} (implicit)',
  );
  assert.match(
    writeConcernLine(meta(), { source: "implicit" })!,
    /^Default write concern: \{w: 1\} \(implicit: the set's arbiters/,
  );
  assert.equal(
    writeConcernLine(meta({ w: "majority" }), { source: "global", value: { w: "majority" } }),
    'Default write concern: {w: "majority"} (cluster-wide)',
  );
  assert.match(
    writeConcernLine(meta(), { source: "global", value: { w: 2 } })!,
    /\(cluster-wide, set outside mup: global\.default_write_concern can record it\)$/,
  );
  assert.match(
    writeConcernLine(meta({ w: 2 }), { source: "global", value: { w: 1 } })!,
    /; recorded \{w: 2\}: changed outside mup since/,
  );
  // Nothing answers and nothing recorded: said unknown, not left out (tester85).
  assert.equal(
    writeConcernLine({ ...meta(), kind: "replica_set" } as ClusterMeta, undefined),
    "Default write concern: unknown (no primary answers to read it)",
  );
  assert.equal(
    writeConcernLine({ ...meta(), kind: "standalone" } as ClusterMeta, undefined),
    undefined,
  );
  // Mongos may answer and still not read it, their config servers down (tester113 #11).
  assert.equal(
    writeConcernLine({ ...meta(), kind: "sharded" } as ClusterMeta, undefined),
    "Default write concern: unknown (no mongos could read it: none answers, or none reaches " +
      "the config servers)",
  );
  // Nothing answers: the recorded one, said as such (tester73).
  assert.equal(
    writeConcernLine(meta({ w: "majority" }), undefined),
    'Default write concern: {w: "majority"} (recorded; no primary answers to read it)',
  );
});

Deno.test("writeConcernLine: a difference an unfinished deploy or reconfigure may have made is said to be its, not a change outside mup (tester73)", () => {
  const left = { operation: "reconfigure", state_id: "apply-1" };
  assert.match(
    writeConcernLine(meta({ w: 1 }), { source: "global", value: { w: 2 } }, left)!,
    /; recorded \{w: 1\}: the reconfigure that did not finish \(apply apply-1\) may have set it: its resume, or the command again, records it$/,
  );
  assert.match(
    writeConcernLine(meta(), { source: "global", value: { w: 2 } }, left)!,
    /\(cluster-wide, not recorded: the reconfigure that did not finish/,
  );
  // A stop left unfinished sets no default: a difference then is outside mup's.
  assert.match(
    writeConcernLine(meta({ w: 1 }), { source: "global", value: { w: 2 } }, {
      operation: "stop",
      state_id: "apply-2",
    })!,
    /changed outside mup since/,
  );
});
