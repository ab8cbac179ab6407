/**
 * The hooks a plan of a recorded cluster runs, checked against the hooks its metadata records.
 * A plan's content hash is no signature (see README): a hook added to a stop plan and the file
 * sealed again (a command, an `environment` with LD_PRELOAD, another `working_dir`) would
 * otherwise run on `plan apply` while only the command shows in the review (tester63 M1). Every
 * planner of a recorded cluster but a deploy (whose topology file brings its hooks, shown in
 * full) and a rollback (the rolled-back plan's) gives its plan the recorded hooks
 * (hooks/compile.ts recordedHooks), or none with `--no-hooks`. The sibling of plan_configs.ts:
 * pure, each problem a validation error naming the hook and the fix.
 */
import { recordedHooks } from "../hooks/compile.ts";
import type { Hook, HooksSection } from "../hooks/schema.ts";
import { replanCommand } from "./command_of.ts";
import type { Plan, ValidationIssue } from "./schema.ts";

/** A hook's fields in one order, its environment sorted: equal hooks give equal text. */
function canonical(h: Hook): string {
  return JSON.stringify([
    h.name,
    h.event,
    h.command,
    h.timeout_ms,
    Object.entries(h.environment ?? {}).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0),
    h.continue_on_error,
    h.phase ?? null,
    h.working_dir,
  ]);
}

/**
 * An error (code `plan_hooks`) for each hook of `plan` that the recorded cluster (`recorded`,
 * its metadata; `clusterDir`, where its hooks run when no topology file is recorded) does not
 * declare exactly so, and one when the plan leaves out some of the recorded hooks but not all
 * (`--no-hooks` leaves out all). None for a deploy or a rollback plan.
 */
export function recordedHookIssues(
  plan: Plan,
  recorded: { topology: { hooks?: HooksSection }; topology_file?: string },
  clusterDir: string,
): ValidationIssue[] {
  if (plan.operation === "deploy" || plan.operation === "rollback" || !plan.hooks.length) {
    return [];
  }
  const want = recordedHooks(recorded, clusterDir);
  const known = new Set(want.map(canonical));
  const fix = `plan again (\`mup ${replanCommand(plan)}\`) for the recorded hooks; a cluster's ` +
    "hooks change with a repair of its topology file (`mup cluster deploy`)";
  const issues: ValidationIssue[] = plan.hooks.flatMap((h, i) =>
    known.has(canonical(h)) ? [] : [{
      code: "plan_hooks",
      severity: "error" as const,
      message: `hooks[${i}] (${h.name}, ${h.event}: ${h.command}) is not a hook cluster ` +
        `${plan.cluster_name} records as it stands in the plan (its command, environment, ` +
        `working directory, timeout or phase differ, or it was added): ${fix}`,
    }]
  );
  if (!issues.length && plan.hooks.length !== want.length) {
    issues.push({
      code: "plan_hooks",
      severity: "error",
      message: `the plan runs ${plan.hooks.length} of the ${want.length} hooks cluster ` +
        `${plan.cluster_name} records (a plan runs them all, or none with --no-hooks): ${fix}`,
    });
  }
  return issues;
}
