/**
 * `mup cluster start`: config servers, then shard members, then mongos; each replica set must
 * elect a primary before the next stage starts, then the cluster's health is verified.
 * Pure: which processes already run was probed before.
 */
import type { ProcessSpec, ReplicaSetSpec } from "./processes.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";
import { setVotes } from "./votes.ts";
import { hostPort } from "../topology/hosts.ts";
import { selectProcesses } from "./select.ts";
import { takesBack } from "./restart_warnings.ts";
import {
  clusterProcesses,
  lifecyclePlan,
  type LifecyclePlanInput,
  statusNow,
} from "./lifecycle.ts";
import {
  markedPhases,
  memberStateOp,
  metadataOp,
  startOp,
  verifyOnly,
  verifyOp,
  waitOp,
  waitPrimaryOp,
} from "./lifecycle_ops.ts";
import { removedMemberAdvice, repairCommand } from "./recorded.ts";

/**
 * The warnings of a start plan for members left down because their set no longer lists them
 * (code `member_removed_down`): a start that plans nothing else has not found the cluster all
 * running.
 */
export function notStartedRemoved(plan: Pick<Plan, "validation">): ValidationIssue[] {
  return plan.validation.warnings.filter((w) => w.code === "member_removed_down");
}

/**
 * Start, wait and wait-for-primary operations for the processes of `chosen` that do not run
 * (all of them with `all`), stage by stage: config servers, shard members, mongos.
 */
export function orderedStarts(
  input: LifecyclePlanInput,
  chosen: ProcessSpec[],
  sets: ReplicaSetSpec[],
  all = false,
  first: string[] = [],
): PlannedOperation[] {
  const todo = chosen.filter((p) => all || !input.facts[p.id]?.running);
  const cfgSet = sets.find((s) => s.configsvr);
  const ops: PlannedOperation[] = [];
  let gate = first;
  for (const role of ["config", "mongod", "mongos"]) {
    const group = todo.filter((p) => p.role === role);
    if (!group.length) continue;
    const next: string[] = [];
    for (const p of group) ops.push(startOp(input.meta, p, gate, cfgSet));
    for (const p of group) {
      ops.push(waitOp(p));
      if (!p.replicaSet) next.push(`wait-${p.id}`);
    }
    for (const s of sets) {
      const started = group.filter((p) => p.replicaSet === s.name);
      if (!started.length) continue;
      // Without a majority of its votes running no member can become primary: waiting for one
      // could only time out (noMajorityAfterStart says so in the review instead).
      if (noMajorityAfterStart(input, s, todo)) {
        next.push(...started.map((p) => `wait-${p.id}`));
        continue;
      }
      ops.push(waitPrimaryOp(s, started.map((p) => `wait-${p.id}`)));
      next.push(`wait-primary-${s.name}`);
    }
    gate = next;
  }
  return ops;
}

/**
 * Whether replica set `s` still lacks a majority of its votes once `starting` run (MongoDB's
 * "Replica Set Elections": a primary needs more than half of all configured votes up).
 */
function noMajorityAfterStart(
  input: LifecyclePlanInput,
  s: ReplicaSetSpec,
  starting: ProcessSpec[],
): boolean {
  const ids = new Set(starting.map((p) => p.id));
  const { need, count } = setVotes(s.members, input.facts);
  return count((p) => ids.has(p.id) || input.facts[p.id]?.running === true) < need;
}

/**
 * Errors for each mongos of `mongos` that would start while a config server is down and not
 * started by the same plan (`starting`): a mongos starts only once every config server answers
 * (its start's `dependencies_running` check), so the apply could only fail there.
 */
