import * as path from "node:path";
import { refuseCopyTarget } from "./copy_target.ts";
import { readUserText } from "../util/read_text.ts";
import { MupError } from "../errors.ts";
import { exists, writeFileAtomic, writeFileAtomicWith } from "../state/atomic.ts";
import { checkPlanText, type PlanCheck } from "./validate.ts";
import { checkIdentifier, insideStore, isIdentifier } from "../util/ident.ts";
import type { Dag } from "../graph/mod.ts";
import { planFileHash, sealPlan } from "./hash.ts";
import { recordedIssues, resaidTopologyWarnings } from "./store_check.ts";
import { otherStoreIssue } from "./other_store.ts";
import type { Plan, ValidationIssue } from "./schema.ts";
import { z } from "zod";
import { Identifier } from "../util/ident.ts";
import {
  declinedPath,
  listDir,
  newestPlanFile,
  type PlanEntry,
  type PlanScan,
  scanPlans,
} from "./plan_files.ts";

export { listDir, type PlanEntry, type PlanScan } from "./plan_files.ts";

/**
 * `plans/<plan-id>.declined`: the plan was shown for confirmation and not applied (answered
 * no, Ctrl-C, no answer). It stays applicable (`mup plan apply <id>`) and is listed `declined`
 * until a newer plan of its cluster is saved, which replaces it: it is then removed.
 */
export const DeclinedPlan = z.object({
  format_version: z.literal(1),
  plan_id: Identifier,
  declined_at: z.string(),
  /** How: "answered no", "interrupted", "no answer". */
  how: z.string(),
});
export type DeclinedPlan = z.infer<typeof DeclinedPlan>;

/** Plans under `<storage>/clusters/<cluster>/plans/<plan-id>.json`. */
export class PlanStore {
  constructor(readonly root: string) {}

  /** A cluster's directory; throws a MupError for a name that is not an identifier. */
  clusterDir(cluster: string): string {
    checkIdentifier("cluster name", cluster);
    return insideStore(this.root, path.join(this.root, "clusters", cluster));
  }

  /** Where a plan is stored; both names are checked, and the path proven inside the store. */
  planPath(cluster: string, planId: string): string {
    checkIdentifier("plan ID", planId);
    return insideStore(this.root, path.join(this.clusterDir(cluster), "plans", `${planId}.json`));
  }

  /**
   * Seals a plan straight into its file in the store, and copies the file to `copy` if given.
   * The plan's bytes go to disk as they are produced (see sealPlan).
   */
  async savePlan(
    unsealed: Omit<Plan, "content_hash">,
    copy?: string,
  ): Promise<{ plan: Plan; path: string }> {
    const target = this.planPath(unsealed.cluster_name, unsealed.plan_id);
    if (copy) await refuseCopyTarget(this.root, copy);
    const plan = await writing(
      target,
      () => writeFileAtomicWith(target, (write) => sealPlan(unsealed, write)),
    );
    if (copy) {
      const to = path.resolve(copy);
      await writing(
        to,
        async () => writeFileAtomic(to, await Deno.readFile(target)),
        `the plan itself is saved as ${target}; give --plan-file a writable path`,
      );
    }
    return { plan, path: target };
  }

  /**
   * Seals a plan into `file` only, not into the store: a plan that failed pre-flight, written
   * where `--plan-file` asked (its `validation.valid` is false, which marks it invalid).
   */
  async writePlanFile(
    unsealed: Omit<Plan, "content_hash">,
    file: string,
  ): Promise<{ plan: Plan; path: string }> {
    const to = path.resolve(file);
    await refuseCopyTarget(this.root, file);
    const plan = await writing(
      to,
      () => writeFileAtomicWith(to, (write) => sealPlan(unsealed, write)),
      "give --plan-file a writable path",
    );
    return { plan, path: to };
  }

  /**
   * The store's file of `plan`, read (and validated) from `file`: `file` itself when it is the
   * stored one, else the stored copy (refuseOtherWithId has made sure it holds the same plan),
   * else a copy stored now as `plan import` stores it. So an apply of a plan file kept outside
   * the store records, in its ApplyState, a plan the store keeps and `plan list` shows, not a
   * file that may go (tester51).
   */
  async adopt(plan: Plan, file: string): Promise<string> {
    const stored = await this.findById(plan.plan_id);
    if (stored) return stored;
    const text = await readPlanText(file);
    // The bytes validated are the bytes stored: a file changed since it was read is refused.
    const { recorded, computed } = planFileHash(text);
    if (recorded !== plan.content_hash || computed !== plan.content_hash) {
      throw new MupError(`${file} changed while mup read it: nothing was applied`, {
        hint: "apply it again once nothing writes to it",
      });
    }
    return await this.saveText(plan, text);
  }

  /** Stores a plan file's text as it is: an imported plan, already validated. */
  async saveText(plan: Plan, text: string): Promise<string> {
    const target = this.planPath(plan.cluster_name, plan.plan_id);
    await writing(target, () => writeFileAtomic(target, text));
    return target;
  }

