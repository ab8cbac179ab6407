/**
 * The `plan` benchmark, run by `deno task bench plan` in a process of its own so that its first
 * run is a cold start, as a CLI invocation is, and its peak RSS is its own.
 *
 * Usage: deno run -A scripts/bench_plan.ts <topology.yaml> <plan.json to write>   (prints one JSON
 * line)
 */
import "../lib/util/zod_setup.ts";
import { criticalPath } from "../lib/graph/mod.ts";
import { compileHooks } from "../lib/hooks/compile.ts";
import { sealPlan } from "../lib/plan/hash.ts";
import { planDeploy } from "../lib/plan/planner.ts";
import { checkPlanText } from "../lib/plan/validate.ts";
import { writeFileAtomicWith } from "../lib/state/atomic.ts";
import { parseTopology } from "../lib/topology/load.ts";

/** Peak resident set size of this process so far (VmHWM), in MB. */
function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function once(file: string, planFile: string) {
  const t0 = performance.now();
  const loaded = await parseTopology(Deno.readTextFileSync(file), file);
  const t1 = performance.now();
  // What `cluster deploy --plan-only` does, pre-flight aside: plan, seal, write the plan file.
  await writeFileAtomicWith(planFile, (write) =>
    sealPlan(
      planDeploy({
        planId: "plan-bench",
        createdAt: new Date().toISOString(),
        clusterName: "big",
        topology: loaded.topology,
        topologyFile: file,
        release: {
          version: "7.0.14",
          variant: "mongo",
          platform: "linux-x86_64",
          url: "https://fastdl.mongodb.org/linux/x.tgz",
          sha256: "0".repeat(64),
          size_bytes: 120e6,
          archive_name: "x.tgz",
        },
        deployDir: "/opt/mup",
        cacheDir: "/var/cache/mup",
        clusterDir: "/var/lib/mup/clusters/big",
        validation: { valid: true, errors: [], warnings: [], checks: [] },
        hooks: compileHooks(loaded.topology.hooks, "/"),
        baseState: { lineage: "", serial: 0 },
        cached: true,
      }),
      write,
    ));
  const t2 = performance.now();
  // What `plan validate` and `plan apply` do: read the plan file; parse, schema, hash, graph.
  const check = checkPlanText(await Deno.readTextFile(planFile), planFile);
  const t3 = performance.now();
  const order = check.dag!.topologicalOrder();
  const cp = criticalPath(check.dag!);
  const t4 = performance.now();
  return {
    total_ms: t4 - t0,
    topology_ms: t1 - t0,
    plan_ms: t2 - t1,
    validate_ms: t3 - t2,
    order_ms: t4 - t3,
    errors: check.issues.filter((i) => i.severity === "error").length,
    operations: order.length,
    edges: check.dag!.graph.size,
    processes: check.plan!.resources.total_processes,
    critical_path: cp.path.length,
    plan_bytes: (await Deno.stat(planFile)).size,
  };
}

const [topologyFile, planFile] = Deno.args;
const baseline = peakRssMb();
const cold = await once(topologyFile, planFile);
const peak = peakRssMb();
const warm: number[] = [];
for (let i = 0; i < 5; i++) warm.push((await once(topologyFile, planFile)).total_ms);
warm.sort((a, b) => a - b);
console.log(
  JSON.stringify({ ...cold, baseline_rss_mb: baseline, peak_rss_mb: peak, warm_ms: warm[2] }),
);
