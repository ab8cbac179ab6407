import { type ClusterMeta, statusOfRunning } from "../state/meta.ts";
import type { Change, Plan } from "./schema.ts";
import { clusterDifferences } from "./redeploy.ts";
import type { MemberOptionChange } from "./member_options.ts";
import { changedFields as optionFields } from "../ops/reconfig_members.ts";

/** A plan's change as the diff shows it: a process both stopped and started is "restart". */
export type DiffChange = Omit<Change, "action"> & { action: Change["action"] | "restart" };

export interface PlanDiff {
  cluster: string;
  plan_id: string;
  /**
   * Every resource the plan touches with the action it would take now, once per resource and
   * action: `operation` is the first operation that makes the change, `operations` all of them
   * (a stop plan records the metadata twice: status unknown first, the status found last).
   */
  changes: (DiffChange & {
    operation: string;
    operations: string[];
    /** What the live cluster adds to the planned change (a member changed by hand since). */
    note?: string;
  })[];
  summary: Record<string, number>;
  /** The plan's apply that is paused or failed part way: what it did is not listed again. */
  in_flight?: { state_id: string; status: string; done: number; total: number };
  /**
   * Members whose priority, votes or hidden in their set's live configuration differ from the
   * plan's topology (changed outside mup), which this plan does not change: `member`
   * (`host:port`), `set`, and the differing fields as the set holds them and as the topology
   * gives them. Found by the CLI where the set can be asked; a deploy plan made now sets them back.
   */
  drift?: {
    member: string;
    set: string;
    /** The set's configuration does not list the member (rs.remove); live and topology empty. */
    removed?: boolean;
    live: Record<string, unknown>;
    topology: Record<string, unknown>;
  }[];
  /** Shards of the plan's topology the cluster does not list live (removeShard outside mup). */
  unlisted_shards?: string[];
}

/**
 * The plan's expected changes against the cluster as recorded (meta.yaml) and, where `down` is
 * given, as it is live. When the recorded cluster is the one the plan deploys (same processes,
 * settings and version), everything the plan creates is in place: nothing changes but the start
 * of each process in `down` (process IDs that did not answer) and, for a repair's plan, the
 * files it found missing or changed when it was made. Otherwise (a new cluster, or
 * another shape) each resource keeps the plan's action, except processes the metadata records.
 * `inFlight`: the plan's own apply, paused or failed part way; the operations it completed are
 * left out (a resume does not run them again), so the diff is what is left to do.
 */
