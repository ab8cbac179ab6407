/**
 * `cluster display`'s notes: a scale-out's new processes, the balancer, members' options changed
 * outside mup, members without their vote yet.
 */
import type { MongoAccess } from "../mongo/client.ts";
import type { PlanStore } from "../plan/store.ts";
import type { ClusterMeta } from "../state/meta.ts";
import type { ApplyState } from "../state/schema.ts";
import { undoneApply } from "../plan/store_check.ts";
import type { UndeployedApply } from "../state/undeployed.ts";
import { hostKey, hostPort, splitHostPort } from "../topology/hosts.ts";
import { listProcesses } from "../plan/processes.ts";
import { changedFields } from "../ops/reconfig_members.ts";
import type { ProcessStatus } from "../probe/live.ts";

/** A process an unfinished scale-out started that the metadata does not record yet. */
export interface StartedProcess {
  /** `host:port`. */
  id: string;
  /** Whether it answers (hello) now. */
  answers: boolean;
  /** Its start failed (the process exited, or never answered): it was not started. */
  startFailed?: boolean;
  /** The scale-out's apply, when the unfinished apply is a rollback of it. */
  undoing?: string;
}

/**
 * The processes an unfinished scale-out's apply (`state`) ran a start of that `meta` does not
 * record, each with whether it answers now (hello, `timeoutMs`); for an unfinished rollback of
 * a scale-out, those of the scale-out that still answer (the rollback has yet to stop them).
 * Empty for other operations, or when a plan or state cannot be read.
 */
export async function startedByUnfinished(
  store: PlanStore,
  state: ApplyState,
  meta: ClusterMeta,
  access: MongoAccess,
  timeoutMs: number,
): Promise<StartedProcess[]> {
  let scaleOut = state.operation === "scale-out" ? state : undefined;
  const undone = await undoneApply(store, state);
  if (undone?.operation === "scale-out") scaleOut = undone;
  if (!scaleOut) return [];
  const loaded = await store.load(scaleOut.plan_path).catch(() => undefined);
  if (!loaded) return [];
  const recorded = new Set(meta.processes.map((p) => `${hostKey(p.host)}:${p.port}`));
  const starts = loaded.plan.phases.flatMap((ph) => ph.operations).filter((o) =>
    o.type === "start_process" && (scaleOut.operation_states[o.id]?.executions ?? 0) > 0 &&
    !recorded.has(`${hostKey(o.target.host!)}:${o.target.port}`)
  );
  const found = await Promise.all(starts.map(async (o) => ({
    id: hostPort(o.target.host!, o.target.port!),
    answers: (await access.hello(o.target.host!, o.target.port!, timeoutMs)) !== undefined,
    ...(scaleOut.operation_states[o.id]?.status === "failed" ? { startFailed: true } : {}),
    ...(scaleOut !== state ? { undoing: scaleOut.state_id } : {}),
  })));
  return scaleOut === state ? found : found.filter((s) => s.answers);
}

/**
 * The members (`host:port`, by hostKey) an unfinished scale-in's apply (`state`) began to take
 * out of their replica sets (its remove_members operations that ran), so that display says
 * whose doing their REMOVED is. Empty for other operations, or when its plan cannot be read.
 */
export async function removedByUnfinished(
  store: PlanStore,
  state: ApplyState,
): Promise<Set<string>> {
  if (state.operation !== "scale-in") return new Set();
  const loaded = await store.load(state.plan_path).catch(() => undefined);
  const ops = loaded?.plan.phases.flatMap((ph) => ph.operations) ?? [];
  return new Set(
    ops.filter((o) =>
      o.type === "remove_members" && (state.operation_states[o.id]?.executions ?? 0) > 0
    ).flatMap((o) => JSON.parse(o.target.params.remove ?? "[]") as string[])
      .map((m) => {
        const [host, port] = splitHostPort(m);
        return `${hostKey(host)}:${port}`;
      }),
  );
}

