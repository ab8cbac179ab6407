/**
 * `mup plan resume`, and how `plan resume`, `state show` and `state checkpoints` find an apply:
 * the cluster's newest (StateStore.newest: its current-apply.json link, else the states' own
 * records when the link is lost or damaged), or one given by --state-id.
 */
import { MupError } from "../errors.ts";
import { commandOf, replanCommand } from "../plan/command_of.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import { exists } from "../state/atomic.ts";
import { readMeta } from "../state/meta.ts";
import { refuseWhileLocked } from "../state/lock.ts";
import type { ApplyState } from "../state/schema.ts";
import { type NewestApply, StateStore } from "../state/store.ts";
import { checkIdentifier } from "../util/ident.ts";
import { type ApplyCliOptions, runApply } from "./apply_cli.ts";
import { type CliContext, printJsonLine } from "./context.ts";
import { finishDestroy } from "./lifecycle_effects.ts";
import { replacedOutcome } from "../state/undeployed.ts";

/** Refuses a cluster name with no directory in the store (exit 1, naming it). */
export async function requireCluster(ctx: CliContext, cluster: string): Promise<string> {
  const dir = ctx.store.clusterDir(cluster);
  if (!(await exists(dir))) {
    throw new MupError(`no cluster named "${cluster}"`, {
      hint: "`mup cluster list` shows the clusters mup knows",
      details: { cluster },
    });
  }
  return dir;
}

/** What a reader of the newest apply should know: a damaged link, unreadable states. */
export function newestWarnings(newest: NewestApply): string[] {
  const out: string[] = [];
  if (newest.pointerProblem) {
    out.push(
      `${newest.pointerProblem}; the newest apply by the states' own records is ` +
        `${newest.id ?? "none"} (the next apply or resume writes the link again)`,
    );
  }
  if (newest.from === "records" && newest.unreadable.length) {
    out.push(
      `${
        newest.unreadable.map((u) => u.file).join(", ")
      } cannot be read: the newest apply may be among them, not ${newest.id ?? "none"}`,
    );
  }
  return out;
}

export interface FoundState {
  state: ApplyState;
  store: StateStore;
  /** The cluster's newest apply, as found. */
  newest: NewestApply;
}

export async function findState(
  ctx: CliContext,
  cluster: string | undefined,
  stateId: string | undefined,
): Promise<FoundState> {
  if (stateId) {
    checkIdentifier("state ID", stateId);
    if (cluster) await requireCluster(ctx, cluster);
    const clusters = cluster ? [cluster] : await ctx.store.clusters();
    for (const c of clusters) {
      const store = new StateStore(ctx.store.clusterDir(c));
      if (await store.exists(stateId)) {
        return { state: await store.load(stateId), store, newest: await store.newest() };
      }
    }
    throw new MupError(`no apply state with ID ${stateId}`, {
      hint: `\`mup state list${cluster ? ` ${cluster}` : ""}\` shows the states`,
    });
  }
  if (!cluster) {
    throw new MupError("name a cluster or give --state-id", {
      hint: "`mup cluster list` shows the clusters, `mup state list` the apply states",
    });
  }
  const store = new StateStore(await requireCluster(ctx, cluster));
  const newest = await store.newest();
  if (!newest.id) {
    if (newest.unreadable.length || newest.pointerProblem) {
      throw new MupError(
        `the apply states of cluster ${cluster} cannot be read: ${
          [
            ...(newest.pointerProblem ? [newest.pointerProblem] : []),
            ...newest.unreadable.map((u) => u.reason),
          ].join("; ")
        }`,
        { hint: "restore the damaged files from a backup, or move them away" },
      );
    }
    throw new MupError(`cluster ${cluster} has no apply state`, {
      hint: `apply a plan first (\`mup plan list ${cluster}\` shows its plans)`,
    });
  }
  for (const w of newestWarnings(newest)) console.error(`Warning: ${w}`);
  return { state: await store.load(newest.id), store, newest };
}

/**
 * Refuses resuming a plan that the cluster changed under (Terraform's stale plan), as a first
 * apply refuses it: the metadata must be as the plan found it (base_state), or last written by
 * this very apply (its own update_metadata or save_metadata moved the serial), or removed by
 * this apply's own completed operation (a destroy's, a rolled-back deploy's).
 */
