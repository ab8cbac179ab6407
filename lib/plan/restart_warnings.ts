/**
 * What a restart plan says before it runs (pure): the hand-back of the primary to the member
 * with the highest priority, a lone mongos, members down while others restart, a majority at
 * risk, and priorities changed in the set since mup recorded them (followed, and said).
 */
import { hostPort } from "../topology/hosts.ts";
import type { ProcessSpec, ReplicaSetSpec } from "./processes.ts";
import type { ValidationIssue } from "./schema.ts";
import { type LifecyclePlanInput, recordedProcesses } from "./lifecycle.ts";
import { setVotes, votesUnknown } from "./votes.ts";

/**
 * Whether `p`, once restarted, takes the primary back: its priority is above every other
 * electable member's, so whichever of them the step-down elected, MongoDB's priority takeover
 * makes `p` call a second election as soon as it has caught up.
 */
export function takesBack(set: ReplicaSetSpec, p: ProcessSpec): boolean {
  const others = set.members.filter((m) =>
    m.id !== p.id && !m.arbiterOnly && !m.hidden && m.priority > 0
  );
  return others.length > 0 && others.every((m) => m.priority < p.priority);
}

/** The plan's note for each set whose primary takes the primary back after its restart. */
export function handBackWarnings(
  input: LifecyclePlanInput,
  sets: ReplicaSetSpec[],
  chosen: ProcessSpec[],
): ValidationIssue[] {
  return sets.flatMap((s) => {
    const p = chosen.find((m) => m.replicaSet === s.name && input.facts[m.id]?.state === "PRIMARY");
    // The highest-priority member restarted as a secondary (it had stepped down, or lost an
    // election): once back and caught up it takes the primary over.
    const top = chosen.find((m) =>
      m.replicaSet === s.name && m !== p && input.facts[m.id]?.state === "SECONDARY" &&
      takesBack(s, m)
    );
    if (top) {
      return [{
        code: "priority_takeover",
        severity: "warning" as const,
        host: top.host,
        message:
          `${s.name}: ${hostPort(top.host, top.port)} has the highest priority (${top.priority}) ` +
          "but is a secondary: once restarted and caught up it takes the primary over " +
          "(priority takeover: an election, a brief pause in writes)",
      }];
    }
    if (!p || !takesBack(s, p)) return [];
    return [{
      code: "primary_handback",
      severity: "warning" as const,
      host: p.host,
      message:
        `${s.name}: ${hostPort(p.host, p.port)} has the highest priority (${p.priority}), so ` +
        "after its restart it takes the primary back (priority takeover): a second election, " +
        "another brief pause in writes; the plan waits for it",
    }];
  });
}

/**
 * The warning of a rolling change that restarts a cluster's only mongos (of `procs`, the
 * cluster's processes, when `chosen` includes it): clients lose their router meanwhile.
 */
export function singleMongosWarnings(
  procs: ProcessSpec[],
  chosen: ProcessSpec[],
): ValidationIssue[] {
  const routers = procs.filter((p) => p.role === "mongos");
  if (routers.length !== 1 || !chosen.includes(routers[0])) return [];
  return [{
    code: "single_mongos",
    severity: "warning",
    host: routers[0].host,
    message: `${routers[0].host}:${routers[0].port} is the cluster's only mongos: clients ` +
      "cannot reach the cluster while it restarts (about the time the mongos takes to start). " +
      "With two or more mongos, each in the clients' connection string (and replica sets of " +
      "three or more voting members), a rolling restart keeps the cluster writable throughout " +
      "(only an election's pause per replica set).",
  }];
}

/**
 * What a rolling restart cannot keep available: a replica set of fewer than three voting
 * members has no majority while one of them is down, so it elects no primary and takes no
 * writes (MongoDB docs: "Replica Set Elections", a majority of voting members must be up); nor
 * does a set while its only member of non-zero priority restarts; a standalone mongod is down
 * while it restarts. `sets` with the priorities the sets hold now (clusterProcesses).
 */
