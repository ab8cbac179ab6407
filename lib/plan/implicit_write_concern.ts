/**
 * A replica set's implicit default write concern, and the membership changes MongoDB 5.0+
 * refuses while no cluster-wide one is set. Pure.
 *
 * MongoDB manual, "Implicit Default Write Concern": `{w: "majority"}`, unless the set has voting
 * arbiters and its voting data-bearing members are no more than a majority of the votes, then
 * `{w: 1}` (ReplSetConfig::isImplicitDefaultWriteConcernMajority). replSetReconfig: "Starting in
 * MongoDB 5.0, you must explicitly set the global default write concern before attempting to
 * reconfigure a non-sharded replica set with a configuration that would change the implicit
 * default write concern" — the server refuses it with NewReplicaSetConfigurationIncompatible
 * (103), a forced reconfig too.
 */
import { gainsElection } from "../ops/reconfig_members.ts";
import { hostPort } from "../topology/hosts.ts";
import type { MemberOptionChange } from "./member_options.ts";
import { type Topology, topologyKind } from "../topology/schema.ts";
import { connectionString, listReplicaSets, type ProcessSpec } from "./processes.ts";
import type { ValidationIssue } from "./schema.ts";

type Member = Pick<ProcessSpec, "votes" | "arbiterOnly">;

/** Whether `members`' implicit default write concern is `{w: "majority"}` (else `{w: 1}`). */
export function implicitMajority(members: Member[]): boolean {
  const voters = members.filter((m) => m.votes > 0);
  const writable = voters.filter((m) => !m.arbiterOnly).length;
  return writable === voters.length || writable > Math.floor(voters.length / 2) + 1;
}

/** Whether MongoDB `version` (`major.minor.patch`) refuses such reconfigs: 5.0 and later. */
export function checksImplicitDefault(version: string): boolean {
  return Number(version.split(".")[0]) >= 5;
}

const text = (majority: boolean) => majority ? '{w: "majority"}' : "{w: 1}";

/** A reconfig that changes the implicit default: its member, the default before and after. */
export interface ImplicitChange {
  member: ProcessSpec;
  add: boolean;
  from: boolean;
  to: boolean;
  /** The step in words, when it is no addition or removal ("giving h:p 0 votes"). */
  what?: string;
}

/**
 * The first reconfig, of those that change a set from `before` one member at a time (`steps`:
 * each member added or removed, in the order the operation sends them), that changes its
 * implicit default write concern; undefined when none does. Members added are taken as
 * add_members sends them (addOrder: data-bearing members first, each arbiter once those vote).
 * A data-bearing voting member joins `newlyAdded` (MongoDB 4.4+: no vote until SECONDARY, so no
 * change yet); the reconfig counted for it is the primary's own that gives it its vote.
 */
export function implicitDefaultChange(
  before: ProcessSpec[],
  steps: { member: ProcessSpec; add: boolean }[],
): ImplicitChange | undefined {
  const arbiterAdded = (s: { member: ProcessSpec; add: boolean }) => s.add && s.member.arbiterOnly;
  let now = before;
  for (const s of [...steps.filter((s) => !arbiterAdded(s)), ...steps.filter(arbiterAdded)]) {
    const next = s.add ? [...now, s.member] : now.filter((m) => m.id !== s.member.id);
    if (implicitMajority(now) !== implicitMajority(next)) {
      return { ...s, from: implicitMajority(now), to: implicitMajority(next) };
    }
    now = next;
  }
  return undefined;
}

/**
 * `order` (members of `members` to remove, one reconfig each), or, when it changes the implicit
 * default on the way, the same members reordered within each run of equal `group` (data-bearing
 * members before arbiters, or arbiters before) where that changes it at no step: removing a
 * secondary and an arbiter from P S S S A A keeps {w: 1} throughout, the arbiter first does not.
 */
