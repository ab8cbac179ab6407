import { OperationError } from "../ops/operation.ts";
import * as path from "node:path";
import { applyGraph, END, finishing, redoEdges, reopenedBarriers, START } from "./apply_graph.ts";
import { walk } from "../graph/walk.ts";
import type { ExecutorFactory } from "../executor/executor.ts";
import { worldSimulator } from "../ops/operation.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import type { ApplyState } from "../state/schema.ts";
import { STATE_FORMAT_VERSION } from "../state/schema.ts";
import type { StateStore } from "../state/store.ts";
import { StateWriter } from "../state/store.ts";
import { Emitter } from "./events.ts";
import { HookDispatcher, HookFailed } from "./hook_events.ts";
import { applyDoneEvent } from "./apply_done.ts";
import { HookRecords } from "../hooks/records.ts";
import type { ApplyControl } from "./control.ts";
export { ApplyControl } from "./control.ts";
import { type DurationSample, recordDurations } from "../state/history.ts";
import { lostEffects, whatRunsAgain } from "./recheck.ts";
import { leftDown } from "./left_down.ts";
import {
  type OperationRun,
  Paused,
  runOperation,
  type SafetyFailureHandler,
} from "./run_operation.ts";

export interface ApplyOptions {
  plan: Plan;
  planPath: string;
  store: StateStore;
  executors: ExecutorFactory;
  parallelism: number;
  /** What to do when a safety check fails (a prompt, or a fixed policy). */
  onSafetyFailure: SafetyFailureHandler;
  emitter?: Emitter;
  /**
   * The first Ctrl-C: no new operation starts; running ones finish; the apply ends paused.
   * Operations do not see it (a wait for a server to answer is not cut short).
   */
  signal?: AbortSignal;
  /** The second Ctrl-C: see ApplyControl. */
  control?: ApplyControl;
  /** A fresh state (newApplyState) already recorded, so that its claim counted; else one is made. */
  initial?: ApplyState;
  /**
   * Run none of the plan's hooks (`plan resume --no-hooks`): a hook that fails every time must
   * not keep an apply that cannot be planned again (a TLS switch) from finishing.
   */
  skipHooks?: boolean;
}

export function newApplyState(plan: Plan, planPath: string): ApplyState {
  const now = new Date().toISOString();
  return {
    format_version: STATE_FORMAT_VERSION,
    state_id: `apply-${crypto.randomUUID().slice(0, 8)}`,
    plan_id: plan.plan_id,
    plan_path: planPath,
    plan_hash: plan.content_hash,
    cluster_name: plan.cluster_name,
    operation: plan.operation,
    status: "pending",
    started_at: now,
    updated_at: now,
    current_phase: plan.phases[0]?.name ?? "",
    phase_states: Object.fromEntries(
      plan.phases.map((p) => [p.name, { name: p.name, status: "pending" as const }]),
    ),
    operation_states: Object.fromEntries(
      allOperations(plan).map((
        o,
      ) => [o.id, { id: o.id, status: "pending" as const, retries: 0, executions: 0 }]),
    ),
    checkpoints: [],
    errors: [],
    execution_log: [],
    journal_seq: 0,
    resumes: 0,
  };
}

