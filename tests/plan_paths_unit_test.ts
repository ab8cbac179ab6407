/**
 * lib/plan/plan_paths.ts, pure: plans the planners make pass whatever directories their topology
 * gives (per-entry, relative, remote hosts of another architecture, TLS), and every path an
 * operation runs or writes, moved outside them, is refused naming the operation and parameter.
 */
import assert from "node:assert/strict";
import { compileHooks } from "../lib/hooks/compile.ts";
import { planDestroy } from "../lib/plan/destroy.ts";
import { planDeploy } from "../lib/plan/planner.ts";
import { planPathIssues, recordedPathIssues } from "../lib/plan/plan_paths.ts";
import { listProcesses } from "../lib/plan/processes.ts";
import { planStart } from "../lib/plan/start.ts";
import { allOperations, type Plan, type Release } from "../lib/plan/schema.ts";
import { sealPlanText } from "../lib/plan/hash.ts";
import { checkPlanText } from "../lib/plan/validate.ts";
import { recordedProcess } from "../lib/state/meta_from_plan.ts";
import type { ClusterMeta } from "../lib/state/meta.ts";
import { parseTopology } from "../lib/topology/load.ts";

const STORE = "/home/mup/storage";
const CLUSTER_DIR = `${STORE}/clusters/c1`;

const release = (platform: string): Release => ({
  version: "7.0.14",
  variant: "mongo",
  platform,
  url: `https://fastdl.mongodb.org/linux/${platform}.tgz`,
  sha256: "ab".repeat(32),
  size_bytes: 1,
  archive_name: `${platform}.tgz`,
});

const TOPOLOGIES: Record<string, string> = {
  "per-entry and relative directories, TLS": `
global: { deploy_dir: /srv/mup/c1, data_dir: data, log_dir: /var/log/mup-c1, security: { tls: true } }
mongod_servers:
  - { host: db1.example.net, port: 27017, replica_set: rs, data_dir: /data/rs-a, log_dir: own-logs }
  - { host: db1.example.net, port: 27018, replica_set: rs, deploy_dir: /opt/other/d2, config_dir: cfg }
  - { host: db2.example.net, port: 27017, replica_set: rs, data_dir: /mnt/disk/rs-c }
`,
  "default deploy root, sharded with a remote mongos": `
config_servers:
  - { host: db1.example.net, port: 27019, replica_set: cfg }
mongod_servers:
  - { host: db1.example.net, port: 27018, replica_set: s1 }
mongos_servers:
  - { host: 10.0.0.5, port: 27017 }
`,
  "own deploy root, no access control": `
global: { deploy_dir: /data/clusters/c1, security: { auth: false } }
mongod_servers:
  - { host: localhost, port: 27017 }
`,
};

async function deployPlan(yaml: string): Promise<Plan> {
  const t = (await parseTopology(yaml, "t.yaml")).topology;
  return sealPlanText(planDeploy({
    planId: "plan-00000001",
    createdAt: "2026-01-01T00:00:00.000Z",
    clusterName: "c1",
    topology: t,
    topologyFile: "/t.yaml",
    release: release("linux-x86_64"),
    // A remote host of another architecture: its own download and install.
    hostReleases: { "db2.example.net": release("linux-aarch64") },
    deployDir: `${CLUSTER_DIR}/deploy`,
    cacheDir: "/home/mup/cache",
    clusterDir: CLUSTER_DIR,
    validation: { valid: true, errors: [], warnings: [], checks: [] },
    hooks: compileHooks(t.hooks, "/"),
    baseState: { lineage: "", serial: 0 },
    cached: false,
  })).plan;
}

function metaOf(plan: Plan): ClusterMeta {
  return {
    format_version: 1,
    name: "c1",
    lineage: "lineage-1",
    serial: 1,
    status: "stopped",
    kind: plan.kind,
    version: plan.version,
    variant: plan.variant,
    deploy_dir: plan.deploy_dir,
    connection_string: "mongodb://localhost:27017/",
    topology: plan.topology,
    processes: listProcesses(plan.topology, `${CLUSTER_DIR}/deploy`).map(recordedProcess),
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
    last_plan_id: "plan-00000001",
    last_state_id: "apply-00000001",
  };
}

function lifecycle(plan: Plan, planner: typeof planStart): Plan {
  const meta = metaOf(plan);
  return sealPlanText(planner({
    planId: "plan-00000002",
    createdAt: "2026-01-01T00:00:00.000Z",
    meta,
    clusterDir: CLUSTER_DIR,
    deployDir: `${CLUSTER_DIR}/deploy`,
    hooks: [],
    facts: Object.fromEntries(meta.processes.map((p) => [p.id, { running: false }])),
  })).plan;
}

/** Each path parameter of each operation type, as a function that moves it to `to`. */
const MOVERS: Record<
  string,
  [string, (params: Record<string, string>, to: string) => unknown][]
