import { downMembersAdvice } from "../ops/silent_members.ts";
import { OPERATIONS } from "../ops/registry.ts";
import { type OperationContext, OperationError, worldSimulator } from "../ops/operation.ts";
import type { Plan, PlannedOperation, SafetyCheck } from "../plan/schema.ts";
import type { ApplyState, OperationState } from "../state/schema.ts";
import type { StateWriter } from "../state/store.ts";
import type { ExecutorFactory } from "../executor/executor.ts";
import type { CheckOutcome } from "./safety.ts";
import { runCheck } from "./safety.ts";
import { mongo } from "../ops/cluster_client.ts";
import type { Emitter } from "./events.ts";
import type { HookDispatcher } from "./hook_events.ts";
import type { DurationSample } from "../state/history.ts";
import { durationHost, typicalOfType } from "../plan/estimates.ts";

/** What to do when a required safety check fails: check again, skip the operation, stop, pause. */
export type SafetyDecision = "retry" | "skip" | "abort" | "pause";

/** What to do when a safety check fails (a prompt, or a fixed policy). */
export type SafetyFailureHandler = (
  op: PlannedOperation,
  check: SafetyCheck,
  outcome: CheckOutcome,
) => Promise<SafetyDecision>;

/** A required safety check failed and the answer was to stop: the apply fails. */
/**
 * A required safety check failed and the operation did not run. `replan`: what finishes the
 * work when a resume alone cannot (members down that a start brings back, which replaces the
 * apply), as OperationError's.
 */
export class SafetyCheckFailed extends Error {
  constructor(message: string, readonly replan?: string) {
    super(message);
  }
}
/** The apply stops here, resumable: a "pause" answer or an interrupt. */
export class Paused extends Error {}

/** What one apply hands each operation it runs: its plan, state, writer, events and hooks. */
export interface OperationRun {
  plan: Plan;
  state: ApplyState;
  writer: StateWriter;
  emitter: Emitter;
  hooks: HookDispatcher;
  opts: {
    executors: ExecutorFactory;
    onSafetyFailure: SafetyFailureHandler;
    /** The first Ctrl-C: a safety check not met then pauses the apply, without asking. */
    signal?: AbortSignal;
  };
  /** The second Ctrl-C: only this cuts an operation's work short. */
  hardStop: AbortController;
  /** The IDs of the operations whose work (run, past hooks and checks) is under way. */
  working: Set<string>;
  /** Where measured durations go, for the cluster's history. */
  samples: DurationSample[];
  /** False for a simulated world (mock executor): it measures nothing real. */
  measuring: boolean;
  /**
   * An after_operation hook failed once its operation's work was done and recorded: the apply
   * fails with it, but starts no new work, and what finishes a begun change (a restart's start
   * after its stop) still runs (applier.ts).
   */
  deferFailure: (id: string, error: Error) => void;
  /** Operations that finish begun work (a restart's start after its stop): run after a pause. */
  finishes: (id: string) => boolean;
}

/**
 * Runs one operation of an apply: hooks around it, "already in place" when its effect is found
 * (isDone), its safety checks (asking onSafetyFailure when a required one fails), then its work;
 * records each step in the state and emits op_* events. Throws what the operation threw,
 * Paused, or SafetyCheckFailed.
 */
