import { type CriticalPath, criticalPath, Dag } from "../graph/mod.ts";
import { allOperations, type Plan } from "./schema.ts";

/** The plan's operations as a DAG over DependsOn; phases become groups ranked by order. */
export function planToDag(plan: Pick<Plan, "phases">): Dag {
  return new Dag(plan.phases.flatMap((ph) =>
    ph.operations.map((o) => ({
      id: o.id,
      dependsOn: o.depends_on,
      weight: o.estimated_ms,
      group: ph.name,
      rank: ph.order,
      parallel: o.parallel,
    }))
  ));
}

/** How `plan graph` labels an operation's node: its ID, then its description. */
export function operationLabels(plan: Pick<Plan, "phases">): (id: string) => string {
  const description = new Map(allOperations(plan).map((o) => [o.id, o.description]));
  return (id) => `${id}\n${description.get(id) ?? ""}`;
}

/**
 * The plan's critical path (ms): the applier runs phases one after another, with a barrier
 * between them, so it is each phase's longest path over its DependsOn edges, phase after phase
 * (dependencies on earlier phases are met by the barrier). Empty when a phase's graph is not a
 * DAG.
 */
export function planCriticalPath(plan: Pick<Plan, "phases">): CriticalPath {
  const path: string[] = [];
  let length = 0;
  for (const ph of [...plan.phases].sort((a, b) => a.order - b.order)) {
    const ids = new Set(ph.operations.map((o) => o.id));
    const dag = new Dag(ph.operations.map((o) => ({
      id: o.id,
      dependsOn: o.depends_on.filter((d) => ids.has(d)),
      weight: o.estimated_ms,
      group: ph.name,
      rank: ph.order,
      parallel: o.parallel,
    })));
    if (!dag.valid) return { path: [], length: 0 };
    const cp = criticalPath(dag);
    path.push(...cp.path);
    length += cp.length;
  }
  return { path, length };
}
