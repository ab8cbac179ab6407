/**
 * What the lifecycle planners (start, stop, restart, destroy) share: their input (the recorded
 * cluster, the live facts probed before planning, the request) and the Plan document around
 * their operations (lifecycle_ops.ts). Pure, like every planner: the probing happens before
 * (lifecycle_build.ts).
 */
import type { Hook } from "../hooks/schema.ts";
import { type ClusterMeta, statusOfRunning } from "../state/meta.ts";
import { applyMeasured, type MeasuredDurations } from "./estimates.ts";
import { MUP_VERSION } from "./planner.ts";
import {
  listProcesses,
  listReplicaSets,
  type ProcessSpec,
  type ReplicaSetSpec,
} from "./processes.ts";
import { estimateResources } from "./resources.ts";
import type {
  BaseState,
  Plan,
  PlannedOperation,
  PlannedPhase,
  Release,
  ValidationIssue,
} from "./schema.ts";
import { PLAN_FORMAT_VERSION } from "./schema.ts";
import type { ProcessFilter } from "./select.ts";
import { formatDuration } from "../util/format.ts";

/** What the probe found about one process (by its meta.yaml ID) just before planning. */
export interface ProcessFact {
  /** Its pid file names a live process started with its configuration. */
  running: boolean;
  /**
   * Not `running`, but a server of its configuration is coming up (started by hand, or by a
   * start that mup was killed in), before it has a pid file or listens: a stop must stop it.
   */
  starting?: boolean;
  /** Its replica-set state as it reports it (PRIMARY, SECONDARY…), when it answered. */
  state?: string;
  /**
   * Why its host could not be asked (SSH down, …): then `running` is unknown, not false, and
   * the plan is refused rather than made on a guess (lifecycle_build.ts).
   */
  unreachable?: string;
  /**
   * With `unreachable`: its port refused the connection (nothing listens there), so it is known
   * down although its host could not be asked. Where it answered hello instead, `running`,
   * `answering` and `state` say so.
   */
  refused?: boolean;
  /**
   * Its priority in its set's configuration as the set holds it now (replSetGetConfig), when it
   * could be read: a DBA may have changed it with rs.reconfig since mup recorded the topology.
   */
  priority?: number;
  /** Its votes and hidden flag there, likewise (read with the priority). */
  votes?: number;
  hidden?: boolean;
  /** Its set's configuration, as another member holds it, does not list it (rs.remove). */
  removed?: boolean;
  /**
   * Whether it answered `hello`, when `running`: false for a process that runs but does not
   * answer (hung, or stopped with SIGSTOP). Unset where not asked.
   */
  answering?: boolean;
  /**
   * Why it did not answer, when it speaks TLS with a certificate the cluster's CA did not sign
   * (the handshake's failure): no wait or restart on that certificate mends it.
   */
  untrusted?: string;
  /**
   * It runs but does not answer because it is stopped (SIGSTOP, a debugger: process state T):
   * its PID and that state. `kill -CONT` resumes it; no restart is needed.
   */
  stopped?: { pid: number; stat: string };
}

export interface LifecyclePlanInput {
  planId: string;
  createdAt: string;
  meta: ClusterMeta;
  /** Cluster directory on the control machine (metadata, staging, archive source). */
  clusterDir: string;
  /** Default deploy root for hosts without `global.deploy_dir` (`<clusterDir>/deploy`). */
  deployDir: string;
  hooks: Hook[];
  facts: Record<string, ProcessFact>;
  filter?: ProcessFilter;
  dryRun?: boolean;
  /** restart: everything at once instead of rolling. */
  force?: boolean;
  /** destroy: keep the data directories. */
  retainData?: boolean;
  /**
   * The cluster has no metadata: `meta` describes what its first deploys left (undeployedMeta),
   * so the plan neither records a status nor removes a meta.yaml.
   */
  unrecorded?: boolean;
  /**
   * destroy of an unrecorded cluster: the processes (IDs) whose data directory none of its
   * applies made or ran a mongod on (dataDirsUsed): it was there before, someone else's; kept.
   */
  foreignData?: string[];
  /**
   * destroy: the `secrets` directories (on the control machine) of archives earlier destroys
   * of this cluster left with `--retain-data`, which hold copies of its keyfile and admin
   * password: the destroy leaves them, and says so.
   */
  archivedSecrets?: string[];
  /** Durations measured on the cluster's hosts: estimates where they exist (estimates.ts). */
  measured?: MeasuredDurations;
  /**
   * destroy, scale-in: hosts the operator declares gone for good (`--host-gone`, as given):
   * nothing is planned on them and what they held is forgotten (gone_hosts.ts).
   */
  goneHosts?: string[];
  /**
   * The cluster's apply left unfinished (failed, paused, or its mup gone), which this plan
   * replaces: what the records lack may be its own work, done before it stopped.
   */
  unfinished?: { operation: string; stateId: string };
  /**
   * The command that starts what is down, when it is not `mup cluster start <cluster>`: a
   * reconfigure a later stop replaced left configuration files the start refuses, and only
   * that reconfigure, run again, starts them (lib/plan/reconfigure_left.ts).
   */
  startCommand?: string;
}

/** Expected durations, for the critical path and the phase estimates. */
export const EST = {
  stop: 2_000,
  start: 3_000,
  wait: 3_000,
  stepDown: 2_000,
  election: 3_000,
  catchUp: 2_000,
  verify: 2_000,
  meta: 300,
  archive: 500,
  remove: 300,
};

