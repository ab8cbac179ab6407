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
import { isLocalHost, topologyKind } from "../topology/schema.ts";
import {
  clashes,
  clusterClaims,
  otherClusters,
  otherPorts,
  strayClaims,
} from "../preflight/clusters.ts";
import { clusterAccess } from "../security/access.ts";
import { addBackUnreadOps, addDriftOps, addKeptConfigOps } from "./member_options.ts";
import { repairLook, repairRefusals, repairWarnings } from "../preflight/repair_live.ts";
import { SECRET, securityOf, withSecurityDefaults } from "../security/settings.ts";
import { readAdmin, secretExists } from "../security/secrets.ts";
import { unfinishedApplyWarning } from "../state/undeployed.ts";
import { checkUserKeyfile } from "../preflight/keyfile.ts";
import { checkRetainedData } from "../preflight/retained.ts";
import { dataDirsInUse } from "../preflight/recorded_data.ts";
import { storeDirIssues } from "../preflight/store_dirs.ts";
import { checkRetainedArchives } from "../preflight/retained_sets.ts";
import { checkChosenDirs, checkDirsCreatable, checkForeignData } from "../preflight/data_dirs.ts";
import { checkRecordedData } from "../preflight/recorded_data.ts";
import { checkDataDirsFree, heldDataDirs } from "../preflight/data_held.ts";
import { listProcesses, listReplicaSets } from "./processes.ts";
import { firstDeployImplicitDefault } from "./implicit_write_concern.ts";
import { defaultWriteConcernIssues } from "./default_write_concern.ts";
import { guardStarts, markResync } from "./repair_files.ts";
import { markRepair, setBackIssues } from "./deploy_repair.ts";
import { estimateResources } from "./resources.ts";
import { markKeptDataDirs } from "./prepare_steps.ts";
import type { CheckResult, Plan, ValidationIssue, Variant } from "./schema.ts";
import { measuredDurations } from "../preflight/measured.ts";
import type { PlanStore } from "./store.ts";
import { refuseUnrepairable } from "./deploy_refusals.ts";
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
  // The data directories of a first deploy that already hold data (retained by a destroy, or
  // someone else's), listed once for both retained-data checks below.
  // A directory a live mongod of someone else holds is refused as such (data_dirs_free below):
  // no retained-data check offers to remove it.
  const heldT0 = performance.now();
  const unreached = new Set<string>();
  const held = await heldDataDirs(procs, req.executors, unreached);
  const heldMs = Math.round(performance.now() - heldT0);
  const heldKeys = new Set(held.map((h) => `${hostKey(h.proc.host)}:${h.proc.dirs.data}`));
  const inUse = meta
    ? []
    : (await dataDirsInUse(procs, req.executors)).filter((d) =>
      !heldKeys.has(`${hostKey(d.host)}:${d.dir}`)
    );
  // A first deploy onto data a `destroy --retain-data` kept needs the secrets it was made with.
  const retained = !meta && securityOf(topology).auth && !(await readAdmin(req.cluster))
    ? await checkRetainedData({
      cluster: req.cluster,
      procs,
      inUse,
      adminUser: securityOf(topology).adminUser,
      archiveRoot: path.join(path.dirname(path.dirname(clusterDir)), "archive"),
      executors: req.executors,
    })
    : undefined;
  // A first deploy must not take over a directory that holds someone else's files; a repair
  // must not start a standalone or a whole replica set whose data is gone (it would come back
  // as a new, empty database), and says which member will copy its data from its set.
  const dataDirs: {
    check: CheckResult;
    issues: ValidationIssue[];
    warnings?: ValidationIssue[];
    resync?: ReadonlyMap<string, string>;
  } = meta
    ? await checkRecordedData(procs, req.executors, {
      cluster: req.cluster,
      version: meta.version,
      variant: meta.variant,
      topologyFile: req.topologyFile,
      sharded: meta.kind === "sharded",
    })
    : await checkForeignData(procs, req.executors);
  validation.warnings.push(...(dataDirs.warnings ?? []));
  // Nor a deploy, log or config directory an entry names that holds someone else's files.
  const chosen = meta ? undefined : await checkChosenDirs(procs, req.executors, own.claims);
  // A file in the way or a read-only directory fails mid-apply (mkdir, mongod): refused here.
  const creatable = await checkDirsCreatable(procs, req.executors);
  // Nor a data directory another mongod runs on (another store's cluster, one run by hand).
  const free = checkDataDirsFree(held, heldMs, meta?.name, unreached);
  // What an earlier, unfinished first deploy holds that this topology drops would be nobody's.
  const stray = meta || !own.claims.length
    ? undefined
    : strayClaims(req.cluster, own, nodeClaims(topology, deployDir));
  for (
    const c of [dataDirs, ...(chosen ? [chosen] : []), creatable, free, ...(stray ? [stray] : [])]
  ) {
    validation.checks.push(c.check);
    if (c.issues.length) {
      validation.errors.push(...c.issues);
      validation.valid = false;
    }
  }
  if (retained) {
    validation.checks.push(retained.check);
    if (retained.issue.severity === "error") {
      validation.errors.push(retained.issue);
      validation.valid = false;
    } else validation.warnings.push(retained.issue);
  }
  // Retained data of another replica set (mongod would never join the planned one) or of a
  // release this one cannot start on (mongod would exit 62).
  const refusals = meta ? [] : await checkRetainedArchives({
    procs,
    inUse,
    version: release.version,
    archiveRoot: path.join(path.dirname(path.dirname(clusterDir)), "archive"),
    executors: req.executors,
  });
  for (const r of refusals) {
    validation.checks.push(r.check);
    validation.errors.push(r.issue);
    validation.valid = false;
  }
  // The user's own keyfile is copied mid-apply, once: checked here while it still will be.
  const sec = securityOf(topology);
  const keyfile = sec.auth && !(await secretExists(req.cluster, SECRET.keyfile))
    ? await checkUserKeyfile(sec.keyfile, req.topologyFile)
    : undefined;
  if (keyfile) {
    validation.checks.push(keyfile.check);
    if (keyfile.issue) {
      validation.errors.push(keyfile.issue);
      validation.valid = false;
    }
  }
  // mup creates the first user through the localhost exception (MongoDB manual: "Localhost
  // Exception"), which enableLocalhostAuthBypass: false turns off: the first deploy would stop
  // at the user's creation, every member already initiated.
  const noBypass = !meta && sec.auth
    ? procs.filter((p) => p.role !== "mongos" && bypassOff(p.runtimeConfig))
    : [];
  if (noBypass.length) {
    validation.errors.push({
      code: "localhost_exception_off",
      severity: "error",
      host: noBypass[0].host,
      message: `setParameter enableLocalhostAuthBypass: false (${
        noBypass.map((p) => p.id).join(", ")
      }) turns off the localhost exception, through which mup creates the cluster's first ` +
        "user: the deploy would stop there (createUser: Unauthorized). Leave it out of the " +
        `first deploy, then set it with \`mup cluster reconfigure ${req.cluster} <topology>\``,
    });
    validation.valid = false;
  }
  const dwcIssues = defaultWriteConcernIssues(
    topology,
    topologyKind(topology),
    listReplicaSets(procs),
    release.version,
  );
  if (dwcIssues.length) {
    validation.errors.push(...dwcIssues);
    validation.valid = false;
  }
  if (!meta) {
    const implicit = firstDeployImplicitDefault(req.cluster, topology, procs, release.version);
    validation.warnings.push(...implicit.warnings);
    validation.errors.push(...implicit.errors);
    if (implicit.errors.length) validation.valid = false;
  }
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

/** Whether a process's runtime_config turns the localhost exception off (false, "false", 0). */
function bypassOff(rc: Record<string, unknown>): boolean {
  const v = (rc.setParameter as Record<string, unknown> | undefined)?.enableLocalhostAuthBypass;
  return v === false || v === "false" || v === 0 || v === "0";
}
