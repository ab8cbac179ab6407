/**
 * `deno task bench [plan|scheduler|deploy]...` — prints figures; asserts nothing.
 *
 *   plan       plan + validate + graph compile of a generated topology: 1,000 hosts, 3,000
 *              processes (target < 1 s and < 200 MB on 2 cores)
 *   scheduler  scheduler + state persistence (fsync'd journal) on synthetic plans of 2,500,
 *              5,000 and 10,000 no-op operations (target < 2 s at 10,000, linear growth)
 *   restart    rolling vs --force restart of a sharded cluster under a w:majority client: total
 *              time and longest write outage (scripts/bench_restart.ts; target: the rolling
 *              outage under one election + 1 s)
 *   deploy     makespan of a sharded deploy (2×3 shards, 3 config, 1 mongos) on the simulator at
 *              --parallelism 10 vs 1, and vs the critical path of the measured durations
 *              (targets: ≤ 1.2× the critical path, ≥ 3× faster than serial)
 *   ssh        against two real sshd: 200 exists/mkdir over one multiplexed connection vs a fresh
 *              ssh per command (target ≥ 5×); pre-flight of 50 remote hosts (target < 3 s)
 *   sim        simulator: inserts/s with w:1 and w:"majority" on a 3-member set; peak RSS of
 *              one member holding 100,000 small documents (scripts/bench_sim.ts)
 *   input      hostile topologies refused, one fresh `mup topology validate` each (target < 1 s)
 *   clients    one question to a server: a fresh driver client vs a kept one (CPU of mup and of
 *              the server, wall; scripts/bench_clients.ts)
 */
import * as path from "node:path";
import { stringify } from "yaml";
import { apply } from "../lib/apply/applier.ts";
import { MockExecutor } from "../lib/executor/mock.ts";
import { criticalPath } from "../lib/graph/mod.ts";
import { planToDag } from "../lib/plan/graph.ts";
import { StateStore } from "../lib/state/store.ts";
import type { ApplyState } from "../lib/state/schema.ts";
import type { Plan } from "../lib/plan/schema.ts";
import { buildMirror } from "../sim/mirror.ts";
import { syntheticPlan } from "../tests/synthetic.ts";
import { deployArgs, freePorts, mup, shardedTopology } from "../tests/helpers.ts";
import { signalPidFiles } from "./_pids.ts";
import { V8_FLAGS } from "./_mup_cmd.ts";
import { benchRestart } from "./bench_restart.ts";
import { benchSsh } from "./bench_ssh.ts";
import { benchSim } from "./bench_sim.ts";

const which = Deno.args.length
  ? Deno.args
  : ["plan", "scheduler", "deploy", "ssh", "sim", "restart"];
const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;

function bigTopology(): string {
  const host = (i: number) => `db${String(i % 1000).padStart(4, "0")}.example.net`;
  const port = (i: number) => 27017 + Math.floor(i / 1000);
  let i = 0;
  const cfg = [0, 1, 2].map(() => ({ host: host(i), port: port(i++), replica_set: "cfg" }));
  const mongos = Array.from({ length: 9 }, () => ({ host: host(i), port: port(i++) }));
  const shards = Array.from(
    { length: 2988 },
    (_, k) => ({
      host: host(i),
      port: port(i++),
      replica_set: `shard${String(Math.floor(k / 3)).padStart(4, "0")}`,
    }),
  );
  return stringify({
    global: { user: "mongo", deploy_dir: "/opt/mup" },
    config_servers: cfg,
    mongod_servers: shards,
    mongos_servers: mongos,
  });
}

/** Runs scripts/bench_plan.ts in a fresh process: a cold start, with its own peak RSS. */
async function benchPlan(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mup-bench-" });
  const file = path.join(dir, "big.yaml");
  await Deno.writeTextFile(file, bigTopology());
  const out = await new Deno.Command(Deno.execPath(), {
    // With the V8 flags mup itself runs with.
    args: [
      "run",
      "-A",
      `--v8-flags=${V8_FLAGS}`,
      path.join(import.meta.dirname!, "bench_plan.ts"),
      file,
      path.join(dir, "plan.json"),
    ],
    stderr: "inherit",
  }).output();
  await Deno.remove(dir, { recursive: true });
  if (!out.success) throw new Error("scripts/bench_plan.ts failed");
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  const ms = (n: number) => `${n.toFixed(0).padStart(5)} ms`;
  console.log(
    `plan: 1,000 hosts, ${r.processes} processes → ${r.operations} operations, ${r.edges} edges, ${
      mb(r.plan_bytes)
    } plan file`,
  );
  console.log(`  topology: read, parse, validate                 ${ms(r.topology_ms)}`);
  console.log(`  plan: planDeploy, seal, write the plan file       ${ms(r.plan_ms)}`);
  console.log(
    `  validate: read the file; JSON, schema, hash, graph ${ms(r.validate_ms)}, ${r.errors} errors`,
  );
  console.log(
    `  topological order + critical path                ${
      ms(r.order_ms)
    } (path of ${r.critical_path})`,
  );
  console.log(
    `  total, cold process ${ms(r.total_ms)} (target < 1000 ms); warm median of 5 more ${
      ms(r.warm_ms)
    }`,
  );
  console.log(
    `  peak RSS ${r.peak_rss_mb.toFixed(0)} MB, of which ${
      (r.peak_rss_mb - r.baseline_rss_mb).toFixed(0)
    } MB above the process before planning (Deno and modules: ${
      r.baseline_rss_mb.toFixed(0)
    } MB); target < 200 MB`,
  );
}

