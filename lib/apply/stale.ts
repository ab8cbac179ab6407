import * as path from "node:path";
import { MupError } from "../errors.ts";
import { shellQuote } from "../executor/shell_quote.ts";
import { commandOf, replanFlags } from "../plan/command_of.ts";
import { clashes } from "../preflight/clusters.ts";
import { type HeldByOthers, heldByOthers, keptClashes } from "../preflight/kept_data.ts";
import { nodeClaims, rootClaims } from "../topology/layout.ts";
import type { Plan } from "../plan/schema.ts";
import type { PlanEntry } from "../plan/store.ts";
import { type ClusterMeta, readMeta } from "../state/meta.ts";
import type { ApplyState } from "../state/schema.ts";
import { StateStore, type UnreadableState } from "../state/store.ts";
import { privateDir } from "../state/atomic.ts";
import { liveHolder } from "../state/lock.ts";
import { withClaimsLock } from "../state/claims_lock.ts";
import { newApplyState } from "./applier.ts";

/**
 * The completed apply of this very plan (same plan ID and content hash) recorded for the
 * cluster, if any: applying it again has nothing to do, which deserves to be said as such
 * rather than as a stale plan.
 */
export async function previousApply(
  plan: Plan,
  clusterDir: string,
): Promise<ApplyState | undefined> {
  const states = await new StateStore(clusterDir).list().catch(() => [] as ApplyState[]);
  return states.find((s) =>
    s.plan_id === plan.plan_id && s.plan_hash === plan.content_hash && s.status === "completed"
  );
}

/** Refuses a plan made from a cluster state that has since changed (Terraform's stale plan). */
export async function checkNotStale(plan: Plan, clusterDir: string): Promise<void> {
  const meta = await readMeta(clusterDir);
  const base = plan.base_state;
  const regenerate = plan.operation === "deploy"
    ? `run \`mup cluster deploy ${plan.cluster_name} ${
      plan.topology_file ? shellQuote(plan.topology_file) : "<topology>"
    } --version ${plan.version}${replanFlags(plan)} --plan-only\` again`
    : `plan it again: \`mup ${
      commandOf(plan.operation, plan.cluster_name, plan.version, plan.topology_file)
    }${replanFlags(plan)}\``;
  if (!meta) {
    if (base.lineage !== "") {
      throw new MupError(
        `Saved plan does not match the given state: plan ${plan.plan_id} was made for an existing cluster ${plan.cluster_name}, which has no recorded state now.`,
        { hint: regenerate, details: { plan_id: plan.plan_id, check: "stale_plan" } },
      );
    }
    return;
  }
  if (base.lineage !== "" && base.lineage !== meta.lineage) {
    throw new MupError(
      `Saved plan does not match the given state: plan ${plan.plan_id} was created from a different state lineage of cluster ${plan.cluster_name}.`,
      { hint: regenerate, details: { plan_id: plan.plan_id, check: "stale_plan" } },
    );
  }
  if (base.serial !== meta.serial) {
    throw new MupError(
      `Saved plan is stale: plan ${plan.plan_id} can no longer be applied because cluster ${plan.cluster_name} was changed by another operation after the plan was created (state serial ${base.serial} → ${meta.serial}).`,
      { hint: regenerate, details: { plan_id: plan.plan_id, check: "stale_plan" } },
    );
  }
}

/**
 * Where a saved plan stands, strongest first: `modified` (its file was edited after mup sealed
 * it, so apply, show and diff refuse it, whatever it was before), `applied` (a completed apply
 * of it is recorded),
 * `rolled_back` (applied, then undone by `state rollback`),
 * `applying` (a live mup holds the cluster's lock to apply or resume it now), `resumable` (the
 * cluster's newest apply is of this plan and paused, failed or cut off: `plan resume` continues
 * it, whatever the metadata says meanwhile), `invalid` (pre-flight failed), `stale` (the
 * cluster changed since it was made: apply refuses it), `blocked` (another cluster of the store
 * has since come to hold a port or directory its processes would take: checkNoClash, so apply
 * refuses it), `declined` (shown
 * for confirmation and not applied; `plan apply` still applies it, the cluster's next plan
 * replaces it), `superseded` (a newer plan for the cluster exists), else `valid`. When some of
 * the cluster's apply states cannot be read, the history has holes: a plan not found applied in
 * what can be read is `unknown` (it may have been applied, or be the newest apply's), never
 * computed as if the history were whole.
 */
