import type { ClusterMeta } from "../state/meta.ts";
import type { Change, Plan } from "./schema.ts";

export interface PlanDiff {
  cluster: string;
  plan_id: string;
  /** Every resource the plan touches with the action it would take now. */
  changes: (Change & { operation: string })[];
  summary: Record<string, number>;
}

/** The plan's expected changes against what the cluster's metadata records (empty for new). */
export function planDiff(plan: Plan, meta: ClusterMeta | undefined): PlanDiff {
  const recorded = new Set((meta?.processes ?? []).map((p) => p.id));
  const running = meta?.status === "running" ? recorded : new Set<string>();
  const stopped = meta?.status === "stopped" ? recorded : new Set<string>();
  // A process start changes nothing when the metadata records it running, a stop nothing when
  // it records it stopped.
  const inPlace = (c: Change) =>
    c.resource_type === "process" &&
    (c.action === "stop" ? stopped : running).has(c.resource_id);
  const changes: PlanDiff["changes"] = [];
  for (const ph of plan.phases) {
    for (const o of ph.operations) {
      for (const c of o.changes) {
        changes.push({ ...c, action: inPlace(c) ? "none" : c.action, operation: o.id });
      }
    }
  }
  const summary: Record<string, number> = {};
  for (const c of changes) summary[c.action] = (summary[c.action] ?? 0) + 1;
  return { cluster: plan.cluster_name, plan_id: plan.plan_id, changes, summary };
}

const SYMBOL: Record<string, string> = {
  create: "+",
  start: "+",
  update: "~",
  delete: "-",
  stop: "-",
  none: " ",
};

export function renderDiff(plan: Plan, d: PlanDiff): string {
  const lines = [`Plan ${plan.plan_id} for cluster ${plan.cluster_name}:`, ""];
  for (const c of d.changes) {
    lines.push(
      `  ${SYMBOL[c.action]} ${c.resource_type.padEnd(12)} ${c.resource_id}  (${c.action})`,
    );
  }
  lines.push(
    "",
    `Summary: ${Object.entries(d.summary).map(([k, v]) => `${v} to ${k}`).join(", ")}.`,
  );
  return lines.join("\n");
}
