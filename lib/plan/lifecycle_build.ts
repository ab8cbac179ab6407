/**
 * The probe step of the lifecycle commands: reads the recorded cluster, asks every process
 * whether it runs and what it is (pid file, then hello, each bounded by a timeout), then calls
 * the command's pure planner. Not pure itself, like deploy.ts.
 */
import * as path from "node:path";
import type { ExecutorFactory } from "../executor/executor.ts";
import { compileHooks } from "../hooks/compile.ts";
import { clusterAccess } from "../security/access.ts";
import { runningPid } from "../ops/process.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { measuredDurations } from "./deploy.ts";
import type { LifecyclePlanInput, ProcessFact } from "./lifecycle.ts";
import type { Plan } from "./schema.ts";
import type { ProcessFilter } from "./select.ts";
import type { PlanStore } from "./store.ts";

/** Live facts about every recorded process, asked all at once. */
export async function probeFacts(
  meta: ClusterMeta,
  executors: ExecutorFactory,
): Promise<Record<string, ProcessFact>> {
  const access = clusterAccess(meta.name, meta.topology, executors);
  const facts = await Promise.all(meta.processes.map(async (p) => {
    const pid = await runningPid(executors.forHost(p.host), p.pid_file, p.config)
      .catch(() => undefined);
    const h = pid ? await access.hello(p.host, p.port) : undefined;
    const state = h?.isWritablePrimary && h.setName
      ? "PRIMARY"
      : h?.secondary
      ? "SECONDARY"
      : h?.arbiterOnly
      ? "ARBITER"
      : undefined;
    return [p.id, { running: pid !== undefined, ...(state ? { state } : {}) }] as const;
  }));
  return Object.fromEntries(facts);
}

/** Probes, then runs `planner` on the recorded cluster. */
export async function buildLifecyclePlan(
  planner: (input: LifecyclePlanInput) => Omit<Plan, "content_hash">,
  req: {
    meta: ClusterMeta;
    store: PlanStore;
    executors: ExecutorFactory;
    filter?: ProcessFilter;
    dryRun?: boolean;
  },
): Promise<Omit<Plan, "content_hash">> {
  const clusterDir = req.store.clusterDir(req.meta.name);
  const hooksDir = req.meta.topology_file ? path.dirname(req.meta.topology_file) : clusterDir;
  return planner({
    planId: `plan-${crypto.randomUUID().slice(0, 8)}`,
    createdAt: new Date().toISOString(),
    meta: req.meta,
    clusterDir,
    deployDir: path.join(clusterDir, "deploy"),
    hooks: compileHooks(req.meta.topology.hooks, hooksDir),
    facts: await probeFacts(req.meta, req.executors),
    measured: await measuredDurations(req.store, req.meta.name, req.meta.topology),
    filter: req.filter,
    dryRun: req.dryRun,
  });
}
