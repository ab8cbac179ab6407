/**
 * `mup cluster scale-in <name>`: processes taken out of a running cluster — replica set members
 * (shards' or the set's) and mongos. Each set that loses members removes them through its
 * primary, one replSetReconfig per member (remove_members; a primary to remove is stepped down
 * first); then the removed processes are stopped, the rest of the cluster is verified healthy,
 * the metadata records the smaller topology, and the removed processes' directories go (their
 * data too, unless `--retain-data`). A whole shard, a config server member or the last mongos
 * is refused. Pure.
 */
import * as path from "node:path";
import { hostKey, hostPort } from "../topology/hosts.ts";
import type { Topology } from "../topology/schema.ts";
import { processRemovals, removeOp } from "./destroy.ts";
import { clusterProcesses, EST, lifecyclePlan, type LifecyclePlanInput } from "./lifecycle.ts";
import { markedPhases, stopOp, verifyOp } from "./lifecycle_ops.ts";
import { change, check, op } from "./op_builders.ts";
import { listProcesses, type ProcessSpec } from "./processes.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";

export interface ScaleInPlanInput extends LifecyclePlanInput {
  /** The recorded topology without the entries to remove. */
  topology: Topology;
  /** Where the request came from: the topology file given, or "" for `-N` nodes. */
  topologyFile: string;
}

const machine = (p: { host: string; port: number }) => `${hostKey(p.host)}:${p.port}`;

/** The recorded processes `topology` no longer has. */
export function removedProcesses(input: Pick<ScaleInPlanInput, "meta" | "deployDir" | "topology">) {
  const stays = new Set(listProcesses(input.topology, input.deployDir).map(machine));
  return listProcesses(input.meta.topology, input.deployDir).filter((p) => !stays.has(machine(p)));
}

