/**
 * `mup cluster reconfigure <name> <topology>`: a running cluster's runtime_config changed without
 * taking it down. Each process whose configuration file changes gets the new file, then those
 * processes are restarted as a rolling restart restarts them (restart.ts: config servers, then
 * each set's secondaries one at a time and its stepped-down primary last, then mongos one at a
 * time); mongod reads its configuration file only at startup. The metadata records the new
 * topology last, so it never claims a configuration the processes do not run. Pure.
 */
import type { Document } from "mongodb";
import { reconfigureWriteConcern } from "./reconfigure_write_concern.ts";
import type { Topology } from "../topology/schema.ts";
import { hostPort } from "../topology/hosts.ts";
import {
  listProcesses,
  listReplicaSets,
  type ProcessSpec,
  type ReplicaSetSpec,
} from "./processes.ts";
import { changedConfigs } from "./reconfigure_changes.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";
import { check, rewriteConfigOps } from "./op_builders.ts";
import { memberOptionChanges, reconfigMembersOp } from "./member_options.ts";
import {
  clusterProcesses,
  lifecyclePlan,
  type LifecyclePlanInput,
  type ProcessFact,
} from "./lifecycle.ts";
import {
  handBackOp,
  markedPhases,
  metadataOp,
  startOp,
  verifyOnly,
  verifyOp,
  waitOp,
} from "./lifecycle_ops.ts";
import { removedMemberAdvice } from "./recorded.ts";
import { rollEach } from "./restart.ts";
import { ranked, rollWithOptions } from "./reconfigure_roll.ts";
import {
  downWhileRestartedWarnings,
  handBackWarnings,
  majorityWarnings,
  priorityNotes,
  singleMongosWarnings,
  takesBack,
} from "./restart_warnings.ts";
import { membersPhase } from "./phase_names.ts";
import { MARK_OP } from "./mark_op.ts";

export interface ReconfigurePlanInput extends LifecyclePlanInput {
  /** The topology to run: the recorded one with other runtime_config (the CLI refuses more). */
  topology: Topology;
  /** The file it was read from, recorded in the plan. */
  topologyFile: string;
  /**
   * The cluster's last apply is a reconfigure that did not finish: its configuration files and
   * which processes run them are not what the metadata says. Every process is then planned —
   * every file written again, what is down started (first), the rest restarted — instead of
   * only those whose recorded configuration differs.
   */
  afterUnfinished?: boolean;
  /**
   * By replica set: whether a cluster-wide default write concern is set (getDefaultRWConcern;
   * absent or undefined: not asked, or no answer).
   */
  cwwcSet?: Record<string, boolean | undefined>;
  /**
   * The cluster-wide default write concern the cluster holds now (null: none; undefined: not
   * asked or no answer): one changed outside mup from the recorded one is set back.
   */
  liveWriteConcern?: Document | null;
}

/**
 * Pure: the `cluster reconfigure` Plan (no phases when neither a configuration file nor a
 * member's options change).
 */
