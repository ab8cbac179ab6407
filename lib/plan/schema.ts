import { z } from "zod";
import { Hook } from "../hooks/schema.ts";
import { Host, Port, Topology, TopologyKind } from "../topology/schema.ts";
import { Identifier, ProcessName } from "../util/ident.ts";

/** Bumped whenever the plan document changes shape; readers refuse formats they do not know. */
export const PLAN_FORMAT_VERSION = 1;

export const OPERATION_TYPES = [
  "download_binary",
  "create_directory",
  "upload_file",
  "generate_config",
  "start_process",
  "wait_for_process",
  "init_replica_set",
  "add_shard",
  "verify_health",
  "save_metadata",
  "stop_process",
  "remove_directory",
  // Beyond the specification's twelve: the lifecycle commands (start, stop, restart, destroy,
  // rollback).
  "step_down",
  "wait_for_primary",
  "wait_for_member_state",
  "update_metadata",
  "archive_cluster",
  "mark_rolled_back",
  // Security (topology global.security): secrets in the store, the first user.
  "generate_secret",
  "create_user",
  // `cluster tls`: a runtime server parameter (tlsMode) on one process.
  "set_parameter",
  // `cluster upgrade`: the sharded cluster's balancer, the feature compatibility version.
  "set_balancer",
  "set_fcv",
  // deploy and reconfigure: the cluster-wide default write concern (global.default_write_concern).
  "set_default_write_concern",
  // `cluster scale-out` and `scale-in`: members added to and removed from a running replica set.
  "add_members",
  "remove_members",
  "remove_shard",
  // `cluster reconfigure`: members' priority, votes and hidden set by replSetReconfig.
  "reconfig_members",
] as const;
export const OperationType = z.enum(OPERATION_TYPES);
export type OperationType = z.infer<typeof OperationType>;

export const ActionType = z.enum(["create", "update", "delete", "start", "stop", "none"]);
export type ActionType = z.infer<typeof ActionType>;

export const OperationTarget = z.object({
  type: z.enum(["host", "process", "replica_set", "cluster"]),
  name: z.string(),
  host: Host.optional(),
  port: Port.optional(),
  params: z.record(z.string(), z.string()),
  /**
   * Numbers, stored as JSON numbers: how long a wait may take (ms), a step-down's
   * replSetStepDown seconds and secondaryCatchUpPeriodSecs, and a mongos's quiesce period. Plans made before these fields kept
   * them as strings in `params`, where the operations still read them.
   */
  timeout_ms: z.number().int().positive().optional(),
  step_down_secs: z.number().int().positive().optional(),
  catch_up_secs: z.number().int().nonnegative().optional(),
  /** A mongos stop's quiesce period (s): the shutdown command's timeoutSecs (stop_process). */
  quiesce_secs: z.number().int().nonnegative().optional(),
}).refine((t) => t.type !== "process" || ProcessName.safeParse(t.name).success, {
  path: ["name"],
  message: "a process name is <role>-<host>-<port> with no '/'",
});
export type OperationTarget = z.infer<typeof OperationTarget>;

export const Change = z.object({
  resource_type: z.string(),
  resource_id: z.string(),
  action: ActionType,
  before: z.unknown().optional(),
  after: z.unknown().optional(),
});
export type Change = z.infer<typeof Change>;

export const SafetyCheck = z.object({
  id: z.string(),
  description: z.string(),
  check_type: z.string(),
  target: z.string(),
  params: z.record(z.string(), z.unknown()),
  required: z.boolean(),
});
export type SafetyCheck = z.infer<typeof SafetyCheck>;

export const PlannedOperation = z.object({
  id: z.string().min(1),
  type: OperationType,
  description: z.string(),
  target: OperationTarget,
  pre_conditions: z.array(SafetyCheck),
  changes: z.array(Change),
  depends_on: z.array(z.string()),
  parallel: z.boolean(),
  /** Expected duration, used for the critical path and the phase estimates. */
  estimated_ms: z.number().int().nonnegative(),
});
export type PlannedOperation = z.infer<typeof PlannedOperation>;

export const PlannedPhase = z.object({
  name: z.string(),
  description: z.string(),
  order: z.number().int(),
  operations: z.array(PlannedOperation),
  before_hook: Hook.optional(),
  after_hook: Hook.optional(),
  estimated_duration: z.string().optional(),
});
export type PlannedPhase = z.infer<typeof PlannedPhase>;

export const ValidationIssue = z.object({
  code: z.string(),
  message: z.string(),
  host: z.string().optional(),
  severity: z.enum(["error", "warning", "info"]),
});
export type ValidationIssue = z.infer<typeof ValidationIssue>;

