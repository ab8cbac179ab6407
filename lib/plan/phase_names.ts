/**
 * Phase names at planning: the kind-dependent ones come from lib/hooks/phases.ts (membersPhase),
 * and a plan's phase hooks that name a phase it does not have are warned of.
 */
import type { Plan, ValidationIssue } from "./schema.ts";
import { didYouMean } from "../util/similar.ts";
import { aKind, membersPhase, otherKindsPhase, unknownPhase } from "../hooks/phases.ts";

export { membersPhase, otherKindsPhase };

/**
 * Warnings (code `hook_phase_misspelt`) for the phase hooks of `plan` that name a phase it does
 * not have and that are likely meant for one it has: the other kind's name of one of its phases
 * (`restart-mongod` in a sharded cluster's restart, whose phase is `restart-shards`), else a
 * name a small edit away (`deplyo`). A phase of another kind of plan (a restart's phase in a
 * deploy) is no mistake: such a hook runs in the plans that have it, and is not warned of; one
 * that no plan of the cluster's kind has (code `hook_phase_unknown`) never runs, and is, unless
 * `saidOf` says the topology's validation warned of it already.
 */
export function hookPhaseWarnings(
  plan: Pick<Plan, "hooks" | "phases" | "kind" | "operation">,
  /** Phases whose hooks the topology's validation already warned of (a deploy's). */
  saidOf: (phase: string) => boolean = () => false,
): ValidationIssue[] {
  const names = plan.phases.map((ph) => ph.name);
  return (plan.hooks ?? []).flatMap((h) => {
    if (h.phase === undefined || names.includes(h.phase) || saidOf(h.phase)) return [];
    const other = otherKindsPhase(h.phase);
    const guess = other && names.includes(other) ? other : didYouMean(h.phase, names);
    if (!guess) {
      // Not close to this plan's: a phase of another plan, or of none (then it never runs).
      const never = unknownPhase(h.phase, plan.kind);
      return never
        ? [{
          code: "hook_phase_unknown",
          severity: "warning" as const,
          message: `hook ${h.name} (${h.event}) is for phase ${h.phase}, which no plan of ` +
            `${aKind(plan.kind)} has: it will never run${never.note ? `; ${never.note}` : ""}`,
        }]
        : [];
    }
    const why = guess === other
      ? `${aKind(plan.kind)} names that phase "${guess}" (${h.phase} is ${
        plan.kind === "sharded" ? "a replica set's" : "a sharded cluster's"
      })`
      : `did you mean "${guess}"?`;
    return [{
      code: "hook_phase_misspelt",
      severity: "warning" as const,
      message: `hook ${h.name} (${h.event}) is for phase ${h.phase}, which this ` +
        `${plan.operation} plan does not have (its phases: ${
          names.join(", ")
        }): it will not run; ${why}`,
    }];
  });
}
