import { hostPort } from "../topology/hosts.ts";
import type { Document } from "mongodb";
import { poll } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import type { OperationContext } from "./operation.ts";
import { type Operation, OperationError, param } from "./operation.ts";
import { HEALTHY_STATES, setStatus } from "./replset_status.ts";
import { planTimeoutMs } from "./timeout.ts";

/**
 * Where the member stands: its state as it reports it, and how many seconds its last applied
 * write is behind the primary's (as the primary sees both, from replSetGetStatus).
 */
async function standing(ctx: OperationContext): Promise<{ state: string; lag?: number }> {
  const host = ctx.op.target.host!;
  const port = ctx.op.target.port!;
  const me = hostPort(host, port);
  const own = await mongo(ctx).adminCommand(host, port, { replSetGetStatus: 1 });
  const state = String((own.members as Document[]).find((m) => m.self)?.stateStr ?? "UNKNOWN");
  const st = await setStatus(mongo(ctx), JSON.parse(param(ctx, "members")));
  const members = (st?.members ?? []) as Document[];
  const primary = members.find((m) => m.state === 1);
  const mine = members.find((m) => m.name === me);
  if (!primary || !mine) return { state };
  const lag = (new Date(primary.optimeDate).getTime() - new Date(mine.optimeDate).getTime()) /
    1000;
  return { state, lag: Math.max(0, lag) };
}

/** Whether the member is in the wanted state (and caught up, when asked). */
async function reached(ctx: OperationContext): Promise<string | undefined> {
  const want = param(ctx, "state");
  const s = await standing(ctx);
  // A member brought back as SECONDARY may take the primary over as soon as it has caught up
  // (MongoDB's priority takeover, when its priority is above the primary's; or an election
  // after the primary failed meanwhile): it is back in the set all the same.
  const ok = want === "HEALTHY"
    ? HEALTHY_STATES.has(s.state)
    : s.state === want || (want === "SECONDARY" && s.state === "PRIMARY");
  if (!ok) return undefined;
  if (ctx.op.target.params.caught_up === "true") {
    const max = Number(ctx.op.target.params.max_lag_s ?? 2);
    if (s.lag === undefined || s.lag > max) return undefined;
    return `${s.state}, ${s.lag}s behind the primary`;
  }
  return s.state;
}

/**
 * Waits until a replica-set member reports the wanted state (SECONDARY, or PRIMARY when it took
 * the primary over; or HEALTHY meaning PRIMARY, SECONDARY or ARBITER) and, with caught_up, is
 * at most max_lag_s behind the primary: MongoDB's rolling-maintenance gate before touching the
 * next member. Read-only.
 */
export const waitForMemberState: Operation = {
  async isDone(ctx) {
    return (await reached(ctx).catch(() => undefined)) !== undefined;
  },
  async run(ctx) {
    const timeout = planTimeoutMs(ctx, 120_000);
    const t0 = Date.now();
    const r = await poll(() => reached(ctx), timeout, 100, ctx.signal);
    if (!r) {
      const last = await standing(ctx).catch((e) => ({ state: (e as Error).message, lag: 0 }));
      throw new OperationError(
        `${hostPort(ctx.op.target.host!, ctx.op.target.port!)} did not become ${
          param(ctx, "state")
        }${ctx.op.target.params.caught_up === "true" ? " and caught up" : ""} within ${
          timeout / 1000
        }s (last seen: ${last.state})`,
      );
    }
    return { output: `${r} after ${Date.now() - t0}ms` };
  },
};
