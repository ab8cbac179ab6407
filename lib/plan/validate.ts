import type { Dag } from "../graph/mod.ts";
import { planToDag } from "./graph.ts";
import { planFileHash } from "./hash.ts";
import { parsePlanText } from "./parse.ts";
import { planPathIssues } from "./plan_paths.ts";
import { planConfigIssues } from "./plan_configs.ts";
import { planMemberIssues } from "./plan_members.ts";
import { planDescriptionIssues } from "./plan_descriptions.ts";
import { planTargetIssues } from "./plan_targets.ts";
import { planRollingIssues } from "./plan_rolling.ts";
import { listProcesses } from "./processes.ts";
import { planUploadIssues } from "./plan_uploads.ts";
import { planSecretSourceIssues } from "./plan_secret_sources.ts";
import type { Plan, ValidationIssue } from "./schema.ts";

export interface PlanCheck {
  plan?: Plan;
  /** The compiled dependency graph, when the plan parsed. */
  dag?: Dag;
  issues: ValidationIssue[];
}

/**
 * Full validation of a plan document: JSON, schema and format version, hash, graph, the paths
 * its operations run and write (plan_paths.ts; `storeRoot`, $MUP_HOME/storage, places the
 * cluster's own directory there), the configurations it writes (plan_configs.ts), its sets,
 * shards and users (plan_members.ts), its descriptions (plan_descriptions.ts), what its
 * operations act on (plan_targets.ts), a rolling change's order (plan_rolling.ts), the files
 * it uploads (plan_uploads.ts), pre-flight.
 */
export function checkPlanText(
  text: string,
  file: string,
  opts: { storeRoot?: string } = {},
): PlanCheck {
  const fileHash = planFileHash(text);
  const parsed = parsePlanText(text, file);
  text = ""; // let the file's text go before the graph is built
  if (!parsed.plan) return { issues: parsed.issues };
  const hash = contentHashIssue(fileHash, parsed.plan, file);
  const issues = hash ? [hash] : [];
  issues.push(
    ...planPathIssues(parsed.plan, opts),
    ...planConfigIssues(parsed.plan),
    ...planMemberIssues(parsed.plan),
    ...planDescriptionIssues(parsed.plan),
    ...planTargetIssues(
      parsed.plan,
      listProcesses(parsed.plan.topology, parsed.plan.deploy_dir),
      // A scale-in stops processes its topology no longer has, and a rollback those of the
      // apply it undoes (a scale-out's new members): both are checked against the recorded
      // cluster and that apply's plan where those can be read (PlanStore.check).
      parsed.plan.operation !== "scale-in" && parsed.plan.operation !== "rollback",
    ),
    ...planRollingIssues(parsed.plan),
    ...planUploadIssues(parsed.plan, opts),
    ...planSecretSourceIssues(parsed.plan, opts),
    ...phaseOrderIssues(parsed.plan),
  );
  return checkGraph(parsed.plan, issues);
}

/**
 * Phases are numbered 1 to N in the order they run, each name once: the progress counts "Phase
 * 2/3" from these numbers, and a phase cut out of a plan by hand had left "Phase 2/1"
 * (tester54).
 */
function phaseOrderIssues(plan: Plan): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  plan.phases.forEach((ph, i) => {
    if (ph.order !== i + 1) {
      issues.push({
        code: "phase_order",
        severity: "error",
        message: `phases[${i}] "${ph.name}" has order ${ph.order}: the phases are numbered 1 to ` +
          `${plan.phases.length} in the order they run, so it must be ${i + 1}. Plan again ` +
          "rather than edit a plan",
      });
    }
    if (seen.has(ph.name)) {
      issues.push({
        code: "phase_order",
        severity: "error",
        message: `phases[${i}]: a second phase named "${ph.name}"; each phase is named once`,
      });
    }
    seen.add(ph.name);
  });
  return issues;
}

function contentHashIssue(
  { recorded, computed }: ReturnType<typeof planFileHash>,
  plan: Plan,
  file: string,
): ValidationIssue | undefined {
  if (recorded === undefined || recorded !== plan.content_hash) {
    return {
      code: "content_hash",
      severity: "error",
      message:
        `${file}: the plan does not end with the content_hash line mup writes: the file was modified after it was generated. Regenerate it, or copy the file as it is; do not edit or reformat plans.`,
    };
  }
  if (computed !== recorded) {
    return {
      code: "content_hash",
      severity: "error",
      message:
        `${file}: content hash mismatch: the plan was modified after it was generated (expected ${recorded}, computed ${computed}). Regenerate it; do not edit or reformat plans.`,
    };
  }
  return undefined;
}

function checkGraph(plan: Plan, issues: ValidationIssue[]): PlanCheck {
  const dag = planToDag(plan);
  for (const i of dag.issues) {
    issues.push({ code: `graph_${i.code}`, severity: "error", message: i.message });
  }
  for (const e of plan.validation.errors) {
    issues.push({ ...e, message: `pre-flight: ${e.message}` });
  }
  issues.push(...plan.validation.warnings);
  return { plan, dag, issues };
}
