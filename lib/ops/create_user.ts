import type { Document } from "mongodb";
import { hostPort, splitHostPort } from "../topology/hosts.ts";
import { poll } from "../mongo/client.ts";
import { readAdmin } from "../security/secrets.ts";
import { mongo } from "./cluster_client.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";
import { planTimeoutMs, timeoutHint } from "./timeout.ts";

/** The member to create the user on: the primary (hello), or the one process given. */
async function where(ctx: OperationContext): Promise<[string, number] | undefined> {
  const members = (JSON.parse(param(ctx, "members")) as string[]).map(splitHostPort);
  if (param(ctx, "via") !== "replica_set") return members[0];
  for (const [h, p] of members) {
    if ((await mongo(ctx).hello(h, p))?.isWritablePrimary) return [h, p];
  }
  return undefined;
}

/**
 * Creates the first user (role root on admin, password from the secrets store) through the
 * localhost exception (MongoDB docs: "Localhost Exception", "Create the User Administrator"): on
 * a replica set's primary, a standalone, or mongos (which keeps it on the config servers). Done
 * when the stored credentials authenticate on any of the members (a member in initial sync has
 * no users yet). The password travels only inside the
 * createUser command over the connection; the output names the user, never the password.
 */
export const createUser: Operation = {
  async isDone(ctx) {
    const members = (JSON.parse(param(ctx, "members")) as string[]).map(splitHostPort);
    // Any member where they work: one in initial sync (a member whose data was emptied) has
    // not copied the users yet, and its "no" says nothing about the set.
    for (const [h, p] of members) {
      try {
        if (await mongo(ctx).credentialsWork(h, p)) return true;
      } catch {
        // not answering: ask the next member
      }
    }
    return false;
  },
  async run(ctx) {
    const admin = await readAdmin(ctx.plan.cluster_name);
    if (!admin) {
      throw new OperationError(
        `the admin credentials of ${ctx.plan.cluster_name} are missing from its secrets store`,
      );
    }
    const timeout = planTimeoutMs(ctx, 60_000);
    const at = await poll(() => where(ctx), timeout, 200, ctx.signal);
    if (!at) {
      throw new OperationError(
        `${ctx.op.target.name} has no primary to create ${admin.user} on; ${
          timeoutHint(ctx, timeout)
        }`,
      );
    }
    const [h, p] = at;
    const cmd: Document = { createUser: admin.user, pwd: admin.password, roles: ["root"] };
    try {
      await mongo(ctx).viaLocalhost(h, p, (c) => c.db("admin").command(cmd), 30_000);
    } catch (e) {
      const code = (e as { code?: number }).code;
      // The user exists already (made by an earlier run, or replicated): done, if it is ours.
      if (code === 13 && await mongo(ctx).credentialsWork(h, p).catch(() => false)) {
        return { output: `${admin.user} already exists on ${hostPort(h, p)}` };
      }
      // Never echo the command: it holds the password.
      const why = code === 13
        ? "the localhost exception is closed and the stored credentials do not authenticate: " +
          "a user exists, or existed since the server started (MongoDB opens the exception " +
          "only while no user has existed since the start; after the last user is dropped, a " +
          `restart without users reopens it: \`mup cluster stop ${ctx.plan.cluster_name}\`, ` +
          `\`mup cluster start ${ctx.plan.cluster_name}\`, then deploy again)`
        : code === 51003
        ? `a user ${admin.user} exists with another password than the stored one`
        : String((e as Error).message).split("\n")[0];
      throw new OperationError(`cannot create ${admin.user} on ${hostPort(h, p)}: ${why}`);
    }
    // The user replicates (or reaches the config servers) before the next operation needs it.
    const ok = await poll(
      async () => (await mongo(ctx).credentialsWork(h, p)) || undefined,
      timeout,
      200,
      ctx.signal,
    );
    if (!ok) throw new OperationError(`${admin.user} was created but does not authenticate`);
    return { output: `created ${admin.user} (root) on ${hostPort(h, p)}` };
  },
};
