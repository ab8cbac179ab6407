/** The `apply_done` event: how an apply ended, what it left, and where a client connects. */
import * as path from "node:path";
import { OperationError } from "../ops/operation.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import { clusterConnectionString } from "../security/access.ts";
import { securityOf, topologyAfter } from "../security/settings.ts";
import type { ApplyState } from "../state/schema.ts";
import type { StateStore } from "../state/store.ts";
import type { ApplyEvent } from "./events.ts";
import { leftDown } from "./left_down.ts";
import { SafetyCheckFailed } from "./run_operation.ts";

/** Operations that write the cluster's metadata, each result naming the status it recorded. */
const METADATA_OPS = new Set(["save_metadata", "update_metadata"]);

/**
 * The event that ends an apply of `plan` whose state (written and closed) is `state`: its
 * status and time (`ms`, milliseconds), where its state lies (a completed destroy's in its
 * archive), what stopped it (`failure`: the operation, without `id` for an interrupt between
 * operations, and the error, whose `replan` is passed on; the other failures of the run), the status the metadata records now,
 * the members it left down, operations' notices, and, for a cluster left running, the
 * connection string and the command that prints the password.
 */
export function applyDoneEvent(input: {
  plan: Plan;
  state: ApplyState;
  ms: number;
  store: StateStore;
  failure?: { id?: string; error: unknown };
  /** Other operations (or hooks) that failed in this run besides `failure`. */
  others?: { id: string; error: unknown }[];
  interrupted: boolean;
  notices: { operation: string; notice: string }[];
}): Extract<ApplyEvent, { type: "apply_done" }> {
  const { plan, state, failure, notices } = input;
  const last = state.checkpoints[state.checkpoints.length - 1];
  // A completed destroy leaves no cluster to connect to, and its records move to its archive.
  const archive = state.status === "completed"
    ? allOperations(plan).find((o) => o.type === "archive_cluster")?.target.params.archive_dir
    : undefined;
  // What the metadata now records of the cluster: the status the last metadata operation to
  // run (in plan order; `mark-status-unknown` comes first) measured and wrote.
  // A completed destroy leaves no metadata: what its first step recorded (unknown, while it
  // changed) is not what the cluster is.
  const recorded = plan.operation === "destroy" && state.status === "completed"
    ? "destroyed"
    : allOperations(plan).filter((o) => METADATA_OPS.has(o.type)).reverse()
      .map((o) => state.operation_states[o.id]?.result?.metadata?.status)
      .find((s) => typeof s === "string") as string | undefined;
  const { down, startFailed } = state.status === "completed"
    ? { down: [], startFailed: [] }
    : leftDown(plan, state);
  // Where a client connects, only for a cluster the metadata records running (or, where no
  // metadata operation ran, one the plan leaves running): a rollback that removed the
  // metadata, a stop or a destroy leaves nothing to connect to.
  const running = state.status === "completed" && !archive &&
    (recorded ?? (plan.operation === "rollback" ? undefined : "running")) === "running";
  const snapshot = input.store.snapshotPath(state.state_id);
  return {
    type: "apply_done",
    status: state.status,
    ms: input.ms,
    state_id: state.state_id,
    state_path: archive ? path.join(archive, "state", path.basename(snapshot)) : snapshot,
    ...(archive ? { archive } : {}),
    ...(failure
      ? {
        ...(failure.id === undefined ? {} : { failed_operation: failure.id }),
        phase: state.current_phase,
        error: (failure.error as Error).message,
        ...(input.interrupted ? { interrupted: true } : {}),
        ...(input.others?.length
          ? {
            also_failed: input.others.map((o) => ({
              operation: o.id,
              error: (o.error as Error).message,
            })),
          }
          : {}),
        ...(failure.error instanceof OperationError && failure.error.options.replan
          ? { replan: failure.error.options.replan }
          : failure.error instanceof SafetyCheckFailed && failure.error.replan
          ? { replan: failure.error.replan }
          : {}),
      }
      : {}),
    ...(last ? { last_checkpoint: last.id } : {}),
    ...(recorded ? { cluster_status: recorded } : {}),
    ...(down.length ? { left_down: down } : {}),
    ...(startFailed.length ? { start_failed: startFailed } : {}),
    ...(notices.length ? { notices } : {}),
    ...(running
      ? { connection: clusterConnectionString(plan.cluster_name, topologyAfter(plan)) }
      : {}),
    // Where the password is: printed by that command only, never in an apply's output.
    ...(running && securityOf(plan.topology).auth
      ? { credentials: `mup cluster credentials ${plan.cluster_name}` }
      : {}),
  };
}
