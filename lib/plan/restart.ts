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
import { removedMemberErrors } from "./recorded.ts";
import { MEMBER_QUIESCE_SECS, MONGOS_QUIESCE_SECS } from "./quiesce.ts";
import { mongosWithoutConfig, orderedStarts } from "./start.ts";
import {
  downWhileRestartedWarnings,
  handBackWarnings,
  majorityWarnings,
  priorityNotes,
  singleMongosWarnings,
  takesBack,
} from "./restart_warnings.ts";
import { membersPhase } from "./phase_names.ts";

/** The not_answering refusal's offer of `--force`, which skips only that check. */
const FORCE_OFFER = "; `--force` restarts everything at once without asking";

/**
 * Drops the offer of `--force` from `errors` when anything but not_answering refuses the plan
 * too: --force would not get past that either. Called once pre-flight's refusals are in
 * (lifecycle_build.ts). Mutates the messages.
 */
export function offerForceOnlyAlone(errors: ValidationIssue[]): void {
  if (!errors.some((e) => e.code !== "not_answering")) return;
  for (const e of errors) e.message = e.message.replace(FORCE_OFFER, "");
}

export { singleMongosWarnings };

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
    // Paused here past its step-down period, it may have taken the primary back: the stop
    // steps it down again rather than stop the primary.
    ops.push(
      stopOp(primary, [`wait-primary-${set.name}`], false, set.name, MEMBER_QUIESCE_SECS),
    );
    ops.push(startOp(input.meta, primary, [`stop-${primary.id}`], cfgSet));
    ops.push(memberStateOp(primary, set, "HEALTHY", [`start-${primary.id}`]));
    if (takesBack(set, primary)) {
      ops.push(handBackOp(set, primary, [`wait-state-${primary.id}`]));
    }
  }
  return ops;
}

/** Processes outside replica sets (mongos, a standalone mongod), one after another. */
export function rollEach(
  input: LifecyclePlanInput,
  procs: ProcessSpec[],
  cfgSet?: ReplicaSetSpec,
): PlannedOperation[] {
  const ops: PlannedOperation[] = [];
  let prev: string[] = [];
  const routers = clusterProcesses(input).procs.filter((r) => r.role === "mongos");
  for (const p of [...procs].sort(byPort)) {
    // Another mongos of the cluster routes meanwhile (chosen or not: one restarted with -N
    // too): clients move to it during this one's quiesce.
    const quiesce = p.role === "mongos" && routers.some((r) => r.id !== p.id)
      ? MONGOS_QUIESCE_SECS
      : undefined;
    const stop = stopOp(p, prev, false, undefined, quiesce);
    const start = startOp(input.meta, p, [`stop-${p.id}`], cfgSet);
    // A mongos starts only while its config servers answer: its stop checks that first, so a
    // config server lost meanwhile leaves the router running rather than stopped for good.
    stop.pre_conditions.push(
      ...start.pre_conditions.filter((c) => c.check_type === "dependencies_running")
        .map((c) => ({ ...c, id: `stop-${p.id}:deps` })),
    );
    ops.push(stop);
    ops.push(start);
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

/** Pure: the restart Plan (rolling, or all at once with input.force). */
export function planRestart(input: LifecyclePlanInput): Omit<Plan, "content_hash"> {
  const { procs, sets } = clusterProcesses(input);
  const chosen = selectProcesses(procs, input.filter, input.meta.name);
  const cfgSet = sets.find((s) => s.configsvr);
  const errors: ValidationIssue[] = chosen.filter((p) => !input.facts[p.id]?.running).map((p) => ({
    code: "not_running",
    severity: "error",
    host: p.host,
    message: `${
      hostPort(p.host, p.port)
    } is not running: a restart needs it up (run \`mup cluster start ${input.meta.name}\` first)`,
  }));
  // A mongos starts only once every config server answers: restarting one while a config
  // server is down would stop it for good.
  errors.push(
    ...mongosWithoutConfig(
      input,
      procs,
      chosen.filter((c) => c.role === "mongos" && input.facts[c.id]?.running),
      new Set(),
      "could not start again",
    ),
  );
  // A rolling restart orders each set by who is primary: a member that runs but did not say
  // what it is (hung, overloaded) would be planned blind.
  if (!input.force) {
    for (const p of procs) {
      const f = input.facts[p.id];
      if (!p.replicaSet || !f?.running || (f.state && !f.removed)) continue;
      if (f.removed) {
        errors.push(...removedMemberErrors(input.meta, [p], input.facts, "a rolling restart"));
        continue;
      }
      const at = hostPort(p.host, p.port);
      errors.push({
        code: "not_answering",
        severity: "error",
        host: p.host,
        // Stopped, it is resumed, not restarted: said as display says it.
        message: f.stopped
          ? `${at} runs (PID ${f.stopped.pid}) but does not answer: it is stopped (process ` +
            `state ${f.stopped.stat}), and a rolling restart needs each member's state to ` +
            `order its set. \`kill -CONT ${f.stopped.pid}\` on ${p.host} resumes it; or ` +
            `\`mup cluster stop ${input.meta.name} -N ${at}\` ends it`
          : `${at} runs but is neither primary, secondary nor arbiter (it did not answer ` +
            "hello, or is recovering): a rolling restart needs each member's state to order " +
            `its set (see \`mup cluster display ${input.meta.name}\`${FORCE_OFFER})`,
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
  warnings.push(...priorityNotes(input), ...handBackWarnings(input, sets, chosen));
  warnings.push(...majorityWarnings(procs, sets, chosen, input.facts, false));
  const shards = [
    ...sets.filter((s) => !s.configsvr).flatMap((s) => rollSet(input, s, inSet(s), cfgSet)),
    ...rollEach(input, chosen.filter((p) => p.role === "mongod" && !p.replicaSet)),
  ];
  const mongodPhase = membersPhase("restart", input.meta.kind);
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
