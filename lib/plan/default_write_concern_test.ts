import assert from "node:assert/strict";
import {
  concernText,
  defaultWriteConcernChange,
  defaultWriteConcernIssues,
  defaultWriteConcernOps,
  withDefaultWriteConcern,
} from "./default_write_concern.ts";
import { listProcesses, listReplicaSets } from "./processes.ts";
import { Topology } from "../topology/schema.ts";

const topology = (global: Record<string, unknown>, arbiter = true) =>
  Topology.parse({
    global,
    mongod_servers: [
      { host: "h", port: 1, replica_set: "rs0" },
      { host: "h", port: 2, replica_set: "rs0" },
      ...(arbiter ? [{ host: "h", port: 3, replica_set: "rs0", arbiter_only: true }] : []),
    ],
  });

Deno.test("default write concern: its text, the document setDefaultRWConcern gets (wtimeout in ms), and one operation per replica set", () => {
  const t = topology({ default_write_concern: { w: "majority", j: true, wtimeout: "5s" } });
  const c = t.global.default_write_concern!;
  assert.equal(concernText(c), '{w: "majority", j: true, wtimeout: 5000}');
  const sets = listReplicaSets(listProcesses(t, "/d"));
  const [o, ...rest] = defaultWriteConcernOps("c", "replica_set", c, sets, [], (s) => [`x-${s}`]);
  assert.equal(rest.length, 0);
  assert.equal(o.type, "set_default_write_concern");
  assert.deepEqual(o.depends_on, ["x-rs0"]);
  assert.deepEqual(JSON.parse(o.target.params.concern), { w: "majority", j: true, wtimeout: 5000 });
  assert.deepEqual(JSON.parse(o.target.params.members), ["h:1", "h:2", "h:3"]);
  // A standalone has none to set.
  assert.deepEqual(defaultWriteConcernOps("c", "standalone", c, [], [], () => []), []);
});

Deno.test("default write concern: refused on a standalone, before 4.4, and with a w above a set's data-bearing members", () => {
  const sets = (t: Topology) => listReplicaSets(listProcesses(t, "/d"));
  const w3 = topology({ default_write_concern: { w: 3 } });
  const [issue] = defaultWriteConcernIssues(w3, "replica_set", sets(w3), "7.0.5");
  assert.match(issue.message, /w: 3 needs 3 data-bearing members .* rs0 would have 2/);
  const w2 = topology({ default_write_concern: { w: 2 } });
  assert.deepEqual(defaultWriteConcernIssues(w2, "replica_set", sets(w2), "7.0.5"), []);
  assert.match(
    defaultWriteConcernIssues(w2, "replica_set", sets(w2), "4.2.24")[0].message,
    /no setDefaultRWConcern/,
  );
  assert.match(
    defaultWriteConcernIssues(w2, "standalone", [], "7.0.5")[0].message,
    /a standalone mongod has no cluster-wide default/,
  );
  assert.deepEqual(defaultWriteConcernIssues(topology({}), "standalone", [], "7.0.5"), []);
});

Deno.test("default write concern: a change is set, a removal is an unset MongoDB cannot do; a reconfigure records the asked one", () => {
  const none = topology({});
  const maj = topology({ default_write_concern: { w: "majority" } });
  const one = topology({ default_write_concern: { w: 1 } });
  assert.equal(defaultWriteConcernChange(maj, maj), "none");
  assert.equal(defaultWriteConcernChange(none, maj), "set");
  assert.equal(defaultWriteConcernChange(maj, one), "set");
  assert.equal(defaultWriteConcernChange(maj, none), "unset");
  assert.deepEqual(withDefaultWriteConcern(maj, one).global.default_write_concern, { w: 1 });
  assert.equal(withDefaultWriteConcern(maj, none).global.default_write_concern, undefined);
});
