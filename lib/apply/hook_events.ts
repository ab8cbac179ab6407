import type { Hook, HookEvent } from "../hooks/schema.ts";
import { runHook } from "../hooks/runner.ts";
import type { Plan, PlannedOperation } from "../plan/schema.ts";
import type { Emitter } from "./events.ts";
import type { StateWriter } from "../state/store.ts";

export class HookFailed extends Error {
  constructor(readonly hook: Hook, message: string) {
    super(message);
  }
}

export interface HookScope {
  phase?: string;
  op?: PlannedOperation;
  error?: string;
}

/** Runs the plan's hooks for an event, in order, with the HookContext as MUP_* variables. */
export class HookDispatcher {
  constructor(
    private readonly plan: Plan,
    private readonly paths: { plan: string; state: string },
    private readonly emitter: Emitter,
    private readonly writer: StateWriter,
  ) {}

  has(event: HookEvent): boolean {
    return this.plan.hooks.some((h) => h.event === event);
  }

  async fire(event: HookEvent, scope: HookScope = {}): Promise<void> {
    const hooks = this.plan.hooks.filter((h) =>
      h.event === event && (!h.phase || h.phase === scope.phase)
    );
    for (const h of hooks) {
      const env: Record<string, string> = {
        MUP_CLUSTER_NAME: this.plan.cluster_name,
        MUP_OPERATION: this.plan.operation,
        MUP_PHASE: scope.phase ?? "",
        MUP_PLAN_PATH: this.paths.plan,
        MUP_STATE_PATH: this.paths.state,
        MUP_PLAN_ID: this.plan.plan_id,
        MUP_STATE_ID: this.writer.state.state_id,
        MUP_HOOK_EVENT: event,
        MUP_HOOK_NAME: h.name,
      };
      if (scope.op) {
        Object.assign(env, {
          MUP_OPERATION_ID: scope.op.id,
          MUP_OPERATION_TYPE: scope.op.type,
          MUP_OPERATION_HOST: scope.op.target.host ?? "",
          MUP_OPERATION_PORT: scope.op.target.port !== undefined
            ? String(scope.op.target.port)
            : "",
        });
      }
      if (scope.error) env.MUP_ERROR = scope.error;
      const where = {
        ...(scope.op ? { operation: scope.op.id } : {}),
        ...(scope.phase ? { phase: scope.phase } : {}),
      };
      this.emitter.emit({ type: "hook_start", event, name: h.name, command: h.command, ...where });
      const r = await runHook(h, env, (stream, line) => {
        this.emitter.emit({
          type: "hook_output",
          name: h.name,
          stream,
          line,
          ...(scope.op ? { operation: scope.op.id } : {}),
        });
      });
      this.emitter.emit({
        type: "hook_done",
        event,
        name: h.name,
        code: r.code,
        ms: r.ms,
        timed_out: r.timedOut,
        ...(scope.op ? { operation: scope.op.id } : {}),
      });
      const summary = r.timedOut
        ? `hook ${h.name} (${event}) timed out after ${
          h.timeout_ms / 1000
        }s; its process group was killed`
        : `hook ${h.name} (${event}) exited with ${r.code}`;
      await this.writer.log(
        r.code === 0 ? "info" : "error",
        scope.phase ?? "",
        `${summary}${r.output ? `; output:\n${r.output}` : ""}`,
        scope.op?.id,
      );
      if (r.code !== 0 && !h.continue_on_error) throw new HookFailed(h, summary);
    }
  }
}
