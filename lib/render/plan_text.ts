import { criticalPath } from "../graph/mod.ts";
import { planToDag } from "../plan/graph.ts";
import type { Plan, PlannedOperation } from "../plan/schema.ts";
import { formatDuration, plural, portRanges } from "../util/format.ts";

const KIND = { standalone: "Standalone", replica_set: "Replica set", sharded: "Sharded cluster" };

export function describeTopology(plan: Plan): string {
  const t = plan.topology;
  if (plan.kind === "sharded") {
    const shards = new Map<string, number>();
    for (const s of t.mongod_servers) {
      shards.set(s.replica_set!, (shards.get(s.replica_set!) ?? 0) + 1);
    }
    const sizes = [...new Set(shards.values())];
    return `${KIND.sharded} (${plural(shards.size, "shard")}, ${
      sizes.length === 1 ? `${sizes[0]} nodes each` : `${[...shards.values()].join("/")} nodes`
    })`;
  }
  if (plan.kind === "replica_set") {
    return `${KIND.replica_set} ${t.mongod_servers[0].replica_set} (${
      plural(t.mongod_servers.length, "member")
    })`;
  }
  return KIND.standalone;
}

function roleOf(o: PlannedOperation): string {
  return o.target.params.role ?? o.target.name.split("-")[0];
}

const ROLE_NAMES: Record<string, [string, string]> = {
  config: ["config server", "config servers"],
  mongod: ["shard mongod process", "shard mongod processes"],
  mongos: ["mongos process", "mongos processes"],
};

/** One line per operation, or per group of alike operations, as in the specification's example. */
export function summarizeOperations(plan: Plan, ops: PlannedOperation[]): string[] {
  const groups: { key: string; ops: PlannedOperation[] }[] = [];
  for (const o of ops) {
    const key = o.type === "upload_file"
      ? `${o.type}:${o.target.params.kind}`
      : ["start_process", "wait_for_process"].includes(o.type)
      ? `${o.type}:${roleOf(o)}`
      : o.type;
    const last = groups.find((g) =>
      g.key === key &&
      ["create_directory", "generate_config", "upload_file", "start_process", "wait_for_process"]
        .includes(o.type)
    );
    if (last) last.ops.push(o);
    else groups.push({ key, ops: [o] });
  }
  const standalone = plan.kind !== "sharded";
  return groups.map(({ key, ops }) => {
    const n = ops.length;
    const hosts = new Set(ops.map((o) => o.target.host)).size;
    if (n === 1) return ops[0].description;
    const [type, sub] = key.split(":");
    const names = standalone && sub === "mongod"
      ? ["mongod process", "mongod processes"]
      : ROLE_NAMES[sub] ?? [sub, sub + "s"];
    switch (type) {
      case "create_directory":
        return `Create directories on ${plural(hosts, "host")} (data, logs, config)`;
      case "generate_config":
        return `Generate configuration files (${n} configs)`;
      case "upload_file":
        return sub === "binaries"
          ? `Install ${plan.version} binaries on ${plural(hosts, "host")}`
          : `Upload configuration files (${n} configs)`;
      case "start_process":
        return `Start ${n} ${names[1]}${ops.every((o) => o.parallel) ? " (parallel)" : ""}`;
      case "wait_for_process":
        return `Wait for ${names[1]} ready`;
      default:
        return `${ops[0].description} (+${n - 1} more)`;
    }
  });
}

export function renderPlan(plan: Plan, options: { path?: string } = {}): string {
  const r = plan.resources;
  const ops = plan.phases.flatMap((p) => p.operations);
  const dag = planToDag(plan);
  const cp = dag.valid ? criticalPath(dag) : { length: 0, path: [] };
  const roles = Object.entries(r.processes_by_role).map(([k, v]) => `${v} ${k}`).join(", ");
  const out = [
    `Plan ID: ${plan.plan_id}`,
    `Operation: ${plan.operation}`,
    `Cluster: ${plan.cluster_name}`,
    `Created: ${plan.created_at.replace("T", " ").replace(/\.\d+Z$/, " UTC")}`,
    `MongoDB version: ${plan.version} (${plan.variant}, ${plan.release.platform})`,
    `Topology: ${describeTopology(plan)}`,
    ...(options.path ? [`File: ${options.path}`] : []),
    "",
    "Resources:",
    `  Hosts: ${r.hosts}`,
    `  Total processes: ${r.total_processes} (${roles})`,
    `  Ports: ${portRanges(r.ports_used)}`,
    `  Disk space: ${r.disk_space_gb}GB`,
    `  Download size: ${r.download_size_mb}MB${
      plan.phases[0]?.operations[0]?.changes[0]?.action === "none" ? " (cached)" : ""
    }`,
    "",
    "Phases:",
  ];
  for (const ph of plan.phases) {
    out.push(
      `  ${ph.order}. ${ph.name[0].toUpperCase()}${
        ph.name.slice(1)
      } (estimated: ${ph.estimated_duration})`,
    );
    for (const line of summarizeOperations(plan, ph.operations)) out.push(`     • ${line}`);
    if (plan.kind !== "standalone" && ph.name === "finalize") {
      out.push("     • Display connection info");
    }
    out.push("");
  }
  out.push(`Total operations: ${ops.length}`);
  out.push(
    `Estimated duration: ${
      formatDuration(cp.length)
    } (critical path through ${cp.path.length} operations)`,
  );
  if (plan.hooks.length) {
    out.push("", "Hooks configured:");
    for (const h of plan.hooks) {
      out.push(`  • ${h.event}${h.phase ? ` (${h.phase})` : ""}: ${h.command}`);
    }
  }
  if (plan.validation.warnings.length) {
    out.push("", "Warnings:");
    for (const w of plan.validation.warnings) out.push(`  • ${w.message}`);
  }
  out.push("");
  if (plan.validation.valid) out.push("Validation: ✓ Plan is valid");
  else {
    out.push("Validation: ✗ Plan is not valid");
    for (const e of plan.validation.errors) out.push(`  • ${e.message}`);
  }
  return out.join("\n");
}

export function renderPreflight(plan: Plan): string {
  return plan.validation.checks.map((c) =>
    `${c.status === "passed" ? "✓" : c.status === "warning" ? "!" : "✗"} ${c.message}`
  ).join("\n");
}