export const CheckResult = z.object({
  name: z.string(),
  status: z.enum(["passed", "failed", "warning"]),
  message: z.string(),
  host: z.string().optional(),
  /** Milliseconds. */
  duration: z.number().nonnegative(),
  details: z.unknown().optional(),
});
export type CheckResult = z.infer<typeof CheckResult>;

export const ValidationResult = z.object({
  valid: z.boolean(),
  errors: z.array(ValidationIssue),
  warnings: z.array(ValidationIssue),
  checks: z.array(CheckResult),
});
export type ValidationResult = z.infer<typeof ValidationResult>;

export const ResourceEstimate = z.object({
  hosts: z.number().int(),
  total_processes: z.number().int(),
  processes_by_role: z.record(z.string(), z.number().int()),
  ports_used: z.array(z.number().int()),
  disk_space_gb: z.number(),
  memory_mb: z.number().int().optional(),
  download_size_mb: z.number().int(),
  processes_per_host: z.record(z.string(), z.number().int()),
});
export type ResourceEstimate = z.infer<typeof ResourceEstimate>;

/** The cluster state a plan was made from; apply refuses the plan once that state has moved on. */
export const BaseState = z.object({
  lineage: z.string(),
  serial: z.number().int().nonnegative(),
});
export type BaseState = z.infer<typeof BaseState>;

/** Where a plan's operation estimates come from (see lib/plan/estimates.ts). */
export const EstimateSource = z.object({
  /** measured: every operation; mixed: some; defaults: none (the planner's constants). */
  kind: z.enum(["measured", "mixed", "defaults"]),
  measured_operations: z.number().int().nonnegative(),
  total_operations: z.number().int().nonnegative(),
  /** Applies whose recorded durations were used, and the clusters they belong to. */
  applies: z.number().int().nonnegative(),
  clusters: z.array(z.string()),
});
export type EstimateSource = z.infer<typeof EstimateSource>;

/** The server distribution: MongoDB's own builds or Percona Server for MongoDB. */
export const Variant = z.enum(["mongo", "percona"]);
export type Variant = z.infer<typeof Variant>;

/** The release a plan installs, resolved from the version manifest before planning. */
export const Release = z.object({
  version: z.string(),
  variant: Variant,
  platform: z.string(),
  url: z.string(),
  sha256: z.string(),
  size_bytes: z.number().int().nonnegative(),
  archive_name: z.string(),
  /** The `--mirror` it was resolved from; absent: the official download center. */
  mirror: z.string().optional(),
});
export type Release = z.infer<typeof Release>;

export const Plan = z.object({
  format_version: z.literal(PLAN_FORMAT_VERSION),
  plan_id: Identifier,
  operation: z.string(),
  cluster_name: Identifier,
  created_at: z.string(),
  mup_version: z.string(),
  version: z.string(),
  variant: Variant,
  release: Release,
  topology_file: z.string(),
  topology: Topology,
  kind: TopologyKind,
  deploy_dir: z.string(),
  validation: ValidationResult,
  phases: z.array(PlannedPhase),
  hooks: z.array(Hook),
  resources: ResourceEstimate,
  /** Absent in plans made without looking at measured durations (read as defaults). */
  estimate_source: EstimateSource.optional(),
  base_state: BaseState,
  dry_run: z.boolean(),
  environment: z.record(z.string(), z.string()),
  /**
   * What a start, stop or restart was asked to act on (`-R`, `-N`, `--force`), so that a hint
   * that makes the plan again names the same command. Absent: the whole cluster, rolling.
   * `gone_hosts`: a destroy's or scale-in's `--host-gone` hosts, on which it does nothing (the
   * apply does not try to reach them).
   */
  request: z.object({
    roles: z.array(z.string()).optional(),
    nodes: z.array(z.string()).optional(),
    force: z.boolean().optional(),
    gone_hosts: z.array(z.string()).optional(),
  }).optional(),
  /**
   * The SSH ports (`ssh_port`) of hosts the plan acts on that its topology no longer lists: a
   * scale-in's topology is the cluster it leaves, and its removed hosts are still reached to
   * stop their processes and remove their directories. By host name.
   */
  ssh_ports: z.record(z.string(), Port).optional(),
  /** sha256 of the plan file's bytes before its content_hash line (see hash.ts). */
  content_hash: z.string(),
});
export type Plan = z.infer<typeof Plan>;

export function allOperations(plan: Pick<Plan, "phases">): PlannedOperation[] {
  return plan.phases.flatMap((p) => p.operations);
}

/** Whether pre-flight found the release archive in the cache, so the download changes nothing. */
export function archiveCached(plan: Pick<Plan, "phases">): boolean {
  const download = plan.phases[0]?.operations.find((o) => o.type === "download_binary");
  return download?.changes[0]?.action === "none";
}
