/**
 * Inputs of the pure lifecycle planners, built from the shipped examples: the metadata of a
 * deployed cluster and facts with every process running (the first member of each set primary).
 */
import * as path from "node:path";
import { compileHooks } from "../lib/hooks/compile.ts";
import type { LifecyclePlanInput, ProcessFact } from "../lib/plan/lifecycle.ts";
import { recordedProcess } from "../lib/state/meta_from_plan.ts";
import { listProcesses } from "../lib/plan/processes.ts";
import type { ClusterMeta } from "../lib/state/meta.ts";
import { parseTopology } from "../lib/topology/load.ts";
import { ROOT } from "./helpers.ts";
import { sealPlanText } from "../lib/plan/hash.ts";
import { planDeploy } from "../lib/plan/planner.ts";
import type { Plan } from "../lib/plan/schema.ts";
import type { Topology } from "../lib/topology/schema.ts";
import { withSecurityDefaults } from "../lib/security/settings.ts";

export const CLUSTER_DIR = "/home/mup/storage/clusters/golden";
export const DEPLOY = `${CLUSTER_DIR}/deploy`;

/**
 * The metadata of `examples/<file>` deployed (7.0.5), with its processes; `file` may also be
 * a topology's YAML itself (any text with a line break).
 */
export async function metaFor(file: string, status: ClusterMeta["status"] = "running") {
  const text = file.includes("\n")
    ? file
    : Deno.readTextFileSync(path.join(ROOT, "examples", file));
  const t = (await parseTopology(text, file.includes("\n") ? "inline.yaml" : file)).topology;
  const procs = listProcesses(t, DEPLOY);
  const kind = t.config_servers.length
    ? "sharded"
    : procs.some((p) => p.replicaSet)
    ? "replica_set"
    : "standalone";
  const meta: ClusterMeta = {
    format_version: 1,
    name: "golden",
    lineage: "lineage-1",
    serial: 1,
    status,
    kind,
    version: "7.0.5",
    variant: "mongo",
    deploy_dir: DEPLOY,
    connection_string: "mongodb://localhost:27017/",
    topology: t,
    processes: procs.map(recordedProcess),
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
    last_plan_id: "plan-deploy",
    last_state_id: "apply-deploy",
  };
  return { meta, procs };
}

/** Facts with every process running, the first member of each set primary. */
export async function input(
  file: string,
  over: Partial<LifecyclePlanInput> = {},
  running = true,
): Promise<LifecyclePlanInput> {
  const { meta, procs } = await metaFor(file, running ? "running" : "stopped");
  const seen = new Set<string>();
  const facts: Record<string, ProcessFact> = {};
  for (const p of procs) {
    const primary = p.replicaSet !== undefined && !seen.has(p.replicaSet);
    if (p.replicaSet) seen.add(p.replicaSet);
    facts[p.id] = running
      ? { running, ...(p.replicaSet ? { state: primary ? "PRIMARY" : "SECONDARY" } : {}) }
      : { running: false };
  }
  return {
    planId: "plan-golden",
    createdAt: "2026-01-01T00:00:00.000Z",
    meta,
    clusterDir: CLUSTER_DIR,
    deployDir: DEPLOY,
    hooks: compileHooks(meta.topology.hooks, "/topologies"),
    facts,
    ...over,
  };
}

/**
 * The deploy plan of a topology's YAML `text` (named `file`), sealed, as the golden tests make
 * it: cluster "golden", release 7.0.5, deployed under /home/mup. `secured`: with the security
 * defaults `cluster deploy` writes into the topology (access control on).
 */
export async function sealedDeploy(
  text: string,
  file: string,
  secured = false,
): Promise<{ plan: Plan; text: string }> {
  const t = await parseTopology(text, file);
  return sealPlanText(planDeploy({
    planId: "plan-golden",
    createdAt: "2026-01-01T00:00:00.000Z",
    clusterName: "golden",
    topology: secured ? withSecurityDefaults(t.topology) : t.topology,
    topologyFile: `/topologies/${file}`,
    release: {
      version: "7.0.5",
      variant: "mongo",
      platform: "linux-x86_64",
      url: "https://fastdl.mongodb.org/linux/mongodb-linux-x86_64-ubuntu2204-7.0.5.tgz",
      sha256: "ab".repeat(32),
      size_bytes: 120_000_000,
      archive_name: "mongodb-linux-x86_64-ubuntu2204-7.0.5.tgz",
    },
    deployDir: "/home/mup/deploy",
    cacheDir: "/home/mup/cache",
    clusterDir: "/home/mup/storage/clusters/golden",
    validation: { valid: true, errors: [], warnings: [], checks: [] },
    hooks: compileHooks(t.topology.hooks, "/topologies"),
    baseState: { lineage: "", serial: 0 },
    cached: false,
  }));
}

/** `t` without the entries on these ports. */
export function without(t: Topology, ...ports: number[]): Topology {
  const keep = <T extends { port: number }>(l: T[]) => l.filter((e) => !ports.includes(e.port));
  return {
    ...t,
    config_servers: keep(t.config_servers),
    mongod_servers: keep(t.mongod_servers),
    mongos_servers: keep(t.mongos_servers),
  };
}
