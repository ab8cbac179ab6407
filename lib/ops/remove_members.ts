import type { Document } from "mongodb";
import { poll, splitHostPort } from "../mongo/client.ts";
import { retryReconfig } from "./reconfig_retry.ts";
import { machinePort } from "../topology/hosts.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";
import { primaryName, setStatus } from "./replset_status.ts";
import { planTimeoutMs, timeoutHint } from "./timeout.ts";

/** `remove` (JSON list of `host:port`): the members to take out; `members`: the whole set. */
const toRemove = (ctx: OperationContext): string[] => JSON.parse(param(ctx, "remove"));
const everyMember = (ctx: OperationContext): string[] => JSON.parse(param(ctx, "members"));

/** The set's primary (`host:port` as the set names it) and the config it holds. */
async function primaryConfig(
  ctx: OperationContext,
): Promise<{ at: string; config: Document } | undefined> {
  // The members that stay are asked first: a removed one may still answer, about itself only.
  const gone = new Set(toRemove(ctx).map(machinePort));
  const order = everyMember(ctx).sort((a, b) =>
    Number(gone.has(machinePort(a))) - Number(gone.has(machinePort(b)))
  );
  const at = primaryName(await setStatus(mongo(ctx), order));
  if (!at) return undefined;
  const [h, p] = splitHostPort(at);
  const r = await mongo(ctx).adminCommand(h, p, { replSetGetConfig: 1 }).catch(() => undefined);
  return r?.config ? { at, config: r.config } : undefined;
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
    const found = await primaryConfig(ctx);
    return found !== undefined && listed(ctx, found.config).length === 0;
  },
  async run(ctx) {
    const set = ctx.op.target.name;
    const timeout = planTimeoutMs(ctx, 120_000);
    const deadline = Date.now() + timeout;
    const removed: string[] = [];
    const gone = new Set(toRemove(ctx).map(machinePort));
    for (;;) {
      const found = await poll(() => primaryConfig(ctx), deadline - Date.now(), 100, ctx.signal);
      if (!found) {
        throw new OperationError(
          `replica set ${set} has no primary to remove ${toRemove(ctx).join(", ")} through${
            removed.length ? ` (removed so far: ${removed.join(", ")})` : ""
          }; ${timeoutHint(ctx, timeout)}`,
          { noEffect: removed.length === 0 },
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
      const [next] = listed(ctx, found.config).sort((a, b) =>
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
                (e as Error).message
              }`,
              { noEffect: removed.length === 0 },
            );
          }
        }
        continue;
      }
      const config = {
        ...found.config,
        version: Number(found.config.version) + 1,
        members: (found.config.members as Document[]).filter((m) => m._id !== next._id),
      };
      delete (config as Document).term;
      try {
        await mongo(ctx).adminCommand(
          h,
          p,
          { replSetReconfig: config, maxTimeMS: Math.max(10_000, deadline - Date.now()) },
          Math.max(15_000, deadline - Date.now() + 5_000),
        );
        removed.push(String(next.host));
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        // An election, a lost connection (that may have reconfigured), the server's own
        // reconfig or one not yet committed: the next round reads the config again.
        const version = async () => Number((await primaryConfig(ctx))?.config.version);
        if (
          await retryReconfig(code, Number(found.config.version), version, deadline, ctx.signal)
        ) continue;
        throw new OperationError(
          `replSetReconfig removing ${next.host} from ${set} on ${found.at} failed: ${
            (e as Error).message
          }`,
          { noEffect: removed.length === 0 && typeof code === "number" },
        );
      }
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
