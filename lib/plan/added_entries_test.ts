import assert from "node:assert/strict";
import { Topology } from "../topology/schema.ts";
import { allowedTopology, withAddedEntries, withoutAddedEntries } from "./added_entries.ts";

const rs = (ports: [string, number][]) =>
  Topology.parse({
    global: { user: "mongo" },
    mongod_servers: ports.map(([host, port]) => ({ host, port, replica_set: "rs0" })),
  });

Deno.test("a scale-out's topology: the recorded entries as recorded, new ones appended; where an entry is listed does not matter", () => {
  const recorded = rs([["localhost", 1], ["localhost", 2]]);
  // The asked topology lists the new member first and spells a recorded one as 127.0.0.1.
  const asked = rs([["localhost", 3], ["127.0.0.1", 2], ["localhost", 1]]);
  assert.deepEqual(
    withAddedEntries(recorded, asked).mongod_servers.map((e) => `${e.host}:${e.port}`),
    ["localhost:1", "localhost:2", "localhost:3"],
  );
  // Without the new entry, in the recorded order: compared field by field with the recorded one.
  assert.deepEqual(
    withoutAddedEntries(recorded, asked).mongod_servers.map((e) => `${e.host}:${e.port}`),
    ["localhost:1", "127.0.0.1:2"],
  );
  // Plans are checked against what their operation may touch.
  const plan = (operation: string) => ({ operation, topology: asked });
  assert.equal(allowedTopology(plan("scale-out"), recorded).mongod_servers.length, 3);
  assert.equal(allowedTopology(plan("restart"), recorded), recorded);
});
