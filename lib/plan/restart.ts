/**
 * `mup cluster restart`. Rolling by default, so the cluster stays writable: per replica set, one
 * secondary at a time (stop, start, wait until SECONDARY and caught up), then replSetStepDown on
 * the primary, wait for the new primary, and restart the old one; the config set before the
 * shards (which go in parallel, each set one member at a time); mongos one at a time. With
 * --force everything stops at once (config servers after the mongos) and starts again in start
 * order. Pure.
 */
import { hostPort } from "../topology/hosts.ts";
import type { ProcessSpec, ReplicaSetSpec } from "./processes.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";
import { selectProcesses } from "./select.ts";
import { clusterProcesses, lifecyclePlan, type LifecyclePlanInput } from "./lifecycle.ts";
import {
  handBackOp,
  markedPhases,
  memberStateOp,
  metadataOp,
  rollingStopOp,
  startOp,
  stepDownOp,
  stopOp,
  verifyOp,
  waitOp,
  waitPrimaryOp,
} from "./lifecycle_ops.ts";
import { orderedStarts } from "./start.ts";
import { setVotes } from "./votes.ts";

const byPort = (a: ProcessSpec, b: ProcessSpec) => a.host.localeCompare(b.host) || a.port - b.port;

/** One replica set, member by member; the primary last, after it stepped down. */
export function rollSet(
  input: LifecyclePlanInput,
  set: ReplicaSetSpec,
  chosen: ProcessSpec[],
  cfgSet?: ReplicaSetSpec,
): PlannedOperation[] {
  const ops: PlannedOperation[] = [];
  const primary = chosen.find((p) => input.facts[p.id]?.state === "PRIMARY");
  let prev: string[] = [];
  for (const s of chosen.filter((p) => p !== primary).sort(byPort)) {
    ops.push(rollingStopOp(s, set, prev));
    ops.push(startOp(input.meta, s, [`stop-${s.id}`], cfgSet));
    ops.push(memberStateOp(s, set, "SECONDARY", [`start-${s.id}`]));
    prev = [`wait-state-${s.id}`];
  }
  // A set with no other electable member (a single member) cannot hand over: the primary is
  // restarted in place, the set unwritable meanwhile, as with any restart of a lone server.
  const electable = set.members.filter((m) => !m.arbiterOnly && m.priority > 0);
  if (primary && electable.length < 2) {
    ops.push(stopOp(primary, prev, true));
    ops.push(startOp(input.meta, primary, [`stop-${primary.id}`], cfgSet));
    ops.push(memberStateOp(primary, set, "HEALTHY", [`start-${primary.id}`]));
  } else if (primary) {
    ops.push(stepDownOp(primary, set, prev));
    ops.push(waitPrimaryOp(set, [`step-down-${set.name}`], primary));
    ops.push(stopOp(primary, [`wait-primary-${set.name}`]));
    ops.push(startOp(input.meta, primary, [`stop-${primary.id}`], cfgSet));
    ops.push(memberStateOp(primary, set, "HEALTHY", [`start-${primary.id}`]));
    if (takesBack(set, primary)) {
      ops.push(handBackOp(set, primary, [`wait-state-${primary.id}`]));
    }
  }
  return ops;
}

/**
 * Whether `p`, once restarted, takes the primary back: its priority is above every other
 * electable member's, so whichever of them the step-down elected, MongoDB's priority takeover
 * makes `p` call a second election as soon as it has caught up.
 */
function takesBack(set: ReplicaSetSpec, p: ProcessSpec): boolean {
  const others = set.members.filter((m) =>
    m.id !== p.id && !m.arbiterOnly && !m.hidden && m.priority > 0
  );
  return others.length > 0 && others.every((m) => m.priority < p.priority);
}