async function benchScheduler(): Promise<void> {
  console.log("scheduler + state persistence (journal fsync'd, group commit), parallelism 10:");
  for (const n of [2500, 5000, 10000]) {
    const plan = syntheticPlan(4, n / 4 / 5, 5);
    const dir = await Deno.makeTempDir({ prefix: "mup-bench-" });
    const store = new StateStore(path.join(dir, "clusters", "synthetic"));
    const t0 = performance.now();
    const st = await apply({
      plan,
      planPath: "/p",
      store,
      executors: new MockExecutor(),
      parallelism: 10,
      onSafetyFailure: () => Promise.resolve("abort"),
    });
    const ms = performance.now() - t0;
    const journal = (await Deno.stat(store.journalPath(st.state_id))).size;
    console.log(
      `  ${String(n).padStart(6)} operations: ${ms.toFixed(0).padStart(5)} ms total, ${
        (ms / n * 1000).toFixed(0).padStart(4)
      } µs/op, status ${st.status}, journal ${mb(journal)}`,
    );
    await Deno.remove(dir, { recursive: true });
  }
  console.log("  (target: < 2000 ms at 10,000 operations, flat µs/op)");
}

/** Runs the mup CLI; its stdout, or a thrown error with everything it printed. */
async function cli(
  home: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const r = await mup(args, { home, env });
  if (r.code !== 0) throw new Error(`mup ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

async function deployOnce(
  home: string,
  mirror: string,
  name: string,
  parallelism: number,
  env: Record<string, string> = {},
): Promise<{ ms: number; state: ApplyState; plan: Plan }> {
  const p = freePorts(10);
  const topo = path.join(home, `${name}.yaml`);
  await Deno.writeTextFile(topo, shardedTopology(p));
  await cli(home, deployArgs(name, topo, mirror, ["--plan-only"]));
  const events = (await cli(home, [
    "plan",
    "apply",
    name,
    "--auto-approve",
    "--json",
    "--parallelism",
    String(parallelism),
  ], env)).trim().split("\n").map((l) => JSON.parse(l));
  const done = events.find((e) => e.event === "apply_done");
  const state = JSON.parse(await cli(home, ["state", "show", name, "--json"]));
  const plan = JSON.parse(await Deno.readTextFile(state.plan_path));
  const dir = path.join(home, "storage", "clusters", name);
  await signalPidFiles(dir, "SIGKILL");
  // Gone with its record: planning refuses ports that another recorded cluster holds, and a
  // later run's free ports may be this run's.
  await Deno.remove(dir, { recursive: true });
  return { ms: done.ms, state, plan };
}

async function deployScenario(
  home: string,
  mirror: string,
  tag: string,
  label: string,
  runs: number,
  env: Record<string, string>,
): Promise<void> {
  const par: number[] = [], ser: number[] = [], cps: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = await deployOnce(home, mirror, `p10-${tag}-${i}`, 10, env);
    par.push(a.ms);
    const plan = a.plan;
    const measured = (id: string) => {
      const o = a.state.operation_states[id];
      return o?.started_at && o.completed_at
        ? Date.parse(o.completed_at) - Date.parse(o.started_at)
        : 0;
    };
    cps.push(criticalPath(planToDag(plan), measured).length);
    ser.push((await deployOnce(home, mirror, `p1-${tag}-${i}`, 1, env)).ms);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `deploy makespan, sharded 2×3 + 3 config + 1 mongos on the simulator, ${label} (median of ${runs}):`,
  );
  console.log(
    `  --parallelism 10: ${med(par).toFixed(0)} ms   (runs: ${
      par.map((x) => x.toFixed(0)).join(", ")
    })`,
  );
  console.log(
    `  --parallelism 1:  ${med(ser).toFixed(0)} ms   (runs: ${
      ser.map((x) => x.toFixed(0)).join(", ")
    })`,
  );
  console.log(`  critical path of measured durations: ${med(cps).toFixed(0)} ms`);
  console.log(
    `  makespan / critical path = ${
      (med(par) / med(cps)).toFixed(2)
    }× (target ≤ 1.2×); serial / parallel = ${(med(ser) / med(par)).toFixed(2)}× (target ≥ 3×)`,
  );
}

async function benchDeploy(): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "mup-bench-deploy-" });
  const mirror = path.join(home, "mirror");
  await buildMirror(mirror, { versions: ["7.0.14"] });
  await deployOnce(home, mirror, "warmup", 10); // fills the download cache
  // As is: simulator start-up is CPU-bound (a Deno process per server) on this 2-core machine.
  await deployScenario(home, mirror, "asis", "simulator as is", 3, {});
  // Each server takes 1 s to come up, as a real mongod does while it opens its storage.
  await deployScenario(
    home,
    mirror,
    "slow",
    "1 s server start-up (MUP_SIM_STARTUP_DELAY_MS=1000)",
    1,
    {
      MUP_SIM_STARTUP_DELAY_MS: "1000",
    },
  );
  await Deno.remove(home, { recursive: true }).catch(() => {});
}

for (const w of which) {
  if (w === "plan") await benchPlan();
  else if (w === "scheduler") await benchScheduler();
  else if (w === "deploy") await benchDeploy();
  else if (w === "ssh") await benchSsh();
  else if (w === "sim") await benchSim();
  else if (w === "restart") await benchRestart();
  else if (w === "input") await (await import("./bench_input.ts")).benchInput();
  else if (w === "clients") await (await import("./bench_clients.ts")).benchClients();
  else {
    console.error(
      `unknown benchmark ${w} (plan, scheduler, deploy, ssh, sim, restart, input, clients)`,
    );
  }
}
