import type { Document } from "mongodb";
import { poll } from "../mongo/client.ts";
import { primaryConfig, sendReconfig } from "./reconfig_retry.ts";
import { machinePort } from "../topology/hosts.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";
import { noPrimaryCause, planTimeoutMs, timeoutHint } from "./timeout.ts";

/**
 * The members to add, as replSetInitiate/replSetReconfig member documents without `_id`
 * (`{host, priority?, votes?, hidden?, arbiterOnly?}`), param `add` (JSON); `members` (JSON list
 * of `host:port`) is the set as recorded, where the primary is looked for.
 */
const toAdd = (ctx: OperationContext): Document[] => JSON.parse(param(ctx, "add"));
const recorded = (ctx: OperationContext): string[] => JSON.parse(param(ctx, "members"));

/** The set's config as its primary holds it, and that primary's `host:port`. */
const readConfig = (ctx: OperationContext) => primaryConfig(mongo(ctx), recorded(ctx));

/** The members of `add` that `config` does not list (by machine and port). */
function missing(ctx: OperationContext, config: Document): Document[] {
  const have = new Set((config.members as Document[]).map((m) => machinePort(String(m.host))));
  return toAdd(ctx).filter((m) => !have.has(machinePort(String(m.host))));
}

/**
 * Adds members to a running replica set: replSetGetConfig on its primary, then one
 * replSetReconfig per member (MongoDB 4.4+ refuses a non-force reconfig that adds more than one
 * voting member, code 103, and waits for each config to reach a majority before the next), each
 * with the next free `_id` and config version + 1. Never adds a member twice: a member the
 * primary's config already lists (by machine and port) is in place, so a resume after a crash
 * adds only the rest. MongoDB manual: "Add Members to a Replica Set", replSetReconfig.
 * Throws OperationError when no primary is found within the operation's timeout, or when the
 * server refuses a reconfig (its code and message).
 */
export const addMembers: Operation = {
  async isDone(ctx) {
    const found = await readConfig(ctx);
    return found !== undefined && missing(ctx, found.config).length === 0;
  },
  async run(ctx) {
    const set = ctx.op.target.name;
    const timeout = planTimeoutMs(ctx, 120_000);
    const added: string[] = [];
    const deadline = Date.now() + timeout;
    for (;;) {
      // The primary is asked again for every member: a reconfig may be followed by an election.
      const found = await poll(() => readConfig(ctx), deadline - Date.now(), 100, ctx.signal);
      if (!found) {
        throw new OperationError(
          `replica set ${set} has no primary to add ${toAdd(ctx).map((m) => m.host).join(", ")} to${
            added.length ? ` (added so far: ${added.join(", ")})` : ""
          } (${noPrimaryCause(ctx)}); ${timeoutHint(ctx, timeout)}`,
          { noEffect: added.length === 0 },
        );
      }
      const [next] = missing(ctx, found.config);
      if (!next) break;
      const members = found.config.members as Document[];
      const sent = await sendReconfig(
        mongo(ctx),
        found,
        [...members, { _id: Math.max(-1, ...members.map((m) => Number(m._id))) + 1, ...next }],
        deadline,
        () => readConfig(ctx),
        ctx.signal,
        { what: `adding ${next.host} to ${set}`, untouched: added.length === 0 },
      );
      if (sent === "again") continue;
      added.push(String(next.host));
    }
    return {
      output: added.length
        ? `added ${added.join(", ")} to ${set}`
        : `${set} already lists ${toAdd(ctx).map((m) => m.host).join(", ")}`,
      metadata: { added },
      ...(added.length ? {} : { inPlace: true }),
    };
  },
};
