/** The DAG the applier walks: a plan's operations with phase barriers (lib/graph stays generic). */
import { Dag } from "../graph/mod.ts";
import { allOperations, type Plan } from "../plan/schema.ts";

export const START = (phase: string) => `phase:${phase}:start`;
export const END = (phase: string) => `phase:${phase}:end`;

/**
 * Whether an operation finishes work a done dependency began: a start_process that depends on
 * the stop_process of the same process (a restart's). walk() runs those even once stopped.
 */
export function restartsOf(plan: Plan): (id: string) => boolean {
  const ops = new Map(allOperations(plan).map((o) => [o.id, o]));
  const starts = new Set(
    [...ops.values()].filter((o) =>
      o.type === "start_process" &&
      o.depends_on.some((d) =>
        ops.get(d)?.type === "stop_process" && ops.get(d)?.target.name === o.target.name
      )
    ).map((o) => o.id),
  );
  return (id) => starts.has(id);
}

/**
 * The plan's DAG with phase barriers: every operation of a phase waits for the phase's start
 * node, which waits for the previous phase's end node. Checkpoints and phase hooks hang there.
 */
export function applyGraph(plan: Plan): Dag {
  const nodes = [];
  let prevEnd: string | undefined;
  for (const ph of plan.phases) {
    nodes.push({
      id: START(ph.name),
      dependsOn: prevEnd ? [prevEnd] : [],
      weight: 0,
      parallel: true,
      group: ph.name,
      rank: ph.order,
    });
    for (const o of ph.operations) {
      nodes.push({
        id: o.id,
        dependsOn: [...o.depends_on, START(ph.name)],
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