export async function checkResumeNotStale(
  plan: Plan,
  state: ApplyState,
  clusterDir: string,
): Promise<void> {
  const meta = await readMeta(clusterDir);
  const base = plan.base_state;
  const own = (type: string, removes: boolean) =>
    allOperations(plan).some((o) =>
      o.type === type && (!removes || o.target.params.status === "removed") &&
      state.operation_states[o.id]?.status === "completed"
    );
  let why: string | undefined;
  if (!meta) {
    const removedByIt = own("update_metadata", true) || own("archive_cluster", false);
    if (base.lineage !== "" && !removedByIt) {
      why = "the cluster it was made for has no recorded state now";
    }
  } else if (meta.last_state_id !== state.state_id) {
    if (base.lineage !== "" && base.lineage !== meta.lineage) {
      why = "the cluster was recorded anew (another lineage) since";
    } else if (base.serial !== meta.serial) {
      why = `the cluster was changed by another operation since (state serial ${base.serial} → ` +
        `${meta.serial}, last by apply ${meta.last_state_id})`;
    }
  }
  if (!why) return;
  throw new MupError(
    `apply ${state.state_id} of cluster ${plan.cluster_name} cannot be resumed: its plan ` +
      `${plan.plan_id} is stale: ${why}`,
    {
      hint: `plan it again (\`mup ${replanCommand(plan)}\`), or what you need now; ` +
        `\`mup state show ${plan.cluster_name}\` shows the current apply`,
      details: { state_id: state.state_id, plan_id: plan.plan_id, check: "stale_plan" },
    },
  );
}
/**
 * The command that plans an apply's work again: its plan's own (a scale-out's or a
 * reconfigure's with its topology), else its operation's when the plan cannot be read.
 */
async function replanOf(ctx: CliContext, state: ApplyState): Promise<string> {
  const plan = await ctx.store.load(state.plan_path).then((l) => l.plan, () => undefined);
  return plan ? replanCommand(plan) : commandOf(state.operation, state.cluster_name);
}

