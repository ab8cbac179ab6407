import type { Document } from "mongodb";
import { poll, sleep, splitHostPort } from "../mongo/client.ts";
import { primaryConfig, sendReconfig } from "./reconfig_retry.ts";
import { machinePort } from "../topology/hosts.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";
import { noPrimaryCause, planTimeoutMs, timeoutHint } from "./timeout.ts";

/**
 * The members to add, as replSetInitiate/replSetReconfig member documents without `_id`
 * (`{host, priority?, votes?, hidden?, arbiterOnly?}`), param `add` (JSON), data-bearing members
 * first, arbiters last (addOrder); `members` (JSON list of `host:port`) is the set as recorded,
 * where the primary is looked for.
 */
const toAdd = (ctx: OperationContext): Document[] => addOrder(JSON.parse(param(ctx, "add")));
const recorded = (ctx: OperationContext): string[] => JSON.parse(param(ctx, "members"));

/**
 * `members` (member documents) with the data-bearing ones first and the arbiters last, each
 * kind in its given order: an arbiter joins only once the data-bearing members added before it
 * vote, so that no configuration on the way counts the arbiter's vote without theirs (the
 * implicit default write concern: lib/plan/implicit_write_concern.ts).
 */
export function addOrder<T extends { arbiterOnly?: boolean }>(members: T[]): T[] {
  return [...members.filter((m) => !m.arbiterOnly), ...members.filter((m) => m.arbiterOnly)];
}

/**
 * How many of the config's voting members (replSetGetConfig `votes`, default 1) do not vote
 * yet, and which members are in a state other than PRIMARY, SECONDARY or ARBITER
 * (`host:port (stateStr)`): MongoDB 4.4+ adds a data-bearing voting member `newlyAdded`, with
 * no vote until it is SECONDARY, and replSetGetConfig leaves that field out; replSetGetStatus's
 * `votingMembersCount` (4.4+, MemberConfig::isVoter) counts only those that vote. A count of
 * zero when the server does not report it (before 4.4, a member votes at once).
 */
async function notVotingYet(ctx: OperationContext, at: string, config: Document) {
  const st = await mongo(ctx).adminCommand(...splitHostPort(at), { replSetGetStatus: 1 });
  const others = ((st.members ?? []) as Document[]).filter((m) => ![1, 2, 7].includes(m.state));
  // stateStr "(not reachable/healthy)" comes with its own parentheses.
  const behind = others.map((m) =>
    `${m.name} ${String(m.stateStr).startsWith("(") ? m.stateStr : `(${m.stateStr})`}`
  );
  // Members this operation adds that the primary cannot reach (health 0): down.
  const adding = new Set(toAdd(ctx).map((m) => machinePort(String(m.host))));
  const down = others.filter((m) => m.health === 0 && adding.has(machinePort(String(m.name))))
    .map((m) => String(m.name));
  if (typeof st.votingMembersCount !== "number") return { count: 0, behind, down };
  const voting = (config.members as Document[]).filter((m) => Number(m.votes ?? 1) > 0).length;
  return { count: Math.max(0, voting - st.votingMembersCount), behind, down };
}

/** How long a member being added may stay unreachable before the wait for its vote gives up. */
const DOWN_GRACE_MS = 15_000;

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
 * with the next free `_id` and config version + 1. Data-bearing members go first; before each
 * arbiter it waits until every voting member of the config votes (notVotingYet: the new
 * members' initial syncs done), so an arbiter never joins a config that counts its vote and not
 * theirs. Never adds a member twice: a member the primary's config already lists (by machine
 * and port) is in place, so a resume after a crash adds only the rest. MongoDB manual: "Add
 * Members to a Replica Set", replSetReconfig. Throws OperationError when no primary is found,
 * or the members do not all vote, within the operation's timeout, or when the server refuses a
 * reconfig (its code and message).
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
    /** Members being added that the primary could not reach, since when (ms). */
    const downSince = new Map<string, number>();
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
      if (next.arbiterOnly) {
        // A status that cannot be read is waited on like a member without its vote.
        const waiting = await notVotingYet(ctx, found.at, found.config).catch((e) => ({
          count: 1,
          behind: [`replSetGetStatus on ${found.at} failed: ${(e as Error).message}`],
          down: [] as string[],
        }));
        // A new member that stays unreachable cannot finish its initial sync: waiting the
        // rest of the timeout (an hour by default) would not help (tester70).
        const now = Date.now();
        for (const m of [...downSince.keys()]) if (!waiting.down.includes(m)) downSince.delete(m);
        for (const m of waiting.down) if (!downSince.has(m)) downSince.set(m, now);
        const gone = [...downSince].filter(([, t]) => now - t >= DOWN_GRACE_MS).map(([m]) => m);
        if (waiting.count > 0 && gone.length) {
          throw new OperationError(
            `${gone.join(", ")}, added to ${set}, ${
              gone.length === 1 ? "has" : "have"
            } not been reachable from its primary ${found.at} for ${DOWN_GRACE_MS / 1000}s: ${
              gone.length === 1 ? "its" : "their"
            } initial sync cannot finish, so arbiter ${next.host} was not added. ` +
              `\`mup cluster display ${ctx.plan.cluster_name}\` shows why; \`mup plan resume ` +
              `${ctx.plan.cluster_name}\` starts what this plan started and waits again`,
            { noEffect: added.length === 0 },
          );
        }
        if (waiting.count > 0) {
          // The new members' initial syncs go on without mup: the first Ctrl-C stops the
          // waiting (tester70), a resume waits again.
          if (ctx.pause?.aborted) {
            throw new OperationError(
              `stopped waiting for ${set}'s new members to vote (${waiting.count} not yet${
                waiting.behind.length ? `: ${waiting.behind.join(", ")}` : ""
              }): their initial syncs go on, and \`mup plan resume ${ctx.plan.cluster_name}\` ` +
                `waits again, then adds arbiter ${next.host}${
                  added.length ? ` (added so far: ${added.join(", ")})` : ""
                }`,
              { stoppedWaiting: true, noEffect: added.length === 0 },
            );
          }
          if (Date.now() >= deadline || ctx.signal.aborted) {
            throw new OperationError(
              `${waiting.count} of ${set}'s members ${
                waiting.count === 1 ? "does" : "do"
              } not vote yet${
                waiting.behind.length ? ` (${waiting.behind.join(", ")})` : ""
              }: MongoDB gives a new member its vote once its initial sync is done and it is ` +
                `SECONDARY, and arbiter ${next.host} joins only after that${
                  added.length ? ` (added so far: ${added.join(", ")})` : ""
                }. \`mup cluster display ${ctx.plan.cluster_name}\` shows each member's ` +
                `state; ${timeoutHint(ctx, timeout)}`,
              { noEffect: added.length === 0 },
            );
          }
          await sleep(500, ctx.signal);
          continue;
        }
      }
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
