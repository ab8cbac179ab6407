import type { Document } from "mongodb";
import { poll, splitHostPort } from "../mongo/client.ts";
import { primaryConfig, sendReconfig } from "./reconfig_retry.ts";
import { machinePort } from "../topology/hosts.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";
import { noPrimaryCause, planTimeoutMs, timeoutHint } from "./timeout.ts";
import { serverMessage } from "../mongo/server_error.ts";

/** `remove` (JSON list of `host:port`): the members to take out; `members`: the whole set. */
const toRemove = (ctx: OperationContext): string[] => JSON.parse(param(ctx, "remove"));
const everyMember = (ctx: OperationContext): string[] => JSON.parse(param(ctx, "members"));

/** The set's primary (`host:port` as the set names it) and the config it holds. */
function readConfig(ctx: OperationContext): Promise<{ at: string; config: Document } | undefined> {
  // The members that stay are asked first: a removed one may still answer, about itself only.
  const gone = new Set(toRemove(ctx).map(machinePort));
  const order = everyMember(ctx).sort((a, b) =>
    Number(gone.has(machinePort(a))) - Number(gone.has(machinePort(b)))
  );
  return primaryConfig(mongo(ctx), order);
}

/** The members of `remove` that `config` still lists (by machine and port). */
function listed(ctx: OperationContext, config: Document): Document[] {
  const gone = new Set(toRemove(ctx).map(machinePort));
  return (config.members as Document[]).filter((m) => gone.has(machinePort(String(m.host))));
}

/**
 * Takes members out of a running replica set: one replSetReconfig per member on its primary
 * (MongoDB 4.4+ refuses a non-force reconfig that removes more than one voting member, code
 * 103), config version + 1 each, members the primary sees down first (so that every config in
 * between keeps a majority of running voters). A member to remove that is the primary is stepped down first
 * (replSetStepDown, up to 10 s for a secondary to catch up): a primary cannot remove itself.
 * A member the primary's config no longer lists is out already, so a resume after a crash
 * removes only the rest. MongoDB manual: "Remove Members from Replica Set", replSetReconfig.
 * Throws OperationError when no primary is found within the operation's timeout, or when the
 * server refuses a reconfig or the step-down (its code and message).
 */
export const removeMembers: Operation = {
  async isDone(ctx) {
    const found = await readConfig(ctx);
    return found !== undefined && listed(ctx, found.config).length === 0;
  },
  async run(ctx) {
    const set = ctx.op.target.name;
    const timeout = planTimeoutMs(ctx, 120_000);
    const deadline = Date.now() + timeout;
    const removed: string[] = [];
    const gone = new Set(toRemove(ctx).map(machinePort));
    // Nothing done yet: none removed by this run, and no earlier run (cut off, or failed after
    // a reconfig of its own) that may have removed some (tester107 #1).
    const untouched = () => removed.length === 0 && !ctx.executions;
    for (;;) {
      const found = await poll(() => readConfig(ctx), deadline - Date.now(), 100, ctx.signal);
      if (!found) {
        throw new OperationError(
          `replica set ${set} has no primary to remove ${toRemove(ctx).join(", ")} through${
            removed.length ? ` (removed so far: ${removed.join(", ")})` : ""
          } (${noPrimaryCause(ctx)}); ${timeoutHint(ctx, timeout)}`,
          { noEffect: untouched() },
        );
      }
      // Members that are down go first: each config in between then keeps a majority of
      // voters that run (removing a running voter beside a down one could leave none).
      const [h, p] = splitHostPort(found.at);
      const status = await mongo(ctx).adminCommand(h, p, { replSetGetStatus: 1 })
        .catch(() => undefined);
      const healthy = new Set(
        ((status?.members ?? []) as Document[]).filter((m) => m.health === 1).map((m) =>
          machinePort(String(m.name))
        ),
      );
      // Else in the plan's order (scale_in.ts: one that keeps the set's implicit default write
      // concern where an order can).
      const planned = toRemove(ctx).map(machinePort);
      const at = (m: Document) => planned.indexOf(machinePort(String(m.host)));
      const [next] = listed(ctx, found.config).sort((a, b) => at(a) - at(b)).sort((a, b) =>
        Number(healthy.has(machinePort(String(a.host)))) -
        Number(healthy.has(machinePort(String(b.host))))
      );
      if (!next) break;
      if (gone.has(machinePort(found.at))) {
        // The primary is to go: another member takes over first.
        try {
          await mongo(ctx).adminCommand(h, p, {
            replSetStepDown: 60,
            secondaryCatchUpPeriodSecs: 10,
          }, 30_000);
        } catch (e) {
          const code = (e as { code?: unknown }).code;
          if (typeof code === "number" && code !== 10107 && code !== 189) {
            throw new OperationError(
              `replSetStepDown of ${found.at}, to be removed from ${set}, failed: ${
                serverMessage(e)
              }`,
              { noEffect: untouched() },
            );
          }
        }
        continue;
      }
      const sent = await sendReconfig(
        mongo(ctx),
        found,
        (found.config.members as Document[]).filter((m) => m._id !== next._id),
        deadline,
        () => readConfig(ctx),
        ctx.signal,
        { what: `removing ${next.host} from ${set}`, untouched: untouched() },
      );
      if (sent === "again") continue;
      removed.push(String(next.host));
    }
    return {
      output: removed.length
        ? `removed ${removed.join(", ")} from ${set}`
        : `${set} no longer lists ${toRemove(ctx).join(", ")}`,
      metadata: { removed },
      ...(removed.length ? {} : { inPlace: true }),
    };
  },
};
