import { hostPort } from "../topology/hosts.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import type { ApplyState } from "../state/schema.ts";

/**
 * The processes an unfinished apply of `plan` left down: each that a completed `stop_process`
 * stopped and whose `start_process` in the same plan (a restart, upgrade or TLS switch starts
 * what it stops) has not completed, as `host:port`, in plan order. A stop that the plan never
 * undoes (cluster stop, destroy) is not counted: down is what it is for. `working` (a stop at
 * once): the operations whose work had begun (past their hooks and checks), cut off; a start
 * among them may still bring its server up by itself, so it goes to `starting`, not `down`; a
 * stop among them (its start not yet run) may have taken its server down or not: `stopping`.
 * `startFailed`: those of `down` whose start ran and failed (the others' has not run).
 */
export function leftDown(
  plan: Plan,
  state: Pick<ApplyState, "operation_states">,
  working: ReadonlySet<string> = new Set(),
): { down: string[]; starting: string[]; stopping: string[]; startFailed: string[] } {
  const ops = allOperations(plan);
  const done = (id: string) => state.operation_states[id]?.status === "completed";
  const down: string[] = [];
  const starting: string[] = [];
  const stopping: string[] = [];
  const startFailed: string[] = [];
  for (const stop of ops) {
    if (stop.type !== "stop_process") continue;
    const cut = working.has(stop.id) && state.operation_states[stop.id]?.status === "running";
    if (!done(stop.id) && !cut) continue;
    // The start that follows it: a TLS switch stops and starts each process once per round.
    const start = ops.slice(ops.indexOf(stop) + 1).find((o) =>
      o.type === "start_process" && o.target.name === stop.target.name
    );
    if (!start || done(start.id)) continue;
    const at = stop.target.port !== undefined && stop.target.host !== undefined
      ? hostPort(stop.target.host, stop.target.port)
      : stop.target.name;
    // Its shutdown may have been sent, its server down or on its way (tester111 #2).
    if (cut) {
      if (!stopping.includes(at)) stopping.push(at);
      continue;
    }
    const list = working.has(start.id) && state.operation_states[start.id]?.status === "running"
      ? starting
      : down;
    if (!list.includes(at)) list.push(at);
    if (list === down && state.operation_states[start.id]?.status === "failed") {
      if (!startFailed.includes(at)) startFailed.push(at);
    }
  }
  return { down, starting, stopping, startFailed };
}