  /** Every cluster with a directory in the store (entries that are not identifiers are not). */
  async clusters(): Promise<string[]> {
    return (await listDir(path.join(this.root, "clusters"))).filter((c) => isIdentifier(c));
  }

  /** The file of a plan ID: save() names each plan `<plan-id>.json`, so no plan is read. */
  async findById(planId: string): Promise<string | undefined> {
    checkIdentifier("plan ID", planId);
    for (const c of await this.clusters()) {
      const file = this.planPath(c, planId);
      if (await exists(file)) return file;
    }
    return undefined;
  }

  async list(cluster?: string): Promise<PlanEntry[]> {
    return (await this.scan(cluster)).entries;
  }

  /** The readable plans (list()) and the plan files that cannot be read, each naming its file. */
  async scan(cluster?: string): Promise<PlanScan> {
    const clusters = cluster ? [cluster] : await this.clusters();
    return await scanPlans(clusters.map((c) => ({ cluster: c, dir: this.plansDir(c) })));
  }

  plansDir(cluster: string): string {
    return path.join(this.clusterDir(cluster), "plans");
  }

  /** A plan by file path, plan ID, or cluster name (its newest plan). */
  async resolve(ref: string): Promise<string> {
    if (ref.endsWith(".json") || ref.includes("/")) {
      // Absolute: an apply records where its plan is, and a resume may run from elsewhere.
      if (await exists(ref)) return path.resolve(ref);
      throw new MupError(`plan file ${ref} does not exist`, {
        hint: "give a plan file, plan ID or cluster name (`mup plan list` shows the saved plans)",
      });
    }
    checkIdentifier("plan ID or cluster name", ref);
    const byId = await this.findById(ref);
    if (byId) return byId;
    const newest = await this.newest(ref);
    if (newest) return newest;
    throw new MupError(`no plan, plan ID or cluster named "${ref}"`, {
      hint: "`mup plan list` shows the saved plans",
    });
  }

  /**
   * The file of a cluster's newest plan by created_at (plan_files.ts newestPlanFile): a plan
   * file that cannot be read may be the newest, so it is refused, naming it, not passed over.
   */
  async newest(cluster: string): Promise<string | undefined> {
    return await newestPlanFile(cluster, this.plansDir(cluster));
  }

  /**
   * Validates a plan file's text (checkPlanText, with this store's root), then judges it by
   * what the store holds (store_check.ts): a plan of another store, a deploy's topology warnings
   * said again, and a current plan of a cluster recorded here against the cluster as recorded,
   * so that a plan whose topology or deploy root was edited together with its operations is
   * refused too.
   */
  async check(
    text: string,
    file: string,
    opts: { here?: boolean } = {},
  ): Promise<PlanCheck> {
    const check = checkPlanText(text, file, { storeRoot: this.root });
    const plan = check.plan;
    if (!plan || !isIdentifier(plan.cluster_name)) return check;
    const elsewhere = otherStoreIssue(this.root, plan, opts.here ? "error" : "warning");
    if (elsewhere) check.issues.push(elsewhere);
    check.issues.push(
      ...resaidTopologyWarnings(plan),
      ...await recordedIssues(this.root, this.clusterDir(plan.cluster_name), plan),
    );
    return check;
  }

  /** Loads and fully validates a plan (check); throws a MupError listing the problems. */
  async load(ref: string): Promise<{ plan: Plan; path: string; dag: Dag }> {
    const file = await this.resolve(ref);
    const check = await this.check(await readPlanText(file), file, { here: true });
    const errors = blockingIssues(check);
    if (!check.plan || errors.length) throw invalidPlanError(file, errors);
    return { plan: check.plan, path: file, dag: check.dag! };
  }

  /**
   * Throws MupError when the store holds another plan than `file`'s (other content) under its
   * plan ID: an ID names one plan in reviews and in the apply history, as `plan import` keeps
   * it (tester43). For an apply: reading such a file (show, validate) is allowed.
   */
  async refuseOtherWithId(plan: Plan, file: string): Promise<void> {
    const stored = await this.findById(plan.plan_id);
    if (!stored || path.resolve(stored) === path.resolve(file)) return;
    const text = await readPlanText(file);
    if ((await Deno.readTextFile(stored).catch(() => text)) === text) return;
    throw new MupError(
      `${file} holds a plan with ID ${plan.plan_id}, but not the plan stored under that ID ` +
        `(${stored}, other content): an ID names one plan in reviews and the apply history`,
      {
        hint: `apply the stored plan (\`mup plan apply ${plan.plan_id}\`), or plan again; to ` +
          `replace the stored one, delete it first: \`mup plan delete ${plan.plan_id}\``,
        details: { plan_id: plan.plan_id, stored, file },
      },
    );
  }

