import { Dag } from "../graph/mod.ts";
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
