import { hostPort, splitHostPort } from "../topology/hosts.ts";
import { mongo } from "./cluster_client.ts";
import { readFcv } from "../mongo/fcv.ts";
import { type Operation, type OperationContext, OperationError, param } from "./operation.ts";

import { majorMinor } from "../download/manifest.ts";
import { serverMessage } from "../mongo/server_error.ts";

const list = (ctx: OperationContext, name: string) => JSON.parse(param(ctx, name)) as string[];

/** Each data-bearing member's featureCompatibilityVersion (getParameter), unreachable ones left out. */
async function fcvs(ctx: OperationContext): Promise<string[]> {
  return (await Promise.all(
    list(ctx, "members").map(async (m) => {
      const [host, port] = splitHostPort(m);
      return (await readFcv(mongo(ctx), host, port))?.version;
    }),
  )).filter((v): v is string => v !== undefined);
}

/**
 * setFeatureCompatibilityVersion to `fcv` (params: `fcv`, `members` JSON host:port list of every
 * data-bearing mongod, `routers` JSON host:port list: the mongos of a sharded cluster, else the
 * replica set's members or the standalone). MongoDB's upgrade procedures set the FCV last, once
 * every binary runs the new release; from 7.0 on the command needs `confirm: true`, because an
 * FCV raised cannot be lowered again with the binaries without MongoDB's support (MongoDB
 * manual: setFeatureCompatibilityVersion). Before it, every member's buildInfo must report the
 * new release: a member still on the old one could not start on data of the new FCV.
 * Done when every member that answers reports `fcv` already.
 * Throws OperationError naming the member on an older release, or the refusal.
 */
export const setFcv: Operation = {
  async isDone(ctx) {
    const seen = await fcvs(ctx).catch(() => []);
    return seen.length === list(ctx, "members").length &&
      seen.every((v) => v === param(ctx, "fcv"));
  },
  async run(ctx) {
    const fcv = param(ctx, "fcv");
    for (const m of list(ctx, "members")) {
      const [host, port] = splitHostPort(m);
      const info = await mongo(ctx).adminCommand(host, port, { buildInfo: 1 }).catch((e) => {
        throw new OperationError(`${m} did not answer buildInfo: ${(e as Error).message}`, {
          noEffect: true,
        });
      });
      if (majorMinor(String(info.version)) !== fcv) {
        throw new OperationError(
          `${m} runs ${info.version}: the feature compatibility version ${fcv} needs every ` +
            `member on a ${fcv} binary first`,
          { noEffect: true },
        );
      }
    }
    const cmd = {
      setFeatureCompatibilityVersion: fcv,
      ...(Number(fcv) >= 7 ? { confirm: true } : {}),
    };
    const errors: string[] = [];
    for (const r of list(ctx, "routers")) {
      const [host, port] = splitHostPort(r);
      const access = mongo(ctx);
      // A replica set takes the command on its primary only.
      if (ctx.plan.kind === "replica_set") {
        const h = await access.hello(host, port);
        if (!h?.isWritablePrimary) continue;
      }
      try {
        await access.adminCommand(host, port, cmd, 120_000);
        return {
          output: `feature compatibility version ${fcv} set through ${hostPort(host, port)}`,
        };
      } catch (e) {
        errors.push(`${r}: ${serverMessage(e)}`);
      }
    }
    throw new OperationError(
      `setFeatureCompatibilityVersion ${fcv} failed${
        errors.length ? `: ${errors.join("; ")}` : ": no primary answered"
      }`,
    );
  },
};
