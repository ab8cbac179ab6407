/**
 * A mongod that neither the shutdown command nor SIGTERM stops (here: frozen with SIGSTOP) is
 * killed with SIGKILL; the stop succeeds, and says so: the operation's notice, which the
 * terminal shows with the operation.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePorts } from "./helpers.ts";
import { pidOf, simBin, startMongod, withDir } from "./sim_helpers.ts";
import { opContext } from "./op_context.ts";
import { installFixture } from "./fixture.ts";
import { stopProcess } from "../lib/ops/stop_process.ts";
import { PlainRenderer } from "../lib/render/apply_plain.ts";
import { Topology } from "../lib/topology/schema.ts";
import type { Plan } from "../lib/plan/schema.ts";

installFixture();

/**
 * A stop_process operation of mongod localhost:`port` (timeout 3 s: each step, shutdown then
 * SIGTERM, gets a third of it) with `params`, and the context it runs in (no access control).
 */
function stopOf(port: number, dir: string, params: Record<string, string>) {
  const op = {
    id: `stop-mongod-localhost-${port}`,
    type: "stop_process",
    description: `Stop mongod localhost:${port}`,
    target: {
      type: "process",
      name: `mongod-localhost-${port}`,
      host: "localhost",
      port,
      timeout_ms: 3000,
      params,
    },
    changes: [],
    depends_on: [],
  };
  const topology = Topology.parse({
    global: { security: { auth: false } },
    mongod_servers: [{ host: "localhost", port }],
  });
  const ctx = opContext(op, { plan_id: "plan-test", cluster_name: "t", topology, deploy_dir: dir });
  return { op, ctx };
}

/** The terminal's lines for a stop plan of `op` that ends with `done` (an op_done event). */
function rendered(
  op: ReturnType<typeof stopOf>["op"],
  done: { already_done: boolean; output?: string; notice?: string },
): string[] {
  const lines: string[] = [];
  const r = new PlainRenderer((l) => lines.push(l));
  const plan = {
    plan_id: "plan-test",
    cluster_name: "t",
    operation: "stop",
    phases: [{ name: "stop", order: 1, operations: [op] }],
  } as unknown as Plan;
  r.handle({ type: "apply_start", plan, state_id: "apply-test" } as never);
  r.handle({ type: "op_done", id: op.id, ms: 1, ...done });
  return lines;
}

Deno.test("stop of a mongod that hangs: killed with SIGKILL, and the notice says so (in the result and on the terminal)", async () => {
  await withDir(async (dir) => {
    const [port] = freePorts(1);
    await startMongod(await simBin("7.0.5"), dir, port);
    const pid = pidOf(dir, port);
    const { op, ctx } = stopOf(port, dir, {
      pid_file: path.join(dir, String(port), "mongod.pid"),
    });
    Deno.kill(pid, "SIGSTOP");
    try {
      const out = await stopProcess.run(ctx);
      assert.match(out.output ?? "", new RegExp(`stopped pid ${pid} with SIGKILL`));
      assert.match(out.notice ?? "", /did not stop on the shutdown command nor on SIGTERM/);
      assert.match(out.notice ?? "", /killed with SIGKILL \(an unclean shutdown/);
      assert.match(out.notice ?? "", /recovers from its journal at the next start/);

      const lines = rendered(op, { already_done: false, ...out });
      assert.ok(
        lines.some((l) =>
          l.startsWith(`  ! Stop mongod localhost:${port}: pid ${pid} did not stop`)
        ),
        lines.join("\n"),
      );
    } finally {
      try {
        Deno.kill(pid, "SIGCONT");
        Deno.kill(pid, "SIGKILL");
      } catch {
        // gone: killed by the operation
      }
    }
  });
});

Deno.test("stop whose pid file names a process not started with its configuration (a recycled PID): that process is left alone, and the stop shows it was not running", async () => {
  await withDir(async (dir) => {
    const [port] = freePorts(1);
    const other = new Deno.Command("sleep", { args: ["60"] }).spawn();
    try {
      const pidFile = path.join(dir, "mongod.pid");
      await Deno.writeTextFile(pidFile, `${other.pid}\n`);
      const { op, ctx } = stopOf(port, dir, {
        pid_file: pidFile,
        config: path.join(dir, "mongod.conf"),
      });
      assert.equal(await stopProcess.isDone(ctx), true, "not ours: nothing to stop");
      const out = await stopProcess.run(ctx);
      assert.equal(out.output, "not running");
      // The terminal says what was found: no process to stop, not a stop "already in place".
      const lines = rendered(op, { already_done: true });
      assert.ok(lines.some((l) => /✓ .*\(not running\)/.test(l)), lines.join("\n"));
      assert.ok(!lines.some((l) => /already in place/.test(l)), lines.join("\n"));
      // Still alive: signal 0 reaches it.
      Deno.kill(other.pid, "SIGCONT");
    } finally {
      try {
        other.kill("SIGKILL");
      } catch {
        // gone
      }
      await other.status;
    }
  });
});
