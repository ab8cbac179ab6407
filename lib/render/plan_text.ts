import type { Dag } from "../graph/mod.ts";
import { hookLine, hooksHeading } from "./hook_schedule.ts";
import { planCriticalPath, planToDag } from "../plan/graph.ts";
import { archiveCached, type Plan, type PlannedOperation } from "../plan/schema.ts";
import { archiveSize, groupOperations, groupPlanLine, type OpGroup, phaseTitle } from "./groups.ts";
import { formatDuration, plural, portRanges } from "../util/format.ts";
import { describeEstimateSource } from "../plan/estimates.ts";
import { listProcesses } from "../plan/processes.ts";
import { shellQuote } from "../executor/shell_quote.ts";

const KIND = { standalone: "Standalone", replica_set: "Replica set", sharded: "Sharded cluster" };

export function describeTopology(plan: Plan): string {
  const t = plan.topology;
  if (plan.kind === "sharded") {
    const shards = new Map<string, number>();
    for (const s of t.mongod_servers) {
      shards.set(s.replica_set!, (shards.get(s.replica_set!) ?? 0) + 1);
    }
    const sizes = [...new Set(shards.values())];
    const nodes = shards.size === 1
      ? `1 shard of ${plural(sizes[0], "node")}`
      : sizes.length === 1
      ? `${plural(shards.size, "shard")}, ${plural(sizes[0], "node")} each`
      // Shards of different sizes are named with theirs: "sh1 of 3 nodes, sh2 of 1" (tester53).
      : `${plural(shards.size, "shard")}: ${
        [...shards].map(([name, n], i) => `${name} of ${i === 0 ? plural(n, "node") : n}`)
          .join(", ")
      }`;
    return `${KIND.sharded} (${nodes})`;
  }
  if (plan.kind === "replica_set") {
    return `${KIND.replica_set} ${t.mongod_servers[0].replica_set} (${
      plural(t.mongod_servers.length, "member")
    })`;
  }
  return KIND.standalone;
}

/** Past this many alike lines in a row (a replica set each…), `plan show` summarises the rest. */
const RUN_LIMIT = 6;
const RUN_NOUN: Record<string, string> = {
  init_replica_set: "replica sets to initiate",
  add_shard: "shards to add",
};

/**
 * Lines of one phase, with a long run of alike lines (one per replica set on a large cluster)
 * cut to its first few and a count, unless `all` is set.
 */
function phaseLines(plan: Plan, groups: OpGroup[], all: boolean, listAll: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < groups.length;) {
    const type = groups[i].key.split(":")[0];
    let j = i;
    while (j < groups.length && groups[j].key.split(":")[0] === type) j++;
    const run = groups.slice(i, j);
    const shown = all || run.length <= RUN_LIMIT ? run : run.slice(0, RUN_LIMIT - 1);
    for (const g of shown) out.push(groupPlanLine(plan, g));
    if (shown.length < run.length) {
      out.push(
        `… ${run.length - shown.length} more ${
          RUN_NOUN[type] ?? `${type} operations`
        } (${listAll})`,
      );
    }
    i = j;
  }
  return out;
}

/** "3 of 10 processes (started, stopped)": the processes a lifecycle plan starts or stops. */
function actedOn(ops: Plan["phases"][number]["operations"], total: number): string {
  const started = new Set(ops.filter((o) => o.type === "start_process").map((o) => o.target.name));
  const stopped = new Set(ops.filter((o) => o.type === "stop_process").map((o) => o.target.name));
  // Members whose options a replSetReconfig sets: acted on too, without a restart.
  const reconfigured = new Set(
    ops.flatMap((o) => o.changes).filter((c) =>
      c.resource_type === "replica_set_member" && c.action === "update"
    )
      .map((c) => c.resource_id),
  );
  const all = new Set([...started, ...stopped]);
  const how = [started.size ? "started" : "", stopped.size ? "stopped" : ""].filter(Boolean);
  const processes = `${all.size} of ${total} processes${how.length ? ` (${how.join(", ")})` : ""}`;
  if (!reconfigured.size) return processes;
  const members = `${reconfigured.size} member${reconfigured.size === 1 ? "'s" : "s'"} options ` +
    "set by replSetReconfig (no restart)";
  return all.size ? `${processes}; ${members}` : members;
}

