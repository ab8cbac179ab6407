import * as path from "node:path";
import {
  archiveSize,
  loadManifest,
  localPlatform,
  resolvePerconaRelease,
  resolveRelease,
  type Source,
} from "../download/manifest.ts";
import type { ExecutorFactory } from "../executor/executor.ts";
import { compileHooks } from "../hooks/compile.ts";
import { allocatePorts, preflight } from "../preflight/preflight.ts";
import { baseStateOf, readMeta } from "../state/meta.ts";
import { type LoadedTopology, loadTopology } from "../topology/load.ts";
import { planDeploy } from "./planner.ts";
import { listProcesses } from "./processes.ts";
import { estimateResources } from "./resources.ts";
import type { OperationType, Plan, Variant } from "./schema.ts";
import { CONTROL_HOST, type MeasuredDurations } from "./estimates.ts";
import { readHistory } from "../state/history.ts";
import type { Topology } from "../topology/schema.ts";
import type { PlanStore } from "./store.ts";

export interface DeployRequest {
  cluster: string;
  topologyFile: string;
  version: string;
  variant: Variant;
  mirror?: string;
  cacheDir: string;
  store: PlanStore;
  executors: ExecutorFactory;
  dryRun?: boolean;
  /** The topology, when the caller already loaded it. */
  loaded?: LoadedTopology;
}

/**
 * Reads the topology, resolves the release, runs pre-flight, then calls the pure planner. The
 * plan is sealed (given its content hash) as it is saved: PlanStore.savePlan, or sealPlan.
 */
export async function buildDeployPlan(
  req: DeployRequest,
): Promise<Omit<Plan, "content_hash">> {
  const loaded = req.loaded ?? await loadTopology(req.topologyFile);
  const topology = allocatePorts(loaded.topology);
  const source: Source = { mirror: req.mirror };
  const platform = await localPlatform();
  const release = req.variant === "percona"
    ? await resolvePerconaRelease(req.version, platform, source)
    : resolveRelease(await loadManifest(source), req.version, platform, source);
  release.size_bytes = await archiveSize(release.url);
  const clusterDir = req.store.clusterDir(req.cluster);
  const deployDir = path.join(clusterDir, "deploy");
  const meta = await readMeta(clusterDir);
  const archivePath = path.join(req.cacheDir, release.archive_name);
  const resources = estimateResources(listProcesses(topology, deployDir), release);
  const { validation, cached } = await preflight({
    topology,
    release,
    resources,
    deployDir: topology.global.deploy_dir ?? deployDir,
    archivePath,
    executors: req.executors,
    // Ports the recorded cluster itself runs on are expected to be busy.
    ownPorts: new Set((meta?.processes ?? []).map((p) => `${p.host}:${p.port}`)),
  });
  for (const w of loaded.warnings) {
    validation.warnings.push({
      code: w.code,
      severity: "warning",
      message: `${w.location.path}: ${w.message}`,
    });
  }
  const measured = await measuredDurations(req.store, req.cluster, topology);
  return planDeploy({
    planId: `plan-${crypto.randomUUID().slice(0, 8)}`,
    createdAt: new Date().toISOString(),
    clusterName: req.cluster,
    topology,
    topologyFile: path.resolve(req.topologyFile),
    release,
    deployDir,
    cacheDir: req.cacheDir,
    clusterDir,
    validation,
    hooks: compileHooks(topology.hooks, path.dirname(path.resolve(req.topologyFile))),
    baseState: baseStateOf(meta),
    cached,
    dryRun: req.dryRun,
    measured,
  });
}

/**
 * Recent durations recorded on the topology's hosts (and the control machine) in the history of
 * this cluster and of the other clusters in the store: a first deploy on known hosts is then
 * estimated from what was measured there.
 */
async function measuredDurations(
  store: PlanStore,
  cluster: string,
  topology: Topology,
): Promise<MeasuredDurations> {
  const hosts = new Set([
    CONTROL_HOST,
    ...[...topology.config_servers, ...topology.mongod_servers, ...topology.mongos_servers]
      .map((s) => s.host),
  ]);
  const out: MeasuredDurations = { samples: {}, applies: 0, clusters: [] };
  const names = await store.clusters();
  for (const name of [cluster, ...names.filter((n) => n !== cluster)]) {
    const h = await readHistory(store.clusterDir(name));
    if (!h) continue;
    let used = false;
    for (const [host, byType] of Object.entries(h.durations)) {
      if (!hosts.has(host)) continue;
      for (const [type, stats] of Object.entries(byType)) {
        if (stats?.in_place_ms?.length && type === "download_binary") {
          ((out.cachedDownloads ??= {})[host] ??= []).push(...stats.in_place_ms);
          used = true;
        }
        if (!stats?.recent_ms.length) continue;
        const into = out.samples[host] ??= {};
        (into[type as OperationType] ??= []).push(...stats.recent_ms);
        used = true;
      }
    }
    if (used) {
      out.applies += h.applies;
      out.clusters.push(name);
    }
  }
  return out;
}
