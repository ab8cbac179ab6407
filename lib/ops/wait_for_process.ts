import { hello, poll } from "../mongo/client.ts";
import { durationParam, type Operation, OperationError } from "./operation.ts";

/** Waits until the process answers `hello`. */
export const waitForProcess: Operation = {
  async isDone(ctx) {
    return (await hello(ctx.op.target.host!, ctx.op.target.port!)) !== undefined;
  },
  async run(ctx) {
    const { host, port } = ctx.op.target;
    const timeout = durationParam(ctx, "timeout_ms", 30_000);
    const t0 = Date.now();
    const h = await poll(() => hello(host!, port!, 1000), timeout, 50, ctx.signal);
    if (!h) throw new OperationError(`${host}:${port} did not answer within ${timeout / 1000}s`);
    return { output: `answered after ${Date.now() - t0}ms (maxWireVersion ${h.maxWireVersion})` };
  },
};
