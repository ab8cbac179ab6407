/**
 * The operations the lifecycle planners (start, stop, restart, destroy) are built from. Pure.
 */
import { MEMBER_QUIESCE_SECS } from "./quiesce.ts";
import { hostPort } from "../topology/hosts.ts";
import * as path from "node:path";
import type { ClusterMeta } from "../state/meta.ts";
import { configFilePath, pidFilePath } from "./mongo_config.ts";
import {
  listProcesses,
  listReplicaSets,
  type ProcessSpec,
  type ReplicaSetSpec,
} from "./processes.ts";
import type { PlannedOperation } from "./schema.ts";
import { change, check, describeRole, op, processTarget, startParams } from "./op_builders.ts";
import { clusterProcesses, EST, type LifecyclePlanInput } from "./lifecycle.ts";
import { MARK_OP } from "./mark_op.ts";
import { binaryPath, recordedSha256, repairCommand } from "./recorded.ts";
import { STOP_TIMEOUT_MS } from "./stop_timing.ts";

const members = (s: ReplicaSetSpec) => s.members.map((m) => hostPort(m.host, m.port));

/**
 * `stop-<id>`: shutdown command, then SIGTERM, then SIGKILL (force: shutdown with force).
 * `stepDownFirst`: the replica set whose primary this member was before the plan stepped it
 * down; primary again when the stop runs, it is stepped down again first (stop_process).
 * `quiesceSecs`: the shutdown command's timeoutSecs for a process that is no primary when it
 * stops, its quiesce period (MONGOS_QUIESCE_SECS, MEMBER_QUIESCE_SECS; 0 none); left out, a
 * mongos gets none and a mongod 10 s, a primary's wait for a secondary to catch up.
 */
export function stopOp(
  p: ProcessSpec,
  deps: string[],
  force = false,
  stepDownFirst?: string,
  quiesceSecs?: number,
): PlannedOperation {
  return op({
    id: `stop-${p.id}`,
    type: "stop_process",
    description: `Stop ${describeRole(p)} ${hostPort(p.host, p.port)}`,
    target: {
      // The configuration file too: the PID in the pid file is stopped only when that process
      // was started with it (a recycled PID, or a pid file that names another process, is not).
      ...processTarget(p, {
        pid_file: pidFilePath(p),
        config: configFilePath(p),
        ...(force ? { force: "true" } : {}),
        ...(stepDownFirst ? { step_down_first: stepDownFirst } : {}),
      }),
      timeout_ms: STOP_TIMEOUT_MS,
      ...(quiesceSecs !== undefined ? { quiesce_secs: quiesceSecs } : {}),
    },
    changes: [change("process", p.id, "stop")],
    depends_on: deps,
    estimated_ms: EST.stop,
  });
}

/**
 * Stop of a set member in a rolling restart: only while every other member is healthy. Planned
 * as a secondary, it may be the primary when its stop comes (an election since the plan was
 * made, e.g. a failover before a resume): it is then stepped down first, as the plan's primary
 * is, never stopped as the primary.
 */
export function rollingStopOp(p: ProcessSpec, set: ReplicaSetSpec, deps: string[]) {
  const o = stopOp(p, deps, false, set.name, MEMBER_QUIESCE_SECS);
  o.pre_conditions.push(check(
    `stop-${p.id}:set-healthy`,
    "replica_set_healthy",
    set.name,
    `every other member of ${set.name} is healthy and it has a primary`,
    { members: members(set), except: hostPort(p.host, p.port) },
  ));
  return o;
}

/**
 * `start-<id>`: the installed binary with the process's configuration file, after the checks a
 * deploy makes (port free, binary and configuration present; for mongos, config servers up).
 */
export function startOp(
  meta: ClusterMeta,
  p: ProcessSpec,
  deps: string[],
  cfgSet?: ReplicaSetSpec,
): PlannedOperation {
  const binary = binaryPath(meta, p);
  const sha256 = recordedSha256(meta, p.host, binary);
  const checks = [
    check(
      `start-${p.id}:port`,
      "port_available",
      hostPort(p.host, p.port),
      `port ${p.port} is free`,
      { host: p.host, port: p.port, config: configFilePath(p) },
    ),
    check(
      `start-${p.id}:binary`,
      "binary_present",
      `${p.host}:${binary}`,
      sha256 ? "binary is the one installed" : "binary is installed",
      {
        host: p.host,
        path: binary,
        ...(sha256 ? { sha256, repair: repairCommand(meta) } : {}),
      },
    ),
    check(
      `start-${p.id}:config`,
      "config_valid",
      `${p.host}:${configFilePath(p)}`,
      "configuration file is present and valid",
      { host: p.host, path: configFilePath(p), port: p.port },
    ),
  ];
  if (p.role === "mongos" && cfgSet) {
    checks.push(check(
      `start-${p.id}:deps`,
      "dependencies_running",
      cfgSet.name,
      "config servers are running",
      { members: members(cfgSet) },
    ));
  }
  return op({
    id: `start-${p.id}`,
    type: "start_process",
    description: `Start ${describeRole(p)} ${hostPort(p.host, p.port)}`,
    target: processTarget(p, startParams(p, binary)),
    pre_conditions: checks,
    changes: [change("process", p.id, "start", { host: p.host, port: p.port })],
    depends_on: deps,
    estimated_ms: EST.start,
  });
}

