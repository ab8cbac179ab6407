/**
 * What the lifecycle planners (start, stop, restart, destroy) share: their input (the recorded
 * cluster, the live facts probed before planning, the request) and the operations they are
 * built from. Pure, like every planner: the probing happens before (lifecycle_build.ts).
 */
import * as path from "node:path";
import type { Hook } from "../hooks/schema.ts";
import type { ClusterMeta } from "../state/meta.ts";
import { configFilePath, logFilePath, pidFilePath } from "./mongo_config.ts";
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
import { change, check, describeRole, op, processTarget } from "./deploy_steps.ts";
import type { ProcessFilter } from "./select.ts";
import { formatDuration } from "../util/format.ts";

/** What the probe found about one process (by its meta.yaml ID) just before planning. */
export interface ProcessFact {
  /** Its pid file names a live process started with its configuration. */
  running: boolean;
  /** Its replica-set state as it reports it (PRIMARY, SECONDARY…), when it answered. */
  state?: string;
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

/** The processes of the recorded topology with their layout, and its replica sets. */
export function clusterProcesses(input: LifecyclePlanInput): {
  procs: ProcessSpec[];
  sets: ReplicaSetSpec[];
} {
  const procs = listProcesses(input.meta.topology, input.deployDir);
  return { procs, sets: listReplicaSets(procs) };
}

/** Where the release's binaries were installed (the same path on every host, as deploy put them). */
export function binaryPath(meta: ClusterMeta, p: ProcessSpec): string {
  return path.join(
    meta.deploy_dir,
    "bin",
    `${meta.variant}-${meta.version}`,
    "bin",
    p.role === "mongos" ? "mongos" : "mongod",
  );
}

const members = (s: ReplicaSetSpec) => s.members.map((m) => `${m.host}:${m.port}`);

export function stopOp(p: ProcessSpec, deps: string[], force = false): PlannedOperation {
  return op({
    id: `stop-${p.id}`,
    type: "stop_process",
    description: `Stop ${describeRole(p)} ${p.host}:${p.port}`,
    target: processTarget(p, {
      pid_file: pidFilePath(p),
      ...(force ? { force: "true" } : {}),
      timeout_ms: "30000",
    }),
    changes: [change("process", p.id, "stop")],
    depends_on: deps,
    estimated_ms: EST.stop,
  });
}

/** Stop of a set member in a rolling restart: only while every other member is healthy. */
export function rollingStopOp(p: ProcessSpec, set: ReplicaSetSpec, deps: string[]) {
  const o = stopOp(p, deps);
  o.pre_conditions.push(check(
    `stop-${p.id}:set-healthy`,
    "replica_set_healthy",
    set.name,
    `every other member of ${set.name} is healthy and it has a primary`,
    { members: members(set), except: `${p.host}:${p.port}` },
  ));
  return o;
}

export function startOp(
  meta: ClusterMeta,
  p: ProcessSpec,
  deps: string[],
  cfgSet?: ReplicaSetSpec,
): PlannedOperation {
  const binary = binaryPath(meta, p);
  const checks = [
    check(`start-${p.id}:port`, "port_available", `${p.host}:${p.port}`, `port ${p.port} is free`, {
      host: p.host,
      port: p.port,
    }),
    check(`start-${p.id}:binary`, "binary_present", `${p.host}:${binary}`, "binary is installed", {
      host: p.host,
      path: binary,
    }),
    check(
      `start-${p.id}:config`,
      "config_valid",
      `${p.host}:${configFilePath(p)}`,
      "configuration file is present and valid",
      { host: p.host, path: configFilePath(p), port: p.port },
    ),
  ];
  if (p.role === "mongos" && cfgSet) {
    checks.push(check(
      `start-${p.id}:deps`,
      "dependencies_running",
      cfgSet.name,
      "config servers are running",
      { members: members(cfgSet) },
    ));
  }
  return op({
    id: `start-${p.id}`,
    type: "start_process",
    description: `Start ${describeRole(p)} ${p.host}:${p.port}`,
    target: processTarget(p, {
      role: p.role,
      binary,
      config: configFilePath(p),
      pid_file: pidFilePath(p),
      log: logFilePath(p),
      ...(p.replicaSet ? { replica_set: p.replicaSet } : {}),
    }),
    pre_conditions: checks,
    changes: [change("process", p.id, "start", { host: p.host, port: p.port })],
    depends_on: deps,
    estimated_ms: EST.start,
  });
}

export function waitOp(p: ProcessSpec, deps = [`start-${p.id}`]): PlannedOperation {
  return op({
    id: `wait-${p.id}`,
    type: "wait_for_process",
    description: `Wait for ${describeRole(p)} ${p.host}:${p.port}`,
    target: processTarget(p, { timeout_ms: p.role === "mongos" ? "60000" : "30000" }),
    depends_on: deps,
    estimated_ms: EST.wait,
  });
}

/** Waits for a restarted member to be SECONDARY (or healthy) and caught up with the primary. */
export function memberStateOp(
  p: ProcessSpec,
  set: ReplicaSetSpec,
  state: "SECONDARY" | "HEALTHY",
  deps: string[],
): PlannedOperation {
  return op({
    id: `wait-state-${p.id}`,
    type: "wait_for_member_state",
    description: `Wait until ${p.host}:${p.port} is ${
      state === "HEALTHY" ? "healthy" : state
    } and caught up`,
    target: processTarget(p, {
      members: JSON.stringify(members(set)),
      state: p.arbiterOnly ? "HEALTHY" : state,
      caught_up: p.arbiterOnly ? "false" : "true",
      timeout_ms: "120000",
    }),
    depends_on: deps,
    parallel: false,
    estimated_ms: EST.catchUp,
  });
}

export function stepDownOp(p: ProcessSpec, set: ReplicaSetSpec, deps: string[]) {
  return op({
    id: `step-down-${set.name}`,
    type: "step_down",
    description: `Step down ${set.name} primary ${p.host}:${p.port}`,
    target: processTarget(p, { replica_set: set.name, step_down_secs: "60", catch_up_secs: "10" }),
    pre_conditions: [check(
      `step-down-${set.name}:set-healthy`,
      "replica_set_healthy",
      set.name,
      `every member of ${set.name} is healthy`,
      { members: members(set) },
    )],
    changes: [change("replica_set", set.name, "update", { primary: "another member" })],
    depends_on: deps,
    parallel: false,
    estimated_ms: EST.stepDown,
  });
}

export function waitPrimaryOp(set: ReplicaSetSpec, deps: string[], not?: ProcessSpec) {
  return op({
    id: `wait-primary-${set.name}`,
    type: "wait_for_primary",
    description: `Wait for ${set.name} to elect a primary${
      not ? ` other than ${not.host}:${not.port}` : ""
    }`,
    target: {
      type: "replica_set",
      name: set.name,
      params: {
        members: JSON.stringify(members(set)),
        ...(not ? { not: `${not.host}:${not.port}` } : {}),
        timeout_ms: "60000",
      },
    },
    depends_on: deps,
    estimated_ms: EST.election,
  });
}

export function verifyOp(input: LifecyclePlanInput, deps: string[]): PlannedOperation {
  const { procs, sets } = clusterProcesses(input);
  const kind = input.meta.kind;
  return op({
    id: "verify-health",
    type: "verify_health",
    description: "Verify cluster health",
    target: {
      type: "cluster",
      name: input.meta.name,
      params: {
        kind,
        processes: JSON.stringify(procs.map((p) => ({
          id: p.id,
          host: p.host,
          port: p.port,
          role: p.role,
          replica_set: p.replicaSet,
        }))),
        shards: JSON.stringify(
          kind === "sharded" ? sets.filter((s) => !s.configsvr).map((s) => s.name) : [],
        ),
        timeout_ms: "60000",
      },
    },
    depends_on: deps,
    parallel: false,
    estimated_ms: EST.verify,
  });
}

/** Records the outcome in meta.yaml (status as found, or removed). */
export function metadataOp(
  input: LifecyclePlanInput,
  status: "auto" | "removed",
  deps: string[] = [],
): PlannedOperation {
  const file = path.join(input.clusterDir, "meta.yaml");
  return op({
    id: status === "removed" ? "remove-metadata" : "update-metadata",
    type: "update_metadata",
    description: status === "removed" ? "Remove cluster metadata" : "Record cluster status",
    target: { type: "cluster", name: input.meta.name, params: { path: file, status } },
    changes: [change("file", file, status === "removed" ? "delete" : "update")],
    depends_on: deps,
    parallel: false,
    estimated_ms: EST.meta,
  });
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
export function lifecyclePlan(
  input: Pick<LifecyclePlanInput, "planId" | "createdAt" | "hooks" | "dryRun"> & {
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
  };
}
