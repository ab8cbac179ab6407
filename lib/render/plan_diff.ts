/**
 * `mup plan diff`'s text: each change with `+`, `~` or `-`, what differs live (drift) and the
 * command that sets it back, and "No changes…" when nothing does (lib/plan/diff.ts computes it).
 */
import type { Plan } from "../plan/schema.ts";
import type { PlanDiff } from "../plan/diff.ts";

const SYMBOL: Record<string, string> = {
  create: "+",
  start: "+",
  update: "~",
  restart: "~",
  delete: "-",
  stop: "-",
  none: " ",
};

/** True when the diff changes nothing and the live cluster is as the plan's topology says. */
export function noChanges(d: PlanDiff): boolean {
  return d.changes.every((c) => c.action === "none") && !d.drift?.length &&
    !d.unlisted_shards?.length;
}

/** The drift lines of renderDiff: what differs live, and the command that sets it back. */
function driftLines(plan: Plan, d: PlanDiff): string[] {
  if (!d.drift?.length && !d.unlisted_shards?.length) return [];
  const fields = (o: Record<string, unknown>) =>
    Object.entries(o).map(([k, v]) => `${k} ${String(v)}`).join(", ");
  return [
    "",
    "Changed outside mup (this plan does not change it):",
    ...(d.unlisted_shards ?? []).map((set) =>
      `  + shard        ${set}  (not listed by the cluster live, listShards; the topology has it)`
    ),
    ...(d.drift ?? []).map((x) =>
      x.removed
        ? `  + replica_set_member ${x.set}/${x.member}  (not in the set's configuration live; ` +
          "the topology has it)"
        : `  ~ replica_set_member ${x.set}/${x.member}  (${fields(x.live)} live; the topology ` +
          `has ${fields(x.topology)})`
    ),
    ...(plan.operation === "reconfigure" && d.drift?.length
      ? [
        `A reconfigure with the topology sets it back: \`mup cluster reconfigure ${plan.cluster_name} ${
          plan.topology_file || "<topology>"
        }\` plans it.`,
      ]
      : []),
    // A shard is added back by a deploy (a repair), whatever this plan is.
    ...(plan.operation !== "reconfigure" || d.unlisted_shards?.length
      ? [
        `A deploy of the topology sets it back: \`mup cluster deploy ${plan.cluster_name} ${
          plan.topology_file || "<topology>"
        } --version ${plan.version}\` plans it.`,
      ]
      : []),
  ];
}

/**
 * How many operations of the plan's unfinished apply have not run (0 without one): with no
 * resource left to change they still do work (a replica set's initiation, a health check, the
 * metadata), so the cluster is not yet what the plan says.
 */
export function operationsLeft(d: PlanDiff): number {
  return d.in_flight ? d.in_flight.total - d.in_flight.done : 0;
}

/** Each action as an operator says it: "to create", "to start"…; "none" is "unchanged". */
const WORDS: Record<string, string> = {
  create: "to create",
  start: "to start",
  update: "to change",
  restart: "to restart",
  delete: "to remove",
  stop: "to stop",
  none: "unchanged",
};

/**
 * "featureCompatibilityVersion 6.0 → 7.0": the fields an update's before and after differ in; a
 * field whose value is a structure (the metadata's `hooks`) by its name alone, and with no
 * `before` recorded, every field of `after`.
 */
function changedFields(before: unknown, after: unknown): string {
  if (!after || typeof after !== "object") return "";
  const b = (before && typeof before === "object" ? before : {}) as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  return Object.keys(a).filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]))
    .map((k) =>
      typeof a[k] === "object" && a[k] !== null
        ? k
        : `${k} ${String(b[k] ?? "(none)")} → ${String(a[k])}`
    ).join(", ");
}

/**
 * The diff as Terraform shows one: each resource that changes with its symbol and what happens
 * to it; resources left as they are only counted ("14 unchanged"), in the summary.
 */
export function renderDiff(plan: Plan, d: PlanDiff): string {
  const f = d.in_flight;
  const head = `Plan ${plan.plan_id} for cluster ${plan.cluster_name}${
    f
      ? ` (its apply ${f.state_id} is ${f.status}: ${f.done} of ${f.total} operations done, ` +
        `\`mup plan resume ${plan.cluster_name}\` does the rest)`
      : ""
  }:`;
  const left = operationsLeft(d);
  if (noChanges(d) && left > 0) {
    return `${head}\n\nNo resource is left to create, start or change, but ${left} of the ` +
      `apply's ${f!.total} operations have not run: \`mup plan resume ${plan.cluster_name}\` ` +
      "runs them.";
  }
  if (
    d.changes.every((c) => c.action === "none") && (d.drift?.length || d.unlisted_shards?.length)
  ) {
    return [head, "", "No resource of this plan is left to change.", ...driftLines(plan, d)]
      .join("\n");
  }
  if (noChanges(d)) {
    return `${head}\n\nNo changes. ${
      plan.operation === "deploy"
        ? "The cluster matches the topology."
        : `What this ${plan.operation} plan does is already in place.`
    }`;
  }
  const lines = [head, ""];
  for (const c of d.changes.filter((x) => x.action !== "none")) {
    const what = WORDS[c.action]?.replace(/^to /, "") ?? c.action;
    const fields = c.action === "update" ? changedFields(c.before, c.after) : "";
    lines.push(
      `  ${SYMBOL[c.action]} ${c.resource_type.padEnd(12)} ${c.resource_id}  (${what}${
        fields ? `: ${fields}` : ""
      }${c.note ? `; ${c.note}` : ""})`,
    );
  }
  const order = ["create", "start", "update", "restart", "stop", "delete", "none"];
  const counts = Object.entries(d.summary).sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
  lines.push(
    "",
    `Summary: ${counts.map(([k, v]) => `${v} ${WORDS[k] ?? `to ${k}`}`).join(", ")}.`,
    ...driftLines(plan, d),
  );
  return lines.join("\n");
}
