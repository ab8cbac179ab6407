/**
 * What to do after an apply a hook failed, said alike by the terminal renderers and the `--json`
 * error document (lib/cli/failures.ts).
 */
import { shellQuote } from "../executor/shell_quote.ts";
import { commandOf, replanFlags } from "../plan/command_of.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import { tlsSwitchBegunAt } from "../plan/mark_op.ts";
import { madeAgainBeforeItsStop } from "../plan/step_down_stop.ts";

/**
 * The advice for an apply that ended `status` with `error` (`left_down`: members the plan
 * stopped and did not start again), when a hook failed it; undefined for any other failure and
 * for a pause. A resume runs the plan's hooks as recorded, so a hook that always fails needs a
 * new plan: a deploy's is made from the edited topology, any other's with `--no-hooks` (after a
 * `cluster start --no-hooks` of what it left down, which the new plan would refuse); or
 * `plan resume --no-hooks` goes on without them (the only way for a TLS switch under way).
 */
export function hookFailureAdvice(
  plan: Plan,
  e: { error?: string; status: string; left_down?: string[]; failed_operation?: string },
): string | undefined {
  if (!e.error?.startsWith("hook ") || e.status === "paused") return undefined;
  // Always possible, whatever else is: a TLS switch under way cannot be planned again at all.
  const skip = `Or resume without the plan's hooks: \`mup plan resume ${
    shellQuote(plan.cluster_name)
  } --no-hooks\`.`;
  if (e.error.startsWith("hook after_operation ")) {
    // A step-down (and the wait for the new primary) is made again by a resume whose stop has
    // not run: a step-down lasts 60 s (applier.ts). Its hook then runs again too (tester70).
    const failed = allOperations(plan).find((o) => o.id === e.failed_operation);
    if (failed && madeAgainBeforeItsStop(plan, failed)) {
      return "The operation completed before its after_operation hook failed, but a resume " +
        "makes it again (a step-down lasts 60 s, and the stop after it has not run), and runs " +
        `the hook again with it. ${skip}`;
    }
    // Its operation's work was done and recorded: a resume goes on after it.
    return "The operation completed before its after_operation hook failed: a resume goes on " +
      "after it and does not run that hook again.";
  }
  if (plan.operation === "deploy") {
    return "The failed hook runs again on resume. To change or remove it, edit the hooks in " +
      `${plan.topology_file} and plan again: \`mup cluster deploy ${
        [plan.cluster_name, plan.topology_file].map(shellQuote).join(" ")
      } --version ${plan.version}${replanFlags(plan)}\` (the new plan re-checks what is ` +
      `already in place). ${skip}`;
  }
  // A TLS switch failed before it began is planned again like any other plan.
  if (tlsSwitchBegunAt(plan.operation, e.failed_operation)) {
    return "The failed hook runs again on resume: fix what it runs, then `mup plan resume " +
      `${shellQuote(plan.cluster_name)}\` (no other plan is made until the switch finishes). ` +
      skip;
  }
  return "The failed hook runs again on resume. To go on without the cluster's hooks, " +
    (e.left_down?.length
      ? `start what this ${plan.operation} left down without them: \`mup cluster start ${
        shellQuote(plan.cluster_name)
      } --no-hooks\`, then make `
      : "make ") +
    `the plan again with --no-hooks: \`mup ${
      commandOf(plan.operation, plan.cluster_name, plan.version, plan.topology_file)
    }${replanFlags(plan)} --no-hooks\`. ${skip}`;
}
