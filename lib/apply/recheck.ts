import type { Plan, PlannedOperation } from "../plan/schema.ts";
import { allOperations } from "../plan/schema.ts";
import { stopAfterStepDown } from "../plan/step_down_stop.ts";
import { OPERATIONS } from "../ops/registry.ts";
import type { ApplyState } from "../state/schema.ts";
import type { ApplyOptions } from "./applier.ts";

/**
 * Operation types whose isDone is no probe of a lasting effect: verify_health always answers
 * "not done"; the waits of a rolling restart and its step-down look at a moment of an election
 * that is over (the stepped-down primary may lead again once restarted).
 */
const NOT_RECHECKED = new Set([
  "verify_health",
  "wait_for_primary",
  "wait_for_member_state",
  "step_down",
]);

/**
 * Completed operations whose effect a later operation of the plan replaced on purpose: one that
 * began (completed, or cut off while running or failing, which may have done its work) and
 * depends on it (directly or not) or comes in a later phase, and changes the same resource, as
 * the start of a process replaces its stop in a restart. Such an effect is not lost. Only
 * resources touched by more than one operation are looked at, so a deploy plan (each resource
 * once) costs one pass.
 */
function superseded(plan: Plan, begun: PlannedOperation[]): Set<string> {
  const byResource = new Map<string, PlannedOperation[]>();
  for (const o of begun) {
    for (const c of o.changes) {
      const key = `${c.resource_type}\u0000${c.resource_id}`;
      byResource.set(key, [...(byResource.get(key) ?? []), o]);
    }
  }
  const after = comesAfter(plan);
  const out = new Set<string>();
  for (const group of byResource.values()) {
    if (group.length < 2) continue;
    for (const a of group) {
      if (group.some((b) => b !== a && after(b, a.id))) out.add(a.id);
    }
  }
  return out;
}

/**
 * `after(later, earlier)`: whether operation `later` runs after `earlier` in every apply of
 * `plan`: it depends on it (directly or not) or sits in a later phase.
 */
function comesAfter(plan: Plan): (later: PlannedOperation, earlier: string) => boolean {
  const ops = new Map(allOperations(plan).map((o) => [o.id, o]));
  const phase = new Map(plan.phases.flatMap((ph) => ph.operations.map((o) => [o.id, ph.order])));
  return (later, earlier) => {
    if (phase.get(later.id)! > phase.get(earlier)!) return true;
    const seen = new Set<string>();
    const stack = [...later.depends_on];
    while (stack.length) {
      const id = stack.pop()!;
      if (id === earlier) return true;
      if (seen.has(id)) continue;
      seen.add(id);
      stack.push(...(ops.get(id)?.depends_on ?? []));
    }
    return false;
  };
}

/**
 * Step-downs whose stop has not begun, with the waits for the new primary that follow them: a
 * step-down keeps the old primary from standing again for step_down_secs only, after which a
 * member of higher priority takes the primary back (priority takeover), so a resume after a
 * pause would wait in vain for another primary. Running them again is safe (step_down freezes a
 * member that is not primary, steps it down if it is).
 */
function lapsedStepDowns(
  plan: Plan,
  completed: PlannedOperation[],
  status: (o: PlannedOperation) => string | undefined,
): PlannedOperation[] {
  const out: PlannedOperation[] = [];
  for (const sd of completed.filter((o) => o.type === "step_down")) {
    const stop = stopAfterStepDown(plan, sd);
    if (!stop || (status(stop) ?? "pending") !== "pending") continue;
    out.push(
      sd,
      ...completed.filter((o) => o.type === "wait_for_primary" && o.depends_on.includes(sd.id)),
    );
  }
  return out;
}

/**
 * What a resume runs again: `ops`, the completed operations of an apply whose effect is no
 * longer in place (isDone, which looks at the world, now says no), and the waits and steps on a
 * start among them; `why`, by operation ID, the reason of those whose own effect is in place
 * (the configuration uploads a start done again needs). Asked `parallelism` at a time.
 */
export async function lostEffects(
  plan: Plan,
  state: ApplyState,
  opts: ApplyOptions,
  signal: AbortSignal,
): Promise<{ ops: PlannedOperation[]; why: Map<string, string> }> {
  const status = (o: PlannedOperation) => state.operation_states[o.id]?.status;
  const completed = allOperations(plan).filter((o) => status(o) === "completed");
  const begun = allOperations(plan).filter((o) =>
    status(o) === "completed" || status(o) === "running" || status(o) === "failed"
  );
  const replaced = superseded(plan, begun);
  const done = completed.filter((o) => !NOT_RECHECKED.has(o.type) && !replaced.has(o.id));
  const lost: PlannedOperation[] = lapsedStepDowns(plan, completed, status);
  for (let i = 0; i < done.length; i += opts.parallelism) {
    const batch = done.slice(i, i + opts.parallelism);
    const inPlace = await Promise.all(batch.map((op) =>
      OPERATIONS[op.type].isDone({
        op,
        plan,
        stateId: state.state_id,
        executors: opts.executors,
        signal,
        progress: () => {},
        log: () => {},
      }).catch(() => false)
    ));
    batch.forEach((op, j) => inPlace[j] || lost.push(op));
  }
  // A process started again is waited for again: the completed waits on its start (ready, back
  // in its set and caught up) looked at the process that has gone.
  const startsAgain = lost.filter((o) => o.type === "start_process");
  const restarted = new Set(startsAgain.map((o) => o.id));
  // A process started again has lost what was set on it at runtime after its start (a
  // setParameter lasts until the process ends): each such step is made again, in plan order,
  // even one a later step on the same parameter replaced (tlsMode preferTLS before requireTLS:
  // MongoDB refuses allowTLS → requireTLS in one step).
  const after = comesAfter(plan);
  const where = (o: PlannedOperation) => `${o.target.host}\u0000${o.target.port}`;
  const runtime = completed.filter((o) =>
    RUNTIME_ONLY.has(o.type) && !lost.includes(o) &&
    startsAgain.some((s) => where(s) === where(o) && after(o, s.id))
  );
  const stepsAgain = new Set(runtime.map(where));
  // Waits on a start done again are done again, but for a member whose runtime steps come
  // after: until they are made again it may not reach its set at all (in allowTLS among members
  // that require TLS, it cannot catch up); the plan's later checks judge it once they are.
  const waits = completed.filter((o) =>
    WAITS_ON_START.has(o.type) && !lost.includes(o) &&
    o.depends_on.some((d) => restarted.has(d)) &&
    !(o.type === "wait_for_member_state" && stepsAgain.has(where(o)))
  );
  const { uploads, why } = configsAgain(completed, startsAgain, after);
  return { ops: [...lost, ...waits, ...runtime, ...uploads.filter((u) => !lost.includes(u))], why };
}

