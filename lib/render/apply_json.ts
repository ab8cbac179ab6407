import type { ApplyEvent } from "../apply/events.ts";
import { allOperations } from "../plan/schema.ts";

/**
 * One JSON object per line per event (NDJSON), for CI and scripts: `event` is the line's kind
 * (apply_start, hook_start, hook_done…), a hook's own event `hook_event`. The plan is sent by
 * ID, with its validation warnings in the `apply_start` event; a line about one operation (op_start,
 * op_done, op_failed…) carries its `operation_type` and `description` beside its `id`.
 */
export function jsonRenderer(write: (line: string) => void): (e: ApplyEvent) => void {
  // Each operation's type and description, from the plan, for the lines that name it by ID: a
  // script reading op_start or op_done need not look the plan up itself.
  const ops = new Map<string, { operation_type: string; description: string }>();
  return (e) => {
    if (e.type === "apply_start") {
      for (const o of allOperations(e.plan)) {
        ops.set(o.id, { operation_type: o.type, description: o.description });
      }
    }
    const { type, ...rest } = e;
    const body = type === "apply_start"
      ? {
        ...rest,
        plan: undefined,
        done: undefined,
        plan_id: e.plan.plan_id,
        cluster: e.plan.cluster_name,
        ...(e.done ? { already_done: e.done.length } : {}),
        // What the review would have shown before applying (an --auto-approve run has no review).
        warnings: e.plan.validation.warnings,
      }
      : type.startsWith("op_") && "id" in rest
      ? { ...rest, ...ops.get(rest.id) }
      : rest;
    // A hook's own event (after_phase…) is `hook_event`: under `event` it took the place of the
    // line's kind, and a hook's start and end could not be told apart (tester84).
    const { event: hookEvent, ...fields } = body as typeof body & { event?: string };
    write(JSON.stringify({
      event: type,
      time: new Date().toISOString(),
      ...(hookEvent !== undefined ? { hook_event: hookEvent } : {}),
      ...fields,
    }));
  };
}
