/**
 * The operations of a `cluster upgrade` plan (upgrade.ts assembles them): the release's download
 * and installs, starts on the new binaries, the balancer's stop and start, the FCV raise. Pure.
 */
import * as path from "node:path";
import { hostKey, hostPort } from "../topology/hosts.ts";
import type { ProcessSpec } from "./processes.ts";
import type { PlannedOperation, Release } from "./schema.ts";
import { change, check, op } from "./op_builders.ts";
import { downloadOp, installOp } from "./prepare_steps.ts";
import { clusterProcesses, EST } from "./lifecycle.ts";
import { metadataOp } from "./lifecycle_ops.ts";
import type { UpgradePlanInput } from "./upgrade.ts";

/** The build of the release `host` installs: its own architecture's, or the control machine's. */
const releaseOf = (input: UpgradePlanInput, host: string): Release =>
  Object.entries(input.hostReleases ?? {}).find(([h]) => hostKey(h) === hostKey(host))?.[1] ??
    input.release;

/** Where the control machine unpacks build `r`. */
const unpackedDir = (input: UpgradePlanInput, r: Release) =>
  path.join(input.cacheDir, `${r.variant}-${r.version}-${r.platform}`);

/**
 * Each build of the release downloaded once on the control machine (one per architecture the
 * hosts need), then installed on every host given from its own architecture's build.
 */
export function installOps(input: UpgradePlanInput, hosts: string[]): PlannedOperation[] {
  const { procs } = clusterProcesses(input);
  const downloads = new Map<string, PlannedOperation>();
  const installs = hosts.map((host) => {
    const r = releaseOf(input, host);
    const archive = path.join(input.cacheDir, r.archive_name);
    let download = downloads.get(r.platform);
    if (!download) {
      download = downloadOp(r, {
        cacheDir: input.cacheDir,
        archive,
        unpackedDir: unpackedDir(input, r),
        cached: r === input.release
          ? input.cached
          : input.cachedPlatforms?.includes(r.platform) ?? false,
      });
      downloads.set(r.platform, download);
    }
    return installOp(host, r, {
      downloadId: download.id,
      archive,
      unpackedDir: unpackedDir(input, r),
      binDir: path.join(input.meta.deploy_dir, "bin", `${r.variant}-${r.version}`),
      files: [
        ...new Set(
          procs.filter((p) => hostKey(p.host) === hostKey(host)).map((p) =>
            p.role === "mongos" ? "mongos" : "mongod"
          ),
        ),
      ].sort(),
    });
  });
  return [...downloads.values(), ...installs];
}

/** Starts of the new binary: checked against the verified download, named with the release. */
export function onNewRelease(input: UpgradePlanInput, ops: PlannedOperation[]): PlannedOperation[] {
  return ops.map((o) => {
    if (o.type !== "start_process") return o;
    return {
      ...o,
      description: `${o.description} on ${input.release.version}`,
      pre_conditions: o.pre_conditions.map((c) =>
        c.check_type !== "binary_present" ? c : {
          ...c,
          description:
            `the ${input.release.version} binary is installed and matches the verified download`,
          params: {
            host: c.params.host,
            path: c.params.path,
            source: path.join(
              unpackedDir(input, releaseOf(input, String(c.params.host))),
              "bin",
              path.basename(String(c.params.path)),
            ),
          },
        }
      ),
    };
  });
}

export function balancerOp(
  input: UpgradePlanInput,
  state: "stop" | "start",
  routers: ProcessSpec[],
): PlannedOperation {
  return op({
    id: `${state}-balancer`,
    type: "set_balancer",
    description: state === "stop"
      ? "Stop the balancer (no chunk migrates while members run different releases)"
      : "Start the balancer again, if an upgrade stopped it",
    target: {
      type: "cluster",
      name: "balancer",
      params: {
        state,
        routers: JSON.stringify(routers.map((p) => hostPort(p.host, p.port))),
        meta_path: path.join(input.clusterDir, "meta.yaml"),
      },
      timeout_ms: 120_000,
    },
    changes: [
      change("balancer", "balancer", "update", { mode: state === "stop" ? "off" : "full" }),
    ],
    depends_on: [],
    parallel: false,
    estimated_ms: EST.verify,
  });
}

export function fcvOp(
  input: UpgradePlanInput,
  to: string,
  from: string | undefined,
  deps: string[],
): PlannedOperation {
  const { procs } = clusterProcesses(input);
  const dataBearing = procs.filter((p) => p.role !== "mongos" && !p.arbiterOnly);
  const routers = input.meta.kind === "sharded"
    ? procs.filter((p) => p.role === "mongos")
    : dataBearing;
  return op({
    id: "set-fcv",
    type: "set_fcv",
    description: `Set the feature compatibility version to ${to} (after it, the binaries ` +
      "cannot go back to an older release without MongoDB's support)",
    target: {
      type: "cluster",
      name: input.meta.name,
      params: {
        fcv: to,
        members: JSON.stringify(dataBearing.map((p) => hostPort(p.host, p.port))),
        routers: JSON.stringify(routers.map((p) => hostPort(p.host, p.port))),
      },
      timeout_ms: 120_000,
    },
    changes: [{
      ...change("cluster", input.meta.name, "update", { featureCompatibilityVersion: to }),
      before: { featureCompatibilityVersion: from ?? "unknown" },
    }],
    depends_on: deps,
    parallel: false,
    estimated_ms: EST.verify,
  });
}

/**
 * `set-fcv`, then `record-fcv`: the raised FCV into the metadata (update_metadata with `fcv`),
 * once the servers took it; both after `after` (the release's record).
 */
export function fcvOps(
  input: UpgradePlanInput,
  to: string,
  from: string | undefined,
  after: string,
): PlannedOperation[] {
  const set = fcvOp(input, to, from, [after]);
  const record = metadataOp(input, "auto", [set.id]);
  record.id = "record-fcv";
  record.description = `Record feature compatibility version ${to} in the metadata`;
  record.target.params.fcv = to;
  return [set, record];
}

/**
 * Gives the stop of each data-bearing member (not an arbiter, which holds no FCV) a safety
 * check `fcv_startable` (lib/apply/safety.ts): when the stop runs, the member's
 * featureCompatibilityVersion is one the `series` binary starts on. A plan saved earlier and
 * applied after the FCV was set down then stops before the member is stopped, rather than
 * leaving it down on a binary that refuses its data. Mutates `ops`.
 */
export function guardFcv(ops: PlannedOperation[], procs: ProcessSpec[], series: string): void {
  const bearing = new Map(
    procs.filter((p) => p.role !== "mongos" && !p.arbiterOnly).map((p) => [p.id, p]),
  );
  for (const o of ops) {
    const p = o.type === "stop_process" ? bearing.get(o.target.name) : undefined;
    if (!p) continue;
    o.pre_conditions.push(check(
      `${o.id}:fcv`,
      "fcv_startable",
      hostPort(p.host, p.port),
      `its feature compatibility version is one ${series} starts on`,
      { host: p.host, port: p.port, series, process: p.id },
    ));
  }
}

/** The lists' operations, each list's first waiting for the previous list's last. */
export function oneAfterAnother(lists: PlannedOperation[][]): PlannedOperation[] {
  const out: PlannedOperation[] = [];
  for (const ops of lists.filter((l) => l.length)) {
    const last = out.at(-1);
    out.push(
      ...(last
        ? [{ ...ops[0], depends_on: [...ops[0].depends_on, last.id] }, ...ops.slice(1)]
        : ops),
    );
  }
  return out;
}