/** Runs a plan (or resumes an apply state) and returns the final state. */
export async function apply(opts: ApplyOptions, resumeFrom?: ApplyState): Promise<ApplyState> {
  const { plan } = opts;
  const emitter = opts.emitter ?? new Emitter();
  // What operations of this run told the operator, repeated in the final event: a script that
  // reads only `apply_done` must not miss that a completed apply spared something.
  const notices: { operation: string; notice: string }[] = [];
  emitter.on((e) => {
    if (e.type === "op_done" && e.notice) notices.push({ operation: e.id, notice: e.notice });
  });
  const state = resumeFrom ?? opts.initial ?? newApplyState(plan, opts.planPath);
  // A resume counts when it starts, in the snapshot open() writes atomically: one cut off by
  // kill -9 before it ends still counts.
  if (resumeFrom) state.resumes++;
  const writer = new StateWriter(opts.store, state);
  await writer.open();
  const t0 = performance.now();
  // A mup killed while a hook ran left it running: it ends (by itself, or at its timeout)
  // before any hook runs again. A Ctrl-C ends the wait, and the hook.
  const records = new HookRecords(path.join(opts.store.dir, "hooks"));
  await records.awaitLeft(
    (h) => emitter.emit({ type: "hook_left", status: "waiting", ...h }),
    async (h, outcome) => {
      emitter.emit({ type: "hook_left", status: outcome, ...h });
      await writer.log(
        "warn",
        state.current_phase,
        `hook ${h.name} (${h.event}) of apply ${h.state_id}, left running by a mup that was ` +
          `killed (process group ${h.pid}), ${outcome === "ended" ? "ended" : "was killed"}`,
      );
    },
    opts.signal,
  );
  if (opts.skipHooks && plan.hooks.length) {
    await writer.log(
      "warn",
      state.current_phase,
      `hooks skipped (--no-hooks): ${plan.hooks.map((h) => `${h.name} (${h.event})`).join(", ")}`,
    );
  }
  // The hooks this apply runs (none with --no-hooks): the dispatcher's, and what finishing sees.
  const ownHooks = opts.skipHooks ? [] : plan.hooks;
  const hooks = new HookDispatcher(
    ownHooks,
    {
      clusterName: plan.cluster_name,
      operation: plan.operation,
      planPath: opts.planPath,
      statePath: opts.store.snapshotPath(state.state_id),
      planId: plan.plan_id,
      stateId: state.state_id,
    },
    emitter,
    (level, phase, message, operation) => writer.log(level, phase, message, operation),
    records,
  );
  const ops = new Map(allOperations(plan).map((o) => [o.id, o]));
  const phaseOf = new Map(
    plan.phases.flatMap((ph) => ph.operations.map((o) => [o.id, ph.name] as const)),
  );
  const internal = new AbortController();
  // A Ctrl-C that came before apply() was called (between the confirmation and here) counts:
  // an abort event already fired would never reach the listener.
  if (opts.signal?.aborted) internal.abort();
  else opts.signal?.addEventListener("abort", () => internal.abort(), { once: true });
  // What operations see: only a stop at once (second Ctrl-C) cuts their work short.
  const hardStop = new AbortController();
  // Operations whose work has begun and not ended (run_operation.ts): what a stop at once cuts off.
  const working = new Set<string>();
  opts.control?.attach(async () => {
    // Taken before the abort, which ends the operations it cuts off.
    const left = leftDown(plan, state, working);
    internal.abort();
    hardStop.abort();
    // Once the outcome is recorded, it stands; the log line, group-committed after it, makes
    // sure it is on disk. After close() the snapshot holds everything and the append fails.
    const final = ["completed", "failed", "paused"].includes(state.status);
    await writer.log("warn", state.current_phase, "stopped at once by a second interrupt")
      .catch(() => {});
    if (!final) await writer.status("paused").catch(() => {});
    return left;
  });

  await writer.status("running");
  // What a resume finds undone: a completed operation whose effect is gone (a started process
  // that died since) runs again, like any other, and the output says why.
  const { ops: redo, why: given } = resumeFrom
    ? await lostEffects(plan, state, opts, internal.signal)
    : { ops: [], why: new Map<string, string>() };
  await writer.log(
    "info",
    state.current_phase,
    resumeFrom
      ? `resuming ${state.state_id} (resume #${state.resumes})`
      : `applying ${plan.plan_id}`,
  );
  const again = whatRunsAgain(redo, given, resumeFrom ? state : undefined);
  for (const { id, was } of again) {
    const phase = phaseOf.get(id)!;
    await writer.op({ ...state.operation_states[id], status: "pending" });
    if (state.phase_states[phase]?.status === "completed") {
      await writer.phase({ ...state.phase_states[phase], status: "pending" });
    }
    await writer.log("warn", phase, `${id} ${was}; running it again`, id);
  }
  // Nothing is left skipped now: what a resume does not run again is what completed.
  const alreadyDone = Object.values(state.operation_states)
    .filter((s) => s.status === "completed").map((s) => s.id);
  emitter.emit({
    type: "apply_start",
    plan,
    state_id: state.state_id,
    resumed: !!resumeFrom,
    parallelism: opts.parallelism,
    ...(resumeFrom ? { done: alreadyDone } : {}),
  });
  for (const { id, reason } of again) emitter.emit({ type: "op_redo", id, reason });

  const completed = new Set<string>();
  for (const ph of plan.phases) {
    if (state.phase_states[ph.name]?.status === "completed") {
      completed.add(START(ph.name)).add(END(ph.name));
    }
  }
  for (const [id, s] of Object.entries(state.operation_states)) {
    if (s.status === "completed") completed.add(id);
  }

  // How long each operation's work took, for the cluster's history (estimates of later plans).
  // A simulated world (mock executor) measures nothing real.
  const samples: DurationSample[] = [];
  const measuring = !worldSimulator(opts.executors);
  const phaseStart = new Map<string, number>();
  const deferred: { id: string; error: Error }[] = [];
  // A member stopped by this plan starts again before a pause or a failure halts the apply:
  // one Ctrl-C in a rolling restart never leaves it down until `plan resume`.
  const finishes = finishing(plan, ownHooks);
  const run: OperationRun = {
    plan,
    state,
    writer,
    emitter,
    hooks,
    opts,
    hardStop,
    working,
    samples,
    measuring,
    deferFailure: (id, error) => {
      deferred.push({ id, error });
      internal.abort(); // no new work; what finishes a begun change still runs
    },
    finishes,
  };
  const runNode = async (id: string): Promise<void> => {
    if (id.startsWith("phase:")) {
      const [, name, edge] = id.split(":");
      const ph = plan.phases.find((p) => p.name === name)!;
      if (edge === "start") {
        phaseStart.set(name, performance.now());
        await writer.phase({ name, status: "running", started_at: new Date().toISOString() });
        await writer.status("running", name);
        emitter.emit({
          type: "phase_start",
          phase: name,
          index: ph.order,
          total: plan.phases.length,
        });
        await hooks.fire("before_phase", { phase: name });
      } else {
        await writer.phase({
          ...state.phase_states[name],
          status: "completed",
          completed_at: new Date().toISOString(),
        });
        const cp = await writer.checkpoint(
          name,
          `phase ${ph.order} (${name}) complete`,
          `phase${ph.order}-complete`,
        );
        emitter.emit({
          type: "phase_done",
          phase: name,
          ms: performance.now() - (phaseStart.get(name) ?? performance.now()),
        });
        emitter.emit({ type: "checkpoint", id: cp.id, path: cp.path });
        await hooks.fire("after_phase", { phase: name });
      }
      return;
    }
    await runOperation(run, ops.get(id)!, phaseOf.get(id)!);
  };

  let interrupted = false;
  let failure: { id: string; error: unknown } | undefined;
  // Failures besides the one that ends the apply (parallel operations, more failed hooks).
  let others: { id: string; error: unknown }[] = [];
  const INTERRUPTED = "(interrupted)";
  try {
    await hooks.fire("before_apply");
  } catch (e) {
    failure = { id: "hook:before_apply", error: e };
  }
  if (!failure) {
    // What runs again is waited for by what depends on it through operations done.
    const completedPhases = new Set(
      plan.phases.filter((ph) => completed.has(END(ph.name))).map((ph) => ph.name),
    );
    const dag = applyGraph(
      plan,
      new Map([
        ...redoEdges(plan, new Set(again.map((a) => a.id)), new Set(alreadyDone)),
        ...reopenedBarriers(plan, completedPhases),
      ]),
    );
    const result = await walk(dag, {
      concurrency: opts.parallelism,
      run: runNode,
      completed,
      signal: internal.signal,
      finishes,
      hardSignal: hardStop.signal,
    });
    // A failure of its own comes first; then a failed after_operation hook (its abort may
    // have paused operations waiting on their safety checks: not what stopped the apply).
    const real = [...result.failed.filter((f) => !(f.error instanceof Paused)), ...deferred];
    failure = real[0] ?? result.failed[0];
    others = real.filter((f) => f !== failure);
    if (!failure && result.aborted) {
      // Interrupted (Ctrl-C): nothing failed; the apply is paused and resumable.
      interrupted = true;
      failure = { id: INTERRUPTED, error: new Paused("interrupted by the user") };
    }
  }
  // A hook let finish after the first Ctrl-C that then ran out of its time: the interrupt asked
  // for is what ends the apply, paused (exit 130, as a cancelled CI job expects: tester46);
  // the timeout is in the execution log, and a resume runs the hook again.
  if (
    failure?.error instanceof HookFailed && failure.error.timedOut && opts.signal?.aborted
  ) {
    // An after_phase hook runs once its phase is recorded complete: the phase is reopened
    // (paused), so that the resume runs the hook again, as it does after a failure.
    const phase = /^phase:(.*):end$/.exec(failure.id)?.[1];
    if (phase && state.phase_states[phase]) {
      await writer.phase({ ...state.phase_states[phase], status: "paused" });
    }
    failure = {
      id: failure.id,
      error: new Paused(`interrupted by the user; ${failure.error.message} as the apply paused`),
    };
  }
  // Interrupted as the last work finished: the after_apply hooks are new work, run by a resume.
  if (!failure && opts.signal?.aborted && ownHooks.some((h) => h.event === "after_apply")) {
    interrupted = true;
    failure = { id: INTERRUPTED, error: new Paused("interrupted by the user") };
  }
  if (!failure) {
    try {
      await hooks.fire("after_apply");
    } catch (e) {
      failure = { id: "hook:after_apply", error: e };
    }
  }

  // A stop at once (second Ctrl-C) cuts operations short with whatever error their I/O gave:
  // that is unfinished work, recorded as paused (resumable), never as a failure.
  const paused = failure?.error instanceof Paused ||
    (failure !== undefined && hardStop.signal.aborted) ||
    (failure?.error instanceof OperationError && failure.error.options.stoppedWaiting === true);
  if (paused && !(failure!.error instanceof Paused)) interrupted = true;
  // Paused at a safety check after (or by) a Ctrl-C: the interrupt is what stopped the apply.
  if (paused && opts.signal?.aborted) interrupted = true;
  const message = failure ? (failure.error as Error).message : undefined;
  if (failure && !ops.has(failure.id) && !paused) {
    await writer.error({
      timestamp: new Date().toISOString(),
      phase: state.current_phase,
      operation: failure.id,
      error: message!,
      recoverable: true,
    });
  }
  if (failure && !paused) {
    await writer.phase({
      ...state.phase_states[state.current_phase],
      status: "failed",
      error: message,
    });
    await writer.status("failed");
    await hooks.fire("on_error", { phase: state.current_phase, error: message }).catch(() => {});
  } else if (paused) {
    await writer.status("paused");
  } else {
    await writer.status("completed");
    await hooks.fire("on_success").catch(() => {});
  }
  await writer.log(
    failure ? "error" : "info",
    state.current_phase,
    failure ? `apply ${state.status}: ${message}` : "apply completed",
  );
  await recordDurations(opts.store.clusterDir, plan.cluster_name, samples).catch((e) =>
    writer.log(
      "warn",
      state.current_phase,
      `durations not recorded in the cluster's history: ${(e as Error).message}`,
    )
  );
  await writer.close();
  emitter.emit(applyDoneEvent({
    plan,
    state,
    ms: performance.now() - t0,
    store: opts.store,
    failure: failure && {
      ...failure,
      // An interrupt between operations stopped none of them: no operation is named.
      id: failure.id === INTERRUPTED ? undefined : failure.id,
    },
    others,
    interrupted,
    notices,
  }));
  return state;
}
