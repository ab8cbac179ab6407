import { hostPort, machinePort } from "../topology/hosts.ts";
import type { Document } from "mongodb";
import { poll, splitHostPort } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import type { OperationContext } from "./operation.ts";
import { type Operation, OperationError, param } from "./operation.ts";
import { HEALTHY_STATES, primaryName, setStatus } from "./replset_status.ts";
import { planTimeoutMs } from "./timeout.ts";

/**
 * Where the member stands: its state as it reports it and, as the set's primary sees it
 * (replSetGetStatus on the primary), whether it is reachable (`health`) and how many seconds its
 * last applied write is behind the primary's. A member that says SECONDARY but which the primary
 * cannot reach (a partition, a firewall) is not back in the set: only the primary's view says so.
 */
async function standing(
  ctx: OperationContext,
): Promise<{ state: string; lag?: number; seen?: boolean; view?: string }> {
  const host = ctx.op.target.host!;
  const port = ctx.op.target.port!;
  const me = hostPort(host, port);
  const own = await mongo(ctx).adminCommand(host, port, { replSetGetStatus: 1 });
  const self = (own.members as Document[]).find((m) => m.self);
  const state = String(self?.stateStr ?? "UNKNOWN");
  if (self?.state === 1) return { state, lag: 0, seen: true };
  // The primary it knows of (its own heartbeats'), else the one another member names.
  const name = primaryName(own) ??
    primaryName(await setStatus(mongo(ctx), JSON.parse(param(ctx, "members"))));
  if (!name) return { state };
  const [ph, pp] = splitHostPort(name);
  const st = await mongo(ctx).adminCommand(ph, pp, { replSetGetStatus: 1 }).catch(() => undefined);
  const members = (st?.members ?? []) as Document[];
  const primary = members.find((m) => m.self && m.state === 1);
  const mine = members.find((m) => machinePort(String(m.name)) === machinePort(me));
  if (!primary || !mine) return { state };
  const seen = mine.health === 1;
  const view = seen
    ? `the primary ${name} sees it as ${mine.stateStr}`
    : `the primary ${name} cannot reach it${
      mine.lastHeartbeatMessage ? ` (${mine.lastHeartbeatMessage})` : ""
    }`;
  const lag = (new Date(primary.optimeDate).getTime() - new Date(mine.optimeDate).getTime()) /
    1000;
  return { state, lag: Math.max(0, lag), seen, view };
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
  // Reachable by the primary, when there is one to ask: it is then a member again.
  if (!ok || s.seen === false) return undefined;
  if (ctx.op.target.params.caught_up === "true") {
    const max = Number(ctx.op.target.params.max_lag_s ?? 2);
    if (s.lag === undefined || s.lag > max) return undefined;
    return `${s.state}, ${s.lag}s behind the primary`;
  }
  return s.state;
}

/**
 * Waits until a replica-set member reports the wanted state (SECONDARY, or PRIMARY when it took
 * the primary over; or HEALTHY meaning PRIMARY, SECONDARY or ARBITER), the primary reaches it
 * and, with caught_up, it is at most max_lag_s behind the primary: MongoDB's rolling-maintenance
 * gate before touching the next member ("Perform Maintenance on Replica Set Members": rs.status()
 * shows it SECONDARY). Read-only.
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
      const last: { state: string; view?: string } = await standing(ctx).catch((e) => ({
        state: (e as Error).message,
      }));
      throw new OperationError(
        `${hostPort(ctx.op.target.host!, ctx.op.target.port!)} did not become ${
          param(ctx, "state")
        }${ctx.op.target.params.caught_up === "true" ? " and caught up" : ""} within ${
          timeout / 1000
        }s (last seen: ${last.state}${last.view ? `; ${last.view}` : ""})`,
      );
    }
    return { output: `${r} after ${Date.now() - t0}ms` };
  },
};