  /**
   * The plan an apply ran (`plan_path` of its ApplyState), as load() gives it. Throws MupError
   * naming the apply, the file and the way out when the file is gone (deleted or moved by
   * hand: `plan delete` refuses the plan of an unfinished apply).
   */
  async loadOfApply(
    state: { state_id: string; plan_id: string; plan_path: string; cluster_name: string },
  ): Promise<{ plan: Plan; path: string; dag: Dag }> {
    if (!(await exists(state.plan_path))) {
      throw new MupError(
        `the plan of apply ${state.state_id}, ${state.plan_path}, is gone (deleted or moved): ` +
          "resume and rollback run what it records",
        {
          hint: `put the file back (a copy \`mup plan export ${state.plan_id}\` wrote: ` +
            `\`mup plan import < copy.json\`), or plan again: a new plan of cluster ` +
            `${state.cluster_name} replaces this apply`,
          details: { state_id: state.state_id, plan_id: state.plan_id, path: state.plan_path },
        },
      );
    }
    return await this.load(state.plan_path);
  }

  async delete(planId: string): Promise<string> {
    const file = await this.findById(planId);
    if (!file) {
      throw new MupError(`no plan with ID "${planId}"`, {
        hint: "`mup plan list` shows the saved plans",
      });
    }
    await this.remove(file);
    return file;
  }

  /** Removes the stored plan at `file` (a path `savePlan` returned) and its declined record. */
  async remove(file: string): Promise<void> {
    await Deno.remove(file);
    await Deno.remove(declinedPath(file)).catch(() => {});
    // A never-deployed cluster's last plan leaves nothing behind: its plans directory, then its
    // cluster directory, go when empty (a non-recursive remove fails on anything left in them).
    const plans = path.dirname(file);
    await Deno.remove(plans).then(() => Deno.remove(path.dirname(plans))).catch(() => {});
  }

  /** Records that the stored plan at `file` was declined at its confirmation (DeclinedPlan). */
  async markDeclined(plan: Plan, file: string, how: string): Promise<void> {
    // Only a plan kept in the store: a plan file elsewhere is the user's.
    if (path.resolve(file) !== this.planPath(plan.cluster_name, plan.plan_id)) return;
    const doc: DeclinedPlan = {
      format_version: 1,
      plan_id: plan.plan_id,
      declined_at: new Date().toISOString(),
      how,
    };
    await writeFileAtomic(declinedPath(file), JSON.stringify(DeclinedPlan.parse(doc)) + "\n");
  }

  /** A declined plan is applied after all: it is no longer declined. */
  async clearDeclined(plan: Plan, file: string): Promise<void> {
    if (path.resolve(file) !== this.planPath(plan.cluster_name, plan.plan_id)) return;
    await Deno.remove(declinedPath(file)).catch(() => {});
  }

  /**
   * Removes the declined plans of `cluster` that `newer` (just saved) replaces: never applied,
   * and no apply state names them (`referenced`). Returns the IDs removed.
   */
  async dropDeclined(
    cluster: string,
    newer: string,
    referenced: Set<string>,
  ): Promise<string[]> {
    const gone: string[] = [];
    for (const e of await this.list(cluster)) {
      if (!e.declined || e.planId === newer || referenced.has(e.planId)) continue;
      await Deno.remove(e.path);
      await Deno.remove(declinedPath(e.path)).catch(() => {});
      gone.push(e.planId);
    }
    return gone;
  }
}

/** Where the DeclinedPlan record of a stored plan file lives. */
/** Runs a write of `file`, turning a file-system failure (full disk, permissions) into a MupError. */
async function writing<T>(
  file: string,
  write: () => Promise<T>,
  hint = "check free disk space and permissions there (MUP_HOME sets the storage root)",
): Promise<T> {
  try {
    return await write();
  } catch (e) {
    const fsError = Object.values(Deno.errors).some((c) => e instanceof c) ||
      typeof (e as { code?: unknown }).code === "string";
    if (!fsError) throw e;
    throw new MupError(`cannot write the plan file ${file}: ${(e as Error).message}`, { hint });
  }
}

/** The issues of `check` that keep its plan from being applied: errors other than pre-flight's. */
export function blockingIssues(check: PlanCheck): ValidationIssue[] {
  return check.issues.filter((i) => i.severity === "error" && !i.message.startsWith("pre-flight"));
}

/** The error of a plan `file` that `errors` (blockingIssues) keep from being applied. */
export function invalidPlanError(file: string, errors: ValidationIssue[]): MupError {
  const edited = errors.some((e) => e.code === "content_hash");
  return new MupError(
    `plan ${file} is not valid:\n${errors.map((e) => `  • ${e.message}`).join("\n")}`,
    {
      hint:
        `${
          edited ? "the file was changed after mup wrote it: " : ""
        }plan again with the command that made it (a plan is applied as mup wrote it, never ` +
        `edited); \`mup plan validate ${file}\` lists the problems`,
      details: {
        check: edited ? "plan_modified" : "plan_invalid",
        issues: errors.map(({ code, message }) => ({ code, message })),
      },
    },
  );
}

/**
 * A plan file's text, read as the user named it (`plan show|validate|apply|graph <file>`): a
 * directory, a missing or unreadable file or one that is not UTF-8 is a MupError naming it.
 */
export async function readPlanText(file: string): Promise<string> {
  return (await readUserText(file, {
    what: "plan file",
    hint: "give a plan file, plan ID or cluster name (`mup plan list` shows the saved plans)",
  })).text;
}