/** Pure: the `cluster scale-in` Plan (no phases when the topology removes nothing). */
export function planScaleIn(input: ScaleInPlanInput): Omit<Plan, "content_hash"> {
  const { procs, sets } = clusterProcesses(input);
  const name = input.meta.name;
  const removed = removedProcesses(input);
  const gone = new Set(removed.map((p) => p.id));
  const errors: ValidationIssue[] = [];
  const warnings: ValidationIssue[] = [];
  const refuse = (code: string, p: ProcessSpec, message: string) =>
    errors.push({ code, severity: "error", host: p.host, message });
  for (const p of removed.filter((p) => p.role === "config")) {
    refuse(
      "config_member_removal",
      p,
      `${hostPort(p.host, p.port)} is a config server member, which mup does not remove yet ` +
        "(every mongos's sharding.configDB names the config servers)",
    );
  }
  for (const s of sets.filter((s) => !s.configsvr)) {
    const stay = s.members.filter((m) => !gone.has(m.id));
    if (stay.length === 0 && s.members.length) {
      refuse(
        "whole_set_removal",
        s.members[0],
        input.meta.kind === "sharded"
          ? `every member of shard ${s.name} would go: removing a shard (removeShard, draining ` +
            "its chunks and moving its databases' primaries) is not done by mup yet"
          : `every member of replica set ${s.name} would go: that is \`mup cluster destroy ${name}\``,
      );
      continue;
    }
    const voters = stay.filter((m) => m.votes > 0);
    if (stay.length < s.members.length && voters.length === 0) {
      refuse(
        "no_voters_left",
        stay[0],
        `replica set ${s.name} would have no voting member left (MongoDB requires at least one)`,
      );
    }
    if (stay.length < s.members.length && voters.length > 0 && voters.length % 2 === 0) {
      warnings.push({
        code: "even_voters",
        severity: "warning",
        message: `replica set ${s.name} keeps ${voters.length} voting members: an even number ` +
          `tolerates no more failures than ${voters.length - 1} would (MongoDB manual, ` +
          '"Replica Set Deployment Architectures")',
      });
    }
    if (stay.length < s.members.length && stay.filter((m) => !m.arbiterOnly).length === 1) {
      warnings.push({
        code: "single_member_left",
        severity: "warning",
        message: `replica set ${s.name} keeps one data-bearing member: no copy of its data is ` +
          "left to fail over to",
      });
    }
  }
  const mongos = procs.filter((p) => p.role === "mongos");
  if (mongos.length && mongos.every((p) => gone.has(p.id))) {
    refuse(
      "last_mongos",
      mongos[0],
      "every mongos would go: applications reach a sharded cluster only through mongos",
    );
  }
  // What stays is verified healthy at the end, through its primaries: it must run now.
  for (const p of procs.filter((p) => !gone.has(p.id) && !input.facts[p.id]?.running)) {
    refuse(
      "not_running",
      p,
      `${hostPort(p.host, p.port)} is not running: a scale-in removes members through each ` +
        `set's primary and verifies the health of what stays (run \`mup cluster start ${name}\` ` +
        "first)",
    );
  }
  const removing = sets.flatMap((s) => {
    const out = s.members.filter((m) => gone.has(m.id) && m.role !== "config");
    if (!out.length || out.length === s.members.length) return [];
    return [op({
      id: `remove-members-${s.name}`,
      type: "remove_members",
      description: `Remove ${out.map((m) => hostPort(m.host, m.port)).join(", ")} from ` +
        `replica set ${s.name}${out.length > 1 ? " (one replSetReconfig each)" : ""}`,
      target: {
        type: "replica_set",
        name: s.name,
        host: s.members.find((m) => !gone.has(m.id))!.host,
        port: s.members.find((m) => !gone.has(m.id))!.port,
        params: {
          remove: JSON.stringify(out.map((m) => hostPort(m.host, m.port))),
          members: JSON.stringify(s.members.map((m) => hostPort(m.host, m.port))),
        },
        timeout_ms: 120_000,
      },
      pre_conditions: [check(
        `remove-members-${s.name}:stay`,
        "members_reachable",
        s.name,
        "every member that stays answers",
        {
          members: s.members.filter((m) => !gone.has(m.id)).map((m) => hostPort(m.host, m.port)),
        },
      )],
      changes: out.map((m) =>
        change("replica_set_member", `${s.name}/${hostPort(m.host, m.port)}`, "delete")
      ),
      depends_on: [],
      parallel: true,
      estimated_ms: EST.election,
    })];
  });
  const stops = removed.map((p) =>
    stopOp(p, p.replicaSet ? [`remove-members-${p.replicaSet}`] : [])
  );
  const smaller = { ...input, meta: { ...input.meta, topology: input.topology } };
  const verify = verifyOp(smaller, stops.map((o) => o.id));
  const file = path.join(input.clusterDir, "meta.yaml");
  const record = op({
    id: "save-metadata",
    type: "save_metadata",
    description: "Save the cluster metadata without the removed processes",
    target: { type: "cluster", name, params: { path: file } },
    changes: [change("file", file, "update")],
    depends_on: [verify.id],
    parallel: false,
    estimated_ms: EST.meta,
  });
  // Directories go last: what the metadata records is true before any file is removed.
  const removes: PlannedOperation[] = processRemovals(removed, () => input.retainData === true)
    .map((r) =>
      removeOp(r.host, r.dir, r.what, [...r.deps, record.id], r.mode, {
        retained: r.retained,
        inner: r.inner,
      })
    );
  const phases = removed.length
    ? markedPhases(input, [
      {
        name: "remove-members",
        description: "Each set's primary removes the members that go, one replSetReconfig each",
        ops: removing,
      },
      { name: "stop", description: "Stop the removed processes", ops: stops },
      {
        name: "finalize",
        description: "Verify the health of what stays, then record it in the metadata",
        ops: [verify, record],
      },
      {
        name: "remove-files",
        description: input.retainData
          ? "Remove the removed processes' directories, their data kept (--retain-data)"
          : "Remove the removed processes' directories, their data included",
        ops: removes,
      },
    ])
    : [];
  const plan = lifecyclePlan(input, "scale-in", phases, { errors, warnings });
  return { ...plan, topology: input.topology, topology_file: input.topologyFile };
}