/** "It started …": the note's tail for startedByUnfinished's processes ("" for none). */
export function startedNote(started: StartedProcess[]): string {
  if (!started.length) return "";
  const state = (s: StartedProcess) => s.answers ? "answers" : "not answering";
  // A start that failed started nothing, unless the process answers after all (tester109 #6).
  const ran = started.filter((s) => !s.startFailed || s.answers);
  const failed = started.filter((s) => s.startFailed && !s.answers);
  const list = ran.map((s) => `${s.id} (${state(s)})`).join(", ");
  const tried = failed.length
    ? ` Its start of ${failed.map((s) => s.id).join(", ")} failed (not answering): ${
      failed.length === 1 ? "that process does" : "those processes do"
    } not run.`
    : "";
  if (!ran.length) return tried;
  return (started[0].undoing
    ? ` The scale-out it undoes (apply ${started[0].undoing}) started ${list}, which the ` +
      "metadata does not list: the rollback has yet to stop it."
    : ` It started ${list}, which the metadata does not list until it completes.`) + tried;
}

/** The `Balancer:` line of a sharded cluster's display. */
export function balancerLine(
  name: string,
  meta: ClusterMeta,
  balancer: string | undefined,
  unfinishedStateId: string | undefined,
  /** The newest release a process runs other than the recorded one (an upgrade part way). */
  newer?: string,
): string {
  const by = meta.balancer_stopped_by;
  return `Balancer: ${balancer === "off" ? "off" : balancer ? "on" : "unknown"}${
    by && balancer === "off"
      ? ` (stopped by the upgrade of apply ${by.state_id}: ${
        // Only while that upgrade is the apply a resume continues (not superseded).
        unfinishedStateId === by.state_id ? `\`mup plan resume ${name}\` or ` : ""}` +
        `the next upgrade starts it again; without one, \`mup cluster upgrade ${name} ` +
        // Members part way on a newer release: an upgrade to the recorded one is refused
        // (older than what they run), one to theirs finishes the move (tester45).
        (newer
          ? `--version ${newer}\`, the release some processes run already, finishes moving ` +
            "the rest and starts it)"
          : `--version ${meta.version}\`, the release it runs, starts only the balancer)`)
      : balancer === "off"
      // Off, and not by mup: chunks stay where they are, which a DBA may want (a backup, a
      // maintenance window) or may have forgotten (tester53).
      ? " (stopped outside mup: no chunk moves between shards until it is started again, " +
        "`sh.startBalancer()` through mongos)"
      : ""
  }`;
}

/** A member whose options in its set's live configuration are not the recorded ones. */
export interface OptionsChanged {
  /** `host:port`. */
  id: string;
  live: Record<string, number | boolean>;
  recorded: Record<string, number | boolean>;
}

/**
 * The members of `rows` (display's, read from their sets' configurations) whose priority, votes
 * or hidden differ from what `meta` records: changed outside mup (rs.reconfig).
 */
export function optionsChanged(meta: ClusterMeta, rows: ProcessStatus[]): OptionsChanged[] {
  const recorded = new Map(
    listProcesses(meta.topology, "").map((p) => [`${hostKey(p.host)}:${p.port}`, p]),
  );
  return rows.flatMap((r) => {
    const p = recorded.get(`${hostKey(r.host)}:${r.port}`);
    if (!p || !p.replicaSet || p.arbiterOnly || r.priority === undefined) return [];
    const keys = changedFields(r, p);
    if (!keys.length) return [];
    return [{
      id: r.id,
      live: Object.fromEntries(keys.map((k) => [k, r[k]!])),
      recorded: Object.fromEntries(keys.map((k) => [k, p[k]])),
    }];
  });
}

/**
 * The display's line for optionsChanged's members (none for none). After an unfinished apply
 * that sets members' options (a reconfigure, a repair), they may be its own doing part way:
 * its resume is named, not a repair.
 */
export function optionsNote(
  name: string,
  changed: OptionsChanged[],
  unfinished: { operation: string; state_id: string } | undefined,
  /** The repair that sets them back, as pasted (lifecycle_ops.ts repairCommand). */
  repair: string,
): string[] {
  const fields = (o: Record<string, unknown>) =>
    Object.entries(o).map(([k, v]) => `${k} ${v}`).join(", ");
  const list = changed.map((c) => `${c.id} ${fields(c.live)} (recorded: ${fields(c.recorded)})`)
    .join("; ");
  if (!changed.length) return [];
  if (unfinished && ["reconfigure", "deploy"].includes(unfinished.operation)) {
    return [
      "Members whose options in their set's configuration are not the recorded ones: " +
      `${list}; the unfinished ${unfinished.operation} (apply ${unfinished.state_id}) may have ` +
      `changed them part way: \`mup plan resume ${name}\` completes it`,
    ];
  }
  return [
    "Members whose options in their set's configuration are not the recorded ones (changed " +
    `outside mup): ${list}; \`${repair}\` (a repair) sets them back`,
  ];
}

