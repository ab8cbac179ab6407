import * as path from "node:path";
import { metaPath, readMeta, writeMeta } from "../state/meta.ts";
import { type Operation, OperationError, param } from "./operation.ts";
import { runningPid } from "./process.ts";

/**
 * Records what a lifecycle command did in meta.yaml: serial + 1 (so plans made before it are
 * stale), the plan and apply, and the status the processes are found in now (running, stopped,
 * or unknown when only some run): metadata never claims what the cluster is not. With
 * status=removed (destroy), meta.yaml is deleted: the cluster is no longer recorded.
 */
export const updateMetadata: Operation = {
  async isDone(ctx) {
    const dir = path.dirname(param(ctx, "path"));
    if (param(ctx, "status") === "removed") {
      return !(await Deno.stat(metaPath(dir)).then(() => true, () => false));
    }
    const meta = await readMeta(dir).catch(() => undefined);
    return meta?.last_plan_id === ctx.plan.plan_id;
  },
  async run(ctx) {
    const dir = path.dirname(param(ctx, "path"));
    if (param(ctx, "status") === "removed") {
      await Deno.remove(metaPath(dir)).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      return { output: `removed ${metaPath(dir)}` };
    }
    const meta = await readMeta(dir);
    if (!meta) throw new OperationError(`${metaPath(dir)} is missing: the cluster is not recorded`);
    const alive = await Promise.all(
      meta.processes.map(async (p) =>
        (await runningPid(ctx.executors.forHost(p.host), p.pid_file, p.config)) !== undefined
      ),
    );
    const status = alive.every(Boolean) ? "running" : alive.some(Boolean) ? "unknown" : "stopped";
    await writeMeta(dir, {
      ...meta,
      serial: meta.serial + 1,
      status,
      updated_at: new Date().toISOString(),
      last_plan_id: ctx.plan.plan_id,
      last_state_id: ctx.stateId,
    });
    return {
      output: `recorded status ${status} (${alive.filter(Boolean).length}/${alive.length} running)`,
      metadata: { status },
    };
  },
};
