import { z } from "zod";
import { Change } from "../plan/schema.ts";
import { Identifier } from "../util/ident.ts";

export const STATE_FORMAT_VERSION = 1;

export const ApplyStatus = z.enum([
  "pending",
  "running",
  "paused",
  "completed",
  "failed",
  "rolled_back",
  "skipped",
]);
export type ApplyStatus = z.infer<typeof ApplyStatus>;

export const PhaseState = z.object({
  name: z.string(),
  status: ApplyStatus,
  started_at: z.string().optional(),
  completed_at: z.string().optional(),
  error: z.string().optional(),
});
export type PhaseState = z.infer<typeof PhaseState>;

export const OperationResult = z.object({
  success: z.boolean(),
  output: z.string().optional(),
  changes: z.array(Change),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export type OperationResult = z.infer<typeof OperationResult>;

export const OperationState = z.object({
  id: z.string(),
  status: ApplyStatus,
  started_at: z.string().optional(),
  completed_at: z.string().optional(),
  error: z.string().optional(),
  result: OperationResult.optional(),
  retries: z.number().int(),
  /** How many times the operation's work actually ran (not counting "already in place"). */
  executions: z.number().int().default(0),
});
export type OperationState = z.infer<typeof OperationState>;

/** A checkpoint file: the whole state at a phase boundary. */
export const Checkpoint = z.object({
  format_version: z.literal(STATE_FORMAT_VERSION),
  id: Identifier,
  description: z.string(),
  timestamp: z.string(),
  phase: z.string(),
  operation: z.string().optional(),
  /** JSON-serialised ApplyState snapshot. */
  state: z.string(),
});
export type Checkpoint = z.infer<typeof Checkpoint>;

/** How ApplyState lists its checkpoints: the snapshot itself lives in the checkpoint file. */
export const CheckpointRef = Checkpoint.omit({ state: true, format_version: true }).extend({
  path: z.string(),
});
export type CheckpointRef = z.infer<typeof CheckpointRef>;

export const ExecutionError = z.object({
  timestamp: z.string(),
  phase: z.string(),
  operation: z.string(),
  error: z.string(),
  recoverable: z.boolean(),
});
export type ExecutionError = z.infer<typeof ExecutionError>;

export const LogEntry = z.object({
  timestamp: z.string(),
  level: z.enum(["info", "warn", "error", "debug"]),
  phase: z.string(),
  operation: z.string().optional(),
  message: z.string(),
});
export type LogEntry = z.infer<typeof LogEntry>;

export const ApplyState = z.object({
  format_version: z.literal(STATE_FORMAT_VERSION),
  state_id: Identifier,
  plan_id: Identifier,
  plan_path: z.string(),
  plan_hash: z.string(),
  cluster_name: Identifier,
  operation: z.string(),
  status: ApplyStatus,
  started_at: z.string(),
  updated_at: z.string(),
  completed_at: z.string().optional(),
  current_phase: z.string(),
  phase_states: z.record(z.string(), PhaseState),
  operation_states: z.record(z.string(), OperationState),
  checkpoints: z.array(CheckpointRef),
  errors: z.array(ExecutionError),
  execution_log: z.array(LogEntry),
  /** Journal sequence number this snapshot includes. */
  journal_seq: z.number().int().nonnegative(),
  resumes: z.number().int().nonnegative().default(0),
  /** The checkpoint a rollback returned this apply to (set with status rolled_back). */
  rolled_back_to: z.string().optional(),
  /**
   * The apply (state ID) of the rollback that did it: until that apply has recorded its own
   * end, it is the cluster's newest (StateStore.newest), so that a rollback cut off after its
   * last operation is resumed, not taken for replaced. Absent in states written before.
   */
  rolled_back_by: z.string().optional(),
});
export type ApplyState = z.infer<typeof ApplyState>;

/** One journal line: a change to the state since the last snapshot. */
export const JournalEntry = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("op"), seq: z.number().int(), state: OperationState }),
  z.object({ kind: z.literal("phase"), seq: z.number().int(), state: PhaseState }),
  z.object({
    kind: z.literal("status"),
    seq: z.number().int(),
    status: ApplyStatus,
    current_phase: z.string(),
    at: z.string(),
    completed_at: z.string().optional(),
  }),
  z.object({ kind: z.literal("error"), seq: z.number().int(), error: ExecutionError }),
  z.object({ kind: z.literal("log"), seq: z.number().int(), entry: LogEntry }),
  z.object({ kind: z.literal("checkpoint"), seq: z.number().int(), checkpoint: CheckpointRef }),
]);
export type JournalEntry = z.infer<typeof JournalEntry>;

export const LockInfo = z.object({
  format_version: z.literal(STATE_FORMAT_VERSION),
  id: z.string(),
  operation: z.string(),
  who: z.string(),
  host: z.string(),
  pid: z.number().int(),
  /** /proc start time of the holder, so a recycled PID is not mistaken for it. */
  pid_start: z.string().optional(),
  created: z.string(),
  state_id: Identifier.optional(),
});
export type LockInfo = z.infer<typeof LockInfo>;
