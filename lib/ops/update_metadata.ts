import * as path from "node:path";
import { metaCopyPath, metaPath, readMeta, removeMeta, writeMeta } from "../state/meta.ts";
import {
  type Operation,
  type OperationContext,
  OperationError,
  param,
  storeParam,
} from "./operation.ts";
import { mongo } from "./cluster_client.ts";
import { splitHostPort } from "../mongo/client.ts";
import { readFcv } from "../mongo/fcv.ts";
import { measuredStatus } from "./process.ts";
import { clusterConnectionString } from "../security/access.ts";
import { withTls } from "../security/settings.ts";
import { Release } from "../plan/schema.ts";
import { canonical } from "../plan/redeploy.ts";
import { Topology } from "../topology/schema.ts";
import { installedBinaries } from "../state/meta_from_plan.ts";
import { sha256File } from "../util/file_hash.ts";

/**
 * Records what a lifecycle command did in meta.yaml: serial + 1 (so plans made before it are
 * stale), the plan and apply, and the status the processes are found in now (running, stopped,
 * or unknown when only some run): metadata never claims what the cluster is not. With
 * status=unknown (the first operation of a start, stop or restart) it says the cluster is
 * changing, so a failed or interrupted apply does not leave the old status standing. With
 * status=removed (destroy), meta.yaml is deleted: the cluster is no longer recorded. With
 * `security_tls` ("true"/"false", the last step of `cluster tls enable|disable`), the recorded
 * topology's global.security.tls and the connection string change with it, and the switch's
 * marker (ClusterMeta.tls_switch, written with status=unknown by the switch's first operation,
 * param `tls_switch`: "enable"/"disable") is cleared. With `release` (the Release as JSON, the
 * last step of `cluster upgrade`), the version, variant, release and installed binaries (with
 * the sha256 of the verified download each start checked) become the new release's: written
 * only once every process runs it. With `fcv` ("7.0"), the featureCompatibilityVersion the data
 * is at (as the upgrade read it, or as its setFeatureCompatibilityVersion left it) is recorded.
 * With `read_fcv` (JSON list of `host:port`, the data-bearing members; a destroy that retains
 * the data), the FCV they report now is recorded (the oldest, should they differ), so that the
 * archive says what the kept data is at even when it was changed outside mup. With `topology`
 * (the Topology as JSON, the last step of `cluster reconfigure`), it becomes the recorded
 * topology: written only once every process it changed was restarted on its new configuration.
 */
