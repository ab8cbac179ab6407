/**
 * What a shard operation says when the mongos it works through has gone: its error carries no
 * server code (the connection failed) and the mongos does not answer `hello`. A resume alone
 * would fail the same way when this plan never starts that mongos.
 */
import { hostPort } from "../topology/hosts.ts";
import { mongo } from "./cluster_client.ts";
import type { OperationContext } from "./operation.ts";
import { membersDownAdvice } from "./timeout.ts";

/**
 * `{ advice, replan }` (membersDownAdvice: the resume, or the start of the mongos then the plan
 * made again) when error `e` is a failed connection to the operation's target mongos and that
 * mongos does not answer now; undefined otherwise (a server's refusal, or a mongos that
 * answers). Asks hello once.
 */
export async function routerDown(
  ctx: OperationContext,
  e: unknown,
): Promise<{ advice: string; replan?: string } | undefined> {
  if (typeof (e as { code?: unknown }).code === "number") return undefined;
  const { host, port } = ctx.op.target;
  if (!host || port === undefined) return undefined;
  if (await mongo(ctx).hello(host, port).catch(() => undefined)) return undefined;
  // Its command was sent: an addShard may have reached the config servers before it died.
  const down = membersDownAdvice(ctx, [hostPort(host, port)], true);
  return {
    advice: `mongos ${hostPort(host, port)} does not answer: ${down.advice}`,
    replan: down.replan,
  };
}
