/**
 * Replica-set members' election options (priority, votes, hidden) as a topology gives them,
 * against what the sets' configurations hold now: the `reconfig-members-<set>` operations that
 * set them (lib/ops/reconfig_members.ts), for `cluster reconfigure`. Pure.
 */
import {
  changedFields,
  MEMBER_OPTION_FIELDS,
  type MemberOptions,
} from "../ops/reconfig_members.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";
import type { Topology } from "../topology/schema.ts";
import { EST, type ProcessFact } from "./lifecycle.ts";
import { change, op } from "./op_builders.ts";
import { addMembersOp } from "./scale_out.ts";
import type { ProcessSpec, ReplicaSetSpec } from "./processes.ts";
import type { PlannedOperation, ValidationIssue } from "./schema.ts";

/** One member whose options change: as its set holds them now, and as asked. */
export interface MemberOptionChange {
  proc: ProcessSpec;
  was: MemberOptions;
  want: MemberOptions;
}

/** The members of `set` that have election options (arbiters have none to set). */
const voters = (set: ReplicaSetSpec) => set.members.filter((m) => !m.arbiterOnly);

const optionsOf = (p: ProcessSpec): MemberOptions => ({
  host: hostPort(p.host, p.port),
  priority: p.priority,
  votes: p.votes,
  hidden: p.hidden,
});

/**
 * For each member of `sets` (the asked topology's; arbiters have no such options), its options
 * where they differ from what its set holds: the live value in `facts` where the set's
 * configuration could be read, else the recorded member's (`recorded`, by process ID).
 */
export function memberOptionChanges(
  sets: ReplicaSetSpec[],
  recorded: ProcessSpec[],
  facts: Record<string, ProcessFact>,
): MemberOptionChange[] {
  const before = new Map(recorded.map((p) => [p.id, p]));
  return sets.flatMap((s) =>
    s.members.flatMap((p) => {
      const r = before.get(p.id);
      if (!r || p.arbiterOnly) return [];
      const f = facts[p.id];
      const was: MemberOptions = {
        ...optionsOf(r),
        ...(f?.priority !== undefined ? { priority: f.priority } : {}),
        ...(f?.votes !== undefined ? { votes: f.votes } : {}),
        ...(f?.hidden !== undefined ? { hidden: f.hidden } : {}),
      };
      const want = optionsOf(p);
      return changedFields(was, want).length ? [{ proc: p, was, want }] : [];
    })
  );
}

/** "priority 1 → 3, hidden false → true". */
export function describeOptionChange(c: Pick<MemberOptionChange, "was" | "want">): string {
  return changedFields(c.was, c.want).map((k) => `${k} ${c.was[k]} → ${c.want[k]}`).join(", ");
}

/** "priority 5, votes 1": the changed fields' values, as the set holds them or as asked. */
export function optionValues(c: Pick<MemberOptionChange, "was" | "want">, side: "was" | "want") {
  return changedFields(c.was, c.want).map((k) => `${k} ${c[side][k]}`).join(", ");
}

/**
 * `reconfig-members-<set>`: the set's changed members given their options, one replSetReconfig
 * each on its primary. Param `options` lists every member (arbiters aside) as the topology gives
 * it, so that a member changed by hand after planning is set back too, as a new plan would;
 * `before` keeps what the plan read of each (for a rollback to set back, and the apply's note
 * of what changed meanwhile). Description and changes name the planned changes only.
 */
export function reconfigMembersOp(
  set: ReplicaSetSpec,
  changes: MemberOptionChange[],
  deps: string[],
  /** `host:port` of the primary that gets priority 0: the operation steps it down first. */
  stepsDown?: string,
): PlannedOperation {
  return op({
    id: `reconfig-members-${set.name}`,
    type: "reconfig_members",
    description: `Set ${
      changes.map((c) => `${c.want.host} ${describeOptionChange(c)}`).join("; ")
    } in replica set ${set.name} (one replSetReconfig each${
      stepsDown ? `; the primary ${stepsDown} steps down first: an election` : ""
    })`,
    target: {
      type: "replica_set",
      name: set.name,
      host: set.members[0].host,
      port: set.members[0].port,
      params: {
        options: JSON.stringify(voters(set).map(optionsOf)),
        before: JSON.stringify(
          voters(set).map((m) => changes.find((c) => c.proc.id === m.id)?.was ?? optionsOf(m)),
        ),
        members: JSON.stringify(set.members.map((m) => hostPort(m.host, m.port))),
      },
      timeout_ms: 120_000,
    },
    changes: changes.map((c) => ({
      ...change("replica_set_member", `${set.name}/${c.want.host}`, "update", c.want),
      before: c.was,
    })),
    depends_on: deps,
    parallel: true,
    estimated_ms: EST.election,
  });
}