export function mongosWithoutConfig(
  input: LifecyclePlanInput,
  procs: ProcessSpec[],
  mongos: ProcessSpec[],
  starting: Set<string>,
  what: string,
): ValidationIssue[] {
  const cfgDown = procs.filter((p) =>
    p.role === "config" && !input.facts[p.id]?.running && !starting.has(p.id)
  );
  if (!cfgDown.length || !mongos.length) return [];
  const names = cfgDown.map((c) => hostPort(c.host, c.port)).join(", ");
  const down = cfgDown.length > 1 ? `config servers ${names} are` : `config server ${names} is`;
  return mongos.map((p) => ({
    code: "config_servers_down",
    severity: "error" as const,
    host: p.host,
    message: `mongos ${hostPort(p.host, p.port)} ${what}: ${down} not running, and a mongos ` +
      `starts only once every config server answers (run \`mup cluster start ${input.meta.name}\`` +
      " to start the whole cluster)",
  }));
}

/**
 * Pure: the start Plan. No operations when every chosen process runs and meta already records
 * the status the cluster is in.
 */
export function planStart(input: LifecyclePlanInput): Omit<Plan, "content_hash"> {
  const { procs, sets } = clusterProcesses(input);
  const filtered = !!(input.filter?.roles?.length || input.filter?.nodes?.length);
  const selected = selectProcesses(procs, input.filter, input.meta.name);
  // Members their set's configuration no longer lists (a scale-in cut off after its reconfig,
  // or rs.remove by hand): started, they would run outside their sets. Left down, and named.
  const removed = selected.filter((p) => input.facts[p.id]?.removed && !input.facts[p.id]?.running);
  const chosen = selected.filter((p) => !removed.includes(p));
  const starts = orderedStarts(input, chosen, sets);
  const finalize: PlannedOperation[] = [];
  // A filtered start checks the processes it started: each replica-set member until its set's
  // primary reaches it as SECONDARY and caught up (it may answer and call itself SECONDARY, yet
  // be cut off from the others); the whole cluster's health is verified when it was asked for
  // (but for the removed members left down).
  if (starts.length && !filtered) {
    const skip = new Set(removed.map((p) => p.id));
    finalize.push(
      skip.size
        ? verifyOnly(
          verifyOp(input, []),
          (id) => !skip.has(id),
          `Verify the health of the cluster but ${removed.map((p) => p.id).join(", ")}`,
        )
        : verifyOp(input, []),
    );
  }
  if (filtered) {
    const ids = new Set(starts.map((o) => o.id));
    for (const p of chosen.filter((c) => ids.has(`start-${c.id}`))) {
      const set = sets.find((s) => s.name === p.replicaSet);
      // A set left without a majority has no primary to ask (the review warns of it).
      if (!set || !ids.has(`wait-primary-${set.name}`)) continue;
      starts.push(memberStateOp(p, set, "SECONDARY", [`wait-primary-${set.name}`]));
    }
  }
  if (starts.length || input.meta.status !== statusNow(input, procs)) {
    finalize.push(metadataOp(input, "auto", finalize.map((o) => o.id)));
  }
  const todo = chosen.filter((p) => !input.facts[p.id]?.running);
  const removedIssue = (p: ProcessSpec): ValidationIssue => ({
    code: "member_removed_down",
    severity: filtered ? "error" : "warning",
    host: p.host,
    message: `${p.id} is no longer a member of replica set ${p.replicaSet} (its set's ` +
      `configuration does not list it), ${
        filtered ? "so it is not to be started" : "so it is not started"
      }: ` +
      `it would run outside its set. ${removedMemberAdvice(input.meta, p, input.unfinished)}`,
  });
  const errors = mongosWithoutConfig(
    input,
    procs,
    todo.filter((p) => p.role === "mongos"),
    new Set(todo.map((p) => p.id)),
    "cannot start",
  );
  const warnings: ValidationIssue[] = sets
    .filter((s) =>
      todo.some((p) => p.replicaSet === s.name) && noMajorityAfterStart(input, s, todo)
    )
    .map((s) => {
      const { total, need, count } = setVotes(s.members, input.facts);
      const up = count((p) => todo.includes(p) || input.facts[p.id]?.running === true);
      return {
        code: "no_majority_after_start",
        severity: "warning",
        message: `${s.name} will have ${up} of ${total} votes running (${need} needed): it has ` +
          "no primary and takes no writes until more of its members run " +
          `(\`mup cluster start ${input.meta.name}\` starts them all)`,
      };
    });
  warnings.push(...takeoverWarnings(input, sets, todo));
  (filtered ? errors : warnings).push(...removed.map(removedIssue));
  // One that still runs is not this start's to change, but the cluster is not what it records.
  for (
    const p of selected.filter((x) => input.facts[x.id]?.removed && input.facts[x.id]?.running)
  ) {
    warnings.push({
      code: "member_removed",
      severity: "warning",
      host: p.host,
      message: `${p.id} runs, but is no longer a member of replica set ${p.replicaSet} (its ` +
        `set's configuration does not list it). ${
          removedMemberAdvice(input.meta, p, input.unfinished)
        }`,
    });
  }
  // One that runs but does not answer (hung, stopped, or on a certificate the cluster's CA did
  // not sign) is left alone by a start: with nothing else to start, "already running" would
  // claim a cluster mup cannot reach (refused instead); with starts, the health check at the
  // end meets it (warned before).
  const name = input.meta.name;
  for (const p of chosen.filter((x) => input.facts[x.id]?.answering === false)) {
    const at = hostPort(p.host, p.port);
    const untrusted = input.facts[p.id]?.untrusted;
    (starts.length ? warnings : errors).push({
      code: "not_answering",
      severity: starts.length ? "warning" : "error",
      host: p.host,
      message: `${at} runs but does not answer, and a start leaves a running server alone` +
        `${starts.length ? " (the health check at the end of this start will fail on it)" : ""}: ` +
        (untrusted
          ? "it speaks TLS with a certificate the cluster's CA did not sign for it (" +
            untrusted + "), which no restart on that certificate mends. A repair (`" +
            repairCommand(input.meta) + "`) signs its certificate again, installs it and " +
            "restarts the member on it"
          : `\`mup cluster display ${name}\` says why (a hung or stopped server); ` +
            `\`mup cluster stop ${name} -N ${at}\` ends it, then ` +
            `\`mup cluster start ${name} -N ${at}\``),
    });
  }
  return lifecyclePlan(
    input,
    "start",
    markedPhases(input, [
      {
        name: "start",
        description: "Start config servers, then shard members, then mongos",
        ops: starts,
      },
      {
        name: "finalize",
        description: "Verify health and record the cluster's status",
        ops: finalize,
      },
    ]),
    { errors, warnings },
  );
}

/**
 * The warning for each member of `starting` that will take the primary over from a running
 * primary: its priority is above every other electable member's, so once caught up it calls an
 * election (MongoDB's priority takeover, "Replica Set Elections"). A set started whole elects it
 * at once, with no primary to take over from: no warning.
 */
function takeoverWarnings(
  input: LifecyclePlanInput,
  sets: ReplicaSetSpec[],
  starting: ProcessSpec[],
): ValidationIssue[] {
  const ids = new Set(starting.map((m) => m.id));
  // Priorities as the set's configuration holds them now (clusterProcesses): one set by hand
  // decides.
  return sets.flatMap((s) => {
    const primary = s.members.find((m) => input.facts[m.id]?.state === "PRIMARY");
    const top = s.members.find((m) => ids.has(m.id) && takesBack(s, m));
    if (!primary || !top) return [];
    return [{
      code: "priority_takeover",
      severity: "warning" as const,
      host: top.host,
      message: `${s.name}: ${hostPort(top.host, top.port)} has the highest priority ` +
        `(${top.priority}): once started and caught up it takes the primary over from ` +
        `${hostPort(primary.host, primary.port)} (priority takeover: an election, a brief pause ` +
        "in writes)",
    }];
  });
}
