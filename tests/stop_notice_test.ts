/**
 * A mongod that neither the shutdown command nor SIGTERM stops (here: frozen with SIGSTOP) is
 * killed with SIGKILL; the stop succeeds, and says so: the operation's notice, which the
 * terminal shows with the operation. A restart's stop that finds its server exited says that too.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  freePorts,
  killAll,
  mup,
  output,
  replicaSetTopology,
  standaloneTopology,
  tempHome,
} from "./helpers.ts";
import { deploy, display, killMember, ok, savedRestart, stablePorts } from "./lifecycle_helpers.ts";
import { mongosWithoutShards, pidOf, simBin, startMongod, withDir } from "./sim_helpers.ts";
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
function stopOf(
  port: number,
  dir: string,
  params: Record<string, string>,
  bin: "mongod" | "mongos" = "mongod",
) {
  const op = {
    id: `stop-${bin}-localhost-${port}`,
    type: "stop_process",
    description: `Stop ${bin} localhost:${port}`,
    target: {
      type: "process",
      name: `${bin}-localhost-${port}`,
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

Deno.test("stop of a mongos that hangs: killed with SIGKILL, and the notice says it keeps no data (no journal to recover from)", async () => {
  await withDir(async (dir) => {
    const port = await mongosWithoutShards(await simBin("7.0.5"), dir);
    const pidFile = path.join(dir, `mongos-${port}.pid`);
    const pid = Number((await Deno.readTextFile(pidFile)).trim());
    const { ctx } = stopOf(port, dir, { pid_file: pidFile }, "mongos");
    Deno.kill(pid, "SIGSTOP");
    try {
      const out = await stopProcess.run(ctx);
      assert.match(out.output ?? "", new RegExp(`stopped pid ${pid} with SIGKILL`));
      assert.match(
        out.notice ?? "",
        /killed with SIGKILL \(an unclean shutdown: a mongos keeps no data, and starts as before/,
      );
      assert.doesNotMatch(out.notice ?? "", /journal/);
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

Deno.test("a restart's stop that finds its process exited says so (isDone's notice, on the terminal); a plain stop, or the same stop on a resume, says only that it was not running", async () => {
  await withDir(async (dir) => {
    const [port] = freePorts(1);
    const { op, ctx } = stopOf(port, dir, {
      pid_file: path.join(dir, "mongod.pid"),
      config: path.join(dir, "mongod.conf"),
    });
    // A plain stop: nothing runs, so nothing to stop and nothing more to say.
    assert.equal(await stopProcess.isDone({ ...ctx, plan: { ...ctx.plan, phases: [] } }), true);
    const start = { ...op, id: `start-mongod-localhost-${port}`, type: "start_process" };
    const restart = {
      ...ctx.plan,
      operation: "restart",
      phases: [{ name: "restart", order: 1, operations: [op, { ...start, depends_on: [op.id] }] }],
    } as unknown as Plan;
    const first = await stopProcess.isDone({ ...ctx, plan: restart });
    assert.deepEqual(first, {
      notice: "it was not running when its stop came (its process had exited since the plan " +
        "was made: its log says why); the restart starts it",
    });
    // On a resume after this stop ran, its process is down because it stopped it.
    assert.equal(await stopProcess.isDone({ ...ctx, plan: restart, executions: 1 }), true);
    const lines = rendered(op, {
      already_done: true,
      notice: (first as { notice: string }).notice,
    });
    assert.ok(
      lines.some((l) =>
        l === `  ! Stop mongod localhost:${port}: ${(first as { notice: string }).notice}`
      ),
      lines.join("\n"),
    );
  });
});

Deno.test("a saved restart applied after its server died: the stop says it was not running and why it matters, the restart starts it", async () => {
  const home = await tempHome();
  const [port] = stablePorts(1);
  try {
    await deploy(home, "dead", standaloneTopology([port]));
    const saved = JSON.parse(
      (await ok(home, ["cluster", "restart", "dead", "--plan-only", "--json"])).stdout,
    ).plan_id;
    await killMember(home, "dead", port);
    const r = await mup(["plan", "apply", saved, "--auto-approve"], { home });
    assert.equal(r.code, 0, output(r));
    assert.match(
      r.stdout,
      new RegExp(
        `! Stop mongod localhost:${port}: it was not running when its stop came \\(its ` +
          "process had exited since the plan was made: its log says why\\); the restart starts it",
      ),
      output(r),
    );
    assert.ok((await display(home, "dead")).healthy);
  } finally {
    await killAll(home);
  }
});

Deno.test("a saved rolling restart applied after a member whose turn comes later died: the first stop's set-health check names the start that brings it back and the re-plan, as a resume alone cannot finish", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  try {
    await deploy(home, "later", replicaSetTopology(ports));
    // The secondaries go first, in order: the last one's own stop and start come later.
    const planned = await savedRestart(home, "later");
    const victim = planned.stops[1].port;
    await killMember(home, "later", victim);
    const r = await mup(["plan", "apply", planned.planId, "--auto-approve"], { home });
    assert.equal(r.code, 1, output(r));
    assert.match(r.stdout, new RegExp(`replica_set_healthy: localhost:${victim} is not answering`));
    assert.match(
      r.stdout,
      new RegExp(
        `\`mup cluster start later -N localhost:${victim}\` starts it, and replaces this apply`,
      ),
    );
    assert.match(r.stdout, /A resume alone cannot finish it while that stands/);
  } finally {
    await killAll(home);
  }
});

Deno.test("a saved rolling restart applied while a member whose turn comes later is stopped (SIGSTOP): the set-health check names the process and kill -CONT, and once it answers a resume finishes", async () => {
  const home = await tempHome();
  const ports = stablePorts(3);
  let held = 0;
  try {
    await deploy(home, "held", replicaSetTopology(ports));
    const planned = await savedRestart(home, "held");
    const victim = planned.stops[1].port;
    held = (await display(home, "held")).processes.find((p) => p.id === `localhost:${victim}`)!
      .pid!;
    Deno.kill(held, "SIGSTOP");
    const r = await mup(["plan", "apply", planned.planId, "--auto-approve"], { home });
    assert.equal(r.code, 1, output(r));
    assert.match(r.stdout, new RegExp(`replica_set_healthy: localhost:${victim} is not answering`));
    assert.ok(
      r.stdout.includes(
        `localhost:${victim} runs (PID ${held}) but does not answer: it is stopped (process ` +
          `state T`,
      ),
      output(r),
    );
    assert.ok(r.stdout.includes(`\`kill -CONT ${held}\` resumes it`), output(r));
    assert.doesNotMatch(r.stdout, /cluster start held/);
    // Planned again now: refused for that member, which is stopped: resumed with kill -CONT,
    // as display says, not restarted with --force (tester39).
    const hung = await mup(["cluster", "restart", "held", "--dry-run"], { home });
    assert.equal(hung.code, 1, output(hung));
    assert.match(
      output(hung).replace(/\s+/g, " "),
      new RegExp(
        `localhost:${victim} runs \\(PID ${held}\\) but does not answer: it is stopped ` +
          `\\(process state T\\S*\\).* \`kill -CONT ${held}\` on localhost resumes it; or ` +
          `\`mup cluster stop held -N localhost:${victim}\` ends it`,
      ),
    );
    assert.doesNotMatch(output(hung), /--force/);
    Deno.kill(held, "SIGCONT");
    held = 0;
    const resumed = await mup(["plan", "resume", "held"], { home });
    assert.equal(resumed.code, 0, output(resumed));
    assert.ok((await display(home, "held")).healthy);
  } finally {
    if (held) Deno.kill(held, "SIGCONT");
    await killAll(home);
  }
});
