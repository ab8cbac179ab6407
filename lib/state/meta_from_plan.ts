/** The cluster metadata a deploy plan describes: what save_metadata records once it has run. */
import * as path from "node:path";
import { clusterConnectionString } from "../security/access.ts";
import { listProcesses, type ProcessSpec } from "../plan/processes.ts";
import { configFilePath, pidFilePath } from "../plan/mongo_config.ts";
import type { Plan } from "../plan/schema.ts";
import type { ClusterMeta } from "./meta.ts";
import { hostKey } from "../topology/hosts.ts";

/** How metadata records one process: where it runs, its configuration and pid files. */
export function recordedProcess(p: ProcessSpec): ClusterMeta["processes"][number] {
  return {
    id: p.id,
    role: p.role,
    host: p.host,
    port: p.port,
    ...(p.replicaSet ? { replica_set: p.replicaSet } : {}),
    config: configFilePath(p),
    pid_file: pidFilePath(p),
  };
}

/**
 * The metadata of the cluster `plan` deploys into `clusterDir`, following `prev` (the metadata
 * it replaces: lineage kept, serial + 1). With `unrecorded`, a description that is never
 * written: lineage "" and serial 0 (the base state of a cluster with no metadata) and status
 * `unknown`, for a command that must reach what a first deploy left (`cluster destroy`).
 * Pure.
 */
export function metaFromPlan(
  plan: Plan,
  clusterDir: string,
  opts: {
    prev?: ClusterMeta;
    stateId: string;
    unrecorded?: boolean;
    now?: string;
    /** The installed binaries' checksums (save_metadata finds them; see installedBinaries). */
    binaries?: ClusterMeta["binaries"];
    /**
     * Without `prev`: the kept data the cluster's last metadata recorded (a deploy onto data a
     * destroy kept: the archived metadata's retained_data).
     */
    retainedBefore?: ClusterMeta["retained_data"];
  },
): ClusterMeta {
  const { prev } = opts;
  const now = opts.now ?? new Date().toISOString();
  const procs = listProcesses(plan.topology, path.join(clusterDir, "deploy"));
  // Data a scale-in kept stays recorded until a process of the cluster has the directory again.
  const used = new Set(procs.map((p) => `${hostKey(p.host)}:${p.dirs.data}`));
  const retained = (prev?.retained_data ?? opts.retainedBefore ?? []).filter((r) =>
    !used.has(`${hostKey(r.host)}:${r.path}`)
  );
  // What a --host-gone scale-in left stays named until a process runs there again.
  const serving = new Set(procs.map((p) => `${p.host}:${p.port}`));
  const forgotten = (prev?.forgotten ?? []).filter((f) => !serving.has(`${f.host}:${f.port}`));
  return {
    format_version: 1,
    name: plan.cluster_name,
    lineage: opts.unrecorded ? "" : prev?.lineage ?? crypto.randomUUID(),
    serial: opts.unrecorded ? 0 : (prev?.serial ?? 0) + 1,
    status: opts.unrecorded ? "unknown" : "running",
    kind: plan.kind,
    version: plan.version,
    variant: plan.variant,
    deploy_dir: plan.deploy_dir,
    connection_string: clusterConnectionString(plan.cluster_name, plan.topology),
    topology: plan.topology,
    processes: procs.map(recordedProcess),
    created_at: prev?.created_at ?? now,
    updated_at: now,
    last_plan_id: plan.plan_id,
    last_state_id: opts.stateId,
    release: plan.release,
    ...(opts.binaries?.length ? { binaries: opts.binaries } : {}),
    // A repair keeps the record of what earlier releases left installed.
    ...(prev?.earlier_releases?.length ? { earlier_releases: prev.earlier_releases } : {}),
    ...(prev?.balancer_stopped_by ? { balancer_stopped_by: prev.balancer_stopped_by } : {}),
    // A repair changes no data: the FCV recorded stays.
    ...(prev?.feature_compatibility_version
      ? { feature_compatibility_version: prev.feature_compatibility_version }
      : {}),
    ...(retained.length ? { retained_data: retained } : {}),
    ...(forgotten.length ? { forgotten } : {}),
    topology_file: plan.topology_file,
  };
}

/**
 * The server binaries `plan` installs and starts: per host and path, the verified download it
 * copies them from on the control machine (the `source` of each start's `binary_present`
 * check). Pure.
 */
export function installedBinaries(plan: Pick<Plan, "phases">): {
  host: string;
  path: string;
  source: string;
}[] {
  const out = new Map<string, { host: string; path: string; source: string }>();
  for (const o of plan.phases.flatMap((ph) => ph.operations)) {
    for (const c of o.pre_conditions) {
      const { host, path: file, source } = c.params ?? {};
      if (c.check_type !== "binary_present" || typeof source !== "string") continue;
      out.set(`${host}\0${file}`, { host: String(host), path: String(file), source });
    }
  }
  return [...out.values()];
}
