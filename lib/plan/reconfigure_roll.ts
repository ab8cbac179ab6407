/**
 * The restarts of a reconfigure's replica sets, with the new member options of a set whose
 * primary restarts set between its secondaries' restarts and the primary's (reconfigure.ts).
 * Pure.
 */
import type { ProcessSpec, ReplicaSetSpec } from "./processes.ts";
import type { PlannedOperation } from "./schema.ts";
import type { LifecyclePlanInput } from "./lifecycle.ts";
import { rollSet } from "./restart.ts";

/** `p` as `asked` (the sets as the new options make them) ranks it: its priority and hidden. */
export function ranked(asked: ReplicaSetSpec[], p: ProcessSpec): ProcessSpec {
  const m = asked.find((a) => a.name === p.replicaSet)?.members.find((x) => x.id === p.id);
  return m ? { ...p, priority: m.priority, hidden: m.hidden } : p;
}

/**
 * The rolling restart of `restarted` (the running members of `set` the plan restarts), as
 * restart.ts rollSet makes it. When `optionOps` (the set's replSetReconfig and the wait for the
 * takeover it causes, in order) is not empty and the set's primary is among `restarted`, they
 * come after the secondaries' restarts and before the primary's step-down (or its stop, when no
 * other member can be primary), and the restart is rolled on the set as the new options rank it
 * (`asked`): a member they rank highest then takes the primary over once (an election) and the
 * old primary restarts as a secondary (its step-down a replSetFreeze), not handed the primary
 * back only to lose it again; one election where the other order made three (tester76).
 * `early` says whether the options went there; otherwise the caller sets them after the
 * restarts.
 */
export function rollWithOptions(
  input: LifecyclePlanInput,
  set: ReplicaSetSpec,
  restarted: ProcessSpec[],
  optionOps: PlannedOperation[],
  asked: ReplicaSetSpec[],
  cfgSet?: ReplicaSetSpec,
): { ops: PlannedOperation[]; early: boolean } {
  const primary = restarted.find((p) => input.facts[p.id]?.state === "PRIMARY");
  const newSet = asked.find((a) => a.name === set.name);
  if (!optionOps.length || !primary || !newSet) {
    return { ops: rollSet(input, set, restarted, cfgSet), early: false };
  }
  const ops = rollSet(input, newSet, restarted.map((p) => ranked(asked, p)), cfgSet);
  const at = ops.findIndex((o) =>
    o.id === `step-down-${set.name}` || o.id === `stop-${primary.id}`
  );
  if (at < 0) return { ops, early: false };
  // By then the new options may have moved the primary: the review says what it does then.
  if (ops[at].type === "step_down") {
    ops[at].description += " if it still is (else it is frozen, replSetFreeze, so that it " +
      "does not take the primary back before its restart)";
  }
  optionOps[0].depends_on.push(...ops[at].depends_on);
  ops[at].depends_on = [optionOps.at(-1)!.id];
  return { ops: [...ops.slice(0, at), ...optionOps, ...ops.slice(at)], early: true };
}