/** `mup plan resume <cluster> | --state-id <id>`. */
export async function runResume(
  ctx: CliContext,
  cluster: string | undefined,
  stateId: string | undefined,
  opts: ApplyCliOptions,
): Promise<number> {
  const found = await findState(ctx, cluster, stateId);
  const state = found.state;
  await refuseWhileLocked(found.store.clusterDir);
  if (state.status === "completed") {
    if (state.operation === "destroy") {
      const { plan } = await ctx.store.loadOfApply(state);
      await finishDestroy(plan, ctx.store.clusterDir(state.cluster_name));
    }
    // Completed, but it replaced an apply left unfinished: that work is not done, and a
    // resume cannot do it (a script that resumes after every change must hear so).
    const replaced = stateId ? undefined : await replacedApply(ctx, found.store, state);
    if (replaced) {
      throw new MupError(
        `nothing to resume: the newest apply of cluster ${state.cluster_name}, ` +
          `${state.state_id} (${state.operation}), completed, and it replaced apply ` +
          `${replaced.state.state_id} (${replaced.state.operation}), left ${
            replacedOutcome(replaced.state)
          } before it finished, which cannot be resumed now`,
        {
          hint: `\`mup ${replaced.command}\` plans that ${replaced.state.operation} again`,
          details: {
            state_id: state.state_id,
            replaced: replaced.state.state_id,
            check: "replaced_apply",
          },
        },
      );
    }
    if (opts.json) {
      printJsonLine({ state_id: state.state_id, status: state.status, resumed: false });
      return 0;
    }
    console.log(
      `Apply ${state.state_id} of cluster ${state.cluster_name} already completed; nothing to resume.`,
    );
    return 0;
  }
  // `plan resume <cluster>` finishes what is pending: a rolled-back newest apply leaves
  // nothing, as a completed one does (a script running it after every change must not fail).
  if (state.status === "rolled_back" && !stateId) {
    if (opts.json) {
      printJsonLine({ state_id: state.state_id, status: state.status, resumed: false });
      return 0;
    }
    console.log(
      `Apply ${state.state_id} of cluster ${state.cluster_name} was rolled back${
        state.rolled_back_to ? ` to ${state.rolled_back_to}` : ""
      }; nothing to resume.`,
    );
    return 0;
  }
  if (state.status === "rolled_back") {
    const again = await replanOf(ctx, state);
    throw new MupError(
      `apply ${state.state_id} of cluster ${state.cluster_name} was rolled back; it cannot be resumed`,
      { hint: `\`mup ${again}\` plans that ${state.operation} again` },
    );
  }
  // An older apply that a later one replaced: its plan no longer describes the cluster (the
  // later apply may have undone what it would redo), as a stale plan would not. Found without
  // the current-apply.json link too (lost or damaged): then by the states' own records, and
  // when one of those cannot be read, it may be the newest: refused, naming it.
  const newest = found.newest;
  if (newest.from === "records" && newest.unreadable.length) {
    throw new MupError(
      `cannot tell whether apply ${state.state_id} is the newest of cluster ${state.cluster_name}: ${
        newest.pointerProblem ?? `${found.store.pointerPath} is missing`
      }, and ${newest.unreadable.map((u) => u.file).join(", ")} cannot be read; refusing to resume`,
      {
        hint: "restore the damaged state files from a backup, or move them away if those " +
          "applies are known to be older; `mup state list " + state.cluster_name +
          "` shows the states",
        details: {
          state_id: state.state_id,
          unreadable: newest.unreadable.map((u) => u.file),
          check: "newest_apply",
        },
      },
    );
  }
  const current = newest.id;
  if (current && current !== state.state_id) {
    const again = await replanOf(ctx, state);
    throw new MupError(
      `apply ${state.state_id} of cluster ${state.cluster_name} was replaced by a later apply, ${current}: its plan no longer describes the cluster; refusing to resume it`,
      {
        hint: `plan it again (\`mup ${again}\`), or what you need now; ` +
          `\`mup state show ${state.cluster_name}\` shows the current apply`,
        details: { state_id: state.state_id, current, check: "stale_plan" },
      },
    );
  }
  const { plan, path } = await ctx.store.loadOfApply(state);
  if (plan.content_hash === state.plan_hash) {
    await checkResumeNotStale(plan, state, found.store.clusterDir);
  } else {
    throw new MupError(
      `plan ${state.plan_path} changed since apply ${state.state_id} started (content hash differs); refusing to resume with a different plan`,
      {
        hint: "restore the plan file the apply started from, or plan again",
        details: { state_id: state.state_id, plan_id: state.plan_id, check: "plan_hash" },
      },
    );
  }
  if (opts.hooks === false && plan.hooks.length && !opts.json) {
    console.log(
      `Resuming without the plan's hooks (--no-hooks): ${
        plan.hooks.map((h) => `${h.event}${h.phase ? ` (${h.phase})` : ""}: ${h.command}`)
          .join("; ")
      }\n`,
    );
  }
  // A destructive plan (destroy, rollback removing directories) asks again, unless
  // --auto-approve is given to the resume; safety-check failures still ask in a terminal.
  return await runApply(ctx, plan, path, opts, state);
}

/**
 * The apply that `state` (completed) replaced: the one just before it in the cluster's history,
 * left unfinished (failed, paused, cut off) and of another operation (a restart replaced by a
 * start; not a deploy replaced by a deploy planned again), with the command that plans its
 * work again. A `plan resume` that finds the newest apply completed refuses then, lest the
 * earlier work be taken as done.
 */
async function replacedApply(
  ctx: CliContext,
  store: StateStore,
  state: ApplyState,
): Promise<{ state: ApplyState; command: string } | undefined> {
  const { states } = await store.scan();
  const before = states.filter((s) => s.started_at < state.started_at).at(-1);
  if (!before || before.status === "completed" || before.status === "rolled_back") return;
  // One replaced by the same command planned again (a failed deploy, deployed again) is done.
  if (before.operation === state.operation) return;
  const plan = await ctx.store.load(before.plan_path).then((l) => l.plan, () => undefined);
  const command = plan ? replanCommand(plan) : commandOf(before.operation, before.cluster_name);
  return { state: before, command };
}
