/**
 * A cluster directory with an apply state but no metadata: a first deploy that failed, was
 * paused or was cut off (kill -9, crash). Its processes may be running, so the cluster commands
 * show it and say how to continue or undo it.
 */
import { type Interruption, interruption } from "./lock.ts";
import type { ApplyState } from "./schema.ts";
import { StateStore } from "./store.ts";

/** The unfinished apply of a cluster that has no metadata yet. */
export interface UnfinishedApply {
  state: ApplyState;
  /** Set when the apply is recorded `running` but its mup process is gone. */
  interrupted?: Interruption;
  /** `failed`, `paused`, `interrupted` or (its mup still at work) `running`. */
  outcome: "failed" | "paused" | "interrupted" | "running";
}

/**
 * The current apply of `clusterDir` when it did not finish (failed, paused, running or cut
 * off); undefined when there is none, it cannot be read, or it completed or was rolled back
 * (then nothing of it is left running). Reads only.
 */
export async function unfinishedApply(clusterDir: string): Promise<UnfinishedApply | undefined> {
  const store = new StateStore(clusterDir);
  const id = await store.currentId();
  if (!id) return undefined;
  const state = await store.load(id).catch(() => undefined);
  if (!state) return undefined;
  if (state.status === "failed" || state.status === "paused") {
    return { state, outcome: state.status };
  }
  if (state.status !== "running") return undefined;
  const cut = await interruption(clusterDir, state);
  return cut ? { state, interrupted: cut, outcome: "interrupted" } : { state, outcome: "running" };
}

/** `not deployed (apply <id> failed)` and the like: the status `cluster list` shows. */
export function undeployedStatus(u: UnfinishedApply): string {
  return `not deployed (apply ${u.state.state_id} ${u.outcome})`;
}