/** The plan's note for each set whose primary takes the primary back after its restart. */
function handBackWarnings(
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

/** Processes outside replica sets (mongos, a standalone mongod), one after another. */
export function rollEach(
  input: LifecyclePlanInput,
  procs: ProcessSpec[],
  cfgSet?: ReplicaSetSpec,
): PlannedOperation[] {
  const ops: PlannedOperation[] = [];
  let prev: string[] = [];
  for (const p of [...procs].sort(byPort)) {
    ops.push(stopOp(p, prev));
    ops.push(startOp(input.meta, p, [`stop-${p.id}`], cfgSet));
    ops.push(waitOp(p));
    prev = [`wait-${p.id}`];
  }
  return ops;
}

/**
 * --force's stops: all at once, except that config servers wait for the mongos. A mongos
 * checks the logins of its clients (mup's shutdown command among them) against the config
 * servers' users: with those gone first, its shutdown would wait for a login that cannot
 * complete, then for the plan's timeout.
 */
function forcedStops(chosen: ProcessSpec[]): PlannedOperation[] {
  const routers = chosen.filter((p) => p.role === "mongos").map((p) => `stop-${p.id}`);
  return chosen.map((p) => stopOp(p, p.role === "config" ? routers : [], true));
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
 * writes (MongoDB docs: "Replica Set Elections", a majority of voting members must be up); a
 * standalone mongod is down while it restarts.
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
    const { total, need, count } = setVotes(members);
    const running = count((p) => facts[p.id]?.running === true);
    const names = restarted.map((p) => hostPort(p.host, p.port)).join(", ");
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

/** Pure: the restart Plan (rolling, or all at once with input.force). */
export function planRestart(input: LifecyclePlanInput): Omit<Plan, "content_hash"> {
  const { procs, sets } = clusterProcesses(input);
  const chosen = selectProcesses(procs, input.filter);
  const cfgSet = sets.find((s) => s.configsvr);
  const errors: ValidationIssue[] = chosen.filter((p) => !input.facts[p.id]?.running).map((p) => ({
    code: "not_running",
    severity: "error",
    host: p.host,
    message: `${
      hostPort(p.host, p.port)
    } is not running: a restart needs it up (run \`mup cluster start ${input.meta.name}\` first)`,
  }));
  // A mongos starts only once every config server answers (its start's dependencies_running
  // check): restarting one while a config server is down would stop it for good.
  const cfgDown = procs.filter((p) => p.role === "config" && !input.facts[p.id]?.running);
  if (cfgDown.length) {
    const names = cfgDown.map((c) => hostPort(c.host, c.port)).join(", ");
    const down = cfgDown.length > 1 ? `config servers ${names} are` : `config server ${names} is`;
    for (const p of chosen.filter((c) => c.role === "mongos" && input.facts[c.id]?.running)) {
      errors.push({
        code: "config_servers_down",
        severity: "error",
        host: p.host,
        message: `mongos ${hostPort(p.host, p.port)} could not start again: ${down} not ` +
          "running, and a mongos starts only once every config server answers (run " +
          `\`mup cluster start ${input.meta.name}\` first)`,
      });
    }
  }
  // A rolling restart orders each set by who is primary: a member that runs but did not say
  // what it is (hung, overloaded) would be planned blind.
  if (!input.force) {
    for (const p of procs) {
      const f = input.facts[p.id];
      if (!p.replicaSet || !f?.running || f.state) continue;
      errors.push({
        code: "not_answering",
        severity: "error",
        host: p.host,
        message:
          `${hostPort(p.host, p.port)} runs but is neither primary, secondary nor arbiter (it ` +
          "did not answer hello, or is recovering): a rolling restart needs each member's state " +
          `to order its set (see \`mup cluster display ${input.meta.name}\`; \`--force\` ` +
          "restarts everything at once without asking)",
      });
    }
  }
  const filtered = !!(input.filter?.roles?.length || input.filter?.nodes?.length);
  const finalize = (deps: string[] = []) => {
    const ops = filtered ? [] : [verifyOp(input, deps)];
    return [...ops, metadataOp(input, "auto", ops.map((o) => o.id))];
  };
  if (input.force) {
    const setsDown = majorityWarnings(procs, sets, chosen, input.facts, true);
    // A set going down already says the cluster stops taking writes; otherwise (`-R mongos
    // --force`) losing the only router is what clients notice.
    const forced = setsDown.some((w) => w.code === "force_majority_down")
      ? setsDown
      : [...singleMongosWarnings(procs, chosen), ...setsDown];
    return lifecyclePlan(
      input,
      "restart",
      markedPhases(input, [
        {
          name: "stop",
          description: "Stop every process at once",
          ops: forcedStops(chosen),
        },
        {
          name: "start",
          description: "Start config servers, then shard members, then mongos",
          ops: orderedStarts(input, chosen, sets, true),
        },
        { name: "finalize", description: "Verify health and record the status", ops: finalize() },
      ]),
      { errors, warnings: forced },
    );
  }
  const inSet = (s: ReplicaSetSpec) => chosen.filter((p) => p.replicaSet === s.name);
  const warnings = singleMongosWarnings(procs, chosen);
  warnings.push(...downWhileRestartedWarnings(procs, sets, chosen));
  warnings.push(...handBackWarnings(input, sets, chosen));
  warnings.push(...majorityWarnings(procs, sets, chosen, input.facts, false));
  const shards = [
    ...sets.filter((s) => !s.configsvr).flatMap((s) => rollSet(input, s, inSet(s), cfgSet)),
    ...rollEach(input, chosen.filter((p) => p.role === "mongod" && !p.replicaSet)),
  ];
  const mongodPhase = input.meta.kind === "sharded" ? "restart-shards" : "restart-mongod";
  return lifecyclePlan(
    input,
    "restart",
    markedPhases(input, [
      {
        name: "restart-config",
        description: "Config servers: secondaries one at a time, then the stepped-down primary",
        ops: cfgSet ? rollSet(input, cfgSet, inSet(cfgSet), cfgSet) : [],
      },
      {
        name: mongodPhase,
        description: "Each replica set: secondaries one at a time, then the stepped-down primary",
        ops: shards,
      },
      {
        name: "restart-mongos",
        description: "mongos, one at a time",
        ops: rollEach(input, chosen.filter((p) => p.role === "mongos"), cfgSet),
      },
      { name: "finalize", description: "Verify health and record the status", ops: finalize() },
    ]),
    { errors, warnings },
  );
}