export function steadyRemovalOrder(
  members: ProcessSpec[],
  order: ProcessSpec[],
  group: (m: ProcessSpec) => number,
): ProcessSpec[] {
  const changes = (l: ProcessSpec[]) =>
    implicitDefaultChange(members, l.map((member) => ({ member, add: false })));
  if (!changes(order)) return order;
  for (const arbitersLast of [1, -1]) {
    const other = [...order].sort((a, b) =>
      group(a) - group(b) || (Number(a.arbiterOnly) - Number(b.arbiterOnly)) * arbitersLast
    );
    if (!changes(other)) return other;
  }
  return order;
}

/**
 * The first of `steps` (members with their new votes, in the order reconfig_members sends
 * them: gains first) that changes the implicit default of `before`; undefined when none does.
 */
export function votesChange(
  before: ProcessSpec[],
  steps: ProcessSpec[],
): ImplicitChange | undefined {
  let now = before;
  for (const m of steps) {
    const next = now.map((o) => o.id === m.id ? m : o);
    if (implicitMajority(now) !== implicitMajority(next)) {
      return {
        member: m,
        add: false,
        from: implicitMajority(now),
        to: implicitMajority(next),
        what: `giving ${hostPort(m.host, m.port)} ${m.votes} ${m.votes === 1 ? "vote" : "votes"}`,
      };
    }
    now = next;
  }
  return undefined;
}

/**
 * The first reconfig that changes a set's implicit default, of those that set it back to its
 * topology's `members` (each with the votes wanted): the members its configuration no longer
 * lists (`removed`) added as add_members sends them, then the `options` that
 * differ (votes) changed, gains first, in reconfig_members' order. Undefined when none does.
 */
export function setBackChange(
  members: ProcessSpec[],
  removed: ProcessSpec[],
  options: MemberOptionChange[],
): ImplicitChange | undefined {
  const gone = new Set(removed.map((m) => m.id));
  const live = members.filter((m) => !gone.has(m.id)).map((m) => {
    const c = options.find((c) => c.proc.id === m.id);
    return c ? { ...m, votes: c.was.votes } : m;
  });
  const added = implicitDefaultChange(live, removed.map((member) => ({ member, add: true })));
  if (added) return added;
  const gains = (c: MemberOptionChange) => gainsElection(c.was, c.want);
  const steps = [...options.filter(gains), ...options.filter((c) => !gains(c))].map((c) => ({
    ...c.proc,
    votes: c.want.votes,
  }));
  return votesChange([...live, ...removed], steps);
}

/**
 * The refusal (`implicit_write_concern`) of a change to `set` that changes its implicit default
 * write concern while no cluster-wide default is set (`cwwcSet` false; undefined: could not be
 * read, so the apply meets the server's own refusal). `uri` is the cluster's connection string
 * (for the command that sets one) of cluster `cluster`.
 */
export function implicitDefaultIssue(
  cluster: string,
  set: string,
  change: ImplicitChange | undefined,
  cwwcSet: boolean | undefined,
  uri: string,
  /** The set is a shard: MongoDB 5.1+ refuses its change to `{w: 1}` only. */
  shard = false,
): ValidationIssue | undefined {
  if (!change || cwwcSet !== false) return undefined;
  const m = change.member;
  // A data-bearing member joins newlyAdded, without a vote: the reconfig MongoDB refuses is the
  // primary's own that would give it one, and the member stays in the set without it.
  const votesLater = change.add && !m.arbiterOnly && !change.what;
  const refuses = shard ? "5.1+ refuses that reconfig of a shard" : "5.0+ refuses that reconfig";
  return {
    code: "implicit_write_concern",
    severity: "error",
    host: m.host,
    message: `${set}: ${
      change.what ??
        `${change.add ? "adding" : "removing"} ${m.arbiterOnly ? "arbiter " : ""}${
          hostPort(m.host, m.port)
        }`
    } changes the set's implicit default write concern from ${text(change.from)} to ${
      text(change.to)
    }${votesLater ? " once it votes" : ""}, and MongoDB ${
      votesLater
        ? `${refuses.replace("that reconfig", "the reconfig that gives it its vote")} ` +
          "(the member would stay in the set without one)"
        : `${refuses} (NewReplicaSetConfigurationIncompatible)`
    } until a ` +
      "cluster-wide default write concern is set. Choose one and set it, then plan again: " +
      `mongosh '${uri}' --eval 'db.adminCommand({setDefaultRWConcern: 1, ` +
      `defaultWriteConcern: {w: "majority"}})' (\`mup cluster credentials ${cluster}\` gives ` +
      'the password). {w: "majority"} keeps acknowledged writes through a failover but waits while ' +
      "too few data-bearing members run; {w: 1} keeps writing and may lose the last writes " +
      "in a failover. Once set, it cannot be unset. Or give the topology a " +
      `global.default_write_concern and \`mup cluster reconfigure ${cluster} <topology>\` sets it`,
  };
}

