import type { Document } from "mongodb";
import { type MongoAccess, sleep } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";

/** FailedToSatisfyReadPreference, HostUnreachable, NotWritablePrimary, PrimarySteppedDown, … */
const TRANSIENT = new Set([133, 6, 7, 10107, 189, 91, 11600, 13436]);
import { type Operation, OperationError, param } from "./operation.ts";
import { planTimeoutMs, timeoutHint, waitedFor } from "./timeout.ts";
import { routerDown } from "./router_down.ts";
import { serverMessage } from "../mongo/server_error.ts";

async function listed(
  m: MongoAccess,
  host: string,
  port: number,
  name: string,
): Promise<boolean> {
  const r = await m.adminCommand(host, port, { listShards: 1 });
  return (r.shards as Document[]).some((s) => s._id === name);
}

/** addShard through mongos, unless listShards already has the shard. */
export const addShard: Operation = {
  async isDone(ctx) {
    try {
      return await listed(mongo(ctx), ctx.op.target.host!, ctx.op.target.port!, param(ctx, "name"));
    } catch {
      return false;
    }
  },
  async run(ctx) {
    const { host, port } = ctx.op.target;
    const timeout = planTimeoutMs(ctx, 60_000);
    const end = Date.now() + timeout;
    // A set that just elected its primary may not be known as such everywhere yet: errors that
    // say so are retried (as mlaunch and mongodb-runner do); anything else fails at once.
    for (let attempt = 1;; attempt++) {
      try {
        const r = await mongo(ctx).adminCommand(host!, port!, {
          addShard: param(ctx, "shard"),
          name: param(ctx, "name"),
        }, 60_000);
        return {
          output: `shardAdded ${r.shardAdded}${attempt > 1 ? ` (attempt ${attempt})` : ""}`,
        };
      } catch (e) {
        const code = (e as { code?: number }).code;
        if (!TRANSIENT.has(code ?? -1) || Date.now() > end || ctx.signal.aborted) {
          const expired = TRANSIENT.has(code ?? -1) && Date.now() > end;
          const gone = await routerDown(ctx, e);
          throw new OperationError(
            `addShard ${param(ctx, "shard")} failed: ${serverMessage(e)}${
              expired
                ? `; still failing ${waitedFor(end - timeout, timeout)}: ${
                  timeoutHint(ctx, timeout)
                }`
                : gone
                ? `; ${gone.advice}`
                : ""
            }`,
            gone?.replan ? { replan: gone.replan } : {},
          );
        }
        ctx.log(`addShard attempt ${attempt} failed (${serverMessage(e)}); retrying`);
        await sleep(500, ctx.signal);
      }
    }
  },
};
