/**
 * The `--json` error documents of failures that are not thrown where they happen: a plan whose
 * pre-flight checks failed, an apply that ended failed or paused. Each is a MupError whose
 * details become the document's fields (see errorDocument in lib/errors.ts); commands throw it
 * under --json and main.ts prints it. Commands of their own (cluster stop, restart…) use these
 * or throw a MupError with `details` the same way.
 */
import type { ApplyEvent } from "../apply/events.ts";
import { MupError } from "../errors.ts";
import type { Plan } from "../plan/schema.ts";
import type { ApplyState } from "../state/schema.ts";
import { hookFailureAdvice } from "../render/hook_advice.ts";

export type ApplyDone = Extract<ApplyEvent, { type: "apply_done" }>;

/** The plan's failed pre-flight checks and errors, for a `--json` error document. */
export function failedChecks(plan: Plan): Record<string, unknown>[] {
  return [
    ...plan.validation.checks.filter((c) => c.status === "failed").map((c) => ({
      name: c.name,
      message: c.message,
      ...(c.host ? { host: c.host } : {}),
    })),
    ...plan.validation.errors
      .filter((e) =>
        !plan.validation.checks.some((c) => c.status === "failed" && c.message === e.message)
      )
      .map((e) => ({ name: e.code, message: e.message, ...(e.host ? { host: e.host } : {}) })),
  ];
}

/**
 * A plan that failed its pre-flight checks, as an error naming them and where the plan is
 * (`stored`: whether it was kept in the store; plans that fail pre-flight are not).
 */
export function preflightFailure(plan: Plan, path?: string, stored?: boolean): MupError {
  return new MupError(
    `pre-flight checks failed; plan ${plan.plan_id} cannot be applied: ${
      plan.validation.errors.map((e) => e.message).join("; ")
    }`,
    {
      // A plan that was not kept cannot be shown: the document's `checks` are the list then.
      hint: stored === false
        ? path
          ? `fix the problems and plan again; \`mup plan show ${path}\` lists the checks (the plan was not stored)`
          : "fix the problems and plan again; `checks` lists them (the plan was not stored)"
        : `fix the problems and plan again; \`mup plan show ${plan.plan_id}\` lists the checks`,
      details: {
        plan_id: plan.plan_id,
        ...(path ? { path } : {}),
        valid: false,
        ...(stored !== undefined ? { stored } : {}),
        checks: failedChecks(plan),
        errors: plan.validation.errors,
      },
    },
  );
}

/**
 * The `--json` error document of an apply of `plan` that did not complete (failed or paused).
 * A failed hook's hint says, as the terminal does, how to go on without it (hook_advice.ts).
 */
export function applyFailure(
  plan: Plan,
  state: ApplyState,
  done: ApplyDone | undefined,
  checks: Record<string, unknown>[],
): MupError {
  const last = state.errors[state.errors.length - 1];
  // An interrupt between operations names none (apply_done has no failed_operation then).
  const operation = done ? done.failed_operation : last?.operation;
  const message = done?.error ?? last?.error ?? `apply ${state.status}`;
  const hookAdvice = done ? hookFailureAdvice(plan, done) : undefined;
  return new MupError(
    done?.interrupted
      ? `apply ${state.state_id} interrupted; its state is saved`
      : `apply ${state.state_id} ${state.status}: ${message}`,
    {
      // An interrupted apply has no cause to fix: it stopped because it was asked to.
      hint: done?.replan ??
        `resume it with \`mup plan resume ${state.cluster_name}\`${
          done?.interrupted ? "" : " once the cause is fixed"
        }; \`mup state show ${state.cluster_name}\` shows what happened${
          hookAdvice ? `. ${hookAdvice}` : ""
        }`,
      // As a process ended by its interrupt does (and as the second Ctrl-C exits): 128 + SIGINT.
      ...(done?.interrupted ? { exitCode: 130 } : {}),
      details: {
        status: state.status,
        state_id: state.state_id,
        plan_id: state.plan_id,
        ...(operation ? { operation } : {}),
        ...(done?.phase ? { phase: done.phase } : {}),
        ...(done?.interrupted ? { interrupted: true } : {}),
        ...(checks.length ? { checks } : {}),
        ...(done?.last_checkpoint ? { last_checkpoint: done.last_checkpoint } : {}),
        ...(done?.left_down?.length ? { left_down: done.left_down } : {}),
        ...(done?.start_failed?.length ? { start_failed: done.start_failed } : {}),
      },
    },
  );
}
