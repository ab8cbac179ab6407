import type { ApplyEvent } from "../apply/events.ts";

/** One JSON object per line per event (NDJSON), for CI and scripts. The plan is sent by ID. */
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
      }
      : rest;
    write(JSON.stringify({ event: type, time: new Date().toISOString(), ...body }));
  };
}
