import assert from "node:assert/strict";
import { estimateResources } from "./resources.ts";
import type { ProcessSpec } from "./processes.ts";
import type { Release } from "./schema.ts";

Deno.test("resources count hosts as mup reaches them: localhost and 127.0.0.1 are one, each other loopback address is an SSH host of its own", () => {
  const procs = ["localhost", "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.3"].map((host, i) =>
    ({ host, port: 27017 + i, role: "mongod" }) as unknown as ProcessSpec
  );
  const r = estimateResources(procs, { size_bytes: 1_000_000 } as Release);
  assert.equal(r.hosts, 3);
  assert.deepEqual(r.processes_per_host, { localhost: 2, "127.0.0.2": 1, "127.0.0.3": 2 });
});