export const updateMetadata: Operation = {
  async isDone(ctx) {
    const dir = path.dirname(storeParam(ctx, "path"));
    if (param(ctx, "status") === "removed") {
      const there = (f: string) => Deno.stat(f).then(() => true, () => false);
      return !(await there(metaPath(dir))) && !(await there(metaCopyPath(dir)));
    }
    const meta = await readMeta(dir).catch(() => undefined);
    if (meta?.last_plan_id !== ctx.plan.plan_id) return false;
    const tls = ctx.op.target.params.security_tls;
    if (tls !== undefined && String(meta.topology.global.security?.tls ?? false) !== tls) {
      return false;
    }
    if (tls !== undefined && meta.tls_switch) return false;
    const release = ctx.op.target.params.release;
    if (release !== undefined && meta.version !== Release.parse(JSON.parse(release)).version) {
      return false;
    }
    const switching = ctx.op.target.params.tls_switch;
    if (switching !== undefined && meta.tls_switch?.plan_id !== ctx.plan.plan_id) return false;
    const given = ctx.op.target.params.topology;
    if (given !== undefined && canonical(meta.topology) !== canonical(newTopology(given))) {
      return false;
    }
    // The release's record carries the FCV read at planning; a later record of this plan (after
    // the raise) changes it, so only an FCV-only record is judged by it.
    const fcv = ctx.op.target.params.fcv;
    if (fcv !== undefined && release === undefined && meta.feature_compatibility_version !== fcv) {
      return false;
    }
    // "unknown" is written first by this plan; the final status replaces it.
    return param(ctx, "status") === "unknown" || meta.status !== "unknown";
  },
  async run(ctx) {
    const dir = path.dirname(storeParam(ctx, "path"));
    if (param(ctx, "status") === "removed") {
      await removeMeta(dir);
      return { output: `removed ${metaPath(dir)}` };
    }
    const meta = await readMeta(dir);
    if (!meta) throw new OperationError(`${metaPath(dir)} is missing: the cluster is not recorded`);
    const mark = param(ctx, "status") === "unknown";
    const measured = mark ? undefined : await measuredStatus(ctx, meta.processes);
    const status = measured?.status ?? "unknown";
    const tls = ctx.op.target.params.security_tls;
    const given = ctx.op.target.params.topology;
    const topology = given !== undefined
      ? newTopology(given)
      : tls === undefined
      ? meta.topology
      : withTls(meta.topology, tls === "true");
    const switching = ctx.op.target.params.tls_switch;
    const { tls_switch: _done, ...rest } = meta;
    const live = ctx.op.target.params.read_fcv === undefined
      ? undefined
      : await liveFcv(ctx, JSON.parse(ctx.op.target.params.read_fcv) as string[]);
    const upgraded = ctx.op.target.params.release === undefined
      ? {}
      : await upgradedRelease(ctx.plan, ctx.op.target.params.release, meta);
    await writeMeta(dir, {
      ...(tls === undefined ? meta : rest),
      ...(switching === "enable" || switching === "disable"
        ? {
          tls_switch: {
            action: switching,
            plan_id: ctx.plan.plan_id,
            state_id: ctx.stateId,
            started_at: new Date().toISOString(),
          },
        }
        : {}),
      ...upgraded,
      ...(ctx.op.target.params.fcv
        ? { feature_compatibility_version: ctx.op.target.params.fcv }
        : {}),
      ...(live ? { feature_compatibility_version: live } : {}),
      topology,
      // The switch's end, a reconfigure's: the topology file no longer says what the cluster is.
      ...(tls !== undefined && !switching
        ? { topology_changed: { by: "cluster tls", at: new Date().toISOString() } }
        : given !== undefined
        ? { topology_changed: { by: "cluster reconfigure", at: new Date().toISOString() } }
        : {}),
      // Follows the topology: TLS, and a reconfigure hiding or unhiding members, change it.
      connection_string: clusterConnectionString(meta.name, topology),
      serial: meta.serial + 1,
      status,
      updated_at: new Date().toISOString(),
      last_plan_id: ctx.plan.plan_id,
      last_state_id: ctx.stateId,
    });
    return {
      output: mark
        ? `recorded status unknown while the cluster changes${
          switching ? ` (TLS ${switching} under way)` : ""
        }`
        : `recorded status ${status} (${measured!.running}/${measured!.total} running)`,
      metadata: { status },
    };
  },
};

/** The `topology` parameter: the Topology a reconfigure records (JSON). */
function newTopology(json: string): Topology {
  return Topology.parse(JSON.parse(json));
}

/**
 * The metadata fields of the release a `cluster upgrade` installed: version, variant, release,
 * and the binaries its plan installed with the sha256 of the verified download (as a deploy's
 * save_metadata records them).
 */
async function upgradedRelease(
  plan: Parameters<typeof installedBinaries>[0],
  json: string,
  prev: { variant: string; version: string; earlier_releases?: string[] },
) {
  const release = Release.parse(JSON.parse(json));
  const was = `${prev.variant}-${prev.version}`;
  const now = `${release.variant}-${release.version}`;
  const earlier = [...new Set([...(prev.earlier_releases ?? []), was])].filter((r) => r !== now);
  const binaries = (await Promise.all(
    installedBinaries(plan).map(async ({ host, path: file, source }) => {
      const sha256 = await sha256File(source);
      return sha256 ? [{ host, path: file, sha256 }] : [];
    }),
  )).flat();
  return {
    version: release.version,
    variant: release.variant,
    release,
    binaries,
    ...(earlier.length ? { earlier_releases: earlier } : {}),
  };
}

/**
 * The featureCompatibilityVersion the `members` (`host:port`) report (getParameter), the oldest
 * when they differ (a setFeatureCompatibilityVersion cut short); undefined when none answers.
 */
async function liveFcv(ctx: OperationContext, members: string[]): Promise<string | undefined> {
  const seen = (await Promise.all(members.map(async (m) => {
    const v = (await readFcv(mongo(ctx), ...splitHostPort(m), 5_000))?.version;
    return v && /^\d+\.\d+$/.test(v) ? [v] : [];
  }))).flat();
  const num = (v: string) => v.split(".").map(Number);
  return seen.sort((a, b) => num(a)[0] - num(b)[0] || num(a)[1] - num(b)[1])[0];
}
