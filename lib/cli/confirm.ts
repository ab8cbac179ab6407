/** The question asked before an apply, and before the resume of a destructive one. */
import { MupError } from "../errors.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import type { ApplyState } from "../state/schema.ts";
import type { ApplyCliOptions } from "./apply_cli.ts";
import { describeEffects } from "./deploy_effects.ts";
import { readAnswer } from "./prompt.ts";

/**
 * Whether applying `plan` removes what cannot be brought back: a destroy, or a rollback that
 * removes directories (data among them). These ask for the cluster's name, also on resume.
 */
export function destructive(plan: Plan): boolean {
  return plan.operation === "destroy" ||
    (plan.operation === "rollback" &&
      allOperations(plan).some((o) => o.type === "remove_directory"));
}

/**
 * `plan` with only the operations `state` has not completed: what a resume of it has left to
 * do, for its "This will:" (a resume never runs a completed operation again).
 */
export function leftToDo(plan: Plan, state: Pick<ApplyState, "operation_states">): Plan {
  return {
    ...plan,
    phases: plan.phases.map((ph) => ({
      ...ph,
      operations: ph.operations.filter((o) => state.operation_states[o.id]?.status !== "completed"),
    })),
  };
}

/**
 * Asks before an apply (or, given `resume`, before resuming a destructive one): "yes", or the
 * cluster's name for a destructive plan, as TiUP does (a "yes" typed by habit is not enough).
 * The answer is a line of standard input, a terminal's or a pipe's. Returns undefined when
 * confirmed, else the exit code (1; 130 after Ctrl-C, as for any interrupted command); under
 * --json a refusal throws MupError. Without an answer outside a terminal (standard input at its
 * end), the refusal names --auto-approve.
 */
export async function confirmApply(
  plan: Plan,
  planPath: string,
  opts: ApplyCliOptions,
  resume?: ApplyState,
): Promise<number | undefined> {
  // Under --json, stdout carries only events: the question goes to stderr.
  const say = opts.json ? console.error : console.log;
  if (resume) {
    say(
      `Apply ${resume.state_id} was started earlier; resuming it carries on with what is left.`,
    );
  }
  say(describeEffects(resume ? leftToDo(plan, resume) : plan) + "\n");
  const destroy = destructive(plan);
  const removes = destroy && plan.operation === "rollback";
  const verb = resume ? "resume" : "apply";
  const { line: answer, interrupted } = await readAnswer(
    destroy
      ? `There is no undo. Type the cluster name (${plan.cluster_name}) to ${
        resume ? "resume and " : ""
      }${removes ? "roll back and remove its directories" : "destroy it"}: `
      : "Do you want to continue? (yes/no): ",
    opts.json ? "stderr" : "stdout",
  );
  if (answer?.trim() === (destroy ? plan.cluster_name : "yes")) return undefined;
  // In a terminal, no answer is Ctrl-C (or Ctrl-D): a "no". Elsewhere it is the end of input
  // (CI, a pipe, /dev/null): say which flag answers the question in advance.
  const given = answer?.trim() ?? "";
  const noAnswer = answer === undefined && !Deno.stdin.isTerminal()
    ? `no answer was given (standard input is not a terminal and gave none); pass ` +
      `--auto-approve to ${verb} without this question`
    // An answer that looks like a yes ("y", "Yes") is not one: say what approves.
    : given && !/^no?$/i.test(given)
    ? destroy
      ? `"${given}" is not the cluster's name; only ${plan.cluster_name} approves`
      : `only "yes" approves (the answer was "${given}")`
    : undefined;
  return cancelApply(
    plan,
    planPath,
    opts,
    resume,
    interrupted
      ? "interrupted at the question (Ctrl-C)"
      : noAnswer && (opts.json ? `the confirmation was not given: ${noAnswer}` : noAnswer),
    interrupted ? 130 : 1,
  );
}

/**
 * Says that the apply (or its resume) was called off before it changed anything: nothing was
 * applied, the plan was kept (where, and the command that applies it), or the apply stays
 * resumable. `why` replaces the plain "cancelled" (no answer, an interrupt before the start).
 * Returns the exit code, `code` (1; 130 when an interrupt called it off); under --json throws
 * the MupError, with that exit code, instead.
 */
export function cancelApply(
  plan: Plan,
  planPath: string,
  opts: ApplyCliOptions,
  resume?: ApplyState,
  why?: string,
  code = 1,
): number {
  const say = opts.json ? console.error : console.log;
  const verb = resume ? "resume" : "apply";
  const again = resume
    ? `mup plan resume ${plan.cluster_name} --state-id ${resume.state_id}`
    : `mup plan apply ${plan.plan_id}`;
  if (opts.json) {
    throw new MupError(
      `${verb} cancelled: ${why ?? "the confirmation was not given"}`,
      {
        hint: `answer as asked, or pass --auto-approve; ${
          resume
            ? `the apply stays resumable: ${again}`
            : `the plan was kept: ${planPath} (until the cluster's next plan replaces it: ${again})`
        }`,
        exitCode: code,
        details: {
          plan_id: plan.plan_id,
          path: planPath,
          ...(resume ? { state_id: resume.state_id } : {}),
        },
      },
    );
  }
  const head = `${resume ? "Resume" : "Apply"} cancelled${why ? `: ${why}.\n` : ". "}`;
  say(
    resume
      ? `${head}Nothing was changed; the apply stays resumable: ${again}`
      : `${head}Nothing was applied. The plan was kept: ${planPath}\nTo apply it later: ${again}` +
        ` (before the cluster's next plan, which replaces a plan not confirmed)`,
  );
  return code;
}
