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
import { MupError } from "../errors.ts";
import { compileHooks } from "../hooks/compile.ts";
import { allocatePorts, preflight } from "../preflight/preflight.ts";
import { baseStateOf, readMeta } from "../state/meta.ts";
import { type LoadedTopology, loadTopology } from "../topology/load.ts";
import { planDeploy } from "./planner.ts";
import { listProcesses } from "./processes.ts";
import { estimateResources } from "./resources.ts";
import type { Plan, Variant } from "./schema.ts";
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
  // The control machine's release; remote hosts of another architecture get theirs.
  const resolveFor = async (arch: string) => {
    if (arch !== "x86_64" && arch !== "aarch64") {
      throw new MupError(`MongoDB publishes no Linux ${arch} builds (only x86_64 and aarch64)`);
    }
    const p = { ...platform, arch: arch as typeof platform.arch };
    const r = req.variant === "percona"
      ? await resolvePerconaRelease(req.version, p, source)
      : resolveRelease(await loadManifest(source), req.version, p, source);
    r.size_bytes = await archiveSize(r.url);
    return r;
  };
  const release = await resolveFor(platform.arch);
  const clusterDir = req.store.clusterDir(req.cluster);
  const deployDir = path.join(clusterDir, "deploy");
  const meta = await readMeta(clusterDir);
  const archivePath = path.join(req.cacheDir, release.archive_name);
  const resources = estimateResources(listProcesses(topology, deployDir), release);
  const { validation, cached, hostReleases } = await preflight({
    topology,
    release,
    resources,
    deployDir: topology.global.deploy_dir ?? deployDir,
    archivePath,
    executors: req.executors,
    // Ports the recorded cluster itself runs on are expected to be busy.
    ownPorts: new Set((meta?.processes ?? []).map((p) => `${p.host}:${p.port}`)),
    resolveFor,
  });
  for (const w of loaded.warnings) {
    validation.warnings.push({
      code: w.code,
      severity: "warning",
      message: `${w.location.path}: ${w.message}`,
    });
  }
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
    ...(Object.keys(hostReleases).length ? { hostReleases } : {}),
    dryRun: req.dryRun,
  });
}
