/**
 * Which processes the cluster's newest apply stopped on purpose: `cluster display` says so of
 * the members it finds down, so that a member stopped with `cluster stop -N` does not read as
 * a failure to look into.
 */
import { StateStore } from "./store.ts";
import { rolledBackState } from "./checkpoint_file.ts";

/**
 * The newest apply when it is a completed stop, or one rolled back to a checkpoint: its state ID
 * and the IDs (meta.yaml's) of the processes its stop operations (`stop-<process id>`) stopped
 * and no rollback started again. Undefined otherwise, or when the state cannot be read.
 */
export async function stoppedByLastApply(
  clusterDir: string,
): Promise<{ state_id: string; processes: Set<string> } | undefined> {
  try {
    const states = new StateStore(clusterDir);
    const id = await states.currentId();
    if (!id) return undefined;
    const state = await states.load(id);
    if (state.operation !== "stop") return undefined;
    // Rolled back to a checkpoint after its stops, a stop still holds them (tester113 #1).
    const inEffect = state.status === "completed" ? state : await rolledBackState(state);
    if (!inEffect) return undefined;
    const processes = new Set(
      Object.values(inEffect.operation_states)
        .filter((o) => o.id.startsWith("stop-") && o.status === "completed")
        .map((o) => o.id.slice("stop-".length)),
    );
    return { state_id: id, processes };
  } catch {
    return undefined;
  }
}