export type PlanStatus =
  | "modified"
  | "valid"
  | "invalid"
  | "applied"
  | "applying"
  | "resumable"
  | "superseded"
  | "stale"
  | "blocked"
  | "declined"
  | "rolled_back"
  | "unknown";

/** Whether a plan made from `base` is stale against the cluster's metadata (checkNotStale's rule). */
export function isStaleBase(base: Plan["base_state"], meta: ClusterMeta | undefined): boolean {
  if (!meta) return base.lineage !== "";
  return (base.lineage !== "" && base.lineage !== meta.lineage) || base.serial !== meta.serial;
}

/** The status of each entry of `PlanStore.list()`; `clusterDir` maps a cluster to its directory. */
export async function planStatuses(
  entries: PlanEntry[],
  clusterDir: (cluster: string) => string,
): Promise<{
  statuses: PlanStatus[];
  holes: Map<string, UnreadableState[]>;
  /** Per `blocked` plan's ID, what it would take of another cluster's (clashes()' messages). */
  blocked: Map<string, string[]>;
}> {
  const byCluster = new Map<
    string,
    {
      meta?: ClusterMeta;
      applied: Set<string>;
      rolledBack: Set<string>;
      unfinished?: string;
      /** The plan a live mup applies or resumes now (it holds the cluster's lock). */
      applying?: string;
      holes: boolean;
      /** The other clusters' claims, read when one of this cluster's plans takes anything. */
      others?: HeldByOthers;
    }
  >();
  const holes = new Map<string, UnreadableState[]>();
  const blocked = new Map<string, string[]>();
  for (const c of new Set(entries.map((e) => e.cluster))) {
    const dir = clusterDir(c);
    const { states, unreadable } = await new StateStore(dir).scan();
    if (unreadable.length) holes.set(c, unreadable);
    const newest = states.at(-1); // list() is oldest first
    const holder = await liveHolder(dir);
    byCluster.set(c, {
      meta: await readMeta(dir).catch(() => undefined),
      applied: new Set(
        states.filter((s) => s.status === "completed").map((s) => `${s.plan_id} ${s.plan_hash}`),
      ),
      rolledBack: new Set(
        states.filter((s) => s.status === "rolled_back").map((s) => `${s.plan_id} ${s.plan_hash}`),
      ),
      unfinished: newest && newest.status !== "completed" && newest.status !== "rolled_back"
        ? `${newest.plan_id} ${newest.plan_hash}`
        : undefined,
      applying: holder?.operation.startsWith("apply ")
        ? holder.operation.slice("apply ".length)
        : states.find((s) => s.state_id === holder?.state_id)?.plan_id,
      holes: unreadable.length > 0,
      others: entries.some((e) => e.cluster === c && !takesNothing(e))
        ? await heldByOthers(path.dirname(dir), c)
        : undefined,
    });
  }
  const statuses = entries.map((e): PlanStatus => {
    const c = byCluster.get(e.cluster)!;
    if (e.modified) return "modified";
    if (c.applied.has(`${e.planId} ${e.contentHash}`)) return "applied";
    if (c.holes) return "unknown";
    if (c.rolledBack.has(`${e.planId} ${e.contentHash}`)) return "rolled_back";
    if (c.applying === e.planId) return "applying";
    if (c.unfinished === `${e.planId} ${e.contentHash}`) return "resumable";
    if (!e.valid) return "invalid";
    if (isStaleBase(e.baseState, c.meta)) return "stale";
    const clash = c.others && !takesNothing(e) ? clashOf(e, c.others, clusterDir(e.cluster)) : [];
    if (clash.length) {
      blocked.set(e.planId, clash);
      return "blocked";
    }
    if (e.declined) return "declined";
    const newer = entries.some((o) =>
      o.cluster === e.cluster && o.valid && o.planId !== e.planId && o.createdAt > e.createdAt
    );
    return newer ? "superseded" : "valid";
  });
  return { statuses, holes, blocked };
}

