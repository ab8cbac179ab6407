import { hostPort } from "../topology/hosts.ts";
import { poll } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError } from "./operation.ts";

/** How long a step-down waits for a set holding an election to have a primary again. */
const ELECTION_WAIT_MS = 30_000;

/**
 * What the target says of the set (hello): "primary" (it is), "other" (another member is
 * primary), "none" (no primary now: an election is under way) or "silent" (no answer).
 */
async function primaryNow(ctx: OperationContext): Promise<"primary" | "other" | "none" | "silent"> {
  const h = await mongo(ctx).hello(ctx.op.target.host!, ctx.op.target.port!);
  if (!h) return "silent";
  if (h.isWritablePrimary) return "primary";
  return typeof h.primary === "string" && h.primary !== h.me ? "other" : "none";
}

/**
 * replSetStepDown on the set's primary (MongoDB's reference: replSetStepDown waits up to
 * secondaryCatchUpPeriodSecs for an electable secondary to catch up, and refuses without one
 * unless forced; it never forces here). Done when another member is primary: a target that is
 * merely not primary at the moment (an election under way, no answer) is not done, since it may
 * well be elected again.
 */
export const stepDown: Operation = {
  async isDone(ctx) {
    return (await primaryNow(ctx)) === "other";
  },
  async run(ctx) {
    const host = ctx.op.target.host!;
    const port = ctx.op.target.port!;
    const me = hostPort(host, port);
    // Numbers on the target; a plan made before kept them as strings in its params.
    const t = ctx.op.target;
    const secs = Number(t.step_down_secs ?? t.params.step_down_secs ?? 60);
    const catchUp = Number(t.catch_up_secs ?? t.params.catch_up_secs ?? 10);
    // Until the set has a primary: the target (step it down) or another member (done).
    let last: Awaited<ReturnType<typeof primaryNow>> = "silent";
    const now = await poll(
      async () => {
        last = await primaryNow(ctx);
        return last === "primary" || last === "other" ? last : undefined;
      },
      ELECTION_WAIT_MS,
      200,
      ctx.signal,
    );
    if (now === "other") {
      return { output: `another member is primary; ${me} is not` };
    }
    if (now === undefined) {
      throw new OperationError(
        last === "silent"
          ? `${me} did not answer for ${ELECTION_WAIT_MS / 1000}s; nothing was stepped down`
          : `replica set ${t.params.replica_set ?? `of ${me}`} had no primary for ` +
            `${ELECTION_WAIT_MS / 1000}s (asked ${me}); nothing was stepped down`,
      );
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
        throw new OperationError(
          `replSetStepDown on ${me} failed: ${(e as Error).message}`,
        );
      }
    }
    const gone = await poll(
      async () => (await primaryNow(ctx)) === "primary" ? undefined : true,
      30_000,
      100,
      ctx.signal,
    );
    if (!gone) {
      throw new OperationError(`${me} is still primary after replSetStepDown`);
    }
    return { output: `${me} stepped down` };
  },
};