export function planReconfigure(input: ReconfigurePlanInput): Omit<Plan, "content_hash"> {
  // Ordered by the priorities the sets hold now, as a rolling restart orders them.
  const { procs, sets } = clusterProcesses(input);
  const name = input.meta.name;
  const changed = changedConfigs(
    input.meta.topology,
    input.topology,
    input.deployDir,
    input.afterUnfinished ?? false,
  );
  const chosen = procs.filter((p) => changed.some((c) => c.proc.id === p.id));
  const running = (p: ProcessSpec) => !!input.facts[p.id]?.running;
  const up = chosen.filter(running);
  const cfgSet = sets.find((s) => s.configsvr);
  // Members' election options, against what their sets hold now (set back when changed by
  // hand): one replSetReconfig per member, after the restarts (or within a set's, below).
  const askedSets = listReplicaSets(listProcesses(input.topology, input.deployDir));
  const options = memberOptionChanges(askedSets, procs, input.facts);
  const optionOps = askedSets.flatMap((s) => {
    const mine = options.filter((c) => c.proc.replicaSet === s.name);
    if (!mine.length) return [];
    // lib/ops/reconfig_members.ts steps a primary that gets priority 0 down first. A primary
    // this plan restarts is reconfigured before its restart (rolled below), still primary.
    const stepsDown = mine.find((c) =>
      c.want.priority === 0 && input.facts[c.proc.id]?.state === "PRIMARY"
    );
    const reconfig = reconfigMembersOp(s, mine, [], stepsDown?.want.host);
    // The member that ends with the highest priority, if not primary now, takes the primary
    // over once the config says so (priority takeover): waited for before the health check.
    // A member that is down takes over once started, as MongoDB elects it then: not waited for.
    const top = s.members.find((m) =>
      takesBack(s, m) && input.facts[m.id]?.state !== "PRIMARY" && running(m)
    );
    if (!top) return [reconfig];
    // Its own ID: a rolling restart of the same set may wait for a hand-back of its own.
    const handBack = handBackOp(s, top, [reconfig.id]);
    // An earlier step-down (a reconfigure's, an operator's) may still hold it back for up to
    // a minute: the wait ends that first (lib/ops/wait_for_primary.ts).
    handBack.target.params.unfreeze = "true";
    const takeover = {
      ...handBack,
      id: `wait-takeover-${s.name}`,
      description: `Wait for ${hostPort(top.host, top.port)} (priority ${top.priority}) to take ` +
        `the primary of ${s.name} over (priority takeover: an election)`,
    };
    return [reconfig, takeover];
  });
  // A new cluster-wide default write concern is set before any member's options change.
  const { ops: dwcOps, issues: writeConcernIssues } = reconfigureWriteConcern(
    input,
    askedSets,
    options,
    procs.filter((p) => p.role === "mongos" && running(p)),
    (set) => primaryUp(procs, set, input.facts),
  );
  for (const o of optionOps) o.depends_on.push(...dwcOps.map((d) => d.id));
  const changes = chosen.length > 0 || optionOps.length > 0 || dwcOps.length > 0;
  // Only members' options, no restart: a process that is down stays down, as MongoDB lets a
  // set's primary reconfigure with a minority of members down (the member reads its new
  // options when it starts). The health check then judges the running processes.
  const membersOnly = chosen.length === 0 && !input.afterUnfinished;
  const downNow = procs.filter((p) => !running(p));
  // With restarts, the health check at the end verifies the whole cluster: a process down
  // elsewhere would fail it after every restart. After an unfinished reconfigure, what is
  // down is started.
  const errors: ValidationIssue[] = [
    ...writeConcernIssues,
    ...(input.afterUnfinished || !changes || membersOnly ? [] : downNow.map((p) => ({
      code: "not_running",
      severity: "error" as const,
      host: p.host,
      message: `${hostPort(p.host, p.port)} is not running: a reconfiguration restarts ` +
        "processes one at a time and verifies the whole cluster's health at its end (run " +
        `\`mup cluster start ${name}\` first)`,
    }))),
    // Every running process is asked before anything is written (the apply's safety check): one
    // that runs but does not answer would fail it.
    ...procs.filter((p) => running(p) && input.facts[p.id]?.answering === false).map((p) => ({
      code: "not_answering",
      severity: "error" as const,
      host: p.host,
      message: `${hostPort(p.host, p.port)} runs but does not answer (hung, or stopped): ` +
        `\`mup cluster stop ${name} -N ${hostPort(p.host, p.port)}\` ends it, then ` +
        `\`mup cluster start ${name} -N ${hostPort(p.host, p.port)}\`, and reconfigure again`,
    })),
    // A replSetReconfig needs the set's primary.
    ...(membersOnly ? optionSets(options).filter((set) => !primaryUp(procs, set, input.facts)) : [])
      .map((set) => ({
        code: "no_primary",
        severity: "error" as const,
        message: `replica set ${set} has no primary to reconfigure (too many of its members are ` +
          `down): run \`mup cluster start ${name}\` first`,
      })),
    // A member its set no longer lists (rs.remove): no reconfigure can set its options, and
    // the health check would fail; the repair adds it back.
    ...procs.filter((p) => input.facts[p.id]?.removed).map((p) => ({
      code: "member_removed",
      severity: "error" as const,
      host: p.host,
      message: `${hostPort(p.host, p.port)} is not in ${p.replicaSet}'s configuration: no ` +
        `reconfigure can set its options. ${removedMemberAdvice(input.meta, p)}`,
    })),
  ];
  // Down processes (an unfinished reconfigure's): started first, with their new file, so that
  // each set has its members before any running one is restarted; one after another, config
  // servers first and mongos last (a mongos needs its config servers).
  // Otherwise a process down is refused (not_running): the refused plan shows no start of it.
  const down = input.afterUnfinished ? chosen.filter((p) => !running(p)) : [];
  const order = (p: ProcessSpec) => p.role === "config" ? 0 : p.role === "mongos" ? 2 : 1;
  // Each waited for until it answers, not until healthy: with most of its set down, a member
  // is healthy only once the others are up too (the restarts' checks, and the final health
  // check, wait for that).
  let prev: string[] = [];
  const starts = [...down].sort((a, b) => order(a) - order(b)).flatMap((p) => {
    const wait = waitOp(p);
    const ops = [startOp(input.meta, p, prev, p.role === "mongos" ? cfgSet : undefined), wait];
    prev = [wait.id];
    return ops;
  });
  const configure: PlannedOperation[] = changed.flatMap(({ proc: p, content, changes, delta }) =>
    rewriteConfigOps(p, {
      id: `config-${p.id}`,
      content,
      clusterDir: input.clusterDir,
      generate: `Generate the new configuration of ${p.id}${changes ? `: ${changes}` : ""}`,
      upload: `Upload the new configuration of ${p.id} (read at its restart)`,
      delta,
    })
  );
  const inSet = (s: ReplicaSetSpec) => up.filter((p) => p.replicaSet === s.name);
  // A set whose primary restarts gets its new member options within its restart
  // (reconfigure_roll.ts); any other after the restarts.
  const early = new Set<string>();
  const roll = (s: ReplicaSetSpec): PlannedOperation[] => {
    const r = rollWithOptions(
      input,
      s,
      inSet(s),
      optionOps.filter((o) => o.target.name === s.name),
      askedSets,
      cfgSet,
    );
    if (r.early) early.add(s.name);
    return r.ops;
  };
  const restartConfig = cfgSet ? roll(cfgSet) : [];
  const restartMembers = [
    ...sets.filter((s) => !s.configsvr).flatMap(roll),
    ...rollEach(input, up.filter((p) => p.role === "mongod" && !p.replicaSet)),
  ];
  // The processes that were down stay down: judged are the running ones.
  const verify = membersOnly && downNow.length
    ? verifyOnly(
      verifyOp(input, []),
      (id) => !downNow.some((d) => d.id === id),
      "Verify the health of the running processes",
    )
    : verifyOp(input, []);
  const record = metadataOp(input, "auto", [verify.id]);
  record.description = `Record the new ${
    [
      chosen.length ? "runtime_config" : "",
      options.length ? "member options" : "",
      dwcOps.length ? "default write concern" : "",
    ].filter(Boolean).join(" and ")
  }`;
  record.target.params.topology = JSON.stringify(input.topology);
  const phases = changes
    ? [
      {
        name: "configure",
        description: "Write the new configuration files (read at each process's restart)",
        ops: configure,
      },
      {
        name: "start",
        description: "Start what is down, on its new configuration, before anything restarts",
        ops: starts,
      },
      // Before any member's options change, some of which may come within the restarts.
      {
        name: "default-write-concern",
        description: "Set the cluster-wide default write concern (setDefaultRWConcern)",
        ops: dwcOps,
      },
      {
        name: "restart-config",
        description: early.has(cfgSet?.name ?? "")
          ? "Config servers: secondaries one at a time, the new member options, then the " +
            "primary, stepped down"
          : "Config servers: secondaries one at a time, then the stepped-down primary",
        ops: restartConfig,
      },
      {
        name: membersPhase("restart", input.meta.kind),
        description: [...early].some((n) => n !== cfgSet?.name)
          ? "Each replica set: secondaries one at a time, its new member options where they " +
            "change, then the primary, stepped down"
          : "Each replica set: secondaries one at a time, then the stepped-down primary",
        ops: restartMembers,
      },
      {
        name: "restart-mongos",
        description: "mongos, one at a time",
        ops: rollEach(input, up.filter((p) => p.role === "mongos"), cfgSet),
      },
      {
        name: "reconfigure-members",
        description: "Set members' priority, votes and hidden (replSetReconfig on each primary)",
        ops: optionOps.filter((o) => !early.has(o.target.name)),
      },
      {
        name: "finalize",
        description: `Verify health, then record the ${
          record.description.slice("Record the ".length)
        }`,
        ops: [verify, record],
      },
    ]
    : [];
  // What a rolling restart of the same processes says (restart.ts).
  const oplog = changed.filter((c) => c.changes.includes("replication.oplogSizeMB"));
  const warnings = changes
    ? [
      ...(oplog.length
        ? [{
          code: "oplog_size_kept",
          severity: "warning" as const,
          message: `replication.oplogSizeMB changes on ${
            oplog.map((c) => c.proc.id).join(", ")
          }, but mongod keeps the size of an oplog that exists (it reads the setting only when ` +
            "it creates one): replSetResizeOplog on each member resizes it (MongoDB manual, " +
            '"Change the Size of the Oplog")',
        }]
        : []),
      ...(membersOnly ? downNow : []).map((p) => ({
        code: "stays_down",
        severity: "warning" as const,
        host: p.host,
        message: `${hostPort(p.host, p.port)} is down and stays down: ${
          options.some((c) => c.proc.id === p.id)
            ? "its new options are in its set's configuration, which it reads when started; "
            : ""
        }the health check judges the running processes (\`mup cluster start ${name}\` starts it${
          outranks(askedSets, p) ? ", and it then takes the primary over: an election" : ""
        })`,
      })),
      ...singleMongosWarnings(procs, up),
      ...downWhileRestartedWarnings(procs, sets, up),
      ...options.filter((c) => c.want.priority === 0 && input.facts[c.proc.id]?.state === "PRIMARY")
        .map((c) => ({
          code: "primary_steps_down",
          severity: "warning" as const,
          host: c.proc.host,
          message: early.has(c.proc.replicaSet!)
            ? `${c.want.host}, the primary of ${c.proc.replicaSet} now, gets priority 0: it is ` +
              "stepped down (replSetStepDown; an election, a brief pause in writes) once the " +
              "set's secondaries are restarted, then restarted itself as a secondary"
            : `${c.want.host}, the primary of ${c.proc.replicaSet}, gets priority 0: it is ` +
              "stepped down first (replSetStepDown; an election, a brief pause in writes)",
        })),
      ...priorityNotes(input).filter((n) =>
        !options.some((c) => c.proc.host === n.host && n.message.startsWith(c.want.host))
      ),
      // A set reconfigured before its primary's restart hands the primary back only to the
      // member its new options rank highest.
      ...handBackWarnings(
        input,
        sets.map((s) => early.has(s.name) ? askedSets.find((a) => a.name === s.name)! : s),
        up.map((p) => early.has(p.replicaSet ?? "") ? ranked(askedSets, p) : p),
      ),
      ...majorityWarnings(procs, sets, up, input.facts, false),
    ]
    : [];
  const marked = markedPhases(input, phases);
  // Checked again when applied (a plan saved earlier): every process answers before anything
  // is written, as planning required.
  const mark = marked[0]?.ops.find((o) => o.id === MARK_OP);
  if (mark && !input.afterUnfinished) {
    mark.pre_conditions.push(check(
      `${MARK_OP}:running`,
      "members_reachable",
      name,
      membersOnly && downNow.length
        ? "every process that was running when planned answers (the health check judges them)"
        : "every process of the cluster answers (the final health check needs them all)",
      {
        members: procs.filter((p) => !membersOnly || running(p)).map((p) =>
          hostPort(p.host, p.port)
        ),
      },
    ));
  }
  const plan = lifecyclePlan(input, "reconfigure", marked, {
    errors,
    warnings,
  });
  // The plan says what the cluster will be.
  return { ...plan, topology: input.topology, topology_file: input.topologyFile };
}

/** The sets `options` changes members of. */
function optionSets(options: { proc: ProcessSpec }[]): string[] {
  return [...new Set(options.map((c) => c.proc.replicaSet!))];
}

/** Whether a running member of `set` was found primary. */
function primaryUp(procs: ProcessSpec[], set: string, facts: Record<string, ProcessFact>) {
  return procs.some((p) =>
    p.replicaSet === set && facts[p.id]?.running && facts[p.id]?.state === "PRIMARY"
  );
}

/** Whether `p` ends with a higher priority than every other electable member of its set. */
function outranks(sets: ReplicaSetSpec[], p: ProcessSpec): boolean {
  const set = sets.find((s) => s.name === p.replicaSet);
  const mine = set?.members.find((m) => m.id === p.id);
  return !!set && !!mine && takesBack(set, mine);
}
