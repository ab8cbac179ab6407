import type { ApplyEvent } from "../apply/events.ts";

/**
 * One JSON object per line per event (NDJSON), for CI and scripts. The plan is sent by ID, with
 * its validation warnings in the `apply_start` event.
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
    write(JSON.stringify({ event: type, time: new Date().toISOString(), ...body }));
  };
}
