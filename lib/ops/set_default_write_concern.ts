import type { Document } from "mongodb";
import { poll } from "../mongo/client.ts";
import { splitHostPort } from "../topology/hosts.ts";
import { mongo } from "./cluster_client.ts";
import { selfPrimary } from "./replset_status.ts";
import { readDefaults } from "../probe/default_write_concern.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";
import { noPrimaryCause, planTimeoutMs, timeoutHint } from "./timeout.ts";
import { serverMessage } from "../mongo/server_error.ts";

/**
 * The cluster-wide default write concern (CWWC) to set, param `concern` (JSON
 * `{w: "majority" | n, j?, wtimeout? (ms)}`); `members` (JSON list of `host:port`): a replica
 * set's members, its primary asked, or (`via` "mongos") the cluster's mongos, the first that
 * answers asked.
 */
const wanted = (ctx: OperationContext): Document => JSON.parse(param(ctx, "concern"));
const members = (ctx: OperationContext): string[] => JSON.parse(param(ctx, "members"));
const viaMongos = (ctx: OperationContext) => ctx.op.target.params.via === "mongos";

/** Where the command goes: the set's primary, or the first mongos that answers hello. */
async function server(ctx: OperationContext): Promise<string | undefined> {
  if (!viaMongos(ctx)) return await selfPrimary(mongo(ctx), members(ctx));
  for (const m of members(ctx)) {
    if (await mongo(ctx).hello(...splitHostPort(m))) return m;
  }
  return undefined;
}

/** Whether `have` (getDefaultRWConcern's defaultWriteConcern) is the `want`ed concern. */
export function sameConcern(have: Document | undefined, want: Document): boolean {
  if (!have) return false;
  return String(have.w) === String(want.w) && (have.j ?? undefined) === (want.j ?? undefined) &&
    Number(have.wtimeout ?? 0) === Number(want.wtimeout ?? 0);
}

/**
 * The cluster-wide default write concern at `at` (getDefaultRWConcern's `defaultWriteConcern`),
 * undefined when none is set: from 5.0 the reply shows an implicit `{w: "majority"}` too, with
 * `defaultWriteConcernSource` "implicit", which is not one set.
 */
async function current(ctx: OperationContext, at: string): Promise<Document | undefined> {
  const [host, port] = splitHostPort(at);
  const r = await readDefaults(mongo(ctx), [{ host, port }]);
  return r?.source === "global" ? r.value : undefined;
}

/**
 * Sets the cluster-wide default write concern with setDefaultRWConcern (MongoDB 4.4+), on a
 * replica set's primary or through mongos (kept by the config servers), so that a write naming
 * no write concern gets it instead of the implicit default (`{w: "majority"}`, or `{w: 1}` with
 * arbiters). MongoDB manual: setDefaultRWConcern, "Default MongoDB Read Concerns/Write
 * Concerns". In place when getDefaultRWConcern already returns it (a resume sets nothing twice).
 * Throws OperationError when no primary or mongos answers within the operation's timeout, or
 * with the server's refusal (a `w` greater than the data-bearing members, code and message).
 */
export const setDefaultWriteConcern: Operation = {
  async isDone(ctx) {
    // A run cut off may have set it on the primary without a majority's acknowledgement: sent
    // again (the same value changes nothing), with the majority waited for.
    if ((ctx.executions ?? 0) > 0) return false;
    const at = await server(ctx).catch(() => undefined);
    if (!at) return false;
    return sameConcern(await current(ctx, at), wanted(ctx));
  },
  async run(ctx) {
    const timeout = planTimeoutMs(ctx, 60_000);
    const at = await poll(() => server(ctx), timeout, 200, ctx.signal);
    const want = wanted(ctx);
    const what = JSON.stringify(want);
    if (!at) {
      throw new OperationError(
        `no ${
          viaMongos(ctx) ? "mongos" : `primary of ${ctx.op.target.name}`
        } answers to set the default write concern ${what} (${
          viaMongos(ctx) ? members(ctx).join(", ") : noPrimaryCause(ctx)
        }); ${timeoutHint(ctx, timeout)}`,
        { noEffect: true },
      );
    }
    if (
      !ctx.executions && sameConcern(await current(ctx, at), want)
    ) {
      return { output: `the default write concern is ${what} already`, inPlace: true };
    }
    // The majority's acknowledgement is waited for within the operation's time, not forever.
    const wtimeout = Math.max(1000, Math.min(timeout, 60_000));
    try {
      await mongo(ctx).adminCommand(...splitHostPort(at), {
        setDefaultRWConcern: 1,
        defaultWriteConcern: want,
        writeConcern: { w: "majority", wtimeout },
      }, wtimeout + 15_000);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      const name = ctx.plan.cluster_name;
      // 64 WriteConcernFailed: written on the primary, not yet on a majority.
      throw new OperationError(
        code === 64 || /WriteConcern/i.test(String((e as Error).message))
          ? `setDefaultRWConcern ${what} on ${at}: set there, but a majority of the ` +
            `members did not acknowledge it within ${wtimeout / 1000}s (members down?): ` +
            `\`mup cluster display ${name}\` shows them. \`mup cluster start ${name}\` starts ` +
            `them; then run the ${ctx.plan.operation} again: it sets it again and waits (members ` +
            `that come back otherwise: \`mup plan resume ${name}\` does)`
          : `setDefaultRWConcern ${what} on ${at} failed: ${serverMessage(e)}`,
        { noEffect: typeof code === "number" && code !== 64 },
      );
    }
    return { output: `default write concern set to ${what} through ${at}` };
  },
};