/** `wait-<id>`: until the process answers hello. */
export function waitOp(p: ProcessSpec, deps = [`start-${p.id}`]): PlannedOperation {
  return op({
    id: `wait-${p.id}`,
    type: "wait_for_process",
    description: `Wait for ${describeRole(p)} ${hostPort(p.host, p.port)}`,
    // The pid file tells a process that exited from one that is slow to answer.
    target: {
      ...processTarget(p, { pid_file: pidFilePath(p) }),
      timeout_ms: p.role === "mongos" ? 60_000 : 30_000,
    },
    depends_on: deps,
    estimated_ms: EST.wait,
  });
}

/** Waits for a restarted member to be SECONDARY (or healthy) and caught up with the primary. */
export function memberStateOp(
  p: ProcessSpec,
  set: ReplicaSetSpec,
  state: "SECONDARY" | "HEALTHY",
  deps: string[],
): PlannedOperation {
  return op({
    id: `wait-state-${p.id}`,
    type: "wait_for_member_state",
    description: p.arbiterOnly
      ? `Wait until arbiter ${hostPort(p.host, p.port)} is healthy`
      : `Wait until ${hostPort(p.host, p.port)} is ${
        state === "HEALTHY" ? "healthy" : state
      } and caught up`,
    target: {
      ...processTarget(p, {
        pid_file: pidFilePath(p),
        members: JSON.stringify(members(set)),
        state: p.arbiterOnly ? "HEALTHY" : state,
        caught_up: p.arbiterOnly ? "false" : "true",
      }),
      timeout_ms: 120_000,
    },
    depends_on: deps,
    parallel: false,
    estimated_ms: EST.catchUp,
  });
}

/** `step-down-<set>`: replSetStepDown on the primary, once every member is healthy. */
export function stepDownOp(p: ProcessSpec, set: ReplicaSetSpec, deps: string[]) {
  return op({
    id: `step-down-${set.name}`,
    type: "step_down",
    description: `Step down ${set.name} primary ${hostPort(p.host, p.port)}`,
    target: {
      ...processTarget(p, { replica_set: set.name }),
      step_down_secs: 60,
      catch_up_secs: 10,
    },
    pre_conditions: [check(
      `step-down-${set.name}:set-healthy`,
      "replica_set_healthy",
      set.name,
      `every member of ${set.name} is healthy`,
      { members: members(set) },
    )],
    // Who is primary before, as planned: `plan diff` shows "primary h:p → another member".
    changes: [{
      ...change("replica_set", set.name, "update", { primary: "another member" }),
      before: { primary: hostPort(p.host, p.port) },
    }],
    depends_on: deps,
    parallel: false,
    estimated_ms: EST.stepDown,
  });
}

/** `wait-primary-<set>`: until the set has a primary (other than `not`, when given). */
export function waitPrimaryOp(set: ReplicaSetSpec, deps: string[], not?: ProcessSpec) {
  return op({
    id: `wait-primary-${set.name}`,
    type: "wait_for_primary",
    description: `Wait for ${set.name} to elect a primary${
      not ? ` other than ${hostPort(not.host, not.port)}` : ""
    }`,
    target: {
      type: "replica_set",
      name: set.name,
      params: {
        members: JSON.stringify(members(set)),
        ...(not ? { not: hostPort(not.host, not.port) } : {}),
      },
      timeout_ms: 60_000,
    },
    depends_on: deps,
    estimated_ms: EST.election,
  });
}

/**
 * `wait-handback-<set>`: a member of higher priority than every other electable one calls an
 * election once it is back and caught up (MongoDB's priority takeover) and takes the primary
 * back; the restart waits for that second election instead of leaving it to happen unannounced.
 */
