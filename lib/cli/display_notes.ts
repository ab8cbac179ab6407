/** `cluster display`'s notes about unfinished work: a scale-out's new processes, the balancer. */
import type { MongoAccess } from "../mongo/client.ts";
import type { PlanStore } from "../plan/store.ts";
import type { ClusterMeta } from "../state/meta.ts";
import type { ApplyState } from "../state/schema.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";

/** A process an unfinished scale-out started that the metadata does not record yet. */
export interface StartedProcess {
  /** `host:port`. */
  id: string;
  /** Whether it answers (hello) now. */
  answers: boolean;
}

/**
 * The processes an unfinished scale-out's apply (`state`) ran a start of that `meta` does not
 * record, each with whether it answers now (hello, `timeoutMs`). Empty for other operations, or
 * when its plan cannot be read.
 */
export async function startedByUnfinished(
  store: PlanStore,
  state: ApplyState,
  meta: ClusterMeta,
  access: MongoAccess,
  timeoutMs: number,
): Promise<StartedProcess[]> {
  if (state.operation !== "scale-out") return [];
  const loaded = await store.load(state.plan_path).catch(() => undefined);
  if (!loaded) return [];
  const recorded = new Set(meta.processes.map((p) => `${hostKey(p.host)}:${p.port}`));
  const starts = loaded.plan.phases.flatMap((ph) => ph.operations).filter((o) =>
    o.type === "start_process" && (state.operation_states[o.id]?.executions ?? 0) > 0 &&
    !recorded.has(`${hostKey(o.target.host!)}:${o.target.port}`)
  );
  return await Promise.all(starts.map(async (o) => ({
    id: hostPort(o.target.host!, o.target.port!),
    answers: (await access.hello(o.target.host!, o.target.port!, timeoutMs)) !== undefined,
  })));
}

/** "It started …": the note's tail for startedByUnfinished's processes ("" for none). */
export function startedNote(started: StartedProcess[]): string {
  if (!started.length) return "";
  return ` It started ${
    started.map((s) => `${s.id} (${s.answers ? "answers" : "not answering"})`).join(", ")
  }, which the metadata does not list until it completes.`;
}

/** The `Balancer:` line of a sharded cluster's display. */
export function balancerLine(
  name: string,
  meta: ClusterMeta,
  balancer: string | undefined,
  unfinishedStateId: string | undefined,
): string {
  const by = meta.balancer_stopped_by;
  return `Balancer: ${balancer === "off" ? "off" : balancer ? "on" : "unknown"}${
    by && balancer === "off"
      ? ` (stopped by the upgrade of apply ${by.state_id}: ${
        // Only while that upgrade is the apply a resume continues (not superseded).
        unfinishedStateId === by.state_id ? `\`mup plan resume ${name}\` or ` : ""}` +
        `the next upgrade starts it again; without one, \`mup cluster upgrade ${name} ` +
        `--version ${meta.version}\`, the release it runs, starts only the balancer)`
      : ""
  }`;
}
