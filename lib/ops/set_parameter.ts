import { hostPort } from "../topology/hosts.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";
import { serverMessage } from "../mongo/server_error.ts";

/** The parameter's value on the target process now (getParameter), or undefined unreachable. */
async function current(ctx: OperationContext): Promise<string | undefined> {
  const host = ctx.op.target.host!;
  const port = ctx.op.target.port!;
  const name = param(ctx, "name");
  const r = await mongo(ctx).adminCommand(host, port, { getParameter: 1, [name]: 1 });
  return r[name] === undefined ? undefined : String(r[name]);
}

/**
 * `setParameter` of one runtime server parameter on one process (MongoDB reference:
 * setParameter; `tlsMode` moves only allowTLS → preferTLS → requireTLS, one step at a time, so a
 * requireTLS found at allowTLS goes through preferTLS; setting the current value again is
 * refused, so the effect is looked at first). Done when getParameter already answers the value.
 */
export const setParameter: Operation = {
  async isDone(ctx) {
    return (await current(ctx).catch(() => undefined)) === param(ctx, "value");
  },
  async run(ctx) {
    const host = ctx.op.target.host!;
    const port = ctx.op.target.port!;
    const me = hostPort(host, port);
    const name = param(ctx, "name");
    const value = param(ctx, "value");
    try {
      // tlsMode moves one step at a time: a member found two steps back (restarted from a
      // configuration with allowTLS after its preferTLS step) takes the step between first.
      const via = name === "tlsMode" && value === "requireTLS" &&
          (await current(ctx).catch(() => undefined)) === "allowTLS"
        ? "preferTLS"
        : undefined;
      if (via) await mongo(ctx).adminCommand(host, port, { setParameter: 1, [name]: via });
      const r = await mongo(ctx).adminCommand(host, port, { setParameter: 1, [name]: value });
      return {
        output: `${me} ${name}: ${via ? `allowTLS → ${via}` : r.was ?? "?"} → ${value}`,
        ...(via
          ? {
            notice: `${me} was in allowTLS (restarted since its preferTLS step): set to ` +
              `preferTLS first, as MongoDB moves tlsMode one step at a time`,
          }
          : {}),
      };
    } catch (e) {
      // Someone (or an earlier attempt whose reply was lost) set it meanwhile: the effect is in place.
      if ((await current(ctx).catch(() => undefined)) === value) {
        return { output: `${me} ${name} is ${value}` };
      }
      throw new OperationError(
        `setParameter ${name}: ${value} on ${me} failed: ${serverMessage(e)}`,
      );
    }
  },
};