export function planDiff(
  plan: Plan,
  meta: ClusterMeta | undefined,
  down?: ReadonlySet<string>,
  inFlight?: { state_id: string; status: string; completed: ReadonlySet<string> },
  live: {
    /**
     * The members (`<set>/<host:port>`) whose options differ live from the plan's topology (or
     * that their set no longer lists), where the sets were asked: a plan's change of another
     * member is in place.
     */
    drifted?: ReadonlySet<string>;
    /** The plan was applied to completion: a repair's files it wrote are in place. */
    applied?: boolean;
    /**
     * The release archives (paths) found in the cache, intact, now: a download the plan made
     * before they were there changes nothing.
     */
    cached?: ReadonlySet<string>;
    /**
     * The operations (IDs) that make files, directories and secrets (FILE_MAKERS) whose effect
     * is in place now, judged by their own isDone (an apply that failed after making them,
     * before a new plan): they change nothing.
     */
    made?: ReadonlySet<string>;
  } = {},
): PlanDiff {
  const { drifted } = live;
  const running = new Set((meta?.processes ?? []).map((p) => p.id));
  const matches = meta !== undefined &&
    clusterDifferences(
        meta,
        { topology: plan.topology, version: plan.version, variant: plan.variant },
        "<deploy>",
      ).length === 0;
  // start, stop, restart…: a process start changes nothing when it runs, a stop nothing when
  // it is down: live where `down` says, else as the metadata records the cluster.
  const deploy = plan.operation === "deploy";
  // A repair's plan records which files it found missing or changed (lib/plan/repair_files.ts):
  // those it writes again; a first deploy's plan records every file as created.
  const repair = deploy && plan.base_state.lineage !== "";
  const isUp = (id: string) =>
    down !== undefined ? !down.has(id) : meta?.status === "running" && running.has(id);
  const inPlace = (c: Change) =>
    c.resource_type === "process" &&
    (c.action === "stop" ? !isUp(c.resource_id) : c.action === "start" && isUp(c.resource_id));
  const all = plan.phases.flatMap((ph) => ph.operations);
  const ops = all.filter((o) => !inFlight?.completed.has(o.id));
  // A start, stop or restart only records in the metadata the status its processes are found
  // in: once every process change is in place, that record changes nothing if it already says
  // what the live cluster is.
  const recordInPlace = !deploy && down !== undefined && meta !== undefined &&
    ops.every((o) => o.changes.every((c) => c.resource_type !== "process" || inPlace(c))) &&
    meta.status === liveStatus(meta, down);
  // Only a record of the status: one that also records a new topology, release or security
  // (a reconfigure, an upgrade) changes the metadata (tester80).
  const isRecord = (o: (typeof ops)[number], c: Change) =>
    o.type === "update_metadata" && c.action === "update" &&
    ["auto", "unknown"].includes(String(o.target.params?.status)) &&
    Object.keys(o.target.params ?? {}).every((k) => k === "path" || k === "status");
  // A process the plan both stops and starts (a restart, a TLS switch) is restarted: one row,
  // never "in place" (the start would otherwise look done because it runs now).
  const stops = new Set<string>();
  const starts = new Set<string>();
  for (const o of ops) {
    for (const c of o.changes) {
      if (c.resource_type !== "process") continue;
      if (c.action === "stop") stops.add(c.resource_id);
      if (c.action === "start") starts.add(c.resource_id);
    }
  }
  const restarted = (c: Change) =>
    !deploy && c.resource_type === "process" && stops.has(c.resource_id) &&
    starts.has(c.resource_id) && isUp(c.resource_id);
  // A first deploy onto kept data (addKeptConfigOps marks its sets): their data may hold the
  // set initiated and its users, which the apply then finds in place.
  const kept = new Set(
    meta ? [] : all.filter((o) => o.target.params?.kept === "true").map((o) => o.target.name),
  );
  // Users made through mongos live in the config server set (`<user>@cluster`).
  const configSet = plan.topology.config_servers?.[0]?.replica_set;
  const keptSet = (c: DiffChange) =>
    ((c.resource_type === "replica_set" || c.resource_type === "shard") &&
      kept.has(c.resource_id)) ||
    (c.resource_type === "user" &&
      kept.has(
        c.resource_id.endsWith("@cluster") && configSet
          ? configSet
          : c.resource_id.split("@").at(-1) ?? "",
      ));
  // A secret copied from elsewhere (a kept archive, the topology's keyfile) is made the same.
  const copied = (o: (typeof ops)[number], c: DiffChange) =>
    o.type === "generate_secret" && c.resource_type === "secret" && !!o.target.params?.source;
  const changes: PlanDiff["changes"] = [];
  const seen = new Map<string, PlanDiff["changes"][number]>();
  for (const o of ops) {
    for (const raw of o.changes) {
      const c: DiffChange = restarted(raw) ? { ...raw, action: "restart" } : raw;
      const isProcess = c.resource_type === "process";
      const present = c.action === "restart"
        ? false
        : o.type === "download_binary" && c.resource_type === "file" &&
            live.cached?.has(c.resource_id)
        ? true
        : FILE_MAKERS.has(o.type) && live.made?.has(o.id)
        ? true
        : c.resource_type === "replica_set_member" && c.action !== "delete" && drifted
        ? !drifted.has(c.resource_id)
        : !deploy
        ? inPlace(raw) || (recordInPlace && isRecord(o, raw))
        : matches
        ? isProcess ? !down?.has(c.resource_id) : !repair || !!live.applied || raw.action === "none"
        : isProcess && running.has(c.resource_id);
      const action = present ? "none" : c.action;
      // One line per resource and action, however many operations make that change.
      const key = JSON.stringify([c.resource_type, c.resource_id, action]);
      const earlier = seen.get(key);
      if (earlier) {
        earlier.operations.push(o.id);
        // What a later operation says it changes (an upgrade's record, after the mark) shows.
        if (c.before !== undefined && earlier.before === undefined) earlier.before = c.before;
        if (c.after !== undefined) earlier.after = c.after;
        continue;
      }
      const entry = {
        ...c,
        action,
        operation: o.id,
        operations: [o.id],
        ...(action === "create" && keptSet(c)
          ? { note: KEPT_NOTE }
          : action === "create" && copied(o, c)
          ? { note: `copied from ${o.target.params.source}` }
          : {}),
      };
      seen.set(key, entry);
      changes.push(entry);
    }
  }
  // A resource one operation leaves as it is and another changes is changed: one row, the
  // change's, with every operation that touches it.
  for (const c of changes.filter((c) => c.action === "none")) {
    const changed = changes.find((x) =>
      x.action !== "none" && x.resource_type === c.resource_type && x.resource_id === c.resource_id
    );
    if (!changed) continue;
    changed.operations = [...new Set([...c.operations, ...changed.operations])];
    changes.splice(changes.indexOf(c), 1);
  }
  const summary: Record<string, number> = {};
  for (const c of changes) summary[c.action] = (summary[c.action] ?? 0) + 1;
  return {
    cluster: plan.cluster_name,
    plan_id: plan.plan_id,
    changes,
    summary,
    ...(inFlight
      ? {
        in_flight: {
          state_id: inFlight.state_id,
          status: inFlight.status,
          done: all.length - ops.length,
          total: all.length,
        },
      }
      : {}),
  };
}

