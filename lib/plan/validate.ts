import { z } from "zod";
import type { Dag } from "../graph/mod.ts";
import { planToDag } from "./graph.ts";
import { planFileHash } from "./hash.ts";
import { Plan, PLAN_FORMAT_VERSION, type ValidationIssue } from "./schema.ts";

export interface PlanCheck {
  plan?: Plan;
  /** The compiled dependency graph, when the plan parsed. */
  dag?: Dag;
  issues: ValidationIssue[];
}

/** Full validation of a plan document: JSON, schema and format version, hash, graph, pre-flight. */
export function checkPlanText(text: string, file: string): PlanCheck {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return {
      issues: [{
        code: "json_syntax",
        severity: "error",
        message: `${file}: ${jsonPosition(text, e as Error)}`,
      }],
    };
  }
  const fileHash = planFileHash(text);
  // Each form of the plan is let go once the next exists (text → JSON tree → parsed plan →
  // graph), which keeps the peak memory of validating a large plan to about two of them.
  text = "";
  const parsed = parsePlan(raw, file);
  raw = undefined;
  if (!parsed.plan) return { issues: parsed.issues };
  const hash = contentHashIssue(fileHash, parsed.plan, file);
  return checkGraph(parsed.plan, hash ? [hash] : []);
}

function parsePlan(raw: unknown, file: string): { plan?: Plan; issues: ValidationIssue[] } {
  const fv = (raw as { format_version?: unknown })?.format_version;
  if (fv !== PLAN_FORMAT_VERSION) {
    return {
      issues: [{
        code: "format_version",
        severity: "error",
        message: `${file}: unsupported plan format version ${
          JSON.stringify(fv)
        }; this mup reads version ${PLAN_FORMAT_VERSION}. Regenerate the plan with this mup.`,
      }],
    };
  }
  const parsed = Plan.safeParse(raw);
  if (parsed.success) return { plan: parsed.data, issues: [] };
  return {
    issues: parsed.error.issues.map((i) => ({
      code: "schema",
      severity: "error",
      message: `${file}: ${z.core.toDotPath(i.path)}: ${i.message}`,
    })),
  };
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

function jsonPosition(text: string, e: Error): string {
  const m = /position (\d+)/.exec(e.message);
  if (!m) return `invalid JSON: ${e.message}`;
  const pos = Number(m[1]);
  const before = text.slice(0, pos).split("\n");
  return `invalid JSON at line ${before.length}, column ${before[before.length - 1].length + 1}: ${
    e.message.replace(/ in JSON at position \d+.*$/, "")
  }`;
}
