import { type MongoAccess, poll, splitHostPort } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, OperationError, param } from "./operation.ts";
import { sameMember, selfPrimary, votersDown } from "./replset_status.ts";
import { assertSetName } from "./set_name.ts";
import { membersDownAdvice, planTimeoutMs, resumeStartsIt, waitedFor } from "./timeout.ts";
import { sustained } from "../util/timer.ts";
import { processExited } from "./process.ts";

/** How long a set may lack a majority of its votes before the wait gives up on it, in ms. */
const NO_MAJORITY_MS = 15_000;
/** How long the set is given to elect a primary, once the member to take it back has exited. */
const EXITED_PRIMARY_WAIT_MS = 10_000;

/**
 * The set's primary (selfPrimary), if it is not `not` (the member that just stepped down) and,
 * with `is`, is that member (the one priority takeover brings back).
 */
async function primary(
  m: MongoAccess,
  members: string[],
  not?: string,
  is?: string,
  set?: string,
): Promise<string | undefined> {
  const p = await selfPrimary(m, members, set);
  return p && !sameMember(p, not) && (!is || sameMember(p, is)) ? p : undefined;
}

/**
 * Waits until the replica set has a primary (other than params.not, when given; params.is
 * itself, when given). Read-only, but for params.unfreeze ("true", with `is`): `is` is first
 * sent `replSetFreeze: 0`, which ends a step-down period it may still be in (replSetStepDown's
 * stepDownSecs, 60 s by default: an earlier reconfigure's or an operator's), during which it
 * stands for no election and would leave the wait silent for up to a minute (tester111 #4).
 * MongoDB's prepareFreezeResponse: 0 "unfreezes" a secondary; a primary refuses it (95,
 * NotSecondary), which changes nothing here.
 */
export const waitForPrimary: Operation = {
  async isDone(ctx) {
    const { not, is } = ctx.op.target.params;
    const members = JSON.parse(param(ctx, "members"));
    return (await primary(mongo(ctx), members, not, is, ctx.op.target.name)) !== undefined;
  },
  async run(ctx) {
    const members = JSON.parse(param(ctx, "members")) as string[];
    const timeout = planTimeoutMs(ctx, 60_000);
    const { not, is } = ctx.op.target.params;
    const t0 = Date.now();
    const set = ctx.op.target.name;
    const unfrozen = is && ctx.op.target.params.unfreeze === "true"
      ? await mongo(ctx).adminCommand(...splitHostPort(is), { replSetFreeze: 0 }, 10_000).then(
        () => true,
        () => false,
      )
      : false;
    // A member on another set's data never joins this one: say so now rather than time out.
    await assertSetName(ctx, mongo(ctx), members, set);
    // A set that lacks a majority of its votes elects no primary however long the wait: after
    // NO_MAJORITY_MS of that (looked at once a second) the wait ends, naming the members down.
    let look = t0;
    const lasting = sustained(NO_MAJORITY_MS);
    let hopeless: { down: string[]; voting: number } | undefined;
    let exited = false;
    const { is_host, is_pid_file } = ctx.op.target.params;
    const abort = new AbortController();
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, abort.signal]) : abort.signal;
    const p = await poll(
      async () => {
        const found = await primary(mongo(ctx), members, not, is, set);
        if (found !== undefined || Date.now() < look) return found;
        look = Date.now() + 1000;
        // The member to take the primary back has exited: it never will.
        if (is && await processExited(ctx, is_host, is_pid_file)) {
          (exited = true), abort.abort();
          return undefined;
        }
        const v = await votersDown(mongo(ctx), members);
        if (lasting(v.down.length * 2 >= v.voting ? "no majority" : undefined)) {
          (hopeless = v), abort.abort();
        }
        return undefined;
      },
      timeout,
      100,
      signal,
    );
    if (!p && hopeless) {
      const { advice, replan } = membersDownAdvice(ctx, hopeless.down);
      throw new OperationError(
        `replica set ${set} has no primary and cannot elect one: ${hopeless.down.length} of its ` +
          `${hopeless.voting} voting members do not answer (${hopeless.down.join(", ")})${
            is ? `, so ${is} cannot take the primary back` : ""
          }; ${advice}`,
        replan ? { replan } : {},
      );
    }
    if (!p && exited) {
      // Killed mid-election (its priority takeover), it leaves the others to elect one: the
      // primary they elect is named, waited for a few seconds at most (ci-132).
      const now = await poll(
        () => primary(mongo(ctx), members, undefined, undefined, set),
        Math.min(EXITED_PRIMARY_WAIT_MS, Math.max(0, t0 + timeout - Date.now())),
        200,
        ctx.signal,
      );
      throw new OperationError(
        `${is} exited before it took the primary of ${set} back (no live PID in ${is_pid_file})${
          now ? `; ${now} is the primary meanwhile` : ""
        }: waiting longer would not help; ${resumeStartsIt(ctx)}`,
      );
    }
    if (!p) {
      // It may have come up on another set's data meanwhile (a restarted member).
      await assertSetName(ctx, mongo(ctx), members, set);
      // A primary other than the one waited for is named: the set is not without one.
      const now = is ? await primary(mongo(ctx), members, undefined, undefined, set) : undefined;
      throw new OperationError(
        now
          ? `${is} did not take the primary of ${set} back ${
            waitedFor(t0, timeout, "within")
          } (${now} is the primary)`
          : `replica set ${set} has no primary${not ? ` other than ${not}` : ""}${
            is ? `: ${is} did not take it back` : ""
          } ${waitedFor(t0, timeout)}`,
      );
    }
    return {
      output: `primary ${p} after ${Date.now() - t0}ms${
        unfrozen ? ` (${is} was sent replSetFreeze 0 first: no step-down period held it back)` : ""
      }`,
      metadata: { primary: p },
    };
  },
};
