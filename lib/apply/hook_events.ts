import type { Hook, HookEvent } from "../hooks/schema.ts";
import { runHook } from "../hooks/runner.ts";
import type { HookRecords } from "../hooks/records.ts";
import type { PlannedOperation } from "../plan/schema.ts";
import type { Emitter } from "./events.ts";

export class HookFailed extends Error {
  /** `timedOut`: it ran out of its time (its group was killed), rather than exiting non-zero. */
  constructor(readonly hook: Hook, message: string, readonly timedOut = false) {
    super(message);
  }
}

export interface HookScope {
  phase?: string;
  op?: PlannedOperation;
  error?: string;
}

/** The HookContext: what every hook sees as MUP_* variables. */
export interface HookContext {
  clusterName: string;
  operation: string;
  planPath: string;
  statePath: string;
  planId: string;
  stateId: string;
}

/** Runs the hooks of an event in order, with the HookContext as environment variables. */
export class HookDispatcher {
  constructor(
    private readonly hooks: Hook[],
    private readonly context: HookContext,
    private readonly emitter: Emitter,
    /** Where hook results go besides events: the execution log during an apply. */
    private readonly record: (
      level: "info" | "error",
      phase: string,
      message: string,
      operation?: string,
    ) => Promise<void> = () => Promise.resolve(),
    /** Where running hooks are recorded, for the next apply to stop one a killed mup left. */
    private readonly records?: HookRecords,
  ) {}

  async fire(event: HookEvent, scope: HookScope = {}): Promise<void> {
    const hooks = this.hooks.filter((h) =>
      h.event === event && (!h.phase || h.phase === scope.phase)
    );
    for (const h of hooks) {
      const c = this.context;
      const env: Record<string, string> = {
        MUP_CLUSTER_NAME: c.clusterName,
        MUP_OPERATION: c.operation,
        MUP_PHASE: scope.phase ?? "",
        MUP_PLAN_PATH: c.planPath,
        MUP_STATE_PATH: c.statePath,
        MUP_PLAN_ID: c.planId,
        MUP_STATE_ID: c.stateId,
        MUP_HOOK_EVENT: event,
        MUP_HOOK_NAME: h.name,
      };
      if (scope.op) {
        Object.assign(env, {
          MUP_OPERATION_ID: scope.op.id,
          MUP_OPERATION_TYPE: scope.op.type,
          // What it acts on: a process, host, replica set or the cluster, by name; host and
          // port are empty for an operation that is on no single host (tester68).
          MUP_OPERATION_TARGET_TYPE: scope.op.target.type,
          MUP_OPERATION_TARGET: scope.op.target.name,
          MUP_OPERATION_HOST: scope.op.target.host ?? "",
          MUP_OPERATION_PORT: scope.op.target.port !== undefined
            ? String(scope.op.target.port)
            : "",
        });
      }
      if (scope.error) env.MUP_ERROR = scope.error;
      const opId = scope.op ? { operation: scope.op.id } : {};
      this.emitter.emit({
        type: "hook_start",
        event,
        name: h.name,
        command: h.command,
        ...opId,
        ...(scope.phase ? { phase: scope.phase } : {}),
      });
      const r = await runHook(
        h,
        env,
        (stream, line) =>
          this.emitter.emit({ type: "hook_output", name: h.name, stream, line, ...opId }),
        this.records && {
          started: (pid) =>
            this.records!.started(pid, {
              event,
              name: h.name,
              command: h.command,
              state_id: c.stateId,
              ...(scope.op || scope.phase ? { scope: scope.op?.id ?? scope.phase } : {}),
              started_at: new Date().toISOString(),
              deadline: Date.now() + h.timeout_ms,
            }),
          ended: (pid) => this.records!.ended(pid),
        },
      );
      this.emitter.emit({
        type: "hook_done",
        event,
        name: h.name,
        code: r.code,
        ms: r.ms,
        timed_out: r.timedOut,
        ...(h.continue_on_error ? { continue_on_error: true } : {}),
        ...opId,
        // As its hook_start says it: the two pair up by event, name and operation or phase.
        ...(scope.phase ? { phase: scope.phase } : {}),
      });
      // An unnamed hook is named after its event: say it once.
      // …and after the operation (or phase) it ran for, so a timeout says where it struck.
      const where = scope.op
        ? ` of operation ${scope.op.id}`
        : scope.phase
        ? ` of phase ${scope.phase}`
        : "";
      const which = h.name === event
        ? `hook ${event}${where}`
        : `hook ${h.name} (${event}${where})`;
      const summary = r.timedOut
        ? `${which} timed out after ${h.timeout_ms / 1000}s; its process group was killed`
        : `${which} exited with ${r.code}`;
      await this.record(
        r.code === 0 ? "info" : "error",
        scope.phase ?? "",
        `${summary}${r.output ? `; output:\n${r.output}` : ""}`,
        scope.op?.id,
      );
      if (r.code !== 0 && !h.continue_on_error) throw new HookFailed(h, summary, r.timedOut);
    }
  }
}
