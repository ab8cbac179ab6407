import { Dag } from "../graph/mod.ts";
import type { Plan } from "./schema.ts";

/** The plan's operations as a DAG over DependsOn; phases become groups ranked by order. */
export function planToDag(plan: Pick<Plan, "phases">): Dag {
  return new Dag(plan.phases.flatMap((ph) =>
    ph.operations.map((o) => ({
      id: o.id,
      dependsOn: o.depends_on,
      weight: o.estimated_ms,
      group: ph.name,
      rank: ph.order,
      label: `${o.id}\n${o.description}`,
      parallel: o.parallel,
    }))
  ));
}
