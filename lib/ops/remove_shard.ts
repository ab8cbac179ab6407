import type { Document } from "mongodb";
import { sleep } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";
import { routerDown } from "./router_down.ts";
import { planTimeoutMs, timeoutHint, waitedFor } from "./timeout.ts";
import { serverMessage } from "../mongo/server_error.ts";

/** NotWritablePrimary, PrimarySteppedDown, HostUnreachable, …: asked again. */
const TRANSIENT = new Set([133, 6, 7, 10107, 189, 91, 11600, 13436]);

const router = (ctx: OperationContext) => [ctx.op.target.host!, ctx.op.target.port!] as const;

async function listed(ctx: OperationContext): Promise<boolean> {
  const r = await mongo(ctx).adminCommand(...router(ctx), { listShards: 1 });
  return (r.shards as Document[]).some((s) => s._id === param(ctx, "name"));
}

/**
 * Removes a shard through mongos as the MongoDB manual's "Remove Shards from a Sharded Cluster"
 * does: removeShard starts the draining (the balancer moves its chunks to the other shards),
 * then is asked again until it reports `completed`; the databases whose primary shard it is
 * (removeShard's `dbsToMove`) are moved with movePrimary to `move_primary_to` as they appear.
 * Draining needs the balancer: with it off (balancerStatus mode "off") nothing would move, so
 * the operation fails at once, naming it. A shard listShards no longer lists is removed (isDone),
 * so a resume asks again from where draining stands. Progress (chunks and databases left) goes
 * to the operation's log. Throws OperationError on a refusal (its code and message) or when the
 * operation's timeout (default 1 hour; `--wait-timeout`) passes first.
 */
/**
 * Whether the balancer is off (balancerStatus `mode`, through the operation's mongos): only it
 * moves a draining shard's chunks. False when mongos does not answer.
 */
async function balancerOff(ctx: OperationContext): Promise<boolean> {
  const status = await mongo(ctx).adminCommand(...router(ctx), { balancerStatus: 1 })
    .catch(() => undefined);
  return status?.mode === "off";
}

export const removeShard: Operation = {
  async isDone(ctx) {
    try {
      return !(await listed(ctx));
    } catch {
      return false;
    }
  },
  async run(ctx) {
    const name = param(ctx, "name");
    const to = param(ctx, "move_primary_to");
    const timeout = planTimeoutMs(ctx, 3_600_000);
    const end = Date.now() + timeout;
    if (await balancerOff(ctx)) {
      throw new OperationError(
        `the balancer is off, and removing shard ${name} needs it to move its chunks ` +
          '(MongoDB manual, "Remove Shards from a Sharded Cluster"): start it ' +
          "(sh.startBalancer()), then resume",
        { noEffect: true },
      );
    }
    let last = "";
    let moved = 0;
    for (;;) {
      let r: Document;
      try {
        r = await mongo(ctx).adminCommand(...router(ctx), { removeShard: name }, 60_000);
      } catch (e) {
        const code = (e as { code?: number }).code;
        // ShardNotFound: removed meanwhile (this run's earlier call, or a resume's).
        if (code === 70 && !(await listed(ctx).catch(() => true))) break;
        if (!TRANSIENT.has(code ?? -1) || Date.now() > end || ctx.signal.aborted) {
          const gone = await routerDown(ctx, e);
          throw new OperationError(
            `removeShard ${name} failed: ${serverMessage(e)}${gone ? `; ${gone.advice}` : ""}`,
            {
              noEffect: typeof code === "number" && last === "",
              ...(gone?.replan ? { replan: gone.replan } : {}),
            },
          );
        }
        await sleep(500, ctx.signal);
        continue;
      }
      if (r.state === "completed") break;
      for (const db of (r.dbsToMove ?? []) as string[]) {
        await mongo(ctx).adminCommand(...router(ctx), { movePrimary: db, to }, 600_000);
        moved++;
        ctx.log(`moved the primary of database ${db} to ${to}`);
      }
      // The first answer (state "started") counts nothing yet: MongoDB's removeShard reply
      // carries `remaining` from the second call on (tester82).
      const now = r.remaining
        ? `${r.state}: ${r.remaining.chunks ?? "?"} chunks, ${
          r.remaining.dbs ?? "?"
        } databases left`
        : `${r.state}; what is left is counted from the next answer`;
      if (now !== last) ctx.log(`removeShard ${name} ${now}`);
      last = now;
      // Draining goes on without mup: the first Ctrl-C stops the waiting, a resume waits again.
      if (ctx.pause?.aborted) {
        // Only the balancer drains: stopped meanwhile, nothing goes on (tester83).
        const off = await balancerOff(ctx);
        throw new OperationError(
          `stopped waiting for shard ${name} to drain (${now}): ${
            off
              ? "the balancer is off, so nothing drains until it is started (sh.startBalancer())"
              : "the servers go on draining it"
          }, and \`mup plan resume\` waits again`,
          { stoppedWaiting: true },
        );
      }
      if (Date.now() > end || ctx.signal.aborted) {
        throw new OperationError(
          `shard ${name} is still draining ${waitedFor(end - timeout, timeout)} (${now}); ${
            timeoutHint(ctx, timeout)
          }`,
        );
      }
      await sleep(500, ctx.signal);
    }
    return {
      output: `removed shard ${name}${
        moved ? ` (${moved} database primaries moved to ${to})` : ""
      }`,
    };
  },
};
