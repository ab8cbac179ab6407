/**
 * `--no-hooks`: a lifecycle or rollback plan made without the cluster's hooks, for when a hook
 * recorded with the cluster fails every time (a notification endpoint down, a check that can no
 * longer pass) and must not keep an operator from stopping or removing the cluster.
 */
import type { Plan, ValidationIssue } from "../plan/schema.ts";

/** The hooks of `plan` that can run: those for no phase or for one of its phases. */
export function hooksThatRun(plan: Pick<Plan, "hooks" | "phases">): Plan["hooks"] {
  const phases = new Set(plan.phases.map((ph) => ph.name));
  return plan.hooks.filter((h) => h.phase === undefined || phases.has(h.phase));
}

/**
 * Removes every hook from `plan` (its list and each phase's before/after hook) and adds a
 * warning (`hooks_skipped`) naming the events skipped that would have run (a hook for a phase
 * the plan does not have is not named), so the review says so. Mutates `plan`.
 */
export function withoutHooks<P extends Pick<Plan, "hooks" | "phases" | "validation">>(plan: P): P {
  // Only what would have run: a hook for a phase this plan does not have was never to run.
  const events = [
    ...new Set(hooksThatRun(plan).map((h) => h.phase ? `${h.event} (${h.phase})` : h.event)),
  ];
  plan.hooks = [];
  for (const ph of plan.phases) {
    delete ph.before_hook;
    delete ph.after_hook;
  }
  if (events.length) {
    const warning: ValidationIssue = {
      code: "hooks_skipped",
      severity: "warning",
      message: `the cluster's hooks are skipped (--no-hooks): ${events.join(", ")} will not run ` +
        "for this plan",
    };
    plan.validation.warnings.push(warning);
  }
  return plan;
}
