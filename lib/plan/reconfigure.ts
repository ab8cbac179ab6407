/**
 * `mup cluster reconfigure <name> <topology>`: a running cluster's runtime_config changed without
 * taking it down. Each process whose configuration file changes gets the new file, then those
 * processes are restarted as a rolling restart restarts them (restart.ts: config servers, then
 * each set's secondaries one at a time and its stepped-down primary last, then mongos one at a
 * time); mongod reads its configuration file only at startup. The metadata records the new
 * topology last, so it never claims a configuration the processes do not run. Pure.
 */
import * as path from "node:path";
import type { Topology } from "../topology/schema.ts";
import { hostPort } from "../topology/hosts.ts";
import { deployConfigSecurity, renderConfig } from "./mongo_config.ts";
import {
  configDbString,
  listProcesses,
  listReplicaSets,
  type ProcessSpec,
  type ReplicaSetSpec,
} from "./processes.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";
import { change, op, processTarget, uploadConfigOp } from "./op_builders.ts";
import { clusterProcesses, lifecyclePlan, type LifecyclePlanInput } from "./lifecycle.ts";
import { markedPhases, metadataOp, verifyOp } from "./lifecycle_ops.ts";
import { rollEach, rollSet } from "./restart.ts";
import { majorityWarnings, singleMongosWarnings } from "./restart_warnings.ts";

export interface ReconfigurePlanInput extends LifecyclePlanInput {
  /** The topology to run: the recorded one with other runtime_config (the CLI refuses more). */
  topology: Topology;
  /** The file it was read from, recorded in the plan. */
  topologyFile: string;
}

/**
 * The processes whose configuration file differs between the recorded topology and `asked`,
 * each with the new file's content.
 */
export function changedConfigs(
  recorded: Topology,
  asked: Topology,
  deployDir: string,
): { proc: ProcessSpec; content: string; changes: string }[] {
  const root = (t: Topology) => t.global.deploy_dir ?? deployDir;
  const before = listProcesses(recorded, deployDir);
  const after = new Map(listProcesses(asked, deployDir).map((p) => [p.id, p]));
  const cfg = (ps: ProcessSpec[]) => configDbString(listReplicaSets(ps).find((s) => s.configsvr));
  const oldDb = cfg(before), newDb = cfg([...after.values()]);
  const oldSec = deployConfigSecurity(recorded, root(recorded));
  const newSec = deployConfigSecurity(asked, root(asked));
  return before.flatMap((p) => {
    const a = after.get(p.id);
    if (!a) return [];
    const content = renderConfig(a, newDb, newSec(a));
    return content === renderConfig(p, oldDb, oldSec(p))
      ? []
      : [{ proc: p, content, changes: runtimeChanges(p, a) }];
  });
}

/** Every leaf of a runtime_config as dotted key → JSON value. */
function flat(rc: Record<string, unknown>, at = "", out = new Map<string, string>()) {
  for (const [k, v] of Object.entries(rc)) {
    const key = at ? `${at}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      flat(v as Record<string, unknown>, key, out);
    } else out.set(key, JSON.stringify(v));
  }
  return out;
}

/** "operationProfiling.slowOpThresholdMs 100 → 250", one per changed key (at most 3 shown). */
export function runtimeChanges(before: ProcessSpec, after: ProcessSpec): string {
  const a = flat(before.runtimeConfig), b = flat(after.runtimeConfig);
  const keys = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k))
    .sort();
  const shown = keys.slice(0, 3).map((k) =>
    `${k} ${a.get(k) ?? "(unset)"} → ${b.get(k) ?? "(unset)"}`
  );
  return shown.join(", ") + (keys.length > 3 ? `, and ${keys.length - 3} more` : "");
}

/** Pure: the `cluster reconfigure` Plan (no phases when no configuration changes). */
export function planReconfigure(input: ReconfigurePlanInput): Omit<Plan, "content_hash"> {
  const { procs, sets } = clusterProcesses(input);
  const name = input.meta.name;
  const changed = changedConfigs(input.meta.topology, input.topology, input.deployDir);
  const chosen = procs.filter((p) => changed.some((c) => c.proc.id === p.id));
  const cfgSet = sets.find((s) => s.configsvr);
  const errors: ValidationIssue[] = chosen.filter((p) => !input.facts[p.id]?.running).map((p) => ({
    code: "not_running",
    severity: "error",
    host: p.host,
    message: `${hostPort(p.host, p.port)} is not running: a rolling reconfiguration needs ` +
      `every process it restarts up (run \`mup cluster start ${name}\` first)`,
  }));
  const configure: PlannedOperation[] = changed.flatMap(({ proc: p, content, changes }) => {
    const staged = path.join(input.clusterDir, "staging", `${p.id}.conf`);
    const id = `config-${p.id}`;
    return [
      op({
        id,
        type: "generate_config",
        description: `Generate the new configuration of ${p.id}${changes ? `: ${changes}` : ""}`,
        target: processTarget(p, { content, staged_path: staged }),
        changes: [change("file", staged, "update")],
        depends_on: [],
        estimated_ms: 100,
      }),
      uploadConfigOp(p, {
        id: `upload-${id}`,
        description: `Upload the new configuration of ${p.id} (read at its restart)`,
        staged,
        action: "update",
        deps: [id],
      }),
    ];
  });
  const inSet = (s: ReplicaSetSpec) => chosen.filter((p) => p.replicaSet === s.name);
  const verify = verifyOp(input, []);
  const record = metadataOp(input, "auto", [verify.id]);
  record.description = "Record the new runtime_config";
  record.target.params.topology = JSON.stringify(input.topology);
  const phases = chosen.length
    ? [
      {
        name: "configure",
        description: "Write the new configuration files (read at each process's restart)",
        ops: configure,
      },
      {
        name: "restart-config",
        description: "Config servers: secondaries one at a time, then the stepped-down primary",
        ops: cfgSet ? rollSet(input, cfgSet, inSet(cfgSet), cfgSet) : [],
      },
      {
        name: input.meta.kind === "sharded" ? "restart-shards" : "restart-mongod",
        description: "Each replica set: secondaries one at a time, then the stepped-down primary",
        ops: [
          ...sets.filter((s) => !s.configsvr).flatMap((s) => rollSet(input, s, inSet(s), cfgSet)),
          ...rollEach(input, chosen.filter((p) => p.role === "mongod" && !p.replicaSet)),
        ],
      },
      {
        name: "restart-mongos",
        description: "mongos, one at a time",
        ops: rollEach(input, chosen.filter((p) => p.role === "mongos"), cfgSet),
      },
      {
        name: "finalize",
        description: "Verify health, then record the new runtime_config",
        ops: [verify, record],
      },
    ]
    : [];
  const warnings = [
    ...singleMongosWarnings(procs, chosen),
    ...majorityWarnings(procs, sets, chosen, input.facts, false),
  ];
  const plan = lifecyclePlan(input, "reconfigure", markedPhases(input, phases), {
    errors,
    warnings,
  });
  // The plan says what the cluster will be.
  return { ...plan, topology: input.topology, topology_file: input.topologyFile };
}
