import * as path from "node:path";
import type { Hook } from "../hooks/schema.ts";
import { type Topology, topologyKind } from "../topology/schema.ts";
import { hostKey } from "../topology/hosts.ts";
import { configDbString, listProcesses, listReplicaSets } from "./processes.ts";
import {
  type BaseState,
  type Plan,
  PLAN_FORMAT_VERSION,
  type PlannedOperation,
  type PlannedPhase,
  type Release,
  type ValidationResult,
} from "./schema.ts";
import { estimateResources } from "./resources.ts";
import { formatDuration } from "../util/format.ts";
import { applyMeasured, type MeasuredDurations, phaseEstimate } from "./estimates.ts";
import { deployAndInitializeOps, finalizeOps, type StepContext } from "./deploy_steps.ts";
import { prepareOps } from "./prepare_steps.ts";
import { secretOps, wireSecurity } from "./security_steps.ts";
import { defaultWriteConcernOps } from "./default_write_concern.ts";
import { securityOf } from "../security/settings.ts";
import { deployConfigSecurity } from "./mongo_config.ts";
import { restartUntrusted } from "./repair_restart.ts";

export const MUP_VERSION = "0.1.0";

/** Everything the deploy planner needs. It performs no I/O: probes happen before it is called. */
export interface DeployPlanInput {
  planId: string;
  createdAt: string;
  clusterName: string;
  topology: Topology;
  topologyFile: string;
  release: Release;
  /** Default deploy root for hosts without `global.deploy_dir`. */
  deployDir: string;
  /** Shared binary cache on the control machine. */
  cacheDir: string;
  /** Cluster directory on the control machine (staging, metadata). */
  clusterDir: string;
  validation: ValidationResult;
  hooks: Hook[];
  baseState: BaseState;
  /**
   * Remote hosts whose architecture needs another release than `release` (the control
   * machine's), from pre-flight; each such release is downloaded and installed on its hosts.
   */
  hostReleases?: Record<string, Release>;
  /** True when pre-flight found the archive already in the cache. */
  cached: boolean;
  /**
   * The platforms of `hostReleases` whose archive pre-flight found in the cache with its
   * sha256: their downloads change nothing either.
   */
  cachedPlatforms?: string[];
  dryRun?: boolean;
  environment?: Record<string, string>;
  /** Durations measured in earlier applies; without them the built-in constants stand. */
  measured?: MeasuredDurations;
  /**
   * `--wait-timeout`: how long, in ms, each wait may take (a process answering, a primary being
   * elected, a shard being added, the cluster turning healthy). Recorded in every such
   * operation's `timeout_ms`; without it each has its default.
   */
  waitTimeoutMs?: number;
  /**
   * The secrets `cluster destroy --retain-data` archived, found by pre-flight when this first
   * deploy lands on that retained data: the plan copies them instead of generating new ones
   * (the data's users were made with them).
   */
  retainedSecrets?: { archive: string; admin: string; keyfile?: string };
  /**
   * A repair (a re-deploy of the recorded cluster as recorded): the recorded processes that did
   * not answer when planned. Only their starts are expected to change anything; every other
   * change but a download's (see `cached`) is recorded as "none" (each operation still
   * re-checks its effect when applied).
   */
  repairDown?: string[];
  /**
   * A first deploy tried again (an earlier attempt failed part way): the processes already
   * running with the cluster's own configuration. Their starts change nothing ("none"; each
   * still checks that its process runs), and the review says so.
   */
  runningAlready?: string[];
  /**
   * A first deploy tried again: the replica sets the earlier attempt initiated with the planned
   * members (pre-flight asked them). Their initiation changes nothing ("none"; it still checks
   * at apply), and the review says so.
   */
  initiatedAlready?: string[];
  /**
   * A first deploy tried again: the secrets (SECRET names) an earlier attempt already made in
   * the cluster's store. Their generation changes nothing ("none"), and the review says so.
   */
  existingSecrets?: string[];
  /**
   * A repair whose topology's hooks differ from the recorded ones: the metadata is saved with
   * the new hooks (the only change a re-deploy makes besides starting what is down).
   */
  hooksChanged?: boolean;
  /**
   * A repair: the recorded processes found running on a TLS certificate the cluster's CA did
   * not sign (ID → the handshake's failure). The repair stops each and starts it again on the
   * certificate it installs (repair_restart.ts).
   */
  repairUntrusted?: Record<string, string>;
}

