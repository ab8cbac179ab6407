import { poll } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, OperationError } from "./operation.ts";

/**
 * replSetStepDown on the set's primary (MongoDB's reference: replSetStepDown waits up to
 * secondaryCatchUpPeriodSecs for an electable secondary to catch up, and refuses without one
 * unless forced; it never forces here). Done when the target is no longer primary.
 */
export const stepDown: Operation = {
  async isDone(ctx) {
    const h = await mongo(ctx).hello(ctx.op.target.host!, ctx.op.target.port!);
    return !h?.isWritablePrimary;
  },
  async run(ctx) {
    const { host, port } = ctx.op.target;
    // Numbers on the target; a plan made before kept them as strings in its params.
    const t = ctx.op.target;
    const secs = Number(t.step_down_secs ?? t.params.step_down_secs ?? 60);
    const catchUp = Number(t.catch_up_secs ?? t.params.catch_up_secs ?? 10);
    try {
      await mongo(ctx).adminCommand(host!, port!, {
        replSetStepDown: secs,
        secondaryCatchUpPeriodSecs: catchUp,
      }, (catchUp + 10) * 1000);
    } catch (e) {
      const code = (e as { code?: number }).code;
      // Older servers close connections on step-down: the client sees a network error.
      const network = code === undefined && /close|reset|network/i.test((e as Error).message);
      // 10107 NotWritablePrimary: it stopped being primary since isDone looked (a member of
      // higher priority took over): the effect this operation wants is in place.
      if (!network && code !== 10107) {
        throw new OperationError(
          `replSetStepDown on ${host}:${port} failed: ${(e as Error).message}`,
        );
      }
    }
    const gone = await poll(
      async () =>
        (await mongo(ctx).hello(host!, port!))?.isWritablePrimary === false ? true : undefined,
      30_000,
      100,
      ctx.signal,
    );
    if (!gone) throw new OperationError(`${host}:${port} is still primary after replSetStepDown`);
    return { output: `${host}:${port} stepped down` };
  },
};
