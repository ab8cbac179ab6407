import type { Document } from "mongodb";
import { adminCommand } from "../mongo/client.ts";
import { type Operation, OperationError, param } from "./operation.ts";

async function listed(host: string, port: number, name: string): Promise<boolean> {
  const r = await adminCommand(host, port, { listShards: 1 }, 5000);
  return (r.shards as Document[]).some((s) => s._id === name);
}

/** addShard through mongos, unless listShards already has the shard. */
export const addShard: Operation = {
  async isDone(ctx) {
    try {
      return await listed(ctx.op.target.host!, ctx.op.target.port!, param(ctx, "name"));
    } catch {
      return false;
    }
  },
  async run(ctx) {
    const { host, port } = ctx.op.target;
    try {
      const r = await adminCommand(host!, port!, {
        addShard: param(ctx, "shard"),
        name: param(ctx, "name"),
      }, 60_000);
      return { output: `shardAdded ${r.shardAdded}` };
    } catch (e) {
      throw new OperationError(`addShard ${param(ctx, "shard")} failed: ${(e as Error).message}`);
    }
  },
};
