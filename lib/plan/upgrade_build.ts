/**
 * The probe step of `cluster upgrade` (the planner, upgrade.ts, is pure): resolves the asked
 * release the way a deploy does, reads the cluster's feature compatibility version and the
 * version each running process reports, then plans through the lifecycle probe.
 */
import * as path from "node:path";
import { resolveReleaseFor } from "../download/release_for.ts";
import type { ExecutorFactory } from "../executor/executor.ts";
import { clusterAccess } from "../security/access.ts";
import { fcvText, readFcv } from "../mongo/fcv.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { buildLifecyclePlan } from "./lifecycle_build.ts";
import type { Plan, Release, Variant } from "./schema.ts";
import type { PlanStore } from "./store.ts";
import { planUpgrade, type UpgradePlanInput } from "./upgrade.ts";
import { listProcesses } from "./processes.ts";
import { MupError } from "../errors.ts";
import { sha256File } from "../util/file_hash.ts";

export interface UpgradeRequest {
  meta: ClusterMeta;
  version: string;
  variant: Variant;
  mirror?: string;
  setFcv: boolean;
  cacheDir: string;
  store: PlanStore;
  executors: ExecutorFactory;
  dryRun?: boolean;
}

/** The release an upgrade installs (release_for.ts). */
export const resolveUpgradeRelease = resolveReleaseFor;

export async function probeReleases(
  meta: ClusterMeta,
  executors: ExecutorFactory,
): Promise<Pick<UpgradePlanInput, "fcvs" | "versions" | "balancer">> {
  const access = clusterAccess(meta.name, meta.topology, executors);
  const arbiters = new Set(
    listProcesses(meta.topology, "/").filter((p) => p.arbiterOnly).map((p) => p.id),
  );
  const versions: Record<string, string> = {};
  const fcvs: Record<string, string> = {};
  const ask = (p: ClusterMeta["processes"][number], cmd: Record<string, unknown>) =>
    access.adminCommand(p.host, p.port, cmd, 5_000).catch(() => undefined);
  await Promise.all(meta.processes.map(async (p) => {
    const info = await ask(p, { buildInfo: 1 });
    if (info?.version) versions[p.id] = String(info.version);
    if (!info || p.role === "mongos" || arbiters.has(p.id)) return;
    // A setFeatureCompatibilityVersion cut short leaves a targetVersion: the FCV is between two.
    const f = await readFcv(access, p.host, p.port, 5_000);
    if (f) fcvs[p.id] = fcvText(f);
  }));
  let balancer: string | undefined;
  for (const p of meta.processes.filter((x) => x.role === "mongos")) {
    const r = await ask(p, { balancerStatus: 1 });
    if (r?.mode) {
      balancer = String(r.mode);
      break;
    }
  }
  return { fcvs, versions, ...(balancer ? { balancer } : {}) };
}

/**
 * The build of `release` each remote host of another architecture needs (`uname` through its
 * executor; local hosts run the control machine's), resolved once per architecture, and the
 * platforms whose archive is in the cache with its sha256. Throws MupError for a host that is
 * not Linux or of an architecture MongoDB does not build for.
 */
export async function otherArchitectures(
  meta: ClusterMeta,
  release: Release,
  req: UpgradeRequest,
): Promise<Pick<UpgradePlanInput, "hostReleases" | "cachedPlatforms">> {
  const want = release.platform.split("-")[1];
  const hosts = [...new Set(meta.processes.map((p) => p.host))];
  const byArch = new Map<string, Promise<Release>>();
  const hostReleases: Record<string, Release> = {};
  for (const h of hosts) {
    const ex = req.executors.forHost(h);
    if (!ex.platform) continue;
    const { os, arch } = await ex.platform();
    const norm = arch === "arm64" ? "aarch64" : arch === "amd64" ? "x86_64" : arch;
    if (os !== "Linux") throw new MupError(`${h} runs ${os}, not Linux: mup installs Linux builds`);
    if (norm === want) continue;
    if (!byArch.has(norm)) {
      byArch.set(norm, resolveUpgradeRelease(release.version, release.variant, req.mirror, norm));
    }
    hostReleases[h] = await byArch.get(norm)!;
  }
  const cachedPlatforms: string[] = [];
  for (const r of new Map(Object.values(hostReleases).map((r) => [r.platform, r])).values()) {
    if ((await sha256File(path.join(req.cacheDir, r.archive_name))) === r.sha256) {
      cachedPlatforms.push(r.platform);
    }
  }
  return Object.keys(hostReleases).length ? { hostReleases, cachedPlatforms } : {};
}

/** Resolves, probes, then plans the upgrade. */
export async function buildUpgradePlan(req: UpgradeRequest): Promise<Omit<Plan, "content_hash">> {
  // The release the cluster runs is recorded: an FCV-only plan needs no manifest (offline).
  const recorded = req.meta.release;
  const release = recorded && recorded.url && req.version === req.meta.version &&
      req.variant === req.meta.variant
    ? recorded
    : await resolveUpgradeRelease(req.version, req.variant, req.mirror);
  const archive = path.join(req.cacheDir, release.archive_name);
  const cached = await Deno.stat(archive).then(() => true, () => false);
  // An FCV-only plan installs nothing.
  const others = release === recorded ? {} : await otherArchitectures(req.meta, release, req);
  const live = await probeReleases(req.meta, req.executors);
  return await buildLifecyclePlan(
    (input) =>
      planUpgrade({
        ...input,
        release,
        cacheDir: req.cacheDir,
        cached,
        ...others,
        setFcv: req.setFcv,
        ...live,
      }),
    {
      meta: req.meta,
      store: req.store,
      executors: req.executors,
      dryRun: req.dryRun,
      needsEveryProcess: true,
    },
  );
}
