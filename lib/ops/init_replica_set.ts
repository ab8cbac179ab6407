import type { Document } from "mongodb";
import { poll, splitHostPort } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, OperationError, param } from "./operation.ts";
import { planTimeoutMs, timeoutHint } from "./timeout.ts";
import { assertSetName } from "./set_name.ts";

function members(ctx: Parameters<Operation["run"]>[0]): Document[] {
  return JSON.parse(param(ctx, "config")).members;
}

/** The set's status as seen by any member that answers, or undefined. */
async function status(ctx: Parameters<Operation["run"]>[0]): Promise<Document | undefined> {
  for (const m of members(ctx)) {
    const [h, p] = splitHostPort(m.host);
    try {
      return await mongo(ctx).adminCommand(h, p, { replSetGetStatus: 1 });
    } catch (e) {
      if ((e as { code?: number }).code === 94) return undefined; // NotYetInitialized
    }
  }
  return undefined;
}

const hasPrimary = (s: Document | undefined) => !!s?.members?.some((m: Document) => m.state === 1);

/** The planned set (config._id) has a primary: a primary of another set is not this effect. */
const initiated = (s: Document | undefined, name: string) => s?.set === name && hasPrimary(s);

/** replSetInitiate on one member, then waits for a primary. Never initiates twice. */
export const initReplicaSet: Operation = {
  async isDone(ctx) {
    return initiated(await status(ctx), JSON.parse(param(ctx, "config"))._id);
  },
  async run(ctx) {
    const config = JSON.parse(param(ctx, "config"));
    // Members holding another set's config (retained data) would answer "already initialized"
    // and never become members of this set: refuse before initiating anything.
    await assertSetName(
      ctx,
      mongo(ctx),
      (config.members as Document[]).map((m) => m.host),
      config._id,
    );
    const first =
      (config.members as Document[]).find((m) => (m.priority ?? 1) > 0 && !m.arbiterOnly) ??
        config.members[0];
    const [h, p] = splitHostPort(first.host);
    let note = "initiated";
    try {
      await mongo(ctx).adminCommand(h, p, { replSetInitiate: config }, 30_000);
    } catch (e) {
      // A crash between initiate and recording it: the set is already initiated; go on waiting.
      const code = (e as { code?: unknown }).code;
      if (code !== 23) {
        // A server's refusal (an error code) initiated nothing; a lost connection may have.
        throw new OperationError(
          `replSetInitiate for ${config._id} failed: ${(e as Error).message}`,
          { noEffect: typeof code === "number" },
        );
      }
      note = "already initiated";
    }
    const timeout = planTimeoutMs(ctx, 60_000);
    // One connection to the member we initiated, polled often: elections take milliseconds
    // on small sets, and a new client per poll costs more than the wait.
    const s = await mongo(ctx).withServer(h, p, (c) =>
      poll(
        async () => {
          const st = await c.db("admin").command({ replSetGetStatus: 1 });
          return initiated(st, config._id) ? st : undefined;
        },
        timeout,
        50,
        ctx.signal,
      ), 5000);
    if (!s) {
      throw new OperationError(
        `replica set ${config._id} has no primary ${timeout / 1000}s after replSetInitiate; ${
          timeoutHint(ctx, timeout)
        }`,
      );
    }
    const primary = s.members.find((m: Document) => m.state === 1);
    return {
      output: `${note}; primary ${primary.name} (term ${s.term})`,
      metadata: { primary: primary.name, term: s.term },
    };
  },
};
