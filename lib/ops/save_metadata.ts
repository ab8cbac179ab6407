import * as path from "node:path";
import { type ClusterMeta, readMeta, writeMeta } from "../state/meta.ts";
import { installedBinaries, metaFromPlan } from "../state/meta_from_plan.ts";
import { sha256File } from "../util/file_hash.ts";
import { type Operation, storeParam } from "./operation.ts";
import { hostKey } from "../topology/hosts.ts";
import { measuredStatus } from "./process.ts";

/**
 * The data directories recorded as kept: the metadata's, and (param `retained_data`, a JSON
 * array of `{id, host, path}`: a scale-in with --retain-data) those of the processes it removed.
 */
function retainedNow(
  param: string | undefined,
  meta: ClusterMeta,
  planId: string,
): NonNullable<ClusterMeta["retained_data"]> {
  const had = meta.retained_data ?? [];
  const at = new Date().toISOString();
  const added = (JSON.parse(param ?? "[]") as { id: string; host: string; path: string }[])
    .filter((r) => !had.some((h) => hostKey(h.host) === hostKey(r.host) && h.path === r.path))
    .map((r) => ({ id: r.id, host: r.host, path: r.path, plan_id: planId, at }));
  return [...had, ...added];
}

/**
 * The processes recorded as forgotten: the metadata's, and (param `forgotten`, a JSON array of
 * `{id, host, port, paths}`: a scale-in with --host-gone) those it took out without their host.
 */
function forgottenNow(
  param: string | undefined,
  meta: ClusterMeta,
  planId: string,
): NonNullable<ClusterMeta["forgotten"]> {
  const had = meta.forgotten ?? [];
  const at = new Date().toISOString();
  const added = (JSON.parse(param ?? "[]") as {
    id: string;
    host: string;
    port: number;
    paths: string[];
  }[])
    .filter((f) => !had.some((h) => h.host === f.host && h.port === f.port))
    .map((f) => ({ ...f, plan_id: planId, at }));
  return [...had, ...added];
}

/** meta.yaml: what later commands need to know, with lineage and serial for stale-plan checks. */
export const saveMetadata: Operation = {
  async isDone(ctx) {
    const meta = await readMeta(path.dirname(storeParam(ctx, "path"))).catch(() => undefined);
    if (meta?.last_plan_id !== ctx.plan.plan_id) return false;
    // The plan's first operation may have marked the status with this plan's ID already (a
    // scale-in): recorded is only what lists the plan's processes.
    const planned = metaFromPlan(ctx.plan, path.dirname(storeParam(ctx, "path")), {
      stateId: ctx.stateId,
    }).processes.map((p) => p.id).sort();
    return JSON.stringify(meta.processes.map((p) => p.id).sort()) === JSON.stringify(planned) &&
      meta.status !== "unknown";
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
    // A scale-out installs binaries on its new hosts only, a scale-in none: the binaries of
    // the hosts the cluster still uses stay recorded.
    const t = ctx.plan.topology;
    const used = new Set(
      [...t.config_servers, ...t.mongod_servers, ...t.mongos_servers].map((e) => hostKey(e.host)),
    );
    const kept = ctx.plan.operation === "scale-out" || ctx.plan.operation === "scale-in"
      ? (prev?.binaries ?? []).filter((b) =>
        used.has(hostKey(b.host)) && !binaries.some((n) => n.host === b.host && n.path === b.path)
      )
      : [];
    // A first deploy onto data a destroy kept: the archived metadata says what scale-ins kept.
    const archived = !prev && ctx.op.target.params.retained_archive
      ? await readMeta(storeParam(ctx, "retained_archive")).catch(() => undefined)
      : undefined;
    const meta = metaFromPlan(ctx.plan, dir, {
      prev,
      stateId: ctx.stateId,
      binaries: [...kept, ...binaries],
      retainedBefore: archived?.retained_data,
    });
    const retained = retainedNow(ctx.op.target.params.retained_data, meta, ctx.plan.plan_id);
    if (retained.length) meta.retained_data = retained;
    const forgotten = forgottenNow(ctx.op.target.params.forgotten, meta, ctx.plan.plan_id);
    if (forgotten.length) meta.forgotten = forgotten;
    // A scale-in by node (-N) has no topology file: the recorded one stays, marked as listing
    // what the scale-in removed. A scale's file from another directory (a temporary file in CI)
    // does not take its place either: the cluster's hooks run in the recorded file's directory,
    // and only a deploy (warning of it) moves them; a reconfigure keeps them too (tester84).
    const op = ctx.plan.operation;
    const keepFile = (op === "scale-in" || op === "scale-out") &&
      (!ctx.plan.topology_file ||
        (!!prev?.topology_file &&
          path.dirname(prev.topology_file) !== path.dirname(ctx.plan.topology_file)));
    // Measured, not assumed: a scale's health check judges what it changed, and a recorded
    // member may have died meanwhile (the metadata must not claim it runs).
    const { status, running, total } = await measuredStatus(ctx, meta.processes);
    meta.status = status;
    await writeMeta(
      dir,
      keepFile
        ? {
          ...meta,
          ...(prev?.topology_file ? { topology_file: prev.topology_file } : {}),
          topology_changed: { by: `cluster ${op}`, at: new Date().toISOString() },
        }
        : meta,
    );
    return {
      output: `wrote ${ctx.op.target.params.path}: recorded status ${meta.status} ` +
        `(${running}/${total} running)`,
      metadata: { status: meta.status },
    };
  },
};