export function downWhileRestartedWarnings(
  procs: ProcessSpec[],
  sets: ReplicaSetSpec[],
  chosen: ProcessSpec[],
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  for (const s of sets) {
    if (!chosen.some((p) => p.replicaSet === s.name)) continue;
    const voting = procs.filter((p) => p.replicaSet === s.name && p.votes > 0).length;
    // Priority 0 is never primary: a set whose only electable member restarts has no primary
    // meanwhile, however many vote (MongoDB docs: "Priority 0 Replica Set Members").
    const electable = s.members.filter((m) => !m.arbiterOnly && m.priority > 0);
    // Said whatever the votes: it is also why that member restarts without a step-down
    // (restart.ts), which the majority's warning alone leaves unsaid (tester79).
    if (
      s.members.length > 1 && electable.length === 1 &&
      chosen.some((p) => p.id === electable[0].id)
    ) {
      const e = electable[0];
      out.push({
        code: "no_primary_while_restarted",
        severity: "warning",
        host: e.host,
        message: `${hostPort(e.host, e.port)} is the only member of ${s.name} that can be ` +
          "primary (the others have priority 0): it restarts without a step-down, as no other " +
          "member could take over, and while it restarts the set has no primary and takes no " +
          "writes",
      });
    }
    if (voting >= 3) continue;
    out.push({
      code: "no_majority_while_restarted",
      severity: "warning",
      message: `${s.name} has ${voting} voting member${voting === 1 ? "" : "s"}: while one ` +
        "restarts the set has no majority, so it has no primary and takes no writes (a rolling " +
        "restart keeps a set writable from three voting members)",
    });
  }
  for (const p of chosen.filter((p) => p.role === "mongod" && !p.replicaSet)) {
    out.push({
      code: "standalone_down_while_restarted",
      severity: "warning",
      host: p.host,
      message: `${
        hostPort(p.host, p.port)
      } is a standalone mongod: it is unavailable while it restarts`,
    });
  }
  return out;
}

/**
 * What restarting `chosen` takes away, by MongoDB's majority rule (a primary needs more than
 * half of all configured votes up; MongoDB docs: "Replica Set Elections"). With --force every
 * chosen process is down at once: a set left below its majority has no primary and takes no
 * writes, and with every mongos down clients have no router. Rolling, one member is down at a
 * time: a set whose running votes (the probe's facts) are already at the majority loses it
 * while each member restarts.
 */
export function majorityWarnings(
  procs: ProcessSpec[],
  sets: ReplicaSetSpec[],
  chosen: ProcessSpec[],
  facts: LifecyclePlanInput["facts"],
  force: boolean,
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const ids = new Set(chosen.map((p) => p.id));
  for (const s of sets) {
    const members = procs.filter((p) => p.replicaSet === s.name);
    const restarted = members.filter((p) => ids.has(p.id));
    if (!restarted.length) continue;
    const names = restarted.map((p) => hostPort(p.host, p.port)).join(", ");
    const unknown = votesUnknown(
      s.name,
      members,
      facts,
      `${names} ${restarted.length === 1 ? "restarts" : "restart"}`,
    );
    if (unknown) {
      out.push(unknown);
      continue;
    }
    const { total, need, count } = setVotes(members, facts);
    const running = count((p) => facts[p.id]?.running === true);
    if (force) {
      const left = running - count((p) => ids.has(p.id) && facts[p.id]?.running === true);
      if (running < need || left >= need) continue;
      out.push({
        code: "force_majority_down",
        severity: "warning",
        message: `${s.name}: --force stops ${names} at once, leaving ${left} of ${total} votes ` +
          `up (${need} needed): the set has no primary and takes no writes until they are ` +
          "back (without --force the restart is rolling and keeps it writable)",
      });
    } else if (total >= 3 && running >= need) {
      const most = Math.max(...restarted.map((p) => p.votes));
      if (running - most >= need) continue;
      out.push({
        code: "majority_at_risk",
        severity: "warning",
        message: `${s.name} has ${running} of ${total} votes running (${need} needed): while ` +
          "each member restarts the set has no majority, so it has no primary and takes no " +
          "writes (start the members that are down first: `mup cluster display` names them)",
      });
    }
  }
  const routers = procs.filter((p) => p.role === "mongos");
  if (force && routers.length > 1 && routers.every((p) => ids.has(p.id))) {
    out.push({
      code: "force_every_mongos",
      severity: "warning",
      message: "--force restarts every mongos at once: clients cannot reach the cluster until " +
        "one is back (without --force they restart one at a time)",
    });
  }
  return out;
}

/** A note for each member whose live priority is not the recorded one (set by hand). */
export function priorityNotes(input: LifecyclePlanInput): ValidationIssue[] {
  // A priority the records lack may be an unfinished apply's own work (a reconfigure's, done
  // before it stopped), not someone else's (tester98 #1).
  const u = input.unfinished;
  const changedBy = u
    ? `changed outside mup, or part way by the unfinished ${u.operation}, apply ${u.stateId}`
    : "changed outside mup";
  return recordedProcesses(input).flatMap((p) => {
    const prio = input.facts[p.id]?.priority;
    if (prio === undefined || prio === p.priority || p.arbiterOnly) return [];
    return [{
      code: "priority_changed",
      severity: "warning" as const,
      host: p.host,
      message: `${hostPort(p.host, p.port)} has priority ${prio} in ${p.replicaSet}'s ` +
        `configuration, ${p.priority} in mup's records (${changedBy}): the restart ` +
        "follows the set's configuration",
    }];
  });
}