export function handBackOp(set: ReplicaSetSpec, to: ProcessSpec, deps: string[]) {
  return op({
    id: `wait-handback-${set.name}`,
    type: "wait_for_primary",
    description:
      `Wait for ${hostPort(to.host, to.port)} (priority ${to.priority}) to take the primary ` +
      `of ${set.name} back (priority takeover: a second election)`,
    target: {
      type: "replica_set",
      name: set.name,
      params: {
        members: JSON.stringify(members(set)),
        is: hostPort(to.host, to.port),
        // Tells a member that exited from one slow to take over.
        is_host: to.host,
        is_pid_file: pidFilePath(to),
      },
      timeout_ms: 60_000,
    },
    depends_on: deps,
    estimated_ms: EST.election,
  });
}

/** `verify-health`: every recorded process answers, sets have one primary, mongos lists shards. */
export function verifyOp(input: LifecyclePlanInput, deps: string[]): PlannedOperation {
  const { procs, sets } = clusterProcesses(input);
  const kind = input.meta.kind;
  return op({
    id: "verify-health",
    type: "verify_health",
    description: "Verify cluster health",
    target: {
      type: "cluster",
      name: input.meta.name,
      params: {
        kind,
        processes: JSON.stringify(procs.map((p) => ({
          id: p.id,
          host: p.host,
          port: p.port,
          role: p.role,
          replica_set: p.replicaSet,
          pid_file: pidFilePath(p),
        }))),
        shards: JSON.stringify(
          kind === "sharded" ? sets.filter((s) => !s.configsvr).map((s) => s.name) : [],
        ),
      },
      timeout_ms: 60_000,
    },
    depends_on: deps,
    parallel: false,
    estimated_ms: EST.verify,
  });
}

/**
 * `verify` (a verify_health operation) narrowed to the processes whose ID `keep` accepts, with
 * `description`: the other members of their sets are not judged (`only_listed`). A scale-out
 * judges what it added so; a reconfigure of members' options the processes left running.
 */
export function verifyOnly(
  verify: PlannedOperation,
  keep: (id: string) => boolean,
  description: string,
): PlannedOperation {
  const listed = JSON.parse(verify.target.params.processes) as { id: string }[];
  return {
    ...verify,
    description,
    target: {
      ...verify.target,
      params: {
        ...verify.target.params,
        processes: JSON.stringify(listed.filter((p) => keep(p.id))),
        only_listed: "true",
      },
    },
  };
}

/** Records the outcome in meta.yaml (status as found, or removed). */
export function metadataOp(
  input: LifecyclePlanInput,
  status: "auto" | "removed" | "unknown",
  deps: string[] = [],
): PlannedOperation {
  const file = path.join(input.clusterDir, "meta.yaml");
  const [id, description] = {
    removed: ["remove-metadata", "Remove cluster metadata"],
    unknown: [MARK_OP, "Record the cluster's status as unknown while it changes"],
    auto: ["update-metadata", "Record cluster status"],
  }[status];
  return op({
    id,
    type: "update_metadata",
    description,
    target: { type: "cluster", name: input.meta.name, params: { path: file, status } },
    changes: [change("file", file, status === "removed" ? "delete" : "update")],
    depends_on: deps,
    parallel: false,
    estimated_ms: EST.meta,
  });
}

/**
 * The phases of a start, stop or restart, led by a phase that records the status as unknown
 * when the plan changes any process (so a failed apply never leaves the old status standing).
 */
export function markedPhases(
  input: LifecyclePlanInput,
  phases: { name: string; description: string; ops: PlannedOperation[] }[],
): { name: string; description: string; ops: PlannedOperation[] }[] {
  const changes = phases.some((p) => p.ops.some((o) => o.type !== "update_metadata"));
  if (!changes || input.unrecorded) return phases;
  return [
    {
      name: "prepare",
      description: "Record that the cluster is changing",
      ops: [metadataOp(input, "unknown")],
    },
    ...phases,
  ];
}

/**
 * For each recorded process (by process id): its start, then a wait until it answers, with no
 * dependencies yet. A rollback uses them to undo a stop. Pure: from the cluster's metadata.
 */
export function startAgainOps(
  meta: ClusterMeta,
  deployDir: string,
): Record<string, PlannedOperation[]> {
  const procs = listProcesses(meta.topology, deployDir);
  const cfgSet = listReplicaSets(procs).find((s) => s.configsvr);
  return Object.fromEntries(
    procs.map((p) => [p.id, [startOp(meta, p, [], cfgSet), waitOp(p, [])]]),
  );
}
