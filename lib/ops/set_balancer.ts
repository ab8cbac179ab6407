import * as path from "node:path";
import { readMeta, writeMeta } from "../state/meta.ts";
import { splitHostPort } from "../topology/hosts.ts";
import { mongo } from "./cluster_client.ts";
import {
  type Operation,
  type OperationContext,
  OperationError,
  param,
  storeParam,
} from "./operation.ts";
import { serverMessage } from "../mongo/server_error.ts";

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

const metaDir = (ctx: OperationContext) => path.dirname(storeParam(ctx, "meta_path"));

/** The metadata's record of an upgrade that stopped the balancer (balancer_stopped_by). */
async function stoppedBy(ctx: OperationContext): Promise<{ state_id: string } | undefined> {
  return (await readMeta(metaDir(ctx)).catch(() => undefined))?.balancer_stopped_by;
}

/** Sets or clears ClusterMeta.balancer_stopped_by. */
async function mark(ctx: OperationContext, on: boolean): Promise<void> {
  const dir = metaDir(ctx);
  const meta = await readMeta(dir);
  if (!meta) throw new OperationError(`the metadata of cluster ${ctx.plan.cluster_name} is gone`);
  const { balancer_stopped_by: _was, ...rest } = meta;
  await writeMeta(dir, {
    ...rest,
    ...(on
      ? {
        balancer_stopped_by: {
          plan_id: ctx.plan.plan_id,
          state_id: ctx.stateId,
          at: new Date().toISOString(),
        },
      }
      : {}),
  });
}

/** Runs balancerStop or balancerStart through the first router that takes it. */
async function command(ctx: OperationContext, stop: boolean): Promise<string> {
  const errors: string[] = [];
  for (const r of routers(ctx)) {
    const [host, port] = splitHostPort(r);
    try {
      await mongo(ctx).adminCommand(host, port, stop ? { balancerStop: 1 } : { balancerStart: 1 });
      return r;
    } catch (e) {
      errors.push(`${r}: ${serverMessage(e)}`);
    }
  }
  throw new OperationError(
    `could not ${stop ? "stop" : "start"} the balancer through any mongos (${errors.join("; ")})`,
  );
}

/**
 * Stops or starts a sharded cluster's balancer through a mongos (params: `state` "stop" or
 * "start", `routers` JSON list of host:port, `meta_path` the cluster's meta.yaml). MongoDB's
 * upgrade procedure for sharded clusters disables the balancer first and enables it again at
 * the end, so that no chunk migrates while members run different releases (MongoDB manual:
 * "Upgrade a Sharded Cluster", balancerStop, balancerStart; balancerStop waits for the round in
 * progress to end).
 *
 * Only a balancer the upgrade stopped is started again: the stop records itself in the metadata
 * (balancer_stopped_by) before it stops the balancer, the start clears it after starting. A
 * balancer found off without that record was stopped by someone else: the stop finds it "in
 * place", the start leaves it off; found off with the record of an earlier apply (an upgrade cut
 * off and replaced), the stop records this apply instead. Throws OperationError naming the
 * routers when none answers.
 */
export const setBalancer: Operation = {
  async isDone(ctx) {
    if (param(ctx, "state") === "start") return !(await stoppedBy(ctx));
    if ((await mode(ctx).catch(() => undefined)) !== "off") return false;
    // Off without a record (stopped by someone else) is left as found. Off by an earlier upgrade
    // of mup, cut off and replaced, this one takes the record over: display then names the apply
    // whose resume starts it (tester85).
    const by = await stoppedBy(ctx);
    return !by || by.state_id === ctx.stateId;
  },
  async run(ctx) {
    if (param(ctx, "state") === "stop") {
      await mark(ctx, true);
      return { output: `balancer stopped through ${await command(ctx, true)}` };
    }
    const through = await command(ctx, false);
    await mark(ctx, false);
    return { output: `balancer started again through ${through}` };
  },
};