/**
 * Whether MongoDB `version` refuses addShard of a shard whose implicit default write concern is
 * `{w: 1}` while the cluster has no cluster-wide default (5.1 and later: the config server's
 * _validateHostAsShard, "Cannot add … as a shard since the implicit default write concern on
 * this shard is set to {w : 1}", OperationFailed).
 */
export function checksShardImplicitDefault(version: string): boolean {
  const [major, minor] = version.split(".").map(Number);
  return major > 5 || (major === 5 && minor >= 1);
}

/**
 * The refusals (`shard_implicit_write_concern`) of shards among `sets` that MongoDB would not
 * add to cluster `cluster` (release `version`) while it has no cluster-wide default write
 * concern (`cwwcSet` false; a first deploy's, `fresh`, has none yet), `uri` the connection
 * string through its mongos (for the command that sets one). A first
 * deploy cannot set one before its mongos runs, so it names the way round: the shard without
 * its arbiter, the default set through mongos, then the arbiter added by a scale-out.
 */
export function shardImplicitDefaultIssues(
  cluster: string,
  sets: { name: string; configsvr?: boolean; members: ProcessSpec[] }[],
  version: string,
  opts: { fresh: boolean; cwwcSet?: boolean; uri: string },
): ValidationIssue[] {
  if (!checksShardImplicitDefault(version)) return [];
  if (!opts.fresh && opts.cwwcSet !== false) return [];
  return sets.filter((s) => !s.configsvr && !implicitMajority(s.members)).map((s) => {
    const arbiters = s.members.filter((m) => m.arbiterOnly && m.votes > 0);
    const set = (uri: string) =>
      `mongosh '${uri}' --eval 'db.adminCommand({setDefaultRWConcern: 1, ` +
      `defaultWriteConcern: {w: "majority"}})'`;
    return {
      code: "shard_implicit_write_concern",
      severity: "error" as const,
      host: s.members[0].host,
      message:
        `shard ${s.name}'s implicit default write concern is {w: 1} (its ${
          arbiters.length > 1 ? "arbiters" : "arbiter"
        } ${arbiters.map((m) => hostPort(m.host, m.port)).join(", ")} ${
          arbiters.length > 1 ? "leave" : "leaves"
        } the voting data-bearing members no more than a majority), and MongoDB 5.1+ refuses to ` +
        "add such a shard (addShard: OperationFailed), and to give a shard an arbiter that " +
        "makes it so, while the cluster has no cluster-wide default write concern. " +
        (opts.fresh
          ? "Give the topology a global.default_write_concern (e.g. { w: majority }): the " +
            "deploy sets it through mongos before it adds the shards. Or deploy the shard without " +
            "its arbiter (or with another data-bearing member instead), set a default through " +
            `mongos (${set(opts.uri)}; \`mup cluster credentials ${cluster}\` gives the ` +
            `password), then add the arbiter with \`mup cluster scale-out ${cluster} <topology>\``
          : `Set one through mongos, then plan again: ${set(opts.uri)} ` +
            `(\`mup cluster credentials ${cluster}\` gives the password). Once set, it cannot ` +
            "be unset"),
    };
  });
}

