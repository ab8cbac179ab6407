import { splitHostPort } from "../topology/hosts.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";

/** The mongos routers to ask, in plan order (`routers`: JSON list of host:port). */
function routers(ctx: OperationContext): string[] {
  return JSON.parse(param(ctx, "routers")) as string[];
}

/** balancerStatus's `mode` through the first router that answers ("off", "full"). */
async function mode(ctx: OperationContext): Promise<string | undefined> {
  for (const r of routers(ctx)) {
    const [host, port] = splitHostPort(r);
    const s = await mongo(ctx).adminCommand(host, port, { balancerStatus: 1 }).catch(() =>
      undefined
    );
    if (s) return String(s.mode);
  }
  return undefined;
}

/**
 * Stops or starts a sharded cluster's balancer through a mongos (params: `state` "stop" or
 * "start", `routers` JSON list of host:port). MongoDB's upgrade procedure for sharded clusters
 * disables the balancer first and enables it again at the end, so that no chunk migrates while
 * members run different binaries (MongoDB manual: "Upgrade a Sharded Cluster", balancerStop,
 * balancerStart; balancerStop waits for the round in progress to end). Done when balancerStatus
 * already answers the mode ("off" after a stop, "full" after a start).
 * Throws OperationError naming the routers when none answers.
 */
export const setBalancer: Operation = {
  async isDone(ctx) {
    const want = param(ctx, "state") === "stop" ? "off" : "full";
    return (await mode(ctx).catch(() => undefined)) === want;
  },
  async run(ctx) {
    const stop = param(ctx, "state") === "stop";
    const errors: string[] = [];
    for (const r of routers(ctx)) {
      const [host, port] = splitHostPort(r);
      try {
        await mongo(ctx).adminCommand(
          host,
          port,
          stop ? { balancerStop: 1 } : { balancerStart: 1 },
        );
        return { output: `balancer ${stop ? "stopped" : "started"} through ${r}` };
      } catch (e) {
        errors.push(`${r}: ${(e as Error).message}`);
      }
    }
    throw new OperationError(
      `could not ${stop ? "stop" : "start"} the balancer through any mongos (${errors.join("; ")})`,
    );
  },
};
