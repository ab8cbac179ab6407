/**
 * Listing a store's plan files: each readable plan as a PlanEntry, each one that cannot be read
 * named as such (never silently passed over: it may be a cluster's newest plan).
 */
import * as path from "node:path";
import { MupError } from "../errors.ts";
import { exists } from "../state/atomic.ts";
import { planFileHash } from "./hash.ts";
import type { Plan } from "./schema.ts";

export interface PlanEntry {
  planId: string;
  cluster: string;
  path: string;
  createdAt: string;
  /** What the plan does, as the plan names it: deploy, stop, restart, reconfigure, scale-out… */
  operation: string;
  operations: number;
  /** False when pre-flight failed (an imported plan, or one written with --plan-file). */
  valid: boolean;
  contentHash: string;
  baseState: Plan["base_state"];
  /** Shown for confirmation and declined (DeclinedPlan). */
  declined: boolean;
  /**
   * The file's bytes no longer match the content hash mup sealed it with (edited or reformatted
   * after it was written): apply, show and diff refuse it.
   */
  modified: boolean;
  /** The plan's topology, for what its processes would take (planStatuses' `blocked`). */
  topology: Plan["topology"];
}

/** A plan file that cannot be read or is not a plan. */
export interface UnreadablePlan {
  cluster: string;
  path: string;
  reason: string;
}

export interface PlanScan {
  /** Oldest first, by created_at. */
  entries: PlanEntry[];
  unreadable: UnreadablePlan[];
}

export function declinedPath(planFile: string): string {
  return planFile.replace(/\.json$/, ".declined");
}

export async function listDir(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.name);
  } catch {
    return [];
  }
  return out.sort();
}

/** The plans in each cluster's plans directory. */
export async function scanPlans(dirs: { cluster: string; dir: string }[]): Promise<PlanScan> {
  const entries: PlanEntry[] = [];
  const unreadable: UnreadablePlan[] = [];
  for (const { cluster, dir } of dirs) {
    for (const f of await listDir(dir)) {
      if (!f.endsWith(".json")) continue;
      const file = path.join(dir, f);
      try {
        const text = await Deno.readTextFile(file);
        const p = JSON.parse(text) as Plan;
        if (typeof p?.plan_id !== "string" || typeof p.created_at !== "string") {
          throw new Error("not a plan (no plan_id or created_at)");
        }
        entries.push({
          planId: p.plan_id,
          cluster,
          path: file,
          createdAt: p.created_at,
          operation: typeof p.operation === "string" ? p.operation : "?",
          operations: p.phases.reduce((n, ph) => n + ph.operations.length, 0),
          valid: p.validation.valid,
          contentHash: p.content_hash,
          baseState: p.base_state,
          declined: await exists(declinedPath(file)),
          modified: isModified(text, p.content_hash),
          topology: p.topology,
        });
      } catch (e) {
        unreadable.push({ cluster, path: file, reason: (e as Error).message });
      }
    }
  }
  entries.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  return { entries, unreadable };
}

/** validatePlanText's content-hash rule: the trailer is there, names the plan's hash, and holds. */
function isModified(text: string, contentHash: unknown): boolean {
  const { recorded, computed } = planFileHash(text);
  return recorded === undefined || recorded !== contentHash || computed !== recorded;
}

/**
 * The file of a cluster's newest plan by created_at, read from the top of each file (where
 * sealPlan() writes it) so that large plans are not parsed just to be compared. A file whose
 * created_at cannot be read may be the newest: refused, naming it.
 */
export async function newestPlanFile(cluster: string, dir: string): Promise<string | undefined> {
  let best: { file: string; createdAt: string } | undefined;
  const damaged: string[] = [];
  for (const f of await listDir(dir)) {
    if (!f.endsWith(".json")) continue;
    const file = path.join(dir, f);
    const createdAt = await createdAtOf(file);
    if (createdAt === undefined) damaged.push(file);
    else if (!best || createdAt >= best.createdAt) best = { file, createdAt };
  }
  if (damaged.length) {
    throw new MupError(
      `plan file ${damaged.join(", ")} of cluster ${cluster} cannot be read: it may be the ` +
        "cluster's newest plan, so no older one is taken in its place",
      {
        hint: "name the plan you mean by its ID (`mup plan list " + cluster + "`), or move " +
          "the damaged file away (or plan again)",
        details: { cluster, unreadable: damaged },
      },
    );
  }
  return best?.file;
}

/** A plan file's created_at from its first lines; the whole file when it is not found there. */
async function createdAtOf(file: string): Promise<string | undefined> {
  try {
    const f = await Deno.open(file);
    const head = new Uint8Array(4096);
    const n = await f.read(head).finally(() => f.close());
    const m = /\n {2}"created_at": ("[^"\n]*")/.exec(
      new TextDecoder().decode(head.subarray(0, n ?? 0)),
    );
    if (m) return JSON.parse(m[1]);
    const at = (JSON.parse(await Deno.readTextFile(file)) as Plan).created_at;
    return typeof at === "string" ? at : undefined;
  } catch {
    return undefined;
  }
}