/**
 * A first deploy's warnings (`implicit_write_concern_w1`) on the replica sets `sets` (MongoDB
 * `version` 5.0+) whose implicit default write concern is `{w: 1}`, not the `{w: "majority"}`
 * MongoDB 5.0 made the default: their arbiters leave the voting data-bearing members no more
 * than a majority. Writes that name no write concern are then acknowledged by the primary
 * alone; the warning names global.default_write_concern, which the deploy then sets.
 */
function implicitW1Warnings(
  sets: { name: string; members: ProcessSpec[] }[],
  version: string,
): ValidationIssue[] {
  if (!checksImplicitDefault(version)) return [];
  return sets.filter((s) => !implicitMajority(s.members)).map((s) => {
    const arbiters = s.members.filter((m) => m.arbiterOnly && m.votes > 0);
    return {
      code: "implicit_write_concern_w1",
      severity: "warning",
      message: `${s.name}: with its arbiter${arbiters.length > 1 ? "s" : ""} ${
        arbiters.map((m) => hostPort(m.host, m.port)).join(", ")
      }, the set's implicit default write concern is {w: 1}, not {w: "majority"}: writes ` +
        "that name no write concern are acknowledged by the primary alone and may be rolled " +
        "back in a failover. To choose the default yourself, give the topology " +
        "global.default_write_concern (e.g. { w: majority }): the deploy sets it (a later " +
        "scale-out or scale-in that changes the implicit default needs one anyway)",
    };
  });
}

/**
 * What a first deploy of cluster `cluster` (`topology`, its processes `procs`, MongoDB
 * `version`) is told of its sets' implicit default write concern: a replica set cluster's
 * warnings (implicitW1Warnings), a sharded cluster's refusals (shardImplicitDefaultIssues).
 */
export function firstDeployImplicitDefault(
  cluster: string,
  topology: Topology,
  procs: ProcessSpec[],
  version: string,
): { warnings: ValidationIssue[]; errors: ValidationIssue[] } {
  // A default the deploy sets itself (global.default_write_concern) replaces the implicit one,
  // through mongos before any shard is added.
  if (topology.global.default_write_concern) return { warnings: [], errors: [] };
  const sets = listReplicaSets(procs);
  const uri = connectionString(topology);
  const kind = topologyKind(topology);
  return {
    warnings: kind === "replica_set" ? implicitW1Warnings(sets, version) : [],
    errors: kind === "sharded"
      ? shardImplicitDefaultIssues(cluster, sets, version, { fresh: true, uri })
      : [],
  };
}

/**
 * Whether MongoDB refuses `change`, a reconfig of `set` in a cluster of `cluster.kind` on
 * `cluster.version`, while no cluster-wide default write concern is set: in a replica set
 * cluster (5.0+) any change of the implicit default; in a sharded cluster (5.1+) a shard's
 * change to `{w: 1}` (its config servers are asked: doReplSetReconfig); config servers, which
 * hold no arbiters, never change it.
 */
export function refusedWithoutDefault(
  cluster: { kind: string; version: string },
  set: { configsvr?: boolean },
  change: ImplicitChange | undefined,
): change is ImplicitChange {
  if (!change) return false;
  if (cluster.kind === "replica_set") return checksImplicitDefault(cluster.version);
  return cluster.kind === "sharded" && !set.configsvr && !change.to &&
    checksShardImplicitDefault(cluster.version);
}

/**
 * The refusal of `change` to `set` of cluster `cluster` (its metadata's name, kind, version and
 * topology) when MongoDB refuses it without a cluster-wide default (refusedWithoutDefault) and
 * none is set (`cwwcSet` false).
 */
export function implicitDefaultRefusal(
  cluster: { name: string; kind: string; version: string; topology: Topology },
  set: { name: string; configsvr?: boolean },
  change: ImplicitChange | undefined,
  cwwcSet: boolean | undefined,
): ValidationIssue | undefined {
  if (!refusedWithoutDefault(cluster, set, change)) return undefined;
  return implicitDefaultIssue(
    cluster.name,
    set.name,
    change,
    cwwcSet,
    connectionString(cluster.topology),
    cluster.kind === "sharded",
  );
}
