import assert from "node:assert/strict";
import { selectProcesses } from "./select.ts";

const procs = [
  { host: "127.0.0.4", port: 28104, role: "mongod" },
  { host: "localhost", port: 27017, role: "mongod" },
  { host: "DB1.example.", port: 27018, role: "mongos" },
];
const pick = (n: string) => selectProcesses(procs, { nodes: [n] }, "c1").map((p) => p.host);

Deno.test("-N matches a process by its machine and port: the control machine's names are one, each SSH host (a loopback address but 127.0.0.1 among them) is its own (tester75)", () => {
  assert.deepEqual(pick("127.0.0.1:27017"), ["localhost"]);
  assert.deepEqual(pick("localhost:27017"), ["localhost"]);
  assert.deepEqual(pick("db1.example:27018"), ["DB1.example."]);
  assert.deepEqual(pick("127.0.0.4:28104"), ["127.0.0.4"]);
  // A typo of an SSH host's address never selects another host's process.
  assert.throws(() => pick("127.0.0.9:28104"), /-N 127\.0\.0\.9:28104 matches no process/);
  assert.throws(() => pick("127.0.0.2:27017"), /matches no process/);
  assert.throws(() => selectProcesses(procs, { roles: ["arbiter"] }, "c1"), /unknown role/);
});

Deno.test("-N takes a process ID too, as `cluster display --json` names processes (tester101 #4)", () => {
  const withIds = procs.map((p) => ({ ...p, id: `${p.role}-${p.host}-${p.port}` }));
  const chosen = selectProcesses(withIds, { nodes: ["mongod-127.0.0.4-28104"] }, "c1");
  assert.deepEqual(chosen.map((p) => p.port), [28104]);
  assert.throws(
    () => selectProcesses(withIds, { nodes: ["mongod-127.0.0.4-1"] }, "c1"),
    /matches no process/,
  );
});

Deno.test("-N that is not host:port is said to be so; -R and -N that each select processes but none together are named together (tester113 #7)", () => {
  assert.throws(
    () => pick("localhost:abc"),
    /-N localhost:abc is not host:port \(nor a process ID\)/,
  );
  assert.throws(() => pick("localhost"), /-N localhost is not host:port/);
  assert.throws(
    () => selectProcesses(procs, { roles: ["mongos"], nodes: ["localhost:27017"] }, "c1"),
    /-R mongos and -N localhost:27017 together select no process: localhost:27017 is a mongod/,
  );
  // A role the cluster does not have is still said as such.
  assert.throws(
    () => selectProcesses(procs, { roles: ["config"], nodes: ["localhost:27017"] }, "c1"),
    (e: Error) =>
      /-R config matches no process of this cluster/.test(e.message) &&
      !/narrowed/.test(String((e as { options?: { hint?: string } }).options?.hint)),
  );
});
