/**
 * What `cluster scale-out` reads before its pure planner runs (scale_out.ts): the asked
 * topology, the refusals of every change that is not an addition, pre-flight of the new
 * processes (hosts, ports, directories, platform), and the deploy plan of the whole grown
 * topology that the planner cuts down.
 */
import { storeDirIssues } from "../preflight/store_dirs.ts";
import * as path from "node:path";
import type { ExecutorFactory } from "../executor/executor.ts";
import { resolveReleaseFor } from "../download/release_for.ts";
import type { Hook } from "../hooks/schema.ts";
import { MupError } from "../errors.ts";
import { checkDirsCreatable } from "../preflight/data_dirs.ts";
import { checkDataDirsFree, heldDataDirs } from "../preflight/data_held.ts";
import { clusterClaims, otherClusters, otherPorts } from "../preflight/clusters.ts";
import { listDirs } from "../preflight/list_dirs.ts";
import { measuredDurations } from "../preflight/measured.ts";
import { allocatePorts, preflight } from "../preflight/preflight.ts";
import { clusterAccess } from "../security/access.ts";
import { SECRET, withSecurityDefaults } from "../security/settings.ts";
import { secretExists } from "../security/secrets.ts";
import { baseStateOf, type ClusterMeta } from "../state/meta.ts";
import { unfinishedApply } from "../state/undeployed.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";
import type { LoadedTopology } from "../topology/load.ts";
import { isLocalHost, topologyKind } from "../topology/schema.ts";
import { recordedRelease } from "./lifecycle.ts";
import { planDeploy } from "./planner.ts";
import { connectionString, listProcesses, listReplicaSets } from "./processes.ts";
import {
  implicitDefaultChange,
  implicitDefaultRefusal,
  implicitMajority,
  refusedWithoutDefault,
  shardImplicitDefaultIssues,
} from "./implicit_write_concern.ts";
import { clusterWideWriteConcernSet } from "../probe/default_write_concern.ts";
import { otherChanges } from "./reconfigure_changes.ts";
import { recordedPorts, refuseOtherDifferences } from "./redeploy.ts";
import { estimateResources } from "./resources.ts";
import { addedProcesses, planScaleOut } from "./scale_out.ts";
import { withAddedEntries, withoutAddedEntries } from "./added_entries.ts";
import type { Plan, ValidationIssue } from "./schema.ts";
import { defaultWriteConcernIssues } from "./default_write_concern.ts";
import { lostSecretIssues } from "../preflight/lost_secrets.ts";
import type { PlanStore } from "./store.ts";

export interface ScaleOutRequest {
  meta: ClusterMeta;
  /** The asked topology, loaded and checked for the cluster's release. */
  loaded: LoadedTopology;
  topologyFile: string;
  store: PlanStore;
  executors: ExecutorFactory;
  cacheDir: string;
  hooks: Hook[];
  dryRun?: boolean;
  waitTimeoutMs?: number;
}

/**
 * The scale-out plan of `req.loaded` for the recorded cluster. Throws MupError for a topology
 * that changes anything but adding processes (naming the command that makes the change), for
 * a standalone, and for additions mup cannot make on a running cluster (a second replica set
 * outside a sharded cluster, a mongod outside any set).
 */
