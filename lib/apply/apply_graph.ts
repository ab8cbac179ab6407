/** The DAG the applier walks: a plan's operations with phase barriers (lib/graph stays generic). */
import { Dag } from "../graph/mod.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import type { Hook } from "../hooks/schema.ts";

export const START = (phase: string) => `phase:${phase}:start`;
export const END = (phase: string) => `phase:${phase}:end`;

/**
 * The nodes of applyGraph(plan) that finish work a done operation began, which walk() runs even
 * once an interrupt or a failure stopped other new work: the start_process of a process the
 * plan stopped before it (a restart's: right after its stop, or, with --force, in the start
 * phase after every stop), and the phase barriers between such a stop's phase and its start's,
 * with what gates the start in its phase (the waits for the processes started before it), so
 * that the start is reached. A start runs only once ready: a stop that never ran keeps its
 * process running, and its start waits with the rest.
 */
export function restartsOf(plan: Plan): (id: string) => boolean {
  const order = new Map(plan.phases.flatMap((ph) => ph.operations.map((o) => [o.id, ph.order])));
  const byId = new Map(allOperations(plan).map((o) => [o.id, o]));
  // Each process's stop (the first, as a plan has one per process).
  const stopOf = new Map<string, string>();
  for (const o of allOperations(plan)) {
    if (o.type === "stop_process" && !stopOf.has(o.target.name)) stopOf.set(o.target.name, o.id);
  }
  const out = new Set<string>();
  for (const o of allOperations(plan)) {
    const stop = o.type === "start_process" ? stopOf.get(o.target.name) : undefined;
    if (stop === undefined) continue;
    const from = order.get(stop)!, at = order.get(o.id)!;
    if (from > at) continue;
    // Within one phase only when it follows its own stop directly (a rolling restart).
    if (from === at && !o.depends_on.includes(stop)) continue;
    out.add(o.id);
    if (from === at) continue;
    for (const ph of plan.phases.filter((p) => p.order >= from && p.order <= at)) {
      if (ph.order > from) out.add(START(ph.name));
      if (ph.order < at) out.add(END(ph.name));
    }
    // What gates it in its own phase (a config server's start and wait before a shard's).
    const stack = [...o.depends_on];
    while (stack.length) {
      const d = byId.get(stack.pop()!);
      if (!d || order.get(d.id) !== at || out.has(d.id) || d.type === "stop_process") continue;
      out.add(d.id);
      stack.push(...d.depends_on);
    }
  }
  return (id) => out.has(id);
}

/**
 * For a resume: each operation not done that depends, through operations done, on one that runs
 * again (a start whose process died since) → those it must wait for too. Without them, the
 * wait for a priority takeover whose member's start runs again (its wait for the member done)
 * would run beside that start, before the member is back.
 */
export function redoEdges(
  plan: Plan,
  redo: ReadonlySet<string>,
  done: ReadonlySet<string>,
): Map<string, string[]> {
  const byId = new Map(allOperations(plan).map((o) => [o.id, o]));
  const out = new Map<string, string[]>();
  for (const o of allOperations(plan)) {
    if (done.has(o.id) || redo.has(o.id)) continue;
    const found = new Set<string>();
    const seen = new Set<string>();
    const stack = [...o.depends_on];
    while (stack.length) {
      const d = stack.pop()!;
      if (seen.has(d)) continue;
      seen.add(d);
      if (redo.has(d)) found.add(d);
      else if (done.has(d)) stack.push(...byId.get(d)?.depends_on ?? []);
    }
    const extra = [...found].filter((d) => !o.depends_on.includes(d));
    if (extra.length) out.set(o.id, extra);
  }
  return out;
}

/**
 * For a resume that reopened phases (one of their operations runs again, so they are pending
 * again): the start node of each later phase not completed → the end nodes of the reopened
 * phases before it. The previous phase's end alone would not hold it when a completed phase
 * lies between (its end counts as done): a finalize phase would begin, hooks and health check
 * included, beside the start of a member that runs again in the deploy phase.
 */
export function reopenedBarriers(
  plan: Plan,
  completedPhases: ReadonlySet<string>,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const open: string[] = [];
  for (const ph of plan.phases) {
    if (completedPhases.has(ph.name)) continue;
    if (open.length) out.set(START(ph.name), [...open]);
    open.push(END(ph.name));
  }
  return out;
}

/**
 * The plan's DAG with phase barriers: every operation of a phase waits for the phase's start
 * node, which waits for the previous phase's end node. Checkpoints and phase hooks hang there.
 * `extra`: more nodes an operation or a phase's start node waits for (redoEdges,
 * reopenedBarriers).
 */
export function applyGraph(plan: Plan, extra: ReadonlyMap<string, string[]> = new Map()): Dag {
  const nodes = [];
  let prevEnd: string | undefined;
  for (const ph of plan.phases) {
    nodes.push({
      id: START(ph.name),
      dependsOn: [...(prevEnd ? [prevEnd] : []), ...(extra.get(START(ph.name)) ?? [])],
      weight: 0,
      parallel: true,
      group: ph.name,
      rank: ph.order,
    });
    for (const o of ph.operations) {
      nodes.push({
        id: o.id,
        dependsOn: [...o.depends_on, START(ph.name), ...(extra.get(o.id) ?? [])],
        weight: o.estimated_ms,
        parallel: o.parallel,
        group: ph.name,
        rank: ph.order,
      });
    }
    nodes.push({
      id: END(ph.name),
      dependsOn: ph.operations.map((o) => o.id).concat(START(ph.name)),
      weight: 0,
      parallel: true,
      group: ph.name,
      rank: ph.order,
    });
    prevEnd = END(ph.name);
  }
  return new Dag(nodes);
}

/**
 * The phase ends (END nodes) no after_phase hook of `hooks` runs at: once its operations are all
 * done, such a phase is closed (its checkpoint written) after a Ctrl-C too, so that an apply
 * whose work all finished is complete, not paused with nothing left to do (tester101 #5). A
 * phase with hooks there waits for a resume, which runs them.
 */
function quietPhaseEnds(plan: Plan, hooks: Hook[]): Set<string> {
  return new Set(
    plan.phases.filter((ph) =>
      !hooks.some((h) => h.event === "after_phase" && (!h.phase || h.phase === ph.name))
    ).map((ph) => END(ph.name)),
  );
}

/**
 * The nodes that still run once a first Ctrl-C stopped new work: what finishes a begun restart
 * (restartsOf) and the quiet phase ends (quietPhaseEnds) of `plan` with the apply's `hooks`.
 */
export function finishing(plan: Plan, hooks: Hook[]): (id: string) => boolean {
  const restarts = restartsOf(plan);
  const closes = quietPhaseEnds(plan, hooks);
  return (id) => restarts(id) || closes.has(id);
}