> = {
  start_process: [
    ["binary", (p, to) => p.binary = to],
    ["config", (p, to) => p.config = to],
    ["pid_file", (p, to) => p.pid_file = to],
    ["log", (p, to) => p.log = to],
  ],
  stop_process: [["pid_file", (p, to) => p.pid_file = to]],
  create_directory: [["paths", (p, to) => p.paths = JSON.stringify([to])]],
  remove_directory: [["path", (p, to) => p.path = to]],
  upload_file: [
    ["dest", (p, to) => p.dest !== undefined && (p.dest = to)],
    ["dest_dir", (p, to) => p.dest_dir !== undefined && (p.dest_dir = to)],
    ["source_dir", (p, to) => p.source_dir !== undefined && (p.source_dir = to)],
  ],
  generate_config: [[
    "content: systemLog.path",
    (p, to) => p.content = p.content.replace(/(\n {2}path: ).*/, `$1${to}`),
  ]],
  archive_cluster: [[
    "logs",
    (p, to) => p.logs = JSON.stringify([{ host: "10.0.0.5", path: to, name: "x.log" }]),
  ]],
};

for (const [name, yaml] of Object.entries(TOPOLOGIES)) {
  Deno.test(`plans made by the planners pass, and every path moved out is refused: ${name}`, async () => {
    const deploy = await deployPlan(yaml);
    const plans = [deploy, lifecycle(deploy, planStart), lifecycle(deploy, planDestroy)];
    for (const plan of plans) {
      const { text } = sealPlanText(plan);
      const errors = checkPlanText(text, plan.operation, { storeRoot: STORE }).issues
        .filter((i) => i.severity === "error");
      assert.deepEqual(errors, [], `${plan.operation} plan`);
      assert.deepEqual(recordedPathIssues(plan, metaOf(deploy), { storeRoot: STORE }), []);
      let moved = 0;
      for (const o of allOperations(plan)) {
        for (const [param, move] of MOVERS[o.type] ?? []) {
          const copy = structuredClone(plan);
          const target = allOperations(copy).find((x) => x.id === o.id)!;
          if (move(target.target.params, "/home/user/.bashrc") === false) continue;
          const found = planPathIssues(copy, { storeRoot: STORE });
          assert.ok(
            found.some((i) =>
              i.message.includes(`operation ${o.id} (${o.type}): parameter "${param}"`)
            ),
            `${plan.operation}: ${o.id} ${param} moved out was not refused: ${
              JSON.stringify(found)
            }`,
          );
          moved++;
        }
      }
      assert.ok(moved > 0, `${plan.operation}: no path parameter found`);
    }
  });
}

Deno.test("the store's cluster directory is allowed on this machine only, and only when the store is given", async () => {
  const deploy = await deployPlan(TOPOLOGIES["default deploy root, sharded with a remote mongos"]);
  const destroy = lifecycle(deploy, planDestroy);
  const staging = allOperations(destroy).find((o) => o.target.params.path?.endsWith("/staging"))!;
  assert.deepEqual(planPathIssues(destroy, { storeRoot: STORE }), []);
  assert.match(
    planPathIssues(destroy).map((i) => i.message).join("\n"),
    new RegExp(`operation ${staging.id.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} `),
  );
  const remote = structuredClone(destroy);
  allOperations(remote).find((o) => o.id === staging.id)!.target.host = "10.0.0.5";
  assert.match(
    planPathIssues(remote, { storeRoot: STORE }).map((i) => i.message).join("\n"),
    /which is not inside the directories this plan's topology gives 10\.0\.0\.5/,
  );
});

Deno.test("a create_directory with a directory added inside the deploy root, one left out, or a wider mode is refused, naming the process's own directories (tester63 M2)", async () => {
  const plan = await deployPlan(TOPOLOGIES["own deploy root, no access control"]);
  const mkdir = allOperations(plan).find((o) => o.type === "create_directory")!;
  const dirs = JSON.parse(mkdir.target.params.paths) as string[];
  assert.deepEqual(planPathIssues(plan, { storeRoot: STORE }), []);
  const edits: [string, (p: Record<string, string>) => void, RegExp][] = [
    [
      "an extra directory inside the root",
      (p) => p.paths = JSON.stringify([...dirs, "/data/clusters/c1/x$(touch pwned)"]),
      /parameter "paths" is .*; expected \[.*\], the directories of mongod-localhost-27017/,
    ],
    [
      "one left out",
      (p) => p.paths = JSON.stringify(dirs.slice(1)),
      /parameter "paths" is .*; expected \[/,
    ],
    ["a wider mode", (p) => p.mode = "0777", /parameter "mode" is "0777"; expected "0700"/],
  ];
  for (const [what, edit, want] of edits) {
    const copy = structuredClone(plan);
    edit(allOperations(copy).find((o) => o.id === mkdir.id)!.target.params);
    const found = planPathIssues(copy, { storeRoot: STORE }).map((i) => i.message);
    assert.ok(found.some((m) => want.test(m)), `${what}: ${JSON.stringify(found)}`);
  }
});

Deno.test("the fix of an edited plan names the command of its own operation (a restart's is cluster restart, tester72)", async () => {
  const { remakeFix } = await import("../lib/plan/plan_paths.ts");
  assert.match(
    remakeFix({ cluster_name: "rs1", operation: "restart" }),
    /make a new one with `mup cluster restart rs1`/,
  );
  assert.match(
    remakeFix({ cluster_name: "rs1", operation: "deploy" }),
    /`mup cluster deploy rs1 <topology>`/,
  );
  assert.match(
    remakeFix({ cluster_name: "rs1", operation: "reconfigure" }),
    /`mup cluster reconfigure rs1 <topology>`/,
  );
});