/** Plans that only stop and remove: they take nothing, so no claim can refuse them. */
const TAKES_NOTHING = new Set(["rollback", "stop", "destroy"]);

/** Whether `plan` only stops and removes (a rollback, stop or destroy), taking nothing. */
export function takesNothing(plan: Pick<Plan, "operation">): boolean {
  return TAKES_NOTHING.has(plan.operation);
}

/**
 * What of `others`' the processes of `plan`, of the cluster in `clusterDir`, would take: their
 * processes' ports and files, and data their destroys kept.
 */
function clashOf(
  plan: Pick<Plan, "topology">,
  others: HeldByOthers,
  clusterDir: string,
): string[] {
  const deployDir = path.join(clusterDir, "deploy");
  const mine = nodeClaims(plan.topology, deployDir);
  return [
    ...clashes(mine, others.claims, rootClaims(plan.topology, deployDir)),
    ...keptClashes(mine, others.kept),
  ];
}

/**
 * Refuses a plan whose processes would take a port, data directory or log file that another
 * cluster under the same storage root has come to hold since the plan was made (deployed after
 * it, running or stopped). Rollback, stop and destroy plans are never refused.
 */
export async function checkNoClash(plan: Plan, clusterDir: string): Promise<void> {
  if (takesNothing(plan)) return;
  const others = await heldByOthers(path.dirname(clusterDir), plan.cluster_name);
  const clash = clashOf(plan, others, clusterDir);
  if (clash.length) {
    throw new MupError(
      `plan ${plan.plan_id} would take what another cluster holds:\n${
        clash.map((c) => `  • ${c}`).join("\n")
      }`,
      { hint: "plan again with other ports and directories (and another global.deploy_dir)" },
    );
  }
}

/**
 * Checks again, under the storage root's claims lock, that no other cluster holds what the plan
 * takes, and records the apply's state (which claims the plan's processes) before the lock goes:
 * of two applies started at once on the same ports, the second is refused here, naming the
 * first, before it starts anything. Returns the recorded state, for apply() to run. Throws the
 * MupError of checkNoClash, or withClaimsLock's when the lock stays held or `signal` ends the
 * wait for it (then nothing is recorded).
 */
export async function recordClaim(
  plan: Plan,
  planPath: string,
  storeRoot: string,
  clusterDir: string,
  signal?: AbortSignal,
): Promise<ApplyState> {
  return await withClaimsLock(
    storeRoot,
    `apply ${plan.plan_id}`,
    async () => {
      await checkNoClash(plan, clusterDir);
      const state = newApplyState(plan, planPath);
      const store = new StateStore(clusterDir);
      await privateDir(store.dir);
      await store.writeSnapshot(state);
      return state;
    },
    undefined,
    signal,
  );
}

/**
 * Why `plan apply` would refuse a sound plan now, without applying it: `applied` (its completed
 * apply is recorded), `stale` (checkNotStale) or `blocked` (checkNoClash), with apply's own
 * message; undefined when apply would go on. For `plan validate` and `plan show`, which judge
 * the document and say this beside it (tester43: a CI gate on validate passed stale plans).
 */
export async function applyRefusal(
  plan: Plan,
  clusterDir: string,
): Promise<{ status: "applied" | "stale" | "blocked"; message: string } | undefined> {
  const done = await previousApply(plan, clusterDir);
  if (done) {
    return {
      status: "applied",
      message: `plan ${plan.plan_id} was applied already (apply ${done.state_id}, completed ${
        done.completed_at ?? done.updated_at
      })`,
    };
  }
  const refused = async (status: "stale" | "blocked", check: () => Promise<void>) =>
    await check().then(() => undefined, (e) => {
      if (!(e instanceof MupError)) throw e;
      return { status, message: e.message };
    });
  return await refused("stale", () => checkNotStale(plan, clusterDir)) ??
    await refused("blocked", () => checkNoClash(plan, clusterDir));
}
