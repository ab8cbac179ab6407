import { type Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { hooksRunning, killRunningHooks } from "../hooks/runner.ts";
import { formatDuration } from "../util/format.ts";
import { apply, ApplyControl } from "../apply/applier.ts";
import type { StoppedAtOnce } from "../apply/control.ts";
import type { SafetyDecision } from "../apply/run_operation.ts";
import { Emitter } from "../apply/events.ts";
import {
  checkNoClash,
  checkNotStale,
  previousApply,
  recordClaim,
  takesNothing,
} from "../apply/stale.ts";
import { MupError } from "../errors.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import { jsonRenderer } from "../render/apply_json.ts";
import { PlainRenderer } from "../render/apply_plain.ts";
import { TtyRenderer } from "../render/apply_tty.ts";
import { ClusterLock, refuseWhileLocked } from "../state/lock.ts";
import type { ApplyState } from "../state/schema.ts";
import { StateStore } from "../state/store.ts";
import type { CliContext } from "./context.ts";
import { reportStoppedAtOnce } from "./stopped_at_once.ts";
import { type ApplyDone, applyFailure, preflightFailure } from "./failures.ts";
import {
  askSafetyDecision,
  interactive,
  interruptHandler,
  INTERRUPTS,
  SAME_PRESS_MS,
  unlessInterrupted,
} from "./prompt.ts";
import { finishDestroy } from "./lifecycle_effects.ts";
import { cancelApply, confirmApply, destructive } from "./confirm.ts";
import { onGoneHost } from "../plan/gone_hosts.ts";
import { requireConnectivity, requireStillGone } from "../preflight/connectivity.ts";
import { replanCommand } from "../plan/command_of.ts";
import { requireStartPortsFree } from "../preflight/start_ports.ts";
import { requireNeededReachable } from "../preflight/needed_reachable.ts";
import { requireDataDirsFree } from "../preflight/data_held.ts";
import { configureSsh, type SshCliOptions, sshCommandOptions } from "./ssh_options.ts";

export interface ApplyCliOptions extends SshCliOptions {
  /** false: `plan resume --no-hooks` (ApplyOptions.skipHooks). */
  hooks?: boolean;
  autoApprove?: boolean;
  parallelism?: string;
  onFailure?: string;
  json?: boolean;
}

// deno-lint-ignore no-explicit-any
export function applyCommandOptions(cmd: Command<any, any, any>): void {
  // Checked while the command line is parsed, before anything is planned or saved.
  cmd.option("--auto-approve", "skip the interactive confirmation")
    .option("--parallelism <n>", "most operations running at once", checked(badParallelism), "10")
    .option(
      "--on-failure <policy>",
      "when a safety check fails without a terminal or with --auto-approve: abort or pause",
      checked(badPolicy),
      "abort",
    );
  sshCommandOptions(cmd);
}

/** Why a --parallelism value is refused, if it is. */
function badParallelism(v: string | undefined): string | undefined {
  const n = Number(v ?? 10);
  return Number.isInteger(n) && n >= 1
    ? undefined
    : `--parallelism must be a positive whole number, not "${v}"`;
}

/** Why an --on-failure value is refused, if it is. */
function badPolicy(v: string | undefined): string | undefined {
  const p = v ?? "abort";
  return p === "abort" || p === "pause"
    ? undefined
    : `--on-failure must be abort or pause, not "${p}"`;
}

/** A command-line parser that refuses what `bad` says is wrong, as a usage error. */
const checked = (bad: (v: string) => string | undefined) => (v: string) => {
  const why = bad(v);
  if (why) throw new InvalidArgumentError(why);
  return v;
};

function parallelism(opts: ApplyCliOptions): number {
  const why = badParallelism(opts.parallelism);
  if (why) throw new MupError(why);
  return Number(opts.parallelism ?? 10);
}

function policy(opts: ApplyCliOptions): SafetyDecision {
  const why = badPolicy(opts.onFailure);
  if (why) throw new MupError(why);
  return (opts.onFailure ?? "abort") as SafetyDecision;
}

/** Signals within this many ms of the first Ctrl-C count as that same press (prompt.ts). */
export { interruptHandler, SAME_PRESS_MS };

/**
 * `e`, when it is the lock_held refusal of an apply, saying what becomes of the plan (stored, and
 * stale once the other apply changes the cluster): two runs at once leave the loser's plan
 * behind (tester84). Any other error is returned as it is.
 */
function withPlanKept(e: unknown, plan: Plan): unknown {
  if (!(e instanceof MupError) || e.options.details?.check !== "lock_held") return e;
  return new MupError(`${e.message}\n\nNothing was applied; plan ${plan.plan_id} is kept.`, {
    ...e.options,
    hint: `${e.options.hint}; \`mup plan apply ${plan.plan_id}\` then applies this plan, ` +
      "unless that apply changed the cluster (the plan is then stale: plan again)",
    details: { ...e.options.details, plan_id: plan.plan_id },
  });
}

/** Confirms (unless --auto-approve), takes the lock, runs, renders. Returns the exit code. */
export async function runApply(
  ctx: CliContext,
  plan: Plan,
  planPath: string,
  opts: ApplyCliOptions,
  resume?: ApplyState,
): Promise<number> {
  const clusterDir = ctx.store.clusterDir(plan.cluster_name);
  // While another live mup applies to this cluster, its recorded state is half-written: refused
  // before the stale-plan check or the confirmation read it (the lock is taken again below).
  await refuseWhileLocked(clusterDir).catch((e) => {
    throw resume ? e : withPlanKept(e, plan);
  });
  configureSsh(ctx.executors, plan.topology, opts, plan.ssh_ports);
  const par = parallelism(opts);
  const onFailure = policy(opts);
  if (!resume) {
    const done = await previousApply(plan, clusterDir);
    if (done) {
      const at = done.completed_at ?? done.updated_at;
      if (opts.json) {
        console.log(JSON.stringify({
          plan_id: plan.plan_id,
          already_applied: true,
          state_id: done.state_id,
          applied_at: at,
        }));
      } else {
        console.log(
          `Plan ${plan.plan_id} was already applied to cluster ${plan.cluster_name} at ${at} (apply ${done.state_id}); nothing to do.`,
        );
      }
      return 0;
    }
    await checkNotStale(plan, clusterDir);
    await checkNoClash(plan, clusterDir);
    if (!plan.validation.valid) throw preflightFailure(plan, planPath);
    if (!opts.autoApprove) {
      // Declined (a "no", Ctrl-C, no answer; under --json a thrown refusal): recorded, so that
      // `plan list` says so and the next plan of the cluster replaces it (PlanStore).
      const declined = () => ctx.store.markDeclined(plan, planPath, "not confirmed");
      const cancelled = await confirmApply(plan, planPath, opts).catch(async (e) => {
        await declined();
        throw e;
      });
      if (cancelled !== undefined) {
        await declined();
        return cancelled;
      }
    }
    await ctx.store.clearDeclined(plan, planPath);
  } else if (!opts.autoApprove && destructive(plan)) {
    // The confirmation the first run had (or its --auto-approve) does not carry over: what is
    // left of a destroy still removes data, and the operator may have stopped it on purpose.
    const cancelled = await confirmApply(plan, planPath, opts, resume);
    if (cancelled !== undefined) return cancelled;
  }
  // Hosts that went away since planning stop the apply here, before anything changes. Reaching
  // them can take a while (SSH): a Ctrl-C meanwhile cancels, saying nothing was applied.
  const reached = await unlessInterrupted(
    requireConnectivity(
      ctx.executors,
      // A destroy's or scale-in's --host-gone hosts are not tried: nothing is done there.
      Object.keys(plan.resources.processes_per_host).filter((h) =>
        !onGoneHost(plan.request?.gone_hosts, h)
      ),
      16,
      resume ? `run \`mup plan resume ${plan.cluster_name}\` again` : "apply again",
    ),
  );
  // …and the hosts it takes as gone must still be: one back may run what the plan forgets.
  const gone = plan.request?.gone_hosts ?? [];
  if (reached && gone.length && !resume) {
    const replan = replanCommand({
      ...plan,
      request: { ...plan.request, gone_hosts: undefined },
    });
    await requireStillGone(ctx.executors, gone, replan, plan.plan_id);
  }
  if (!reached) {
    if (!resume) await ctx.store.markDeclined(plan, planPath, "interrupted before it started");
    return cancelApply(plan, planPath, opts, resume, "interrupted before it started", 130);
  }
  // A data directory another mongod has come to run on since planning (or since an interrupted
  // apply stopped) stops a deploy here; the cluster's own mongod, started by that apply, is not
  // another.
  await requireDataDirsFree(plan, clusterDir, ctx.executors);
  // Likewise a port another process took: refused before the first start, not at its own.
  await requireStartPortsFree(plan, ctx.executors, resume);
  // And a recorded process a scale-out or scale-in needs that went down since it was planned.
  if (!resume) await requireNeededReachable(plan, ctx.executors);
  // Said once the checks above have passed: a resume they refuse never began.
  if (resume && !opts.json) {
    const last = resume.checkpoints.at(-1);
    console.log(
      `Resuming apply ${resume.state_id} from ${
        last ? `checkpoint ${last.id}` : "the beginning (no checkpoint yet)"
      }`,
    );
  }
  // The apply's state ID once it has one, for the --json error document of a second Ctrl-C.
  let stateId = resume?.state_id;
  // Listening before the lock is taken: no Ctrl-C can end mup between the two.
  const ac = new AbortController();
  const control = new ApplyControl();
  const held: { lock?: ClusterLock; tty?: TtyRenderer } = {};
  // Through the live status line when there is one, so that no spinner is left among them.
  const notice = (line: string) => held.tty ? held.tty.note(line) : console.error(`\n${line}`);
  // Only a plan that stops a process and starts it again (a restart) starts a stopped one
  // before it pauses; a stop or a destroy leaves what it stopped stopped.
  const ops = allOperations(plan);
  const restarts = ops.some((o) =>
    o.type === "stop_process" &&
    ops.some((s) => s.type === "start_process" && s.target.name === o.target.name)
  );
  const onSigint = interruptHandler({
    first: () => {
      notice(
        `Interrupted: letting running operations finish${
          restarts ? " (a member they stopped starts again)" : ""
        }, then saving state. Press Ctrl-C again (or send another SIGTERM, half a second or more after the first) to stop at once (state stays resumable).`,
      );
      // A hook is let finish too, up to its timeout: say so, or the wait looks like a hang.
      for (const h of hooksRunning()) {
        notice(
          `Waiting for hook ${h.event}${h.name === h.event ? "" : ` "${h.name}"`}${
            h.scope ? ` [${h.scope}]` : ""
          } to end (its timeout ends it in ${
            formatDuration(Math.max(0, h.deadline - Date.now()))
          }); Ctrl-C again stops it now.`,
        );
      }
      ac.abort();
    },
    second: async () => {
      // Nothing is drawn after this: the lines below are mup's last.
      held.tty?.stop();
      // Before the apply has begun nothing runs, and the first press has it cancelled (nothing
      // recorded: the code below says so and exits) or paused at once: wait, briefly, for which.
      const began = await Promise.race([
        control.settled,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000)),
      ]);
      if (began === false) return;
      notice(
        began
          ? `Stopping now. The apply is saved as paused; continue it with: mup plan resume ${plan.cluster_name}`
          : `Stopping now, before the apply was seen to begin. If it began, it is saved as paused: ` +
            `mup plan resume ${plan.cluster_name}; if not, nothing was changed: mup plan apply ${plan.plan_id}`,
      );
      // Bounded: stopping at once must not hang on a stuck disk. A running hook is ended with
      // its process group once the apply is recorded paused (its exit is then no failure): it
      // must not outlive mup.
      let left: StoppedAtOnce = { down: [], starting: [], stopping: [] };
      await Promise.race([
        control.stopNow().then((d) => left = d).then(() => killRunningHooks())
          .then(() => held.lock?.release()),
        new Promise((r) => setTimeout(r, 3000)),
      ]).catch(() => {});
      reportStoppedAtOnce(plan, left, opts.json === true, stateId);
      Deno.exit(130);
    },
  });
  // SIGTERM (systemd, CI cancellation, timeout(1)) stops as gracefully as Ctrl-C does.
  const unlisten = () => INTERRUPTS.forEach((s) => Deno.removeSignalListener(s, onSigint));
  INTERRUPTS.forEach((s) => Deno.addSignalListener(s, onSigint));
  let acquired;
  try {
    acquired = await ClusterLock.acquire(
      clusterDir,
      resume ? `resume ${resume.state_id}` : `apply ${plan.plan_id}`,
      resume?.state_id,
    );
  } catch (e) {
    unlisten();
    control.noApply();
    throw resume ? e : withPlanKept(e, plan);
  }
  const lock = held.lock = acquired.lock;
  let initial: ApplyState | undefined;
  try {
    // Checked again under the lock: another mup may have applied between this one's check and
    // its confirmation (two mups planning at once), which makes this plan stale.
    if (!resume) {
      await checkNotStale(plan, clusterDir);
      await checkNoClash(plan, clusterDir);
    }
    if (!resume && !takesNothing(plan) && !ac.signal.aborted) {
      initial = await recordClaim(plan, planPath, ctx.store.root, clusterDir, ac.signal);
    }
  } catch (e) {
    // Interrupted while waiting for the claims lock: cancelled below, like a Ctrl-C before it.
    if (!(e instanceof MupError && e.options.details?.interrupted === true)) {
      unlisten();
      await lock.release();
      control.noApply();
      throw e;
    }
  }
  // A Ctrl-C before the apply recorded anything: it never began, and the plan stays to apply.
  if (!resume && !initial && ac.signal.aborted) {
    await lock.release();
    try {
      await ctx.store.markDeclined(plan, planPath, "interrupted before it started");
      return cancelApply(plan, planPath, opts, resume, "interrupted before it started", 130);
    } finally {
      // Still listening until it is said: a second press meanwhile must not kill it unsaid.
      control.noApply();
      unlisten();
    }
  }
  const replacedStale = acquired.replacedStale;
  const emitter = new Emitter();
  const tty = !opts.json && interactive();
  const ttyRenderer = held.tty = tty ? new TtyRenderer() : undefined;
  // What a `--json` error document needs: the end of the apply and the safety checks that failed.
  let finished: ApplyDone | undefined;
  const failedChecks: Record<string, unknown>[] = [];
  emitter.on((e) => {
    if (e.type === "apply_start") stateId = e.state_id;
    if (e.type === "apply_done") finished = e;
    if (e.type === "safety_failed") {
      failedChecks.push({
        operation: e.id,
        check: e.check,
        check_type: e.check_type,
        status: e.status,
      });
    }
  });
  if (opts.json) emitter.on(jsonRenderer((l) => console.log(l)));
  else if (ttyRenderer) emitter.on(ttyRenderer.handle);
  else emitter.on(new PlainRenderer((l) => console.log(l)).handle);
  if (replacedStale && !opts.json) {
    console.log(
      `Note: took over a stale lock left by PID ${replacedStale.pid} (${replacedStale.operation}, since ${replacedStale.created}).`,
    );
  }
  let completed = false;
  try {
    const state = await apply({
      plan,
      planPath,
      store: new StateStore(clusterDir),
      executors: ctx.executors,
      parallelism: par,
      emitter,
      signal: ac.signal,
      control,
      initial,
      skipHooks: resume !== undefined && opts.hooks === false,
      // The status line stops while the menu waits for an answer.
      // Ctrl-C at the menu (a key there, in raw mode) is the interrupt it is anywhere else.
      onSafetyFailure: async () => {
        if (!ttyRenderer || opts.autoApprove) return onFailure;
        const decision = await ttyRenderer.hold(askSafetyDecision);
        if (decision !== "interrupted") return decision;
        onSigint();
        return "pause";
      },
    }, resume);
    await lock.setStateId(state.state_id).catch(() => {});
    completed = state.status === "completed";
    if (!completed && opts.json) throw applyFailure(plan, state, finished, failedChecks);
  } finally {
    unlisten();
    ttyRenderer?.stop(); // whatever ended the apply, no status line outlives it
    await lock.release();
    control.noApply(); // an apply() that failed before it attached
  }
  if (completed && plan.operation === "destroy") await finishDestroy(plan, clusterDir);
  // Interrupted (paused by Ctrl-C or SIGTERM) is not failed: 130, as the second Ctrl-C exits.
  return completed ? 0 : finished?.interrupted ? 130 : 1;
}
