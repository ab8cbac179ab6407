/**
 * A rolling change keeps one member of each replica set down at a time: its planners (restart,
 * upgrade, reconfigure, the TLS switches) make each member's stop wait for the previous
 * member's return (its wait_for_member_state). The review lists the steps, not the graph's
 * edges, so a plan whose `depends_on` was edited to run the stops at once, and sealed again,
 * would read the same and take a whole set down (tester56). Pure; each problem a validation
 * error (code `plan_rolling`) naming the members and the fix.
 */
import { remakeFix } from "./plan_paths.ts";
import type { Plan, ValidationIssue } from "./schema.ts";

/** The phases a rolling change runs its members' restarts in (restart-*, upgrade-*). */
const ROLLING = /^(restart|upgrade)-/;

/**
 * Every pair of members of one replica set that a rolling phase of `plan` could have down at
 * once: for members i and j, neither i's wait_for_member_state precedes j's stop in the graph,
 * nor the other way round; and a member stopped there without a wait for its return. Linear in
 * the operations per pair of a set's members (sets are small).
 */
export function planRollingIssues(plan: Plan): ValidationIssue[] {
  const ops = plan.phases.flatMap((p) => p.operations);
  const byId = new Map(ops.map((o) => [o.id, o]));
  // A stop's target names no set: its process's start does.
  const setOf = new Map(
    ops.filter((o) => o.type === "start_process" && o.target.params.replica_set)
      .map((o) => [o.target.name, o.target.params.replica_set]),
  );
  // Whether an operation depends on another, directly or through others.
  const memo = new Map<string, Set<string>>();
  const ancestors = (id: string): Set<string> => {
    const known = memo.get(id);
    if (known) return known;
    const out = new Set<string>();
    memo.set(id, out);
    for (const d of byId.get(id)?.depends_on ?? []) {
      out.add(d);
      for (const a of ancestors(d)) out.add(a);
    }
    return out;
  };
  const fix = remakeFix(plan);
  const issues: ValidationIssue[] = [];
  const error = (message: string) =>
    issues.push({ code: "plan_rolling", severity: "error", message: `${message}. ${fix}` });
  // Phases run one after another (a barrier between them): each is judged on its own.
  for (const ph of plan.phases.filter((p) => ROLLING.test(p.name))) {
    const members = ph.operations.filter((o) => o.type === "stop_process")
      .flatMap((stop) => {
        const set = setOf.get(stop.target.name);
        if (!set) return [];
        const wait = ph.operations.find((o) =>
          o.type === "wait_for_member_state" && o.target.name === stop.target.name
        );
        return [{ stop, set, wait }];
      });
    for (const m of members) {
      if (m.wait) continue;
      error(
        `operation ${m.stop.id} stops ${m.stop.target.name} of ${m.set} in the rolling phase ` +
          `${ph.name}, and no operation there waits for it to return before another stops`,
      );
    }
    for (const [i, a] of members.entries()) {
      for (const b of members.slice(i + 1)) {
        if (a.set !== b.set || !a.wait || !b.wait) continue;
        if (ancestors(b.stop.id).has(a.wait.id) || ancestors(a.stop.id).has(b.wait.id)) continue;
        error(
          `${a.stop.target.name} and ${b.stop.target.name} of ${a.set} could be down at once ` +
            `in the rolling phase ${ph.name}: neither's stop (${a.stop.id}, ${b.stop.id}) waits ` +
            "for the other's return, as a rolling change does",
        );
      }
    }
  }
  return issues;
}
