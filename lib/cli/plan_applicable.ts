/** Whether `plan apply` would apply a valid plan now: for `plan validate` and `plan show`. */
import { applyRefusal } from "../apply/stale.ts";
import { MupError } from "../errors.ts";
import type { Plan } from "../plan/schema.ts";
import type { CliContext } from "./context.ts";

/**
 * Why `plan apply` would not apply `plan` (read from `file`) now, for validate and show, which
 * judge the document and say this beside it: another plan stored under its ID (apply refuses
 * it), or applyRefusal's reason; `said` words it ("apply refuses it now (stale)", or for an
 * applied plan "apply has nothing left to do (applied)": that apply exits 0).
 */
export async function notApplicable(
  ctx: CliContext,
  plan: Plan,
  file: string,
): Promise<{ status: string; said: string; message: string } | undefined> {
  const taken = await ctx.store.refuseOtherWithId(plan, file).then(() => undefined, (e) => {
    if (!(e instanceof MupError)) throw e;
    return { status: "id_taken", message: e.message };
  });
  const r = taken ?? await applyRefusal(plan, ctx.store.clusterDir(plan.cluster_name));
  if (!r) return undefined;
  return {
    ...r,
    said: r.status === "applied"
      ? "apply has nothing left to do (plan list: applied)"
      : r.status === "id_taken"
      ? "apply refuses it now (its plan ID names another stored plan)"
      : `apply refuses it now (plan list: ${r.status})`,
  };
}
