/**
 * The builders every planner shares: a planned operation, a safety check, a change, the target
 * and start parameters of a process, a configuration upload, and the expected durations the
 * critical path and phase estimates use. Pure.
 */
import * as path from "node:path";
import { addressHost } from "../topology/hosts.ts";
import { configFilePath, logFilePath, pidFilePath } from "./mongo_config.ts";
import type { ProcessSpec } from "./processes.ts";
import type { Change, PlannedOperation, SafetyCheck } from "./schema.ts";

/** Expected durations, for the critical path and the phase estimates. */
export const EST = {
  download: 60_000,
  downloadCached: 1_000,
  install: 2_000,
  mkdir: 300,
  genConfig: 100,
  upload: 300,
  start: 3_000,
  wait: 5_000,
  initSet: 10_000,
  addShard: 3_000,
  verify: 2_000,
  save: 300,
};

export const op = (
  o:
    & Omit<PlannedOperation, "pre_conditions" | "changes" | "parallel">
    & Partial<PlannedOperation>,
): PlannedOperation => ({
  // The specification's field order, which is how each operation's line in the plan file reads.
  id: o.id,
  type: o.type,
  description: o.description,
  target: o.target,
  pre_conditions: o.pre_conditions ?? [],
  changes: o.changes ?? [],
  depends_on: o.depends_on,
  parallel: o.parallel ?? true,
  estimated_ms: o.estimated_ms,
});
export const check = (
  id: string,
  check_type: string,
  target: string,
  description: string,
  params: Record<string, unknown> = {},
): SafetyCheck => ({ id, check_type, target, description, params, required: true });
/** What start_process needs to start `p` with the installed `binary` (deploy and lifecycle). */
export const startParams = (p: ProcessSpec, binary: string): Record<string, string> => ({
  role: p.role,
  binary,
  config: configFilePath(p),
  pid_file: pidFilePath(p),
  log: logFilePath(p),
  ...(p.replicaSet ? { replica_set: p.replicaSet } : {}),
});
/** The target of an operation on one process. */
export const processTarget = (p: ProcessSpec, params: Record<string, string>) => ({
  type: "process" as const,
  name: p.id,
  host: p.host,
  port: p.port,
  params,
});

/**
 * `upload_file` of a process's staged configuration to its config path (mode 0600), after
 * `deps`: the deploy's first write (`create`) and a later change's (`update`) alike.
 */
export const uploadConfigOp = (
  p: ProcessSpec,
  o: {
    id: string;
    description: string;
    staged: string;
    action: Change["action"];
    deps: string[];
    /** The settings the new file changes, as `plan diff` shows an update's fields. */
    delta?: { before: Record<string, unknown>; after: Record<string, unknown> };
  },
): PlannedOperation =>
  op({
    id: o.id,
    type: "upload_file",
    description: o.description,
    target: processTarget(p, {
      kind: "file",
      source: o.staged,
      dest: configFilePath(p),
      mode: "0600",
      content_sha256: "",
    }),
    changes: [{
      ...change("file", `${addressHost(p.host)}:${configFilePath(p)}`, o.action),
      ...(o.delta && Object.keys(o.delta.after).length ? o.delta : {}),
    }],
    depends_on: o.deps,
    estimated_ms: EST.upload,
  });

/**
 * A configuration written again on a running cluster: `<id>` renders it into the cluster's
 * staging directory (after `deps`, none by default), `upload-<id>` puts it in place on the
 * process's host (read at its next start), with the descriptions given.
 */
export function rewriteConfigOps(
  p: ProcessSpec,
  o: {
    id: string;
    content: string;
    clusterDir: string;
    generate: string;
    upload: string;
    deps?: string[];
    delta?: { before: Record<string, unknown>; after: Record<string, unknown> };
  },
): PlannedOperation[] {
  // Each version of the file its own staging file (`-<mode>` of a TLS switch's rounds): an
  // upload done before an interruption is compared, at the resume, with what it uploaded, not
  // with a later round's content staged in its place.
  const own = `config-${p.id}`;
  const suffix = o.id.startsWith(own) ? o.id.slice(own.length) : "";
  const staged = path.join(o.clusterDir, "staging", `${p.id}${suffix}.conf`);
  return [
    op({
      id: o.id,
      type: "generate_config",
      description: o.generate,
      target: processTarget(p, { content: o.content, staged_path: staged }),
      changes: [change("file", staged, "update")],
      depends_on: o.deps ?? [],
      estimated_ms: 100,
    }),
    uploadConfigOp(p, {
      id: `upload-${o.id}`,
      description: o.upload,
      staged,
      action: "update",
      deps: [o.id],
      delta: o.delta,
    }),
  ];
}

/**
 * Every mongos in `mongos` gets its configuration (`configs`, by process id: sharding.configDB
 * naming the config server set's new members) written again once `deps` are done
 * (rewriteConfigOps; read at its next start, while a running mongos follows the set's
 * membership by itself). Cluster scale-out and scale-in of config server members use it.
 */
export function mongosConfigRewriteOps(
  mongos: ProcessSpec[],
  configs: Map<string, string>,
  o: { clusterDir: string; generate: (p: ProcessSpec) => string; deps: string[] },
): PlannedOperation[] {
  return mongos.flatMap((p) =>
    rewriteConfigOps(p, {
      id: `config-${p.id}`,
      content: configs.get(p.id)!,
      clusterDir: o.clusterDir,
      generate: o.generate(p),
      upload: `Upload the new configuration of ${p.id} (read at its next start)`,
      deps: o.deps,
    })
  );
}

export const change = (
  resource_type: string,
  resource_id: string,
  action: Change["action"],
  after?: unknown,
): Change =>
  after === undefined
    ? { resource_type, resource_id, action }
    : { resource_type, resource_id, action, after };

export function describeRole(p: ProcessSpec): string {
  return p.role === "config"
    ? "config server"
    : p.role === "mongos"
    ? "mongos"
    : p.replicaSet
    ? `${p.replicaSet} member`
    : "mongod";
}