export async function buildScaleOutPlan(req: ScaleOutRequest): Promise<Omit<Plan, "content_hash">> {
  const { meta } = req;
  const name = meta.name;
  const file = req.topologyFile;
  const clusterDir = req.store.clusterDir(name);
  const deployDir = path.join(clusterDir, "deploy");
  const others = await otherClusters(path.dirname(clusterDir), name);
  // Port 0 of an entry the recorded topology has is its recorded port; of a new one, a free one.
  const asked = withSecurityDefaults(allocatePorts(
    recordedPorts(req.loaded.topology, meta.topology),
    [
      ...others.flatMap((o) => o.claims.filter((c) => isLocalHost(c.host)).map((c) => c.port)),
      ...meta.processes.map((p) => p.port),
    ],
    // Next to the cluster's own ports, where they are free.
    Math.max(0, ...meta.processes.filter((p) => isLocalHost(p.host)).map((p) => p.port)) + 1,
  ));
  refuseOtherDifferences(meta, asked, deployDir, file, {
    command: "scale-out",
    what: "added processes",
    does: "cluster scale-out only adds processes",
    edit: "add entries to it",
  }, file);
  const other = otherChanges(meta.topology, withoutAddedEntries(meta.topology, asked));
  if (other.length) {
    throw new MupError(
      `${file} also changes ${other.join(", ")} of cluster ${name}, which a scale-out does not ` +
        "change (it adds processes only)",
      {
        hint: `give the recorded values there (\`mup cluster show-config ${name}\` prints them)`,
      },
    );
  }
  const topology = withAddedEntries(meta.topology, asked);
  const added = addedProcesses(meta, topology, deployDir);
  refuseAdditions(meta, topology, added);
  // A scale-out that did not finish may run processes of its own: this one replaces it, so it
  // must keep them (pre-flight then finds them running as the cluster's own).
  const u = await unfinishedApply(clusterDir);
  if (u && u.outcome !== "running" && u.state.operation === "scale-out" && u.state.plan_path) {
    const earlier = await req.store.load(u.state.plan_path).then((l) => l.plan, () => undefined);
    const now = new Set(added.map((p) => `${hostKey(p.host)}:${p.port}`));
    const dropped = earlier
      ? addedProcesses(meta, earlier.topology, deployDir).filter((p) =>
        !now.has(`${hostKey(p.host)}:${p.port}`)
      )
      : [];
    if (dropped.length) {
      throw new MupError(
        `cluster ${name}'s unfinished scale-out (apply ${u.state.state_id}, ${u.outcome}) adds ` +
          `${dropped.map((p) => hostPort(p.host, p.port)).join(", ")}, which ${file} leaves ` +
          "out: they may run already, and this scale-out would replace that one and leave " +
          "them outside mup's records",
        {
          hint: `\`mup state rollback ${name}\` undoes the unfinished scale-out first, or ` +
            "keep those entries in the topology",
        },
      );
    }
  }
  const release = recordedRelease(meta);
  // Remote hosts of another architecture get the recorded version built for theirs.
  const resolveFor = (arch: string) =>
    resolveReleaseFor(meta.version, meta.variant, release.mirror, arch);
  // Ports the cluster's processes run on, and those an earlier scale-out that failed part way
  // started, are expected busy.
  const own = await clusterClaims(clusterDir, name);
  const procs = listProcesses(topology, deployDir);
  const { validation, cached, hostReleases, cachedPlatforms, ownRunning } = await preflight({
    topology,
    release,
    resources: estimateResources(procs, release),
    deployDir: topology.global.deploy_dir ?? deployDir,
    archivePath: path.join(req.cacheDir, release.archive_name),
    executors: req.executors,
    ownPorts: new Map(own.claims.map((c) => [`${hostKey(c.host)}:${c.port}`, c.files.config])),
    otherPorts: otherPorts(others),
    resolveFor,
  });
  const inStore = storeDirIssues(added, topology.global.deploy_dir ?? deployDir, {
    storageRoot: path.dirname(path.dirname(clusterDir)),
    cacheDir: req.cacheDir,
    ownDeployDir: deployDir,
  });
  if (inStore.length) {
    validation.errors.push(...inStore);
    validation.valid = false;
  }
  // New members get the cluster's secrets, never new ones the others do not have.
  const lost = await lostSecretIssues(meta);
  if (lost.length) {
    validation.errors.push(...lost);
    validation.valid = false;
  }
  // A new member starts empty and copies its set's data (initial sync): data already in its
  // directory (another set's, kept by --retain-data) would be replaced or refused, unsaid.
  const filled = await filledDataDirs(
    added.filter((p) => p.role !== "mongos"),
    req.executors,
    ownRunning,
    meta.retained_data ?? [],
  );
  if (filled.length) {
    validation.errors.push(...filled);
    validation.valid = false;
  }
  // The new processes' directories: creatable, not a live mongod's (not empty: above).
  const unreached = new Set<string>();
  const held = await heldDataDirs(added, req.executors, unreached);
  for (
    const c of [
      await checkDirsCreatable(added, req.executors),
      checkDataDirsFree(held, 0, undefined, unreached),
    ]
  ) {
    validation.checks.push(c.check);
    if (c.issues.length) {
      validation.errors.push(...c.issues);
      validation.valid = false;
    }
  }
  // Members are added through each set's primary, shards through a mongos: every recorded
  // process must answer when planned (one down while it applies is display's to show).
  const access = clusterAccess(name, meta.topology, req.executors);
  const down = await access.unanswered(meta.processes);
  const notRunning: ValidationIssue[] = meta.processes.filter((p) => down.has(p.id)).map((p) => ({
    code: "not_running",
    severity: "error",
    host: p.host,
    message: `${hostPort(p.host, p.port)} is not running: a scale-out adds members through ` +
      `each set's primary and new shards through mongos (run \`mup ` +
      `cluster start ${name}\` first)`,
  }));
  if (notRunning.length) {
    validation.errors.push(...notRunning);
    validation.valid = false;
  }
  // A reconfig that changes a recorded set's implicit default write concern (a shard's: to
  // {w: 1}) is refused by MongoDB while no cluster-wide default is set, and a new shard whose
  // default is {w: 1} is not added (5.1+): refused before anything starts. The default is asked
  // of the set (replica set cluster) or of a recorded mongos (sharded), once.
  if (meta.kind !== "standalone" && !notRunning.length) {
    const recordedSets = new Set(meta.processes.flatMap((p) => p.replica_set ?? []));
    const before = listProcesses(meta.topology, deployDir);
    let asked: Promise<boolean | undefined> | undefined;
    const cwwcSet = () =>
      asked ??= clusterWideWriteConcernSet(
        access,
        meta.kind === "sharded"
          ? before.filter((p) => p.role === "mongos")
          : before.filter((p) => p.replicaSet),
      );
    const sets = listReplicaSets(listProcesses(topology, deployDir));
    const newSets = sets.filter((s) => !recordedSets.has(s.name) && !implicitMajority(s.members));
    const issues = meta.kind === "sharded" && newSets.length
      ? shardImplicitDefaultIssues(name, newSets, meta.version, {
        fresh: false,
        cwwcSet: await cwwcSet(),
        uri: connectionString(meta.topology),
      })
      : [];
    for (const s of sets.filter((s) => recordedSets.has(s.name))) {
      const was = before.filter((p) => p.replicaSet === s.name);
      const joining = added.filter((p) => p.replicaSet === s.name);
      const change = joining.length
        ? implicitDefaultChange(was, joining.map((member) => ({ member, add: true })))
        : undefined;
      if (!refusedWithoutDefault(meta, s, change)) continue;
      const issue = implicitDefaultRefusal(meta, s, change, await cwwcSet());
      if (issue) issues.push(issue);
    }
    // A numeric default w a new shard could not acknowledge (tester71).
    issues.push(...defaultWriteConcernIssues(topology, meta.kind, sets, meta.version));
    if (issues.length) {
      validation.errors.push(...issues);
      validation.valid = false;
    }
  }
  for (const w of req.loaded.warnings) {
    validation.warnings.push({
      code: w.code,
      severity: "warning",
      message: `${w.location.path}: ${w.message}`,
    });
  }
  const deploy = planDeploy({
    planId: `plan-${crypto.randomUUID().slice(0, 8)}`,
    createdAt: new Date().toISOString(),
    clusterName: name,
    topology,
    topologyFile: path.resolve(file),
    release,
    deployDir,
    cacheDir: req.cacheDir,
    clusterDir,
    validation,
    hooks: req.hooks,
    baseState: baseStateOf(meta),
    cached,
    ...(Object.keys(hostReleases).length ? { hostReleases } : {}),
    ...(cachedPlatforms.length ? { cachedPlatforms } : {}),
    dryRun: req.dryRun,
    waitTimeoutMs: req.waitTimeoutMs,
    existingSecrets: (await Promise.all(
      [SECRET.keyfile, SECRET.admin].map(async (s) => await secretExists(name, s) ? [s] : []),
    )).flat(),
    // An earlier scale-out that failed part way: what it started runs already.
    ...(ownRunning.size
      ? {
        runningAlready: added.filter((p) => ownRunning.has(`${hostKey(p.host)}:${p.port}`))
          .map((p) => p.id),
      }
      : {}),
  });
  return planScaleOut({
    planId: deploy.plan_id,
    createdAt: deploy.created_at,
    meta,
    clusterDir,
    deployDir,
    deploy,
    hooks: req.hooks,
    dryRun: req.dryRun,
    measured: await measuredDurations(req.store, name, topology),
    waitTimeoutMs: req.waitTimeoutMs,
  });
}

