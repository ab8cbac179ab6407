import type { Plan } from "../plan/schema.ts";
import { plural } from "../util/format.ts";
import { formatDuration } from "../topology/bounds.ts";
import { phaseTitle } from "./groups.ts";

/**
 * The review's "Hooks configured" heading, with the directory the hooks run in (relative
 * commands and paths are its): "Hooks configured (run in /srv/topologies):".
 */
export function hooksHeading(hooks: Plan["hooks"]): string {
  const dirs = [...new Set(hooks.map((h) => h.working_dir))];
  return `Hooks configured${dirs.length === 1 ? ` (run in ${dirs[0]})` : ""}:`;
}

/**
 * A hook in the review's "Hooks configured" list: event, phase, command, timeout, environment,
 * and its directory when the hooks do not share one.
 */
export function hookLine(h: Plan["hooks"][number], all: Plan["hooks"] = [h]): string {
  const shared = all.every((o) => o.working_dir === h.working_dir);
  // Its environment too: a variable (LD_PRELOAD, PATH) changes what the command runs.
  const env = Object.entries(h.environment ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `  • ${h.event}${h.phase ? ` (${h.phase})` : ""}: ${h.command} (timeout ${
    formatDuration(h.timeout_ms)
  }${env.length ? `; environment ${env.join(" ")}` : ""}${
    h.continue_on_error ? "; its failure does not stop the apply" : ""
  }${shared ? "" : `; runs in ${h.working_dir}`})`;
}

/**
 * The dry-run view of Example 3: hooks configured (unless `listHooks` is false: the plan's
 * rendering above already listed them), then what would run in order.
 */
export function renderHookSchedule(plan: Plan, options: { listHooks?: boolean } = {}): string {
  const out: string[] = [];
  if (plan.hooks.length && options.listHooks !== false) {
    out.push(hooksHeading(plan.hooks));
    for (const h of plan.hooks) out.push(hookLine(h, plan.hooks));
    out.push("");
  }
  const steps: string[] = [];
  const hooks = (event: string, phase?: string) =>
    plan.hooks.filter((h) => h.event === event && (!phase || !h.phase || h.phase === phase));
  for (const h of hooks("before_apply")) steps.push(`Hook: before_apply (${h.name})`);
  for (const ph of plan.phases) {
    for (const h of hooks("before_phase", ph.name)) {
      steps.push(
        `Hook: before_phase (${ph.name})${h.name !== "before_phase" ? ` [${h.name}]` : ""}`,
      );
    }
    const opHooks = hooks("before_operation").length + hooks("after_operation").length;
    steps.push(
      `Phase: ${phaseTitle(ph.name)} (${ph.operations.length} operations${
        opHooks ? `, ${opHooks} operation hook${opHooks > 1 ? "s" : ""} around each` : ""
      })`,
    );
    for (const h of hooks("after_phase", ph.name)) {
      steps.push(`Hook: after_phase (${ph.name})${h.name !== "after_phase" ? ` [${h.name}]` : ""}`);
    }
  }
  for (const h of hooks("after_apply")) steps.push(`Hook: after_apply (${h.name})`);
  for (const h of hooks("on_success")) {
    steps.push(`Hook: on_success (${h.name}) — if the apply succeeds`);
  }
  for (const h of hooks("on_error")) steps.push(`Hook: on_error (${h.name}) — if the apply fails`);
  out.push("[Dry-run mode] Would execute:");
  steps.forEach((s, i) => out.push(`  ${i + 1}. ${s}`));
  const total = plan.phases.reduce((n, p) => n + p.operations.length, 0);
  out.push(
    "",
    `Total: ${plural(total, "operation")} across ${plural(plan.phases.length, "phase")}`,
    "No changes were made (dry-run mode): nothing was started, stopped, written or saved.",
  );
  return out.join("\n");
}