/**
 * `recorded` with the priority, votes and hidden of `from`'s entries (config and mongod servers,
 * matched by machine and port): what a reconfigure records. Everything else stays as recorded.
 */
export function withMemberOptions(recorded: Topology, from: Topology): Topology {
  type Entry = Topology["mongod_servers"][number];
  const swap = (list: Entry[], theirs: Entry[]): Entry[] => {
    const by = new Map(theirs.map((e) => [`${hostKey(e.host)}:${e.port}`, e]));
    return list.map((e) => {
      const t = by.get(`${hostKey(e.host)}:${e.port}`);
      if (!t) return e;
      const out: Record<string, unknown> = { ...e };
      for (const k of MEMBER_OPTION_FIELDS) {
        if (t[k] === undefined) delete out[k];
        else out[k] = t[k];
      }
      return out as Entry;
    });
  };
  return {
    ...recorded,
    config_servers: swap(recorded.config_servers, from.config_servers),
    mongod_servers: swap(recorded.mongod_servers, from.mongod_servers),
  };
}

/** How a recorded cluster's sets differ live from a topology, outside mup. */
export interface SetDrift {
  /** Members whose priority, votes or hidden differ. */
  options: MemberOptionChange[];
  /** Members of the topology their set's configuration no longer lists (rs.remove). */
  removed: ProcessSpec[];
  /**
   * Sets whose configuration no member could give (every member down): their members' options
   * are unknown until they run again.
   */
  unread?: string[];
}

/**
 * Adds to a deploy (repair) plan what sets `drift` back, in its initialize phase after each
 * set's initiation (and before the health check): `add-members-<set>` for the members removed
 * (the initiation, told so by its `added_later` param, does not take their absence for another
 * set), then `reconfig-members-<set>` for the options changed.
 */
export function addDriftOps(
  plan: { phases: { name: string; operations: PlannedOperation[] }[] },
  sets: ReplicaSetSpec[],
  drift: SetDrift,
): void {
  const init = plan.phases.find((p) => p.name === "initialize");
  const verify = plan.phases.flatMap((p) => p.operations).find((o) => o.id === "verify-health");
  if (!init || !verify) return;
  for (const s of sets) {
    const gone = drift.removed.filter((p) => p.replicaSet === s.name);
    const mine = drift.options.filter((c) => c.proc.replicaSet === s.name);
    const initOp = init.operations.find((o) =>
      o.type === "init_replica_set" && o.target.name === s.name
    );
    if (!initOp || (!gone.length && !mine.length)) continue;
    let deps = init.operations.filter((o) => o.target.name === s.name).map((o) => o.id);
    if (gone.length) {
      initOp.target.params.added_later = JSON.stringify(gone.map((p) => hostPort(p.host, p.port)));
      const add = addMembersOp(s, gone, initOp, deps);
      add.description += " (removed outside mup)";
      init.operations.push(add);
      verify.depends_on.push(add.id);
      deps = [add.id];
    }
    if (mine.length) {
      const o = reconfigMembersOp(s, mine, deps);
      init.operations.push(o);
      verify.depends_on.push(o.id);
    }
  }
}

/**
 * For a repair of sets none of whose members answered when it was planned (`names`): what
 * their configurations list is known only once they run. After each set's initiation check
 * (told, by `added_later`, that any recorded member may be missing), `add-members-<set>` adds
 * back whatever recorded member the configuration no longer lists (removed by hand: rs.remove);
 * a configuration that lists them all leaves it in place (add_members adds only the missing).
 */
