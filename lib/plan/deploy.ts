import * as path from "node:path";
import type { ExecutorFactory } from "../executor/executor.ts";
import { resolveReleaseFor } from "../download/release_for.ts";
import { compileHooks } from "../hooks/compile.ts";
import { allocatePorts, preflight } from "../preflight/preflight.ts";
import { baseStateOf, readMeta } from "../state/meta.ts";
import { type LoadedTopology, loadTopology } from "../topology/load.ts";
import { initiatedSets } from "../preflight/initiated_sets.ts";
import { planDeploy } from "./planner.ts";
import { refreshEstimates } from "./estimates.ts";
import { canonical, hooksMoved, recordedPorts } from "./redeploy.ts";
import { hostKey } from "../topology/hosts.ts";
import { nodeClaims, rootClaims } from "../topology/layout.ts";
import { isLocalHost } from "../topology/schema.ts";
import { clashes, clusterClaims, otherClusters, otherPorts } from "../preflight/clusters.ts";
import { clusterAccess } from "../security/access.ts";
import { addBackUnreadOps, addDriftOps, addKeptConfigOps } from "./member_options.ts";
import { repairLook, repairRefusals, repairWarnings } from "../preflight/repair_live.ts";
import { SECRET, withSecurityDefaults } from "../security/settings.ts";
import { secretExists } from "../security/secrets.ts";
import { unfinishedApplyWarning } from "../state/undeployed.ts";
import { storeDirIssues } from "../preflight/store_dirs.ts";
import { listProcesses, listReplicaSets } from "./processes.ts";
import { guardStarts, markResync } from "./repair_files.ts";
import { markRepair, setBackIssues } from "./deploy_repair.ts";
import { estimateResources } from "./resources.ts";
import { markKeptDataDirs } from "./prepare_steps.ts";
import type { Plan, Variant } from "./schema.ts";
import { measuredDurations } from "../preflight/measured.ts";
import type { PlanStore } from "./store.ts";
import { refuseUnrepairable } from "./deploy_refusals.ts";
import { deployDataChecks } from "./deploy_checks.ts";
import { lostSecretIssues, repairSigns } from "../preflight/lost_secrets.ts";

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
  /** `--wait-timeout` in ms: recorded in every wait of the plan (see DeployPlanInput). */
  waitTimeoutMs?: number;
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
  const loaded = req.loaded ??
    await loadTopology(req.topologyFile, { variant: req.variant, version: req.version });
  const clusterDir = req.store.clusterDir(req.cluster);
  const deployDir = path.join(clusterDir, "deploy");
  // Every cluster recorded under $MUP_HOME, running or stopped, keeps its ports and files.
  const others = await otherClusters(path.dirname(clusterDir), req.cluster);
  const meta = await readMeta(clusterDir);
  // global.security is written out with its defaults (auth on), so the plan and the metadata
  // say what the cluster runs with; a recorded cluster without it ran without auth, and a
  // re-deploy that would change that is refused below like any other difference.
  const topology = withSecurityDefaults(allocatePorts(
    meta ? recordedPorts(loaded.topology, meta.topology) : loaded.topology,
    others.flatMap((o) => o.claims.filter((c) => isLocalHost(c.host)).map((c) => c.port)),
  ));
  // The control machine's release; remote hosts of another architecture get theirs. A repair
  // (a recorded cluster) reads the mirror its release came from unless one is given, as
  // `cluster upgrade` does.
  const mirror = req.mirror ?? meta?.release?.mirror;
  const resolveFor = (arch: string) => resolveReleaseFor(req.version, req.variant, mirror, arch);
  const release = await resolveReleaseFor(req.version, req.variant, mirror);
  // Checked once the request itself is known to be good (the version resolves).
  // A pre-flight error: the plan is shown with it, and `--plan-file` still writes it (tester46).
  const clash = clashes(nodeClaims(topology, deployDir), others, rootClaims(topology, deployDir));
  if (meta) {
    await refuseUnrepairable(req, meta, clusterDir, {
      topology,
      version: release.version,
      variant: release.variant,
      mirror: release.mirror,
    });
  }
  const own = await clusterClaims(clusterDir, req.cluster);
  const archivePath = path.join(req.cacheDir, release.archive_name);
  const procs = listProcesses(topology, deployDir);
  const resources = estimateResources(procs, release);
  const { validation, cached, hostReleases, cachedPlatforms, ownRunning } = await preflight({
    topology,
    release,
    resources,
    deployDir: topology.global.deploy_dir ?? deployDir,
    archivePath,
    executors: req.executors,
    // Ports the cluster's own processes run on (recorded in its metadata or by an apply that
    // failed part way) are expected to be busy.
    ownPorts: new Map(own.claims.map((c) => [`${hostKey(c.host)}:${c.port}`, c.files.config])),
    otherPorts: otherPorts(others),
    resolveFor,
  });
  const inStore = storeDirIssues(procs, topology.global.deploy_dir ?? deployDir, {
    storageRoot: path.dirname(path.dirname(clusterDir)),
    cacheDir: req.cacheDir,
    ownDeployDir: deployDir,
  });
  if (inStore.length) {
    validation.errors.push(...inStore);
    validation.valid = false;
  }
  if (clash.length) {
    validation.errors.push({
      code: "claimed_by_other_cluster",
      severity: "error",
      message:
        `cluster ${req.cluster} would take what another cluster holds: ${
          clash.join("; ")
        }. Give this cluster its own ports, data_dir and log_dir, and its own ` +
        "global.deploy_dir on a machine the other cluster uses (a stopped cluster keeps its " +
        "own), or remove the other cluster first",
    });
    validation.valid = false;
  }
  // A repair never makes new secrets for a cluster that runs on its old ones.
  // The CA's key only when the repair signs a certificate (one gone, or not of the CA).
  const signs = meta ? await repairSigns(meta) : [];
  const lost = meta
    ? await lostSecretIssues(meta, [
      "keyfile",
      "admin",
      "ca",
      ...(signs.length ? ["ca-key" as const] : []),
    ])
    : [];
  if (lost.length) {
    validation.errors.push(...lost);
    validation.valid = false;
  }
  const { inUse, retained, dataDirs } = await deployDataChecks({
    req,
    meta,
    topology,
    procs,
    release,
    clusterDir,
    deployDir,
    own,
    validation,
  });
  // A deploy tried again replaces the failed attempt's apply, which then cannot be resumed.
  const unfinished = await unfinishedApplyWarning(clusterDir, req.cluster);
  if (unfinished) validation.warnings.push(unfinished);
  for (const w of loaded.warnings) {
    validation.warnings.push({
      code: w.code,
      severity: "warning",
      // The field and where it is written, as `topology validate` gives it.
      message: `${w.location.path}${
        w.location.line ? ` (${path.basename(w.location.file)}:${w.location.line})` : ""
      }: ${w.message}`,
    });
  }
  // A repair of a cluster that runs as recorded, every process answering, has nothing to do:
  // the flow then says "No changes" (exit 0), as Terraform does, instead of a plan of checks.
  const look = meta ? await repairLook(meta, topology, deployDir, req.executors) : undefined;
  const { down, untrusted, unwell, drift, unlistedShards } = look ?? {
    untrusted: {},
    unwell: [],
    drift: { options: [], removed: [] },
    unlistedShards: [],
  };
  validation.warnings.push(...repairWarnings(meta, unwell, drift, unlistedShards));
  const refused = meta && look
    ? [
      ...repairRefusals(meta, look),
      ...await setBackIssues(meta, procs, look.drift, req.executors),
    ]
    : [];
  if (refused.length) {
    validation.errors.push(...refused);
    validation.valid = false;
  }
  // Hooks are not the cluster: a re-deploy records new ones (lifecycle commands run them).
  const hooksChanged = !!meta &&
    canonical(meta.topology.hooks ?? {}) !== canonical(topology.hooks ?? {});
  const measured = await measuredDurations(req.store, req.cluster, topology);
  // A first deploy tried again: the sets its earlier attempt initiated, as planned.
  const initiated = !meta && ownRunning.size
    ? await initiatedSets(
      listReplicaSets(procs),
      ownRunning,
      clusterAccess(req.cluster, topology, req.executors),
    )
    : [];
  const plan = planDeploy({
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
    ...(cachedPlatforms.length ? { cachedPlatforms } : {}),
    dryRun: req.dryRun,
    measured,
    waitTimeoutMs: req.waitTimeoutMs,
    ...(retained?.reuse ? { retainedSecrets: retained.reuse } : {}),
    ...(down ? { repairDown: [...down] } : {}),
    ...(Object.keys(untrusted).length ? { repairUntrusted: untrusted } : {}),
    // A first deploy tried again: the secrets the earlier attempt made are kept.
    ...(!meta
      ? {
        existingSecrets: (await Promise.all(
          [SECRET.keyfile, SECRET.admin].map(async (s) =>
            await secretExists(req.cluster, s) ? [s] : []
          ),
        )).flat(),
      }
      : {}),
    // A first deploy tried again: what the earlier attempt started runs already.
    ...(!meta && ownRunning.size
      ? {
        runningAlready: procs.filter((p) => ownRunning.has(`${hostKey(p.host)}:${p.port}`))
          .map((p) => p.id),
      }
      : {}),
    ...(initiated.length ? { initiatedAlready: initiated } : {}),
    ...(hooksChanged ? { hooksChanged } : {}),
  });
  // A repair re-installs what was deleted or changed on the hosts, and says so.
  const findings = meta
    ? await markRepair(plan, meta, {
      signs,
      procs,
      down,
      restarted: new Set(Object.keys(untrusted)),
      executors: req.executors,
    })
    : [];
  markResync(plan, dataDirs.resync ?? new Map());
  if (meta) guardStarts(plan, procs);
  addDriftOps(plan, listReplicaSets(procs), drift);
  // A repair of sets that were all down when planned could not read their members' options:
  // they are compared, and set back where they differ, once the set runs again (tester109 #2)…
  if (meta && drift.unread?.length) {
    // …and members removed by hand (rs.remove) are added back first (tester110 #2).
    addBackUnreadOps(plan, listReplicaSets(procs), new Set(drift.unread));
    addKeptConfigOps(
      plan,
      listReplicaSets(procs),
      new Set(drift.unread),
      "its configuration (unread when planned: every member was down)",
    );
  }
  // A first deploy onto data kept by a destroy --retain-data (or an earlier attempt) finds the
  // sets' configurations as they were: their members' options are set as the topology says.
  if (!meta) {
    markKeptDataDirs(plan, inUse);
    const kept = new Set(inUse.map((d) => `${hostKey(d.host)}:${d.dir}`));
    addKeptConfigOps(
      plan,
      listReplicaSets(procs),
      new Set([
        ...initiated,
        ...procs.filter((p) => p.replicaSet && kept.has(`${hostKey(p.host)}:${p.dirs.data}`))
          .map((p) => p.replicaSet!),
      ]),
    );
  }
  // Operations added since the planner estimated (drift, kept sets' options): estimated too, and
  // counted, so "for all N operations" counts what the plan holds.
  if (plan.estimate_source) refreshEstimates(plan, measured);
  const unchanged = meta?.status === "running" && down?.size === 0 && !findings.length &&
    !hooksChanged && !unwell.length && !drift.options.length && !drift.removed.length &&
    !unlistedShards.length &&
    !signs.length; // a certificate gone from the store (or not of its CA) is made again
  if (unchanged) return { ...plan, phases: [] }; // records nothing: the hooks stay where they ran
  const moved = hooksMoved(meta, topology, req.topologyFile);
  if (moved) plan.validation.warnings.push(moved);
  return plan;
}
