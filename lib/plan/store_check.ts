/**
 * What PlanStore.check adds to checkPlanText's verdict from what the store holds: the
 * topology's warnings said again, and a current plan judged against its cluster as recorded
 * (paths, configurations, uploads, members and targets, hooks), a rollback against the apply it
 * undoes too.
 */
import { validateTopology } from "../topology/validate.ts";
import { recordedPathIssues } from "./plan_paths.ts";
import { recordedConfigIssues } from "./plan_configs.ts";
import { recordedUploadIssues } from "./plan_uploads.ts";
import { recordedMemberIssues } from "./plan_members.ts";
import { recordedHookIssues } from "./plan_hooks.ts";
import { planTargetIssues } from "./plan_targets.ts";
import { listProcesses } from "./processes.ts";
import { parsePlanText } from "./parse.ts";
import { unknownClusterIssue } from "./other_store.ts";
import { readMeta } from "../state/meta.ts";
import { StateStore } from "../state/store.ts";
import { isIdentifier, liesInside } from "../util/ident.ts";
import type { Plan, ValidationIssue } from "./schema.ts";
import type { ApplyState } from "../state/schema.ts";
import type { PlanStore } from "./store.ts";

function dotted(p: (string | number)[]): string {
  return p.map((k, i) => typeof k === "number" ? `[${k}]` : i ? `.${k}` : k).join("");
}

/**
 * A deploy plan's topology warnings (access control off…) that its own validation lacks, added
 * to `plan.validation.warnings` and returned: a plan resealed with its topology edited carries
 * none of its own, and the review must not look clean.
 */
export function resaidTopologyWarnings(plan: Plan): ValidationIssue[] {
  if (plan.operation !== "deploy") return [];
  const said = new Set(plan.validation.warnings.map((w) => w.code));
  const out: ValidationIssue[] = [];
  for (
    const w of validateTopology(plan.topology, { variant: plan.variant, version: plan.version })
  ) {
    if (w.severity !== "warning" || said.has(w.code)) continue;
    const warning: ValidationIssue = {
      code: w.code,
      severity: "warning",
      message: `topology.${dotted(w.path ?? [])}: ${w.message}`,
    };
    plan.validation.warnings.push(warning);
    out.push(warning);
  }
  return out;
}

/**
 * For a plan of a cluster recorded in `clusterDir` that is current (made from the recorded
 * state, so applicable): its paths, configurations, uploads, members and process targets, and
 * hooks against the cluster as recorded (plan_paths.ts recordedPathIssues, and the like): a plan
 * whose topology or deploy root was edited together with them is refused too. A rollback with
 * no recorded cluster to judge it by has its process targets checked against its own topology
 * and the undone apply's. A plan of a cluster never recorded nor tried here: unknownClusterIssue.
 * `root`: the store's root.
 */
export async function recordedIssues(
  root: string,
  clusterDir: string,
  plan: Plan,
): Promise<ValidationIssue[]> {
  const meta = await readMeta(clusterDir).catch(() => undefined);
  const base = plan.base_state;
  const undone = await undonePlan(clusterDir, plan);
  const issues: ValidationIssue[] = [];
  if (meta && base.lineage === meta.lineage && base.serial === meta.serial) {
    issues.push(
      ...recordedPathIssues(plan, meta, { storeRoot: root }),
      ...recordedConfigIssues(plan, meta),
      ...recordedUploadIssues(plan, meta, { storeRoot: root }),
      ...recordedMemberIssues(plan, meta, undone),
      ...recordedHookIssues(plan, meta, clusterDir),
    );
  } else if (plan.operation === "rollback") {
    // checkPlanText leaves a rollback's process targets to here (it may stop processes its
    // own topology lacks: an unfinished scale-out's).
    issues.push(...planTargetIssues(
      plan,
      [plan, ...(undone ? [undone] : [])].flatMap((p) => listProcesses(p.topology, p.deploy_dir)),
      true,
      true,
    ));
  }
  const unknown = meta ? undefined : await unknownClusterIssue(clusterDir, plan);
  if (unknown) issues.push(unknown);
  return issues;
}

/**
 * For a rollback plan: the plan of the apply it undoes (its mark_rolled_back operation's
 * `state_id`, an apply of the same cluster whose state names a plan inside `clusterDir`), whose
 * processes the rollback may stop and remove although the metadata never recorded them (an
 * unfinished scale-out's). Undefined for any other plan, or when that apply or its plan cannot
 * be read: the rollback's targets are then judged without it.
 */
async function undonePlan(clusterDir: string, plan: Plan): Promise<Plan | undefined> {
  const id = undoneStateId(plan);
  if (!id) return undefined;
  try {
    const state = await new StateStore(clusterDir).load(id);
    if (!liesInside(clusterDir, state.plan_path)) return undefined;
    return parsePlanText(await Deno.readTextFile(state.plan_path), state.plan_path).plan;
  } catch {
    return undefined;
  }
}

/**
 * The state ID of the apply a rollback plan undoes (its mark_rolled_back operation's
 * `state_id`); undefined for any other plan, or one that names no identifier.
 */
function undoneStateId(plan: Pick<Plan, "operation" | "phases">): string | undefined {
  if (plan.operation !== "rollback") return undefined;
  const id = plan.phases.flatMap((ph) => ph.operations)
    .find((o) => o.type === "mark_rolled_back")?.target.params.state_id;
  return id && isIdentifier(id) ? id : undefined;
}

/**
 * The apply the rollback apply `rollback` (its state) undoes, read through `store` (its plan
 * validated, then that apply's state); undefined for another apply, or when either cannot be
 * read.
 */
export async function undoneApply(
  store: PlanStore,
  rollback: ApplyState,
): Promise<ApplyState | undefined> {
  if (rollback.operation !== "rollback") return undefined;
  const plan = await store.load(rollback.plan_path).then((l) => l.plan, () => undefined);
  const id = plan ? undoneStateId(plan) : undefined;
  if (!id) return undefined;
  return await new StateStore(store.clusterDir(rollback.cluster_name)).load(id)
    .catch(() => undefined);
}