/**
 * A reconfigure plan's diff with its sets' members as they are live: `drift` lists the members
 * whose live options differ from the plan's topology (lib/probe/member_options.ts memberDrift).
 * The plan's reconfig_members operation sets every member of its set to the topology
 * (member_options.ts reconfigMembersOp), so a planned member's change starts from its live
 * values (noting what the plan read, when someone changed it since), and a member of such a set
 * that the plan did not plan to change is listed as set back. `untouched`: the members of sets
 * the plan does not reconfigure, which it leaves as they are.
 */
export function withLiveMembers(
  plan: Plan,
  d: PlanDiff,
  drift: MemberOptionChange[],
): { diff: PlanDiff; untouched: MemberOptionChange[] } {
  const setOps = new Map(
    plan.phases.flatMap((ph) => ph.operations).filter((o) => o.type === "reconfig_members")
      .map((o) => [o.target.name, o.id]),
  );
  const changes = d.changes.map((c) => ({ ...c }));
  const untouched: MemberOptionChange[] = [];
  const values = (o: Record<string, unknown>, keys: string[]) =>
    keys.map((k) => `${k} ${String(o[k])}`).join(", ");
  for (const m of drift) {
    const set = m.proc.replicaSet!;
    const id = `${set}/${m.want.host}`;
    const row = changes.find((c) =>
      c.resource_type === "replica_set_member" && c.resource_id === id && c.action === "update"
    );
    if (row) {
      const read = (row.before ?? {}) as Record<string, unknown>;
      const since = optionFields(read, m.was).filter((k) => k in read);
      if (since.length) {
        row.note = `changed outside mup since the plan was made, which read ${values(read, since)}`;
      }
      row.before = { ...read, ...Object.fromEntries(since.map((k) => [k, m.was[k]])) };
      continue;
    }
    const op = setOps.get(set);
    if (!op) {
      untouched.push(m);
      continue;
    }
    changes.push({
      resource_type: "replica_set_member",
      resource_id: id,
      action: "update",
      before: m.was,
      after: m.want,
      operation: op,
      operations: [op],
      note: `changed outside mup: ${op} sets every member of ${set} to the plan's topology`,
    });
  }
  const summary: Record<string, number> = {};
  for (const c of changes) summary[c.action] = (summary[c.action] ?? 0) + 1;
  return { diff: { ...d, changes, summary }, untouched };
}

/**
 * The operation types whose effect is files, directories or secrets, each of which can tell
 * cheaply (isDone) whether it is in place: `plan diff` asks them (planDiff's `live.made`).
 */
export const FILE_MAKERS: ReadonlySet<string> = new Set([
  "create_directory",
  "generate_config",
  "generate_secret",
  "upload_file",
]);

/** The status a start, stop or restart records for what runs now: meta.yaml's status terms. */
function liveStatus(meta: ClusterMeta, down: ReadonlySet<string>): ClusterMeta["status"] {
  const stopped = meta.processes.filter((p) => down.has(p.id)).length;
  return statusOfRunning(meta.processes.length - stopped, meta.processes.length);
}

/** What a create of a set or user that kept data may hold already says in the diff. */
const KEPT_NOTE = "the kept data may hold it already: then the apply finds it in place";
