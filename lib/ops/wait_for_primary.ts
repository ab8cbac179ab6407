import { type MongoAccess, poll } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, OperationError, param } from "./operation.ts";
import { primaryName, setStatus } from "./replset_status.ts";
import { assertSetName } from "./set_name.ts";
import { planTimeoutMs } from "./timeout.ts";

/**
 * The set's primary, if it is not `not` (the member that just stepped down) and, with `is`, is
 * that member (the one priority takeover brings back).
 */
async function primary(
  m: MongoAccess,
  members: string[],
  not?: string,
  is?: string,
  set?: string,
): Promise<string | undefined> {
  const st = await setStatus(m, members);
  // A primary of another set (members on data of another set) is not this set's primary.
  if (set !== undefined && st?.set !== set) return undefined;
  const p = primaryName(st);
  return p && p !== not && (!is || p === is) ? p : undefined;
}

/**
 * Waits until the replica set has a primary (other than params.not, when given; params.is
 * itself, when given). Read-only.
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
    // A member on another set's data never joins this one: say so now rather than time out.
    await assertSetName(ctx, mongo(ctx), members, set);
    const p = await poll(
      () => primary(mongo(ctx), members, not, is, set),
      timeout,
      100,
      ctx.signal,
    );
    if (!p) {
      // It may have come up on another set's data meanwhile (a restarted member).
      await assertSetName(ctx, mongo(ctx), members, set);
      throw new OperationError(
        `replica set ${ctx.op.target.name} has no primary${not ? ` other than ${not}` : ""}${
          is ? `: ${is} did not take it back` : ""
        } after ${timeout / 1000}s`,
      );
    }
    return { output: `primary ${p} after ${Date.now() - t0}ms`, metadata: { primary: p } };
  },
};
