import type { Document } from "mongodb";
import { poll, splitHostPort } from "../mongo/client.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, OperationError, param } from "./operation.ts";
import { planTimeoutMs, timeoutHint } from "./timeout.ts";

function members(ctx: Parameters<Operation["run"]>[0]): Document[] {
  return JSON.parse(param(ctx, "config")).members;
}

/** The set's status as seen by any member that answers, or undefined. */
async function status(ctx: Parameters<Operation["run"]>[0]): Promise<Document | undefined> {
  for (const m of members(ctx)) {
    const [h, p] = splitHostPort(m.host);
    try {
      return await mongo(ctx).adminCommand(h, p, { replSetGetStatus: 1 }, 1500);
    } catch (e) {
      if ((e as { code?: number }).code === 94) return undefined; // NotYetInitialized
    }
  }
  return undefined;
}

const hasPrimary = (s: Document | undefined) => !!s?.members?.some((m: Document) => m.state === 1);

/** replSetInitiate on one member, then waits for a primary. Never initiates twice. */
export const initReplicaSet: Operation = {
  async isDone(ctx) {
    return hasPrimary(await status(ctx));
  },
  async run(ctx) {
    const config = JSON.parse(param(ctx, "config"));
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
          return hasPrimary(st) ? st : undefined;
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
