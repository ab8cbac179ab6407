import assert from "node:assert/strict";
import * as path from "node:path";
import { waitForProcess } from "./wait_for_process.ts";
import type { OperationContext } from "./operation.ts";
import type { Plan, PlannedOperation } from "../plan/schema.ts";
import { DefaultExecutors } from "../executor/factory.ts";

/** A free TCP port on loopback, from the kernel. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("a wait for a process that listens on another port than its own says waiting longer would not help, names the stop and the repair, and does not say to wait longer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mup-wait-" });
  const [own, other] = [freePort(), freePort()];
  // A real process holding the pid file, listening on the other port (as a server started on
  // its configuration file edited on the host).
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `Deno.listen({ hostname: "127.0.0.1", port: ${other} }); console.log("up"); ` +
      "setInterval(() => {}, 1000);",
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const executors = new DefaultExecutors();
  try {
    const reader = child.stdout.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /up/);
    reader.releaseLock();
    const pidFile = path.join(dir, "mongod.pid");
    await Deno.writeTextFile(pidFile, `${child.pid}\n`);
    const op = {
      id: `wait-mongod-localhost-${own}`,
      type: "wait_for_process",
      description: "wait",
      target: {
        type: "process",
        name: `mongod-localhost-${own}`,
        host: "localhost",
        port: own,
        timeout_ms: 1000,
        params: { pid_file: pidFile },
      },
      pre_conditions: [],
      changes: [],
      depends_on: [],
    } as unknown as PlannedOperation;
    const plan = {
      plan_id: "plan-t",
      cluster_name: "c1",
      operation: "start",
      version: "7.0.14",
      topology: { global: {} },
      phases: [{ name: "Start", operations: [op] }],
    } as unknown as Plan;
    const ctx = {
      plan,
      op,
      stateId: "apply-t",
      executors,
      signal: new AbortController().signal,
      progress() {},
      log() {},
    } as OperationContext;
    const e = await waitForProcess.run(ctx).then(() => undefined, (e) => e as Error);
    assert.ok(e, "the wait fails");
    assert.match(e.message, new RegExp(`listens on 127\\.0\\.0\\.1:${other}, not on port ${own}`));
    assert.match(
      e.message,
      new RegExp(`waiting longer would not help: \`mup cluster stop c1 -N localhost:${own}\``),
    );
    assert.match(e.message, /a repair \(`.*mup cluster deploy c1 /);
    assert.doesNotMatch(e.message, /--wait-timeout|wait longer|waiting longer cannot help/);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
