import * as path from "node:path";
import { clusterConnectionString } from "../security/access.ts";
import { listProcesses } from "../plan/processes.ts";
import { configFilePath, pidFilePath } from "../plan/mongo_config.ts";
import { readMeta, writeMeta } from "../state/meta.ts";
import { type Operation, storeParam } from "./operation.ts";

/** meta.yaml: what later commands need to know, with lineage and serial for stale-plan checks. */
export const saveMetadata: Operation = {
  async isDone(ctx) {
    const meta = await readMeta(path.dirname(storeParam(ctx, "path"))).catch(() => undefined);
    return meta?.last_plan_id === ctx.plan.plan_id;
  },
  async run(ctx) {
    const dir = path.dirname(storeParam(ctx, "path"));
    const prev = await readMeta(dir);
    const plan = ctx.plan;
    const now = new Date().toISOString();
    const procs = listProcesses(plan.topology, path.join(dir, "deploy"));
    await writeMeta(dir, {
      format_version: 1,
      name: plan.cluster_name,
      lineage: prev?.lineage ?? crypto.randomUUID(),
      serial: (prev?.serial ?? 0) + 1,
      status: "running",
      kind: plan.kind,
      version: plan.version,
      variant: plan.variant,
      deploy_dir: plan.deploy_dir,
      connection_string: clusterConnectionString(plan.cluster_name, plan.topology),
      topology: plan.topology,
      processes: procs.map((p) => ({
        id: p.id,
        role: p.role,
        host: p.host,
        port: p.port,
        ...(p.replicaSet ? { replica_set: p.replicaSet } : {}),
        config: configFilePath(p),
        pid_file: pidFilePath(p),
      })),
      created_at: prev?.created_at ?? now,
      updated_at: now,
      last_plan_id: plan.plan_id,
      last_state_id: ctx.stateId,
      release: plan.release,
      topology_file: plan.topology_file,
    });
    return { output: `wrote ${ctx.op.target.params.path}` };
  },
};