/** What the display says of a cluster no deploy recorded, and the ways on. */
export function firstDeployNote(name: string, u: UndeployedApply): string {
  const apply = `its first deploy (apply ${u.state.state_id})`;
  if (u.outcome === "rolled_back") {
    return `cluster ${name} is not deployed: ${apply} was rolled back to ` +
      `${u.state.rolled_back_to ?? "a checkpoint"}; what it left (secrets, files) stays. ` +
      `\`mup cluster deploy ${name} …\` deploys it again; \`mup cluster destroy ${name}\` ` +
      "removes what is left.";
  }
  const how = u.outcome === "interrupted"
    ? `was interrupted (${u.interrupted!.reason.split(";")[0]})`
    : u.outcome === "running"
    ? "is still running"
    : u.outcome === "paused"
    ? "was paused"
    : "failed";
  return `cluster ${name} is not deployed: ${apply} ${how}. These are the processes its plan ` +
    `describes, asked live. \`mup plan resume ${name}\` continues it; ` +
    `\`mup state rollback ${name} --checkpoint start\` undoes it; ` +
    `\`mup cluster destroy ${name}\` removes it.`;
}

/**
 * The display's lines for the sets whose primary (a row of `rows` with `members_without_vote`)
 * counts voting members that do not vote yet: MongoDB 4.4+ adds a member `newlyAdded` and the
 * primary gives it its vote once it is SECONDARY, unless that vote would change the set's
 * implicit default write concern while no cluster-wide default is set (the primary's own
 * reconfig is refused then, and the member stays without it).
 */
export function withoutVoteNotes(rows: ProcessStatus[]): string[] {
  return rows.filter((r) => r.members_without_vote).map((r) => {
    const n = r.members_without_vote!;
    return `Note: ${r.replica_set ?? r.id}: ${n} of its voting members ${
      n === 1 ? "does" : "do"
    } not vote yet (its primary ${r.id} counts them so): MongoDB gives a member added to a ` +
      "set its vote once its initial sync is done and it is SECONDARY; while no cluster-wide " +
      "default write concern is set, one whose vote would change the set's implicit default " +
      "stays without it (setDefaultRWConcern through the primary, or mongos, lets the primary " +
      "give it).";
  });
}

/**
 * The processes found down with nothing listening on their port (connection refused), which
 * `cluster start` brings back: none while an apply runs or one is left unfinished, or for a
 * cluster not deployed yet (their notes say what finishes those), and not those the last apply
 * stopped (its own note names their start) or members their set no longer lists (`removed`: a
 * start refuses them; the membership note names what finishes their removal). Shape:
 * `{ processes: ["host:port"…], start }`.
 */
export function downOnTheirOwn(
  name: string,
  rows: ProcessStatus[],
  skip: { busy: boolean; stoppedIds: string[]; removed?: string[] },
): { processes: string[]; start: string } | undefined {
  if (skip.busy) return undefined;
  const ids = rows.filter((r) =>
    r.state === "DOWN" && r.reason === "connection refused" && !skip.stoppedIds.includes(r.id) &&
    !skip.removed?.includes(r.id)
  ).map((r) => r.id);
  if (!ids.length) return undefined;
  return {
    processes: ids,
    start: `mup cluster start ${name} ${ids.map((id) => `-N ${id}`).join(" ")}`,
  };
}

/** The display's note for downOnTheirOwn: what is down, and the start that brings it back. */
export function downNote(down: { processes: string[]; start: string }): string {
  const one = down.processes.length === 1;
  return `Note: ${down.processes.join(", ")} ${one ? "is" : "are"} down, nothing listening on ${
    one ? "its port" : "their ports"
  } (mup's last apply did not stop ${one ? "it" : "them"}): \`${down.start}\` starts ${
    one ? "it" : "them"
  } again; if ${one ? "it" : "they"} ended on ${one ? "its" : "their"} own, ${
    one ? "its log says" : "their logs say"
  } why.`;
}
