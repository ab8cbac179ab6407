import type { ApplyEvent } from "../apply/events.ts";

/**
 * One JSON object per line per event (NDJSON), for CI and scripts: `event` is the line's kind
 * (apply_start, hook_start, hook_done…), a hook's own event `hook_event`. The plan is sent by
 * ID, with its validation warnings in the `apply_start` event.
 */
export function jsonRenderer(write: (line: string) => void): (e: ApplyEvent) => void {
  return (e) => {
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
