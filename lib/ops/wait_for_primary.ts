import { type MongoAccess, poll } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, OperationError, param } from "./operation.ts";
import { primaryName, setStatus } from "./replset_status.ts";

/** The set's primary, if it is not `not` (the member that just stepped down). */
async function primary(
  m: MongoAccess,
  members: string[],
  not?: string,
): Promise<string | undefined> {
  const p = primaryName(await setStatus(m, members));
  return p && p !== not ? p : undefined;
}

/** Waits until the replica set has a primary (other than params.not, when given). Read-only. */
export const waitForPrimary: Operation = {
  async isDone(ctx) {
    return (await primary(
      mongo(ctx),
      JSON.parse(param(ctx, "members")),
      ctx.op.target.params.not,
    )) !==
      undefined;
  },
  async run(ctx) {
    const members = JSON.parse(param(ctx, "members")) as string[];
    const timeout = Number(ctx.op.target.params.timeout_ms ?? 60_000);
    const t0 = Date.now();
    const p = await poll(
      () => primary(mongo(ctx), members, ctx.op.target.params.not),
      timeout,
      100,
      ctx.signal,
    );
    if (!p) {
      throw new OperationError(
        `replica set ${ctx.op.target.name} has no primary${
          ctx.op.target.params.not ? ` other than ${ctx.op.target.params.not}` : ""
        } after ${timeout / 1000}s`,
      );
    }
    return { output: `primary ${p} after ${Date.now() - t0}ms`, metadata: { primary: p } };
  },
};
