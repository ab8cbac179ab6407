import type { Plan } from "../plan/schema.ts";
import type { ApplyStatus } from "../state/schema.ts";

/** What the applier tells the world. Renderers subscribe; operations never print. */
export type ApplyEvent =
  | {
    type: "apply_start";
    plan: Plan;
    state_id: string;
    resumed: boolean;
    parallelism: number;
    /** On a resume: the operations already completed (or skipped), which will not run. */
    done?: string[];
  }
  /** On a resume: a completed operation whose effect is gone runs again. */
  | { type: "op_redo"; id: string; reason: string }
  | { type: "phase_start"; phase: string; index: number; total: number }
  | { type: "phase_done"; phase: string; ms: number }
  | { type: "checkpoint"; id: string; path: string }
  | { type: "op_start"; id: string }
  | { type: "op_progress"; id: string; fraction: number; note: string }
  | {
    type: "op_done";
    id: string;
    ms: number;
    already_done: boolean;
    output?: string;
    /** OperationOutcome.notice: shown to the operator with the operation. */
    notice?: string;
  }
  | { type: "op_skipped"; id: string; reason: string }
  | { type: "op_failed"; id: string; ms: number; error: string }
  /** At the first Ctrl-C, an operation that only waited for the servers stopped: unfinished. */
  | { type: "op_stopped_waiting"; id: string; ms: number; reason: string }
  | { type: "safety_failed"; id: string; check: string; check_type: string; status: string }
  /** How long the answer to a failed safety check took (the menu): not the operation's time. */
  | { type: "answer_wait"; id: string; ms: number }
  | {
    type: "hook_start";
    event: string;
    name: string;
    command: string;
    operation?: string;
    phase?: string;
  }
  | {
    type: "hook_output";
    name: string;
    stream: "stdout" | "stderr";
    line: string;
    operation?: string;
  }
  | {
    type: "hook_done";
    event: string;
    name: string;
    code: number;
    ms: number;
    timed_out: boolean;
    /** A failure of this hook does not stop the apply (the topology's continue_on_error). */
    continue_on_error?: boolean;
    operation?: string;
    phase?: string;
  }
  | {
    /**
     * A hook a killed mup left running (records.ts): `waiting` for it to end before this apply
     * runs any (until `deadline`, epoch ms, its timeout), then `ended` or `killed`.
     */
    type: "hook_left";
    status: "waiting" | "ended" | "killed";
    event: string;
    name: string;
    command: string;
    pid: number;
    /** The apply it ran for, and its operation or phase. */
    state_id: string;
    scope?: string;
    deadline: number;
  }
  | {
    type: "apply_done";
    status: ApplyStatus;
    ms: number;
    state_id: string;
    state_path: string;
    failed_operation?: string;
    /** Stopped by Ctrl-C (status paused), not by a failure. */
    interrupted?: boolean;
    phase?: string;
    error?: string;
    /**
     * Failures of this run besides `failed_operation`'s: operations that ran at the same time,
     * after_operation hooks that failed while what finishes a begun change still ran.
     */
    also_failed?: { operation: string; error: string }[];
    last_checkpoint?: string;
    /**
     * What finishes the work when a resume alone cannot (the failed operation's
     * OperationError `replan`): shown instead of the resume.
     */
    replan?: string;
    /**
     * The cluster's status as this apply recorded it in the metadata (running, partial, stopped:
     * measured by the operation that wrote it last; `unknown` when an apply that changes
     * processes ended before its final record); absent when it wrote none.
     */
    cluster_status?: string;
    /**
     * Processes this apply (its runs so far) stopped and has not started again, as `host:port`
     * (lib/apply/left_down.ts): a start that failed leaves its member down.
     */
    left_down?: string[];
    /** Those of `left_down` whose start ran and failed (the others' has not run). */
    start_failed?: string[];
    /** What operations of this run told the operator (their `op_done` notices), in order. */
    notices?: { operation: string; notice: string }[];
    connection?: string;
    /** The command that prints the credentials (clusters with access control). */
    credentials?: string;
    /**
     * A completed destroy: the archive its records go to (state_path is then inside it, where
     * the state is once the destroy has finished).
     */
    archive?: string;
  };

export type Listener = (e: ApplyEvent) => void;

export class Emitter {
  private listeners: Listener[] = [];
  on(l: Listener): void {
    this.listeners.push(l);
  }
  emit(e: ApplyEvent): void {
    for (const l of this.listeners) l(e);
  }
}