/**
 * A process started again by a resume, whose configuration file a later upload of the plan has
 * rewritten since (a TLS switch's next round): its start expects the configuration of its own
 * round (its config_valid check), and the members around it are where that round left them. So
 * the upload before the start is made again, and every later upload of that file with it, in
 * plan order (the start, then the runtime steps after it, then the later configuration).
 * Without a later upload of the file, nothing is added: the file is the start's own.
 */
function configsAgain(
  completed: PlannedOperation[],
  startsAgain: PlannedOperation[],
  after: (later: PlannedOperation, earlier: string) => boolean,
): { uploads: PlannedOperation[]; why: Map<string, string> } {
  const uploads: PlannedOperation[] = [];
  const why = new Map<string, string>();
  for (const start of startsAgain) {
    const file = start.pre_conditions.find((c) => c.check_type === "config_valid")?.params.path;
    if (typeof file !== "string") continue;
    const same = completed.filter((o) =>
      o.type === "upload_file" && o.target.params.dest === file &&
      o.target.host === start.target.host
    );
    const later = same.filter((u) => after(u, start.id));
    const before = same.filter((u) => after(start, u.id));
    // The last upload before the start (the others before it were replaced by it).
    const own = before.find((u) => before.every((v) => v === u || after(u, v.id)));
    if (!later.length || !own) continue;
    uploads.push(own, ...later);
    why.set(
      own.id,
      `completed before, but a later step of this plan rewrote the file since: ${start.id} ` +
        "starts again from this configuration",
    );
    for (const u of later) {
      why.set(
        u.id,
        `completed before; written again after ${start.id} starts from the earlier one`,
      );
    }
  }
  return { uploads, why };
}

/** Waits that look at a process a start brought up (redone with it, lostEffects). */
const WAITS_ON_START = new Set(["wait_for_process", "wait_for_member_state"]);
/** Operations whose effect lasts only as long as the process (redone after a start, lostEffects). */
const RUNTIME_ONLY = new Set(["set_parameter"]);

/**
 * What a resume runs again, each with the reason the event shows (`reason`) and the execution
 * log says (`was`): the operations `redo` whose effect is gone (lostEffects; `given` holds the
 * reasons it found, others get their type's), then every operation the operator skipped at a
 * failed safety check (`resumed`, the state resumed; undefined for a first apply).
 */
export function whatRunsAgain(
  redo: PlannedOperation[],
  given: Map<string, string>,
  resumed: ApplyState | undefined,
): { id: string; reason: string; was: string }[] {
  // An operation the operator skipped at a failed safety check is not done either: operations
  // after it (the wait for the server it would have started) fail without it, so a resume that
  // kept it skipped could never complete. It runs again, its checks first, and may be skipped
  // again.
  // Processes this resume starts again: what else is redone on them could not be confirmed
  // while they were down (its isDone asks them), which is not the same as lost.
  const startedAgain = new Set(
    redo.filter((o) => o.type === "start_process").map((o) => `${o.target.host}:${o.target.port}`),
  );
  const waits = (o: PlannedOperation) =>
    o.type === "wait_for_process" || o.type === "wait_for_member_state";
  return [
    ...redo.map((op) => {
      const on = startedAgain.has(`${op.target.host}:${op.target.port}`);
      // A step-down lasts step_down_secs: before the stop it precedes, it is made again.
      const why = given.get(op.id) ??
        (op.type === "step_down" || op.type === "wait_for_primary"
          ? "completed before the pause, but a step-down lasts 60 s and the member's stop has not run"
          : waits(op) && on
          ? "completed before, but the process it waited for is started again"
          : waits(op)
          ? "completed before, but the process it waited for no longer answers as it did"
          : op.type === "set_parameter"
          ? "completed before, but a setParameter lasts only while its process runs, and that " +
            "process was started since (or the value was changed)"
          : op.type !== "start_process" && on
          ? "completed before, but its process is down, so it could not be confirmed: it runs " +
            "again once that process is started again (and finds its effect if it is there)"
          : "completed before, but its effect is no longer in place");
      return { id: op.id, reason: why, was: why };
    }),
    ...Object.values(resumed?.operation_states ?? {})
      .filter((s) => s.status === "skipped")
      .map((s) => ({
        id: s.id,
        reason: "skipped before; a resume runs it again",
        was: "was skipped before",
      })),
  ];
}