/**
 * The additions a running cluster cannot take from mup: a standalone grown (that is a
 * conversion to a replica set, not a scale-out), a second replica set outside a sharded cluster (it would not be a
 * shard), a mongod outside any replica set in a replica set or sharded cluster.
 */
function refuseAdditions(
  meta: ClusterMeta,
  topology: Parameters<typeof topologyKind>[0],
  added: ReturnType<typeof addedProcesses>,
): void {
  const name = meta.name;
  const refuse = (why: string, hint: string) => {
    throw new MupError(`cluster ${name} cannot be scaled out this way: ${why}`, { hint });
  };
  if (meta.kind === "standalone") {
    refuse(
      "it is a standalone mongod, which has no replica set to add members to",
      "a standalone becomes a replica set by a restart with replication.replSetName and " +
        'rs.initiate() (MongoDB manual, "Convert a Standalone mongod to a Replica Set"), ' +
        "which mup does not do; deploy a new replica set cluster instead",
    );
  }
  if (topologyKind(topology) !== meta.kind) {
    refuse(
      `the topology would make it a ${topologyKind(topology)} cluster (it is ${meta.kind})`,
      "add members to its replica sets, or mongos and shards to a sharded cluster",
    );
  }
  const recordedSets = new Set(meta.processes.flatMap((p) => p.replica_set ?? []));
  for (const p of added.filter((p) => p.role === "mongod")) {
    if (!p.replicaSet) {
      refuse(
        `${p.id} has no replica_set`,
        `give it the replica_set it joins (${[...recordedSets].join(", ")})`,
      );
    }
    if (meta.kind !== "sharded" && !recordedSets.has(p.replicaSet!)) {
      refuse(
        `${p.id} would start replica set ${p.replicaSet}, and a replica set cluster has one ` +
          "set",
        `give it replica_set ${[...recordedSets][0]}`,
      );
    }
  }
}