export function addBackUnreadOps(
  plan: { phases: { name: string; operations: PlannedOperation[] }[] },
  sets: ReplicaSetSpec[],
  names: Set<string>,
): void {
  const init = plan.phases.find((p) => p.name === "initialize");
  const verify = plan.phases.flatMap((p) => p.operations).find((o) => o.id === "verify-health");
  if (!init || !verify) return;
  for (const s of sets.filter((x) => names.has(x.name))) {
    const initOp = init.operations.find((o) =>
      o.type === "init_replica_set" && o.target.name === s.name
    );
    if (!initOp || init.operations.some((o) => o.id === `add-members-${s.name}`)) continue;
    const deps = init.operations.filter((o) => o.target.name === s.name).map((o) => o.id);
    initOp.target.params.added_later = JSON.stringify(
      s.members.map((p) => hostPort(p.host, p.port)),
    );
    const add = addMembersOp(s, s.members, initOp, deps);
    add.description = `Add back to replica set ${s.name} any recorded member its configuration ` +
      "no longer lists (unread when planned: every member was down)";
    add.changes = [change("replica_set", s.name, "update")];
    init.operations.push(add);
    verify.depends_on.push(add.id);
  }
}

/**
 * For a first deploy onto sets that may hold a configuration already (`names`: a member's data
 * directory kept data, a `destroy --retain-data` or an earlier attempt), a
 * `reconfig-members-<set>` after the set's initialization that sets every member's options as
 * the topology gives them where that configuration differs: what it holds is only known once
 * it runs, so the operation reads it then (lib/ops/reconfig_members.ts, in place when nothing
 * differs). Without it the metadata would record the topology's options over a set that runs
 * with others.
 */
export function addKeptConfigOps(
  plan: { phases: { name: string; operations: PlannedOperation[] }[] },
  sets: ReplicaSetSpec[],
  names: Set<string>,
  /**
   * For a repair: why the set's configuration is only known once it runs (the description
   * says it). Left out, a first deploy's: the set kept a configuration.
   */
  unread?: string,
): void {
  const init = plan.phases.find((p) => p.name === "initialize");
  const verify = plan.phases.flatMap((p) => p.operations).find((o) => o.id === "verify-health");
  if (!init || !verify) return;
  for (const s of sets.filter((s) => names.has(s.name) && voters(s).length)) {
    const deps = init.operations.filter((o) => o.target.name === s.name).map((o) => o.id);
    if (!deps.length) continue;
    const o = reconfigMembersOp(s, [], deps);
    o.description = `Set ${s.name} members' priority, votes and hidden as the topology gives ` +
      `them where ${unread ?? "its kept configuration"} differs`;
    // The plan read nothing of the set (it did not run): no `before` to compare with.
    delete o.target.params.before;
    o.target.params.kept = "true";
    // What a repair's may change is the set's members, known only as it runs: named as one
    // update, so its review lists it among what changes rather than among the re-checks.
    if (unread) o.changes = [change("replica_set", s.name, "update")];
    init.operations.push(o);
    verify.depends_on.push(o.id);
  }
}

/** A repair's warning for each member removed, or whose options changed, outside mup. */
export function driftWarnings(drift: SetDrift): ValidationIssue[] {
  return [
    ...drift.removed.map((p) => ({
      code: "member_removed",
      severity: "warning" as const,
      host: p.host,
      message: `${hostPort(p.host, p.port)} is not in ${p.replicaSet}'s configuration (removed ` +
        `outside mup): the repair adds it back (replSetReconfig)${
          p.arbiterOnly
            ? " as an arbiter (it holds no data: it votes once added)"
            : ", and it catches up from the set (initial sync)"
        }`,
    })),
    ...drift.options.map((c) => ({
      code: "member_options_changed",
      severity: "warning" as const,
      host: c.proc.host,
      message: `${c.want.host} has ${optionValues(c, "was")} in ${c.proc.replicaSet}'s ` +
        `configuration and ${optionValues(c, "want")} in the topology (changed outside mup): ` +
        "the repair sets the topology's back (replSetReconfig)",
    })),
  ];
}