/** Pure: topology + release → a deploy Plan (without its content hash). */
export function planDeploy(input: DeployPlanInput): Omit<Plan, "content_hash"> {
  const t = input.topology;
  const kind = topologyKind(t);
  const deployRoot = t.global.deploy_dir ?? input.deployDir;
  const procs = listProcesses(t, input.deployDir);
  const sets = listReplicaSets(procs);
  const cfgSet = sets.find((s) => s.configsvr);
  const configDb = configDbString(cfgSet);
  // One entry per machine (the first name the topology gives it): one install each.
  const machines = new Map<string, string>();
  for (const p of procs) if (!machines.has(hostKey(p.host))) machines.set(hostKey(p.host), p.host);
  const hosts = [...machines.values()];
  const r = input.release;
  const binDir = path.join(deployRoot, "bin", `${r.variant}-${r.version}`);
  const archive = path.join(input.cacheDir, r.archive_name);
  const unpackedDir = path.join(input.cacheDir, `${r.variant}-${r.version}-${r.platform}`);

  const security = securityOf(t);
  const c: StepContext = {
    input,
    kind,
    procs,
    sets,
    cfgSet,
    configDb,
    hosts,
    binDir,
    archive,
    unpackedDir,
    security,
    configSecurity: deployConfigSecurity(t, deployRoot),
    deployRoot,
  };
  const prepare = [...prepareOps(c), ...secretOps(c)];
  const { deploy, initialize } = deployAndInitializeOps(c);
  wireSecurity(c, deploy, initialize);
  const dwc = t.global.default_write_concern;
  if (dwc) {
    // After the set's (or, through mongos, the cluster's) first user; before any addShard.
    const user = (scope: string) => security.auth ? [`create-user-${scope}`] : [];
    const routers = procs.filter((p) => p.role === "mongos");
    const set = defaultWriteConcernOps(
      input.clusterName,
      kind,
      dwc,
      sets,
      routers,
      (scope) =>
        scope === "cluster"
          ? [`wait-${routers[0].id}`, `init-rs-${cfgSet!.name}`, ...user("cluster")]
          : [`init-rs-${scope}`, ...user(scope)],
      input.waitTimeoutMs ?? 60_000,
    );
    for (const o of initialize) {
      if (o.type === "add_shard") o.depends_on.push(...set.map((s) => s.id));
    }
    // Listed where it runs: before the first addShard, so that the review reads in order.
    const firstShard = initialize.findIndex((o) => o.type === "add_shard");
    initialize.splice(firstShard < 0 ? initialize.length : firstShard, 0, ...set);
  }
  const finalize = finalizeOps(c, deploy, initialize);
  if (input.repairDown) {
    const down = new Set(input.repairDown);
    for (const o of [...prepare, ...deploy, ...initialize, ...finalize]) {
      if (input.hooksChanged && o.type === "save_metadata") {
        o.description = "Save cluster metadata with the topology's hooks (they differ from the " +
          "recorded ones)";
      }
      // A download does what pre-flight found: nothing when the archive is cached, else it
      // downloads (the review and the estimates follow its change).
      if (o.type === "download_binary") continue;
      o.changes = o.changes.map((ch) =>
        ch.resource_type === "process" && ch.action === "start" && down.has(ch.resource_id)
          ? ch
          : input.hooksChanged && o.type === "save_metadata"
          ? { ...ch, action: "update", after: { hooks: input.topology.hooks ?? {} } }
          : { ...ch, action: "none" }
      );
    }
  }
  if (input.repairUntrusted) {
    const untrusted = new Map(Object.entries(input.repairUntrusted));
    restartUntrusted(deploy, procs, untrusted);
    restartUntrusted(initialize, procs, untrusted);
  }
  if (input.runningAlready?.length) {
    const running = new Set(input.runningAlready);
    for (const o of deploy) {
      if (o.type !== "start_process" || !running.has(o.target.name)) continue;
      o.changes = o.changes.map((ch) => ({ ...ch, action: "none" }));
    }
  }
  if (input.initiatedAlready?.length) {
    const initiated = new Set(input.initiatedAlready);
    for (const o of initialize) {
      if (o.type !== "init_replica_set" || !initiated.has(o.target.name)) continue;
      o.description += " (an earlier attempt initiated it)";
      o.changes = o.changes.map((ch) => ({ ...ch, action: "none" }));
    }
  }
  const estimateSource = input.measured
    ? applyMeasured([...prepare, ...deploy, ...initialize, ...finalize], input.measured)
    : undefined;

  const hooksFor = (event: Hook["event"], phase: string) =>
    input.hooks.find((h) => h.event === event && (!h.phase || h.phase === phase));
  const phase = (
    name: string,
    description: string,
    order: number,
    operations: PlannedOperation[],
  ): PlannedPhase => {
    const ph: PlannedPhase = {
      name,
      description,
      order,
      operations,
      estimated_duration: formatDuration(phaseEstimate(operations)),
    };
    const before = hooksFor("before_phase", name);
    const after = hooksFor("after_phase", name);
    if (before) ph.before_hook = before;
    if (after) ph.after_hook = after;
    return ph;
  };
  const phases = [
    phase("prepare", "Download binaries, create directories, write configuration", 1, prepare),
    phase("deploy", "Start the mongod processes and wait until they answer", 2, deploy),
    phase("initialize", "Initiate replica sets, start mongos, add shards", 3, initialize),
    phase("finalize", "Verify health and save cluster metadata", 4, finalize),
  ].filter((p) => p.operations.length > 0).map((p, i) => ({ ...p, order: i + 1 }));

  return {
    format_version: PLAN_FORMAT_VERSION,
    plan_id: input.planId,
    operation: "deploy",
    cluster_name: input.clusterName,
    created_at: input.createdAt,
    mup_version: MUP_VERSION,
    version: r.version,
    variant: r.variant,
    release: r,
    topology_file: input.topologyFile,
    topology: t,
    kind,
    deploy_dir: deployRoot,
    validation: input.validation,
    phases,
    hooks: input.hooks,
    resources: estimateResources(procs, r),
    ...(estimateSource ? { estimate_source: estimateSource } : {}),
    base_state: input.baseState,
    dry_run: input.dryRun ?? false,
    environment: input.environment ?? {},
  };
}
