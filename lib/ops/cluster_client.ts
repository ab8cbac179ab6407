import type { ExecutorFactory } from "../executor/executor.ts";
import type { MongoAccess } from "../mongo/client.ts";
import type { Plan } from "../plan/schema.ts";
import { clusterAccess } from "../security/access.ts";
import type { OperationContext } from "./operation.ts";

const cache = new WeakMap<Plan, WeakMap<ExecutorFactory, MongoAccess>>();

/**
 * The client of the cluster an operation works on: authenticated and over TLS when the plan's
 * cluster has them (lib/security/access.ts). Every operation that talks to a server goes
 * through it; none handles credentials itself. One per plan and executor factory.
 */
export function mongo(ctx: Pick<OperationContext, "plan" | "executors">): MongoAccess {
  let byEx = cache.get(ctx.plan);
  if (!byEx) cache.set(ctx.plan, byEx = new WeakMap());
  let m = byEx.get(ctx.executors);
  if (!m) {
    byEx.set(
      ctx.executors,
      m = clusterAccess(ctx.plan.cluster_name, ctx.plan.topology, ctx.executors),
    );
  }
  return m;
}
