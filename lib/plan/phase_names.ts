/**
 * Names of the phases whose name depends on the cluster's kind: a rolling restart's (and a
 * reconfigure's) and an upgrade's phase for the data-bearing members is `restart-mongod` /
 * `upgrade-mongod` in a replica set or standalone, `restart-shards` / `upgrade-shards` in a
 * sharded cluster. One place, so that a hook written for the other kind's name can be told
 * which name this cluster uses.
 */
import type { TopologyKind } from "../topology/schema.ts";
import type { Plan, ValidationIssue } from "./schema.ts";
import { didYouMean } from "../util/similar.ts";

/** The phase of `step` ("restart", "upgrade") for the mongod members of a `kind` cluster. */
export function membersPhase(step: "restart" | "upgrade", kind: TopologyKind): string {
  return `${step}-${kind === "sharded" ? "shards" : "mongod"}`;
}

/**
 * The other kind's name of `phase`, when it is one of the names above: `restart-mongod` →
 * `restart-shards` and back; undefined for any other phase.
 */
export function otherKindsPhase(phase: string): string | undefined {
  const m = /^(restart|upgrade)-(mongod|shards)$/.exec(phase);
  return m ? `${m[1]}-${m[2] === "shards" ? "mongod" : "shards"}` : undefined;
}

/** "a sharded cluster", "a replica set", "a standalone". */
function aKind(kind: TopologyKind): string {
  return `a ${kind === "sharded" ? "sharded cluster" : kind.replace("_", " ")}`;
}

/**
 * Warnings (code `hook_phase_misspelt`) for the phase hooks of `plan` that name a phase it does
 * not have and that are likely meant for one it has: the other kind's name of one of its phases
 * (`restart-mongod` in a sharded cluster's restart, whose phase is `restart-shards`), else a
 * name a small edit away (`deplyo`). A phase of another kind of plan (a restart's phase in a
 * deploy) is no mistake: such a hook runs in the plans that have it, and is not warned of.
 */
export function hookPhaseWarnings(
  plan: Pick<Plan, "hooks" | "phases" | "kind" | "operation">,
): ValidationIssue[] {
  const names = plan.phases.map((ph) => ph.name);
  return (plan.hooks ?? []).flatMap((h) => {
    if (h.phase === undefined || names.includes(h.phase)) return [];
    const other = otherKindsPhase(h.phase);
    const guess = other && names.includes(other) ? other : didYouMean(h.phase, names);
    if (!guess) return [];
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
