import * as path from "node:path";
import { readMeta, writeMeta } from "../state/meta.ts";
import { installedBinaries, metaFromPlan } from "../state/meta_from_plan.ts";
import { sha256File } from "../util/file_hash.ts";
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
    // What was installed is what the verified download holds (each start checked that); a
    // download gone from the cache meanwhile leaves its binaries checked for presence only.
    const binaries = (await Promise.all(
      installedBinaries(ctx.plan).map(async ({ host, path: file, source }) => {
        const sha256 = await sha256File(source);
        return sha256 ? [{ host, path: file, sha256 }] : [];
      }),
    )).flat();
    // A scale-out installs binaries on its new hosts only: the others' stay recorded.
    const kept = ctx.plan.operation === "scale-out"
      ? (prev?.binaries ?? []).filter((b) =>
        !binaries.some((n) => n.host === b.host && n.path === b.path)
      )
      : [];
    await writeMeta(
      dir,
      metaFromPlan(ctx.plan, dir, { prev, stateId: ctx.stateId, binaries: [...kept, ...binaries] }),
    );
    return { output: `wrote ${ctx.op.target.params.path}` };
  },
};
