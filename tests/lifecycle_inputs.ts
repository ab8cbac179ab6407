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