export function renderPlan(
  plan: Plan,
  /** `dag`: the plan's graph when the caller already compiled it (validation does). */
  /**
   * `listAll`: how to see the lines a long run is cut to, when `mup plan show <plan-id> --all`
   * cannot (a plan that was not saved).
   */
  /**
   * `unstored`: the plan was not kept (a dry run, or a plan that failed pre-flight), so no
   * command takes its ID or hash; they are marked so (tester98 #6).
   */
  options: { path?: string; all?: boolean; dag?: Dag; listAll?: string; unstored?: boolean } = {},
): string {
  const listAll = options.listAll ?? `\`mup plan show ${plan.plan_id} --all\` lists every one`;
  const r = plan.resources;
  const ops = plan.phases.flatMap((p) => p.operations);
  const groups = groupOperations(plan);
  // A re-deploy of a recorded cluster (a repair): most of it is already in place.
  const repair = plan.operation === "deploy" && plan.base_state.lineage !== "";
  const dag = options.dag ?? planToDag(plan);
  const cp = dag.valid ? planCriticalPath(plan) : { length: 0, path: [] };
  const roles = Object.entries(r.processes_by_role).map(([k, v]) => `${v} ${k}`).join(", ");
  // A scale-in's resources are the cluster after it: the processes it removes are not in them.
  const stays = new Set(listProcesses(plan.topology, plan.deploy_dir).map((p) => p.id));
  const removed = plan.operation !== "scale-in" ? 0 : new Set(
    ops.filter((o) => o.type === "stop_process" && !stays.has(o.target.name))
      .map((o) => o.target.name),
  ).size;
  const out = [
    `Plan ID: ${plan.plan_id}${options.unstored ? " (not stored: no command takes it)" : ""}`,
    `Content hash: ${plan.content_hash}${options.unstored ? " (not stored)" : ""}`,
    `Operation: ${plan.operation}`,
    `Cluster: ${plan.cluster_name}`,
    `Created: ${plan.created_at.replace("T", " ").replace(/\.\d+Z$/, " UTC")}`,
    `MongoDB version: ${plan.version} (${plan.variant}, ${plan.release.platform})`,
    `Topology: ${describeTopology(plan)}`,
    ...(options.path ? [`File: ${options.path}`] : []),
    "",
    "Resources:",
    `  Hosts: ${r.hosts}`,
    `  Total processes: ${r.total_processes} (${roles})${
      removed ? `, after it (${r.total_processes + removed} now)` : ""
    }`,
    // A lifecycle plan may act on a selection (-R, -N): say how many of the cluster's (a
    // scale-in's are counted among those the cluster has now: tester53).
    ...(plan.operation === "deploy"
      ? []
      : [`  Acted on: ${actedOn(ops, r.total_processes + removed)}`]),
    `  Ports: ${portRanges(r.ports_used)}`,
    // What a deploy needs; a stop, restart or destroy needs no new space.
    ...(plan.operation === "deploy"
      ? [
        `  Disk space: ${r.disk_space_gb}GB`,
        // The archives' own sizes, as the apply's "Downloaded … (1KB)" line gives them.
        `  Download size: ${archiveSize(ops.filter((o) => o.type === "download_binary"), plan)}${
          archiveCached(plan) ? " (cached)" : ""
        }`,
      ]
      : []),
    "",
    // A plan refused outright has no operations: only its errors, below, say anything.
    ...(ops.length ? ["Phases:"] : ["Operations: none (the plan is refused; see below)"]),
  ];
  for (const ph of plan.phases) {
    out.push(
      `  ${ph.order}. ${phaseTitle(ph.name)} (estimated: ${ph.estimated_duration})`,
    );
    let mine = groups.filter((x) => x.phase === ph.name);
    // A repair lists what changes; the operations that re-check what is in place are counted.
    let n = 0;
    if (repair && !options.all) {
      const changing = (o: PlannedOperation) => o.changes.some((c) => c.action !== "none");
      const rewrites = (o: PlannedOperation) =>
        o.changes.some((c) => c.resource_type !== "process" && c.action !== "none");
      n = ph.operations.filter((o) => !changing(o)).length;
      const at = new Map(ph.operations.map((o, i) => [o.id, i]));
      mine = mine.map((g) => ({ ...g, ops: g.ops.filter(changing) })).filter((g) => g.ops.length)
        // A file written again is named with why (lib/plan/repair_files.ts), one line each.
        .flatMap((g) => g.ops.some(rewrites) ? g.ops.map((o) => ({ ...g, ops: [o] })) : [g])
        // In the plan's order, so a certificate's signing comes before its installation and a
        // member's stop before its start (a group is placed by its first member otherwise).
        .sort((a, b) => at.get(a.ops[0].id)! - at.get(b.ops[0].id)!);
    }
    for (const line of phaseLines(plan, mine, !!options.all, listAll)) out.push(`     • ${line}`);
    if (n) {
      out.push(
        `     • ${n} ${n === 1 ? "operation re-checks" : "operations re-check"} what is in place${
          mine.length ? "" : ", changing nothing found there"
        } (${listAll})`,
      );
    }
    if (plan.operation === "deploy" && plan.kind !== "standalone" && ph.name === "finalize") {
      out.push("     • Display connection info");
    }
    out.push("");
  }
  out.push(...runsLines(ops, !!options.all, listAll));
  if (ops.length) {
    out.push(`Total operations: ${ops.length}`);
    out.push(
      `Estimated duration: ${
        formatDuration(cp.length)
      } (critical path through ${cp.path.length} operations)`,
    );
    out.push(`Estimates from: ${describeEstimateSource(plan.estimate_source)}`);
  }
  if (plan.hooks.length) {
    out.push("", hooksHeading(plan.hooks));
    for (const h of plan.hooks) out.push(hookLine(h, plan.hooks));
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

/**
 * Where a download_binary operation takes the release from. Pre-flight found the archive in the
 * cache with the release's sha256 when the planner recorded its change as "none" (see
 * `archiveCached`): the apply then only checks it again, downloading nothing, and the review says
 * so; otherwise it downloads.
 */
function downloadLine(o: PlannedOperation): string {
  const p = o.target.params;
  return o.changes.every((c) => c.action === "none")
    ? `Uses the cached ${p.archive} (sha256 ${p.sha256}, verified; no download), unpacked into ` +
      p.extract_dir
    : `Downloads ${p.url} (sha256 ${p.sha256}) into ${p.extract_dir}`;
}

/**
 * What the plan runs and which configuration files it writes, with their paths on each host:
 * the downloads (or cached archives) its binaries come from, `Runs <binary> -f <config> on <host>` per start, then
 * the configuration files uploaded that no start names. Long lists are cut to their first few and a count, unless `all` is set.
 */
function runsLines(ops: PlannedOperation[], all: boolean, listAll: string): string[] {
  // As a shell would read it: a path with a space or `$(…)` is one word, pasted or not.
  const word = (p: string | undefined) =>
    p === undefined ? "?" : shellQuote(p.replaceAll("\0", "\\0"));
  const at = (o: PlannedOperation) => (o.target.host ? ` on ${o.target.host}` : "");
  const starts = ops.filter((o) => o.type === "start_process");
  const configs = new Set(starts.map((o) => `${o.target.host}:${o.target.params.config}`));
  const writes = ops.filter((o) =>
    o.type === "upload_file" && o.target.params.kind === "file" && !o.target.params.secret &&
    !configs.has(`${o.target.host}:${o.target.params.dest}`)
  );
  const lines = [
    // Where the binaries come from: the install copies them from this download's directory.
    ...ops.filter((o) => o.type === "download_binary").map(downloadLine),
    // A start found running at planning (a repair's) only checks that it still runs.
    ...starts.map((o) =>
      `${o.changes.every((c) => c.action === "none") ? "Checks that it runs: " : "Runs "}${
        word(o.target.params.binary)
      } -f ${word(o.target.params.config)}${at(o)}`
    ),
    ...writes.map((o) => `Writes ${word(o.target.params.dest)}${at(o)}`),
  ];
  if (!lines.length) return [];
  const shown = all || lines.length <= RUN_LIMIT ? lines : lines.slice(0, RUN_LIMIT - 1);
  const out = ["Binaries and configuration files:", ...shown.map((l) => `  • ${l}`)];
  if (shown.length < lines.length) {
    out.push(
      `  … ${lines.length - shown.length} more (${listAll})`,
    );
  }
  return [...out, ""];
}

export function renderPreflight(plan: Plan): string {
  return plan.validation.checks.map((c) =>
    `${c.status === "passed" ? "✓" : c.status === "warning" ? "!" : "✗"} ${c.message}`
  ).join("\n");
}
