/**
 * Plans this store cannot vouch for (PlanStore.check): one made under another MUP_HOME, and one
 * of a cluster this store never deployed.
 */
import * as path from "node:path";
import type { Plan, ValidationIssue } from "./schema.ts";
import { listDir } from "./plan_files.ts";

/** Operation parameters that name a path in mup's store (lib/ops/operation.ts storeParam). */
const STORE_PARAMS = [
  "archive",
  "archive_dir",
  "cluster_dir",
  "extract_dir",
  "path",
  "source",
  "source_dir",
  "staged_path",
  "state_dir",
] as const;

/**
 * A plan made in another store (MUP_HOME): its topology sets no deploy_dir, so it places the
 * cluster where that store keeps it (`<MUP_HOME>/storage/clusters/<name>/deploy`), or its
 * operations download, stage and record in that store's directories. Applied here it would
 * write, stop and (destroy) remove there, or fail at its first operation. An `error` where
 * the plan is to be used here (import, apply, resume, show), a `warning` for `plan validate`
 * of a file. Undefined when it is this store's.
 */
export function otherStoreIssue(
  /** The store's root (`<MUP_HOME>/storage`). */
  root: string,
  plan: Plan,
  severity: "error" | "warning",
): ValidationIssue | undefined {
  const verdict = severity === "error"
    ? "It is not used here"
    : "`plan import` and `plan apply` refuse it here";
  const fix = `make the plan with this MUP_HOME (\`mup cluster deploy ${plan.cluster_name} ` +
    "<topology>` or the `mup cluster` command that made it)";
  const issue = (what: string): ValidationIssue => ({
    code: "plan_store",
    severity,
    message: `${what}. ${verdict}: ${fix}`,
  });
  if (plan.topology.global.deploy_dir === undefined) {
    const mine = path.resolve(root, "clusters", plan.cluster_name, "deploy");
    const there = path.resolve(plan.deploy_dir);
    // This store's directory of another cluster: the plan was made for that one (edited since).
    const other = path.relative(path.resolve(root, "clusters"), there).split(path.sep);
    if (there !== mine && other.length === 2 && other[1] === "deploy" && other[0] !== "..") {
      return {
        code: "plan_store",
        severity,
        message: `the plan names cluster ${plan.cluster_name} but places it in ${there}, ` +
          `cluster ${other[0]}'s directory in this store: it was made for ${other[0]} and its ` +
          `cluster name changed since. ${verdict}: make a plan for ${plan.cluster_name} with ` +
          `the \`mup cluster\` command that does what it does`,
      };
    }
    if (there !== mine) {
      return issue(
        `the plan places cluster ${plan.cluster_name} in ${plan.deploy_dir}; this store ` +
          `keeps it in ${mine}`,
      );
    }
  }
  const home = path.resolve(path.dirname(root));
  for (const o of plan.phases.flatMap((ph) => ph.operations)) {
    for (const key of STORE_PARAMS) {
      const v = o.target.params[key];
      if (typeof v !== "string" || v === "") continue;
      if (key === "path" && !o.type.endsWith("_metadata")) continue;
      if (key === "source" && o.target.params.secret) continue;
      const r = path.resolve(v);
      if (r === home || r.startsWith(`${home}/`)) continue;
      return issue(
        `the plan was made in another store: operation ${o.id}'s ${key} ${v} is not in ` +
          `this store (${home})`,
      );
    }
  }
  return undefined;
}

/**
 * A plan other than a deploy acts on a cluster mup deployed or tried to: one of a cluster
 * (`clusterDir`) with neither metadata (the caller's to know: it is asked only without) nor an
 * apply state of its own names a topology nothing vouches for (tester54: a "stop" of a made-up
 * cluster whose topology placed data anywhere). Undefined for a deploy, or a cluster with an
 * apply here (a first deploy tried, even if never recorded).
 */
export async function unknownClusterIssue(
  clusterDir: string,
  plan: Plan,
): Promise<ValidationIssue | undefined> {
  if (plan.operation === "deploy") return undefined;
  const applied = (await listDir(path.join(clusterDir, "state"))).some((f) => f.endsWith(".json"));
  if (applied) return undefined;
  return {
    code: "plan_unknown_cluster",
    severity: "error",
    message: `plan ${plan.plan_id} is a ${plan.operation} of cluster ${plan.cluster_name}, ` +
      "which this store has neither deployed nor tried to deploy: only a deploy plan makes a " +
      "cluster. Plans are made by mup, not edited",
  };
}