export async function runOperation(
  run: OperationRun,
  op: PlannedOperation,
  phase: string,
): Promise<void> {
  const { plan, state, writer, emitter, hooks, opts, hardStop, samples, measuring } = run;
  // A mock executor simulates the world: operations and checks then have no side effects.
  const world = worldSimulator(opts.executors);
  const impl = world ? world.operation(op, OPERATIONS[op.type]) : OPERATIONS[op.type];
  const os: OperationState = {
    ...state.operation_states[op.id],
    status: "running",
    started_at: new Date().toISOString(),
  };
  delete os.error;
  await writer.op(os);
  emitter.emit({ type: "op_start", id: op.id });
  const t = performance.now();
  // Time spent waiting for the user's answer at the safety-check menu: not the operation's.
  let waited = 0;
  const took = () => performance.now() - t - waited;
  // The operation's work is done and recorded by then: a failing hook does not undo that (a
  // resume goes on after it), and it must not hold back what finishes it (its start).
  const afterOperation = async () => {
    try {
      await hooks.fire("after_operation", { phase, op });
    } catch (e) {
      await writer.error({
        timestamp: new Date().toISOString(),
        phase,
        operation: op.id,
        error: (e as Error).message,
        recoverable: true,
      });
      run.deferFailure(op.id, e as Error);
    }
  };
  const ctx: OperationContext = {
    op,
    plan,
    stateId: state.state_id,
    executors: opts.executors,
    signal: hardStop.signal,
    ...(opts.signal ? { pause: opts.signal } : {}),
    progress: (fraction, note) => emitter.emit({ type: "op_progress", id: op.id, fraction, note }),
    log: (m) => void writer.log("info", phase, m, op.id),
    executions: os.executions,
  };
  try {
    await hooks.fire("before_operation", { phase, op });
    // Interrupted while its before_operation hooks ran: the operation has not begun, so it
    // waits for the resume like any other not started (tester47: a stop went ahead after the
    // Ctrl-C, then its member had to be started again before the pause).
    if (opts.signal?.aborted && !run.finishes(op.id)) {
      throw new Paused(`interrupted at ${op.id}: its before_operation hooks ran; it had not begun`);
    }
    const tWork = performance.now();
    let asked = false;
    const done = await impl.isDone(ctx);
    if (done) {
      const notice = typeof done === "object" ? done.notice : undefined;
      // Finding the effect in place is what the operation took (a wait for a server that
      // already answers); the history keeps a download found in the cache apart.
      if (measuring && typicalOfType(op)) {
        samples.push({
          host: durationHost(op),
          type: op.type,
          ms: performance.now() - tWork,
          inPlace: true,
        });
      }
      await writer.op({
        ...os,
        status: "completed",
        completed_at: new Date().toISOString(),
        result: { success: true, output: "already in place", changes: [] },
      });
      await writer.log("info", phase, `${op.id}: already in place`, op.id);
      if (notice) await writer.log("warn", phase, `${op.id}: ${notice}`, op.id);
      emitter.emit({
        type: "op_done",
        id: op.id,
        ms: took(),
        already_done: true,
        ...(notice ? { notice } : {}),
      });
      await afterOperation();
      return;
    }
    for (const check of op.pre_conditions) {
      while (true) {
        const outcome: CheckOutcome = world
          ? await world.check(check)
          : await runCheck(check, opts.executors, mongo(ctx), opts.signal);
        if (outcome.ok || !check.required) break;
        // Interrupted while the check waited for the world to settle: nothing of this
        // operation ran, so the apply pauses here, resumable, rather than failing or asking.
        if (opts.signal?.aborted) {
          throw new Paused(
            `interrupted at ${op.id}: safety check ${check.check_type} not met: ${outcome.status}`,
          );
        }
        emitter.emit({
          type: "safety_failed",
          id: op.id,
          check: check.id,
          check_type: check.check_type,
          status: outcome.status,
        });
        await writer.log(
          "warn",
          phase,
          `safety check ${check.check_type} failed for ${op.id}: ${outcome.status}`,
          op.id,
        );
        asked = true;
        const tAsk = performance.now();
        const decision = await opts.onSafetyFailure(op, check, outcome);
        const answerMs = performance.now() - tAsk;
        waited += answerMs;
        emitter.emit({ type: "answer_wait", id: op.id, ms: answerMs });
        if (decision === "retry") {
          os.retries++;
          continue;
        }
        if (decision === "skip") {
          await writer.op({
            ...os,
            status: "skipped",
            completed_at: new Date().toISOString(),
            error:
              `skipped by the user after safety check ${check.check_type} failed: ${outcome.status}`,
          });
          await writer.log("warn", phase, `${op.id} skipped by the user (dangerous)`, op.id);
          emitter.emit({ type: "op_skipped", id: op.id, reason: outcome.status });
          return;
        }
        if (decision === "pause") {
          throw new Paused(
            `paused at ${op.id}: safety check ${check.check_type} failed: ${outcome.status}`,
          );
        }
        // Members down that only a start brings back: a resume alone would fail here again.
        const down = outcome.down?.length ? await downMembersAdvice(ctx, outcome.down) : undefined;
        throw new SafetyCheckFailed(
          `Safety check failed for operation ${op.id}: ${check.check_type}: ${outcome.status}${
            down ? `; ${down.advice}` : ""
          }`,
          down?.replan ?? outcome.replan,
        );
      }
    }
    os.executions++;
    await writer.op(os);
    run.working.add(op.id);
    const out = await impl.run(ctx).finally(() => run.working.delete(op.id));
    // A wait for the user's answer is not the operation's duration.
    if (measuring && !asked && typicalOfType(op)) {
      samples.push({
        host: durationHost(op),
        type: op.type,
        ms: performance.now() - tWork,
        ...(out.inPlace ? { inPlace: true } : {}),
      });
    }
    // Found in place by run() itself: its work did not run (rollback has nothing to undo).
    if (out.inPlace) os.executions--;
    await writer.op({
      ...os,
      status: "completed",
      completed_at: new Date().toISOString(),
      result: {
        success: true,
        ...(out.output ? { output: out.output } : {}),
        changes: out.inPlace ? [] : out.changes ?? op.changes,
        ...(out.metadata ? { metadata: out.metadata } : {}),
      },
    });
    if (out.inPlace) await writer.log("info", phase, `${op.id}: already in place`, op.id);
    emitter.emit({
      type: "op_done",
      id: op.id,
      ms: took(),
      already_done: !!out.inPlace,
      ...(out.output ? { output: out.output } : {}),
      ...(out.notice ? { notice: out.notice } : {}),
    });
    await afterOperation();
  } catch (e) {
    const message = (e as Error).message;
    // Work cut short by a stop at once is unfinished, not failed: resume runs it again.
    const paused = e instanceof Paused || hardStop.signal.aborted ||
      (e instanceof OperationError && e.options.stoppedWaiting === true);
    // A failure that changed nothing says so, for a rollback of this apply, and for the
    // guards that let a new plan replace an apply that changed nothing: one the server refused,
    // and one whose safety check failed (it never ran).
    const noEffect = (e instanceof OperationError && e.options.noEffect) ||
      e instanceof SafetyCheckFailed;
    // What finishes the apply when a resume alone cannot: kept for `cluster display`.
    const replan = e instanceof OperationError
      ? e.options.replan
      : e instanceof SafetyCheckFailed
      ? e.replan
      : undefined;
    const metadata = { ...(noEffect ? { no_effect: true } : {}), ...(replan ? { replan } : {}) };
    await writer.op({
      ...os,
      status: paused ? "pending" : "failed",
      error: message,
      ...(Object.keys(metadata).length && !paused
        ? { result: { success: false, changes: [], metadata } }
        : {}),
    });
    if (e instanceof OperationError && e.options.stoppedWaiting === true) {
      emitter.emit({ type: "op_stopped_waiting", id: op.id, ms: took(), reason: message });
    }
    if (!paused) {
      await writer.error({
        timestamp: new Date().toISOString(),
        phase,
        operation: op.id,
        error: message,
        recoverable: true,
      });
      emitter.emit({ type: "op_failed", id: op.id, ms: took(), error: message });
    }
    throw e;
  }
}
