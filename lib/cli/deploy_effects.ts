/**
 * The specification's "This will:" block shown before the confirmation: a first deploy's
 * resources, a repair's changes, a lifecycle plan's effects (lifecycle_effects.ts).
 */
import { hooksThatRun } from "../hooks/skip.ts";
import { archiveCached, type Plan, type PlannedOperation } from "../plan/schema.ts";
import { hostPort } from "../topology/hosts.ts";
import { plural, portRanges } from "../util/format.ts";
import { describeLifecycleEffects } from "./lifecycle_effects.ts";
import { archiveSize } from "../render/groups.ts";

/** The specification's "This will:" block. */
export function describeEffects(plan: Plan): string {
  if (plan.operation === "scale-out") return describeScaleOutEffects(plan);
  if (plan.operation !== "deploy") return describeLifecycleEffects(plan);
  if (plan.base_state.lineage !== "") return describeRepairEffects(plan);
  const r = plan.resources;
  const hosts = Object.keys(r.processes_per_host);
  const cached = archiveCached(plan);
  return [
    `Apply ${plan.plan_id} to cluster ${plan.cluster_name}?`,
    "",
    "This will:",
    `  • Create ${plural(r.total_processes, "MongoDB process", "MongoDB processes")} on ${
      hosts.length === 1 ? hosts[0] : plural(hosts.length, "host")
    }`,
    `  • Use ports ${portRanges(r.ports_used)}`,
    `  • Create directories at ${plan.deploy_dir}/`,
    cached ? `  • Use the cached MongoDB ${plan.version} binaries` : `  • Download ${
      archiveSize(
        plan.phases.flatMap((ph) => ph.operations).filter((o) => o.type === "download_binary"),
        plan,
      )
    } of binaries`,
    ...plan.phases.flatMap((ph) => ph.operations).filter((o) =>
      o.type === "set_default_write_concern"
    ).map((o) => `  • ${o.description} (MongoDB keeps it: it can be changed, not unset)`),
    ...hooksLine(plan),
  ].join("\n");
}

/**
 * "This will:" for a re-deploy of a recorded cluster (a repair): what it changes — the processes
 * it starts, then every other operation that changes something, by its description — and how
 * many operations only re-check what is in place. Nothing is "created" that already runs.
 */
function describeRepairEffects(plan: Plan): string {
  const ops = plan.phases.flatMap((ph) => ph.operations);
  const changing = (o: PlannedOperation) => o.changes.some((c) => c.action !== "none");
  const starts = ops.filter((o) => o.type === "start_process" && changing(o));
  const others = ops.filter((o) => o.type !== "start_process" && changing(o));
  const checks = ops.length - starts.length - others.length;
  const lines = [
    ...(starts.length
      ? [
        `  • Start ${plural(starts.length, "MongoDB process", "MongoDB processes")} that ${
          starts.length === 1 ? "does" : "do"
        } not run: ${starts.map((o) => hostPort(o.target.host!, o.target.port!)).join(", ")}`,
      ]
      : []),
    ...others.map((o) => `  • ${o.description}`),
    ...(checks
      ? [
        `  • Re-check what is in place (${
          plural(checks, "operation")
        }), changing nothing found there`,
      ]
      : []),
    ...hooksLine(plan),
  ];
  return [`Apply ${plan.plan_id} to cluster ${plan.cluster_name}?`, "", "This will:", ...lines]
    .join("\n");
}

/**
 * "This will:" for a scale-out: the processes it creates and starts, the sets they join, the
 * shards it adds, and that the metadata records them last.
 */
function describeScaleOutEffects(plan: Plan): string {
  const ops = plan.phases.flatMap((ph) => ph.operations);
  const of = (type: string) => ops.filter((o) => o.type === type);
  const starts = of("start_process");
  const hosts = new Set(starts.map((o) => o.target.host));
  const lines = [
    `  • Create and start ${plural(starts.length, "MongoDB process", "MongoDB processes")} on ${
      hosts.size === 1 ? [...hosts][0] : plural(hosts.size, "host")
    }: ${starts.map((o) => hostPort(o.target.host!, o.target.port!)).join(", ")}`,
    ...of("add_members").map((o) =>
      `  • ${o.description}, ${
        JSON.parse(o.target.params.add).length > 1 ? "each " : ""
      }waited for until SECONDARY`
    ),
    ...of("init_replica_set").map((o) => `  • Initiate replica set ${o.target.name}`),
    ...of("create_user").map((o) => `  • ${o.description}`),
    ...of("add_shard").map((o) => `  • Add shard ${o.target.name} to the cluster`),
    "  • Verify the health of the whole cluster",
    "  • Record the new processes in the cluster's metadata",
    ...hooksLine(plan),
    ...plan.validation.warnings.map((w) => `  ! ${w.message}`),
  ];
  return [
    `Apply ${plan.plan_id} (scale-out) to cluster ${plan.cluster_name}?`,
    "",
    "This will:",
    ...lines,
  ].join("\n");
}

/**
 * "  • Run N hooks (events…)", when the plan has hooks that can run (one for a phase the plan
 * does not have never runs: its warning says so).
 */
function hooksLine(plan: Plan): string[] {
  const run = hooksThatRun(plan);
  return run.length
    ? [
      `  • Run ${plural(run.length, "hook")} (${[...new Set(run.map((h) => h.event))].join(", ")})`,
    ]
    : [];
}