/**
 * The processes of the recorded topology with their layout, and its replica sets; each member's
 * priority is the one its set holds now (facts), where that differs from the recorded one (set
 * by hand): every planner orders restarts, step-downs and hand-backs by the live set, never by
 * a record a DBA has overruled (tester40 H1). `recordedProcesses` gives the record's.
 */
export function clusterProcesses(input: LifecyclePlanInput): {
  procs: ProcessSpec[];
  sets: ReplicaSetSpec[];
} {
  const procs = recordedProcesses(input).map((p) => {
    const prio = input.facts[p.id]?.priority;
    return prio === undefined || prio === p.priority ? p : { ...p, priority: prio };
  });
  return { procs, sets: listReplicaSets(procs) };
}

/** The processes as the recorded topology gives them (recorded priorities). */
export function recordedProcesses(input: LifecyclePlanInput): ProcessSpec[] {
  return listProcesses(input.meta.topology, input.deployDir);
}

/**
 * The status `update_metadata` would record now, from the probed facts (as it decides at apply
 * time): running when every process runs, stopped when none does, unknown otherwise. A plan that
 * changes no process records nothing when this is already the recorded status.
 */
export function statusNow(input: LifecyclePlanInput, procs: ProcessSpec[]): string {
  return statusOfRunning(procs.filter((p) => input.facts[p.id]?.running).length, procs.length);
}

/** The release recorded in meta.yaml (older metadata lacks it: version and variant only). */
export function recordedRelease(meta: ClusterMeta): Release {
  return meta.release ?? {
    version: meta.version,
    variant: meta.variant,
    platform: "",
    url: "",
    sha256: "",
    size_bytes: 0,
    archive_name: "",
  };
}

/** A phase with its hooks and estimate, as the deploy planner makes them. */
function phaseOf(
  hooks: Hook[],
  name: string,
  description: string,
  order: number,
  operations: PlannedOperation[],
): PlannedPhase {
  const est = new Map<string, number>();
  const finish = (o: PlannedOperation): number =>
    est.get(o.id) ??
      (est.set(
        o.id,
        Math.max(
          0,
          ...o.depends_on.map((d) => operations.find((x) => x.id === d)).filter((x) => x)
            .map((x) => finish(x!)),
        ) + o.estimated_ms,
      ).get(o.id)!);
  const ph: PlannedPhase = {
    name,
    description,
    order,
    operations,
    estimated_duration: formatDuration(Math.max(0, ...operations.map(finish))),
  };
  const hook = (event: Hook["event"]) =>
    hooks.find((h) => h.event === event && (!h.phase || h.phase === name));
  if (hook("before_phase")) ph.before_hook = hook("before_phase");
  if (hook("after_phase")) ph.after_hook = hook("after_phase");
  return ph;
}

/**
 * The Plan document of a lifecycle command: the recorded cluster's topology and release, the
 * non-empty phases in order, and the base state the stale-plan check compares with.
 */
/** The selection a start, stop or restart was given, for Plan.request (undefined: none). */
function request(
  input: Pick<LifecyclePlanInput, "filter" | "force" | "goneHosts">,
): Plan["request"] | undefined {
  const roles = input.filter?.roles ?? [], nodes = input.filter?.nodes ?? [];
  const gone = input.goneHosts ?? [];
  if (!roles.length && !nodes.length && !input.force && !gone.length) return undefined;
  return {
    ...(roles.length ? { roles } : {}),
    ...(nodes.length ? { nodes } : {}),
    ...(input.force ? { force: true } : {}),
    ...(gone.length ? { gone_hosts: gone } : {}),
  };
}

export function lifecyclePlan(
  input:
    & Pick<
      LifecyclePlanInput,
      "planId" | "createdAt" | "hooks" | "dryRun" | "measured" | "filter" | "force" | "goneHosts"
    >
    & {
      meta: ClusterMeta;
      deployDir: string;
    },
  operation: string,
  phases: { name: string; description: string; ops: PlannedOperation[] }[],
  issues: { errors?: ValidationIssue[]; warnings?: ValidationIssue[] } = {},
  base?: BaseState,
): Omit<Plan, "content_hash"> {
  const meta = input.meta;
  const release = recordedRelease(meta);
  const procs = listProcesses(meta.topology, input.deployDir);
  const errors = issues.errors ?? [];
  // Measured durations replace the constants before the phases' estimates are made from them.
  const estimateSource = input.measured
    ? applyMeasured(phases.flatMap((p) => p.ops), input.measured)
    : undefined;
  return {
    format_version: PLAN_FORMAT_VERSION,
    plan_id: input.planId,
    operation,
    cluster_name: meta.name,
    created_at: input.createdAt,
    mup_version: MUP_VERSION,
    version: meta.version,
    variant: meta.variant,
    release,
    topology_file: meta.topology_file ?? "",
    topology: meta.topology,
    kind: meta.kind,
    deploy_dir: meta.deploy_dir,
    validation: { valid: errors.length === 0, errors, warnings: issues.warnings ?? [], checks: [] },
    phases: phases.filter((p) => p.ops.length > 0).map((p, i) =>
      phaseOf(input.hooks, p.name, p.description, i + 1, p.ops)
    ),
    hooks: input.hooks,
    resources: { ...estimateResources(procs, release), download_size_mb: 0 },
    base_state: base ?? { lineage: meta.lineage, serial: meta.serial },
    dry_run: input.dryRun ?? false,
    environment: {},
    ...(request(input) ? { request: request(input) } : {}),
    ...(estimateSource ? { estimate_source: estimateSource } : {}),
  };
}
