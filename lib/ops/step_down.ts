import { hostPort } from "../topology/hosts.ts";
import { poll } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError } from "./operation.ts";
import { serverMessage } from "../mongo/server_error.ts";

/** How long a step-down waits for a set holding an election to have a primary again. */
const ELECTION_WAIT_MS = 30_000;

type PrimaryNow = "primary" | "other" | "none" | "silent";

/**
 * What the target says of the set (hello): "primary" (it is), "other" (another member is
 * primary), "none" (no primary now: an election is under way) or "silent" (no answer).
 */
async function primaryNow(ctx: OperationContext): Promise<PrimaryNow> {
  const h = await mongo(ctx).hello(ctx.op.target.host!, ctx.op.target.port!);
  if (!h) return "silent";
  if (h.isWritablePrimary) return "primary";
  return typeof h.primary === "string" && h.primary !== h.me ? "other" : "none";
}

/** Waits (polling every `everyMs`) until the target's answer is one of `want`; the last seen. */
async function until(
  ctx: OperationContext,
  want: PrimaryNow[],
  ms: number,
  everyMs = 200,
): Promise<{ now?: PrimaryNow; last: PrimaryNow }> {
  let last: PrimaryNow = "silent";
  const now = await poll(
    async () => {
      last = await primaryNow(ctx);
      return want.includes(last) ? last : undefined;
    },
    ms,
    everyMs,
    ctx.signal,
  );
  return { now, last };
}

/**
 * Leaves the target (ctx.op.target: host, port; step_down_secs, catch_up_secs) a member that is
 * not primary while another member is, and that cannot take the primary back for
 * step_down_secs (default 60). Returns what it did, as an operation's output.
 *
 * - primary: replSetStepDown (MongoDB's reference: it waits up to secondaryCatchUpPeriodSecs for
 *   an electable secondary to catch up and refuses without one; never forced here), which also
 *   keeps it from standing again for step_down_secs; then waits until another member is primary.
 * - another member is primary: replSetFreeze for step_down_secs. A member of higher priority
 *   than the primary calls an election once it is caught up (priority takeover); frozen, it
 *   does not, so a stop planned after this step never stops a primary. replSetFreeze "prevents
 *   a replica set member from seeking election"; a member that became primary meanwhile refuses
 *   it (NotSecondary) and is stepped down instead.
 * - no primary (an election under way) or no answer: waits up to 30 s for one of the above.
 *
 * Throws OperationError when the set has no primary for 30 s, when replSetStepDown fails (no
 * secondary caught up, …) or when the target is still primary afterwards.
 */
export async function stepDownMember(ctx: OperationContext): Promise<string> {
  const host = ctx.op.target.host!;
  const port = ctx.op.target.port!;
  const me = hostPort(host, port);
  // Numbers on the target; a plan made before kept them as strings in its params.
  const t = ctx.op.target;
  const secs = Number(t.step_down_secs ?? t.params.step_down_secs ?? 60);
  const catchUp = Number(t.catch_up_secs ?? t.params.catch_up_secs ?? 10);
  const set = t.params.replica_set ?? `of ${me}`;
  for (let attempt = 0;; attempt++) {
    // Until the set has a primary: the target (step it down) or another member (freeze it).
    const { now, last } = await until(ctx, ["primary", "other"], ELECTION_WAIT_MS);
    if (now === undefined) {
      throw new OperationError(
        last === "silent"
          ? `${me} did not answer for ${ELECTION_WAIT_MS / 1000}s; nothing was stepped down`
          : `replica set ${set} had no primary for ${ELECTION_WAIT_MS / 1000}s (asked ${me}); ` +
            "nothing was stepped down",
      );
    }
    if (now === "other") {
      try {
        await mongo(ctx).adminCommand(host, port, { replSetFreeze: secs });
        return `another member is primary; ${me} is not, and is frozen for ${secs}s so that it ` +
          "does not take the primary back (priority takeover) before its stop";
      } catch (e) {
        // 95 NotSecondary: it became primary (or stands for election) since it was asked.
        if ((e as { code?: number }).code !== 95 || attempt >= 3) {
          throw new OperationError(`replSetFreeze on ${me} failed: ${serverMessage(e)}`);
        }
        continue;
      }
    }
    try {
      await mongo(ctx).adminCommand(host, port, {
        replSetStepDown: secs,
        secondaryCatchUpPeriodSecs: catchUp,
      }, (catchUp + 10) * 1000);
    } catch (e) {
      const code = (e as { code?: number }).code;
      // Older servers close connections on step-down: the client sees a network error.
      const network = code === undefined && /close|reset|network/i.test((e as Error).message);
      // 10107 NotWritablePrimary: it stopped being primary since it was asked (an election
      // elsewhere); whether another member took over is checked below.
      if (!network && code !== 10107) {
        // 262 ExceededTimeLimit: no electable secondary caught up. The server suggests
        // {force: true}, which steps down without one and can roll back acknowledged writes.
        const lone = code === 262 ? await onlyElectable(ctx, me) : undefined;
        throw new OperationError(
          `replSetStepDown on ${me} failed: ${serverMessage(e)}${
            lone
              ? ` (${me} is the only member of ${set} that can be primary: ${lone} ` +
                `priority 0 in the set's configuration, set since this plan was made. Give a ` +
                `secondary a priority above 0 again (replSetReconfig), then \`mup plan resume ` +
                `${ctx.plan.cluster_name}\`; mup never forces a step-down)`
              : code === 262
              ? ` (mup never forces a step-down: a forced one can lose writes no secondary ` +
                `has; once a secondary is up and caught up, \`mup plan resume ` +
                `${ctx.plan.cluster_name}\` tries again)`
              : ""
          }`,
        );
      }
    }
    const gone = await until(ctx, ["other", "none", "silent"], 30_000, 100);
    if (!gone.now) throw new OperationError(`${me} is still primary after replSetStepDown`);
    return `${me} stepped down`;
  }
}

/**
 * When no member of the target's set but the target (`me`) can be primary (every other one
 * that is not an arbiter has priority 0 in replSetGetConfig; MongoDB docs: "Priority 0 Replica
 * Set Members"), the others as "h:p has" / "h:p and h:q have"; else (or when the configuration
 * cannot be read) undefined.
 */
async function onlyElectable(ctx: OperationContext, me: string): Promise<string | undefined> {
  const reply = await mongo(ctx).adminCommand(ctx.op.target.host!, ctx.op.target.port!, {
    replSetGetConfig: 1,
  }).catch(() => undefined) as
    | { config?: { members?: { host: string; priority?: number; arbiterOnly?: boolean }[] } }
    | undefined;
  const members = reply?.config?.members;
  if (!members) return undefined;
  const others = members.filter((m) => m.host !== me && !m.arbiterOnly);
  if (!others.length || others.some((m) => (m.priority ?? 1) > 0)) return undefined;
  const names = others.map((m) => m.host);
  return names.length === 1 ? `${names[0]} has` : `${names.join(" and ")} have`;
}

/**
 * replSetStepDown on the set's primary (stepDownMember). Done when another member is primary
 * and the target cannot take it back: the latter is not something a member reports, so the
 * operation always runs; running it again only freezes the target again (idempotent). A target
 * that is merely not primary at the moment (an election under way, no answer) may well be
 * elected again, and is waited for.
 */
export const stepDown: Operation = {
  isDone() {
    return Promise.resolve(false);
  },
  async run(ctx) {
    return { output: await stepDownMember(ctx) };
  },
};