/**
 * An error for each new member whose data directory exists and is not empty (one listing per
 * host; the data a scale-in kept is named so): a scale-out's members start on empty data. One an earlier, unfinished scale-out
 * started (`ownRunning`, `${hostKey}:${port}`) holds its own data: not an error.
 */
async function filledDataDirs(
  procs: ReturnType<typeof addedProcesses>,
  executors: ExecutorFactory,
  ownRunning: Set<string>,
  retained: NonNullable<ClusterMeta["retained_data"]>,
): Promise<ValidationIssue[]> {
  const byHost = new Map<string, typeof procs>();
  for (const p of procs) {
    if (ownRunning.has(`${hostKey(p.host)}:${p.port}`)) continue;
    byHost.set(hostKey(p.host), [...(byHost.get(hostKey(p.host)) ?? []), p]);
  }
  const found = await Promise.all([...byHost.values()].map(async (list) => {
    const listed = await listDirs(executors.forHost(list[0].host), list.map((p) => p.dirs.data))
      .catch(() => undefined);
    return list.flatMap((p): ValidationIssue[] => {
      const entries = listed?.get(p.dirs.data);
      const kept = retained.find((r) =>
        hostKey(r.host) === hostKey(p.host) && r.path === p.dirs.data
      );
      return entries?.length
        ? [{
          code: "data_dir_not_empty",
          severity: "error",
          host: p.host,
          message: `${hostPort(p.host, p.port)}'s data directory ${p.dirs.data} holds files ` +
            `(${entries.slice(0, 3).join(", ")}${entries.length > 3 ? ", …" : ""}${
              kept ? `: the data \`cluster scale-in --retain-data\` kept of ${kept.id}` : ""
            }): a new ` +
            "member starts empty and copies its set's data; move them away or give it another " +
            "data_dir",
        }]
        : [];
    });
  }));
  return found.flat();
}
