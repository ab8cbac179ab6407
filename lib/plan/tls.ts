/**
 * `mup cluster tls <name> enable|disable`: TLS switched on a running cluster without taking it
 * down, as MongoDB's "Upgrade a Cluster to Use TLS/SSL" does it, planned like a rolling restart
 * (restart.ts). Pure.
 *
 * enable (every process plain): certificates (the deploy's own operations) → configurations with
 * `net.tls.mode: allowTLS` → a rolling restart (plain between members, TLS accepted) →
 * `setParameter tlsMode: preferTLS` on every process (members now connect over TLS) →
 * `requireTLS` on every process → configurations with requireTLS (so the next start keeps it) →
 * health verified → the metadata says `tls: true`, last, so it never claims what the cluster is
 * not.
 *
 * disable (every process requireTLS): setParameter only moves towards requireTLS, so each step
 * back is a rolling restart with a new configuration: preferTLS (accepts plain, still connects
 * over TLS to the members still requiring it), then allowTLS (connects in plain, to members
 * that accept it), then TLS disabled — members reach each other at every moment. The metadata
 * says `tls: false` last.
 */
import { hostKey, hostPort } from "../topology/hosts.ts";
import { hostCaPath, hostCertPath, securityOf } from "../security/settings.ts";
import { removeOp } from "./destroy.ts";
import {
  type ConfigSecurity,
  deployConfigSecurity,
  renderConfig,
  type TlsStep,
} from "./mongo_config.ts";
import { configDbString, type ProcessSpec, type ReplicaSetSpec } from "./processes.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";
import { change, check, op, processTarget, rewriteConfigOps } from "./op_builders.ts";
import { certificateOps } from "./security_steps.ts";
import { clusterProcesses, lifecyclePlan, type LifecyclePlanInput } from "./lifecycle.ts";
import {
  markedPhases,
  memberStateOp,
  metadataOp,
  startOp,
  stopOp,
  verifyOp,
} from "./lifecycle_ops.ts";
import { rollEach, rollSet, singleMongosWarnings } from "./restart.ts";
import { downWhileRestartedWarnings, priorityNotes } from "./restart_warnings.ts";
import { MARK_OP } from "./mark_op.ts";
import { removedMemberErrors } from "./recorded.ts";

export type { TlsStep };

export interface TlsPlanInput extends LifecyclePlanInput {
  action: "enable" | "disable";
}

interface Phase {
  name: string;
  description: string;
  ops: PlannedOperation[];
}

/** Where the cluster's files live on its hosts, and how each process's configuration reads. */
function layout(input: LifecyclePlanInput) {
  const t = input.meta.topology;
  // Each round is a rolling restart: ordered by the priorities the sets hold now, as restart's
  // is (a member given priority 0 by hand cannot take the primary a step-down would hand over).
  const { procs, sets } = clusterProcesses(input);
  const deployRoot = t.global.deploy_dir ?? input.deployDir;
  const cfgSet = sets.find((s) => s.configsvr);
  const configDb = configDbString(cfgSet);
  const machines = new Map<string, string>();
  for (const p of procs) if (!machines.has(hostKey(p.host))) machines.set(hostKey(p.host), p.host);
  const sec = (p: ProcessSpec, mode: TlsStep): ConfigSecurity =>
    deployConfigSecurity(t, deployRoot, mode)(p);
  return { procs, sets, cfgSet, configDb, deployRoot, hosts: [...machines.values()], sec };
}

/** Every process's configuration file rewritten with `mode` (staged, then uploaded). */
function configPhase(input: LifecyclePlanInput, mode: TlsStep): Phase {
  const l = layout(input);
  const ops: PlannedOperation[] = [];
  for (const p of l.procs) {
    ops.push(...rewriteConfigOps(p, {
      id: `config-${p.id}-${mode}`,
      content: renderConfig(p, l.configDb, l.sec(p, mode)),
      clusterDir: input.clusterDir,
      generate: `Generate the configuration of ${p.id} with tlsMode ${mode}`,
      upload: `Upload the configuration of ${p.id} (tlsMode ${mode})`,
    }));
  }
  return {
    name: `configure-${mode}`,
    description: mode === "disabled"
      ? "Configurations without TLS"
      : `Configurations with net.tls.mode ${mode}`,
    ops,
  };
}

/**
 * The operations of one rolling restart, their IDs (and their checks') suffixed with `-to-<mode>`
 * so that several rounds fit in one plan. A restarted member waits until healthy and caught up,
 * not for SECONDARY; one of `leaders` (the member of its set with the highest priority) waits
 * until it is PRIMARY again: MongoDB's priority takeover makes it call an election once caught
 * up, and the next round must not find its set in the middle of that election.
 */
function taggedOps(
  ops: PlannedOperation[],
  mode: TlsStep,
  leaders: ReadonlySet<string> = new Set(),
): PlannedOperation[] {
  const ids = new Set(ops.map((o) => o.id));
  const tag = (id: string) => ids.has(id) ? `${id}-to-${mode}` : id;
  return ops.map((o) => {
    const wait = o.type === "wait_for_member_state";
    const leads = wait && leaders.has(o.target.name);
    return {
      ...o,
      id: tag(o.id),
      depends_on: o.depends_on.map(tag),
      pre_conditions: o.pre_conditions.map((c) => ({
        ...c,
        id: c.id.startsWith(`${o.id}:`) ? `${tag(o.id)}${c.id.slice(o.id.length)}` : c.id,
      })),
      target: wait
        ? { ...o.target, params: { ...o.target.params, state: leads ? "PRIMARY" : "HEALTHY" } }
        : o.target,
      description: `${
        o.description.replace(
          / is (SECONDARY|healthy) /,
          leads ? " is PRIMARY again (highest priority) " : " is healthy ",
        )
      } (tlsMode ${mode})`,
    };
  });
}

/** The member of each set whose priority is above every other's: it takes the lead back. */
function leadersOf(sets: ReplicaSetSpec[]): Set<string> {
  const out = new Set<string>();
  for (const s of sets) {
    const top = Math.max(...s.members.map((m) => m.arbiterOnly ? 0 : m.priority));
    const tops = s.members.filter((m) => !m.arbiterOnly && m.priority === top);
    if (top > 0 && tops.length === 1) out.add(tops[0].id);
  }
  return out;
}

/**
 * One rolling restart of every process onto the configurations of `mode`. In a set with no
 * member of the highest priority alone, a round before handed the primary to whichever member
 * won the election, so a member planned as a secondary may be primary when its stop comes: the
 * stop then steps it down first (rollingStopOp), as it does after any election since planning.
 */
function restartRound(input: LifecyclePlanInput, mode: TlsStep): Phase[] {
  const { procs, sets, cfgSet } = layout(input);
  const inSet = (s: ReplicaSetSpec) => procs.filter((p) => p.replicaSet === s.name);
  const leaders = leadersOf(sets);
  const tagged = taggedOps;
  return [
    {
      name: `restart-config-${mode}`,
      description: `Config servers restarted with tlsMode ${mode}, the primary last`,
      ops: cfgSet ? tagged(rollSet(input, cfgSet, inSet(cfgSet), cfgSet), mode, leaders) : [],
    },
    {
      name: `restart-mongod-${mode}`,
      description: `Each replica set restarted with tlsMode ${mode}, the primary last`,
      ops: tagged(
        [
          ...sets.filter((s) => !s.configsvr).flatMap((s) => rollSet(input, s, inSet(s), cfgSet)),
          ...rollEach(input, procs.filter((p) => p.role === "mongod" && !p.replicaSet)),
        ],
        mode,
        leaders,
      ),
    },
    {
      name: `restart-mongos-${mode}`,
      description: `mongos restarted with tlsMode ${mode}, one at a time`,
      ops: tagged(rollEach(input, procs.filter((p) => p.role === "mongos"), cfgSet), mode),
    },
  ];
}

/**
 * setParameter tlsMode on every process at once (MongoDB's runtime step, no restart), arbiters
 * aside: an arbiter holds no users, so no login reaches its setParameter (MongoDB: "the only way
 * to log on to an arbiter with authorization active is to use the localhost exception"); it
 * takes the mode from its configuration, restarted (arbiterRestarts).
 */
function setModePhase(input: LifecyclePlanInput, mode: "preferTLS" | "requireTLS"): Phase {
  const { procs } = layout(input);
  return {
    name: `set-${mode}`,
    description: `setParameter tlsMode ${mode} on every process but arbiters`,
    ops: procs.filter((p) => !p.arbiterOnly).map((p) =>
      op({
        id: `set-tls-mode-${p.id}-${mode}`,
        type: "set_parameter",
        description: `Set tlsMode ${mode} on ${p.id}`,
        target: processTarget(p, { name: "tlsMode", value: mode }),
        pre_conditions: [check(
          `set-tls-mode-${p.id}-${mode}:running`,
          "members_reachable",
          hostPort(p.host, p.port),
          `${p.id} answers`,
          { members: [hostPort(p.host, p.port)] },
        )],
        changes: [change("parameter", `${p.id}:tlsMode`, "update", { tlsMode: mode })],
        depends_on: [],
        estimated_ms: 200,
      })
    ),
  };
}

/**
 * Each arbiter restarted, one after another, with the configuration just written (tlsMode
 * `mode`): the way its mode changes, since setParameter cannot reach it (setModePhase). Until
 * then it accepts TLS from the members, which is what their votes and heartbeats need.
 */
function arbiterRestarts(input: LifecyclePlanInput, mode: TlsStep): Phase {
  const { procs, sets } = layout(input);
  const ops: PlannedOperation[] = [];
  let prev: string[] = [];
  for (const p of procs.filter((x) => x.arbiterOnly)) {
    const set = sets.find((s) => s.name === p.replicaSet)!;
    ops.push(
      stopOp(p, prev),
      startOp(input.meta, p, [`stop-${p.id}`]),
      memberStateOp(p, set, "HEALTHY", [`start-${p.id}`]),
    );
    prev = [`wait-state-${p.id}`];
  }
  return {
    name: `restart-arbiters-${mode}`,
    description: `Arbiters restarted with tlsMode ${mode}, one at a time`,
    ops: taggedOps(ops, mode),
  };
}

/** Pure: the `cluster tls enable|disable` Plan. */
export function planTls(input: TlsPlanInput): Omit<Plan, "content_hash"> {
  const { procs } = clusterProcesses(input);
  const name = input.meta.name;
  const errors: ValidationIssue[] = procs.filter((p) => !input.facts[p.id]?.running).map((p) => ({
    code: "not_running",
    severity: "error",
    host: p.host,
    message:
      `${hostPort(p.host, p.port)} is not running: a rolling TLS change needs every process up ` +
      `(run \`${input.startCommand ?? `mup cluster start ${name}`}\` first)`,
  }));
  // A member its set no longer lists would leave the switch stuck between modes at its
  // set-health checks, with only a resume or a destroy allowed (tester110 #1).
  errors.push(...removedMemberErrors(input.meta, procs, input.facts, "a rolling TLS change"));
  const on = securityOf(input.meta.topology).tls;
  if (on === (input.action === "enable")) {
    errors.push({
      code: "no_change",
      severity: "error",
      message: `TLS is already ${on ? "enabled" : "disabled"} on cluster ${name}` +
        ` (\`mup cluster tls ${name} ${on ? "disable" : "enable"}\` switches it ${
          on ? "off" : "on"
        })`,
    });
  }
  const l = layout(input);
  const finalize: Phase = {
    name: "finalize",
    description: "Verify health, then record TLS in the metadata",
    ops: [],
  };
  const verify = verifyOp(input, []);
  const record = metadataOp(input, "auto", [verify.id]);
  record.description = `Record TLS ${input.action === "enable" ? "enabled" : "disabled"}`;
  record.target.params.security_tls = String(input.action === "enable");
  finalize.ops.push(verify, record);
  const phases: Phase[] = input.action === "enable"
    ? [
      {
        name: "certificates",
        description: "The cluster CA and one certificate per process, installed on the hosts",
        ops: certificateOps({
          clusterName: name,
          hosts: l.hosts,
          procs: l.procs,
          deployRoot: l.deployRoot,
        }),
      },
      configPhase(input, "allowTLS"),
      ...restartRound(input, "allowTLS"),
      setModePhase(input, "preferTLS"),
      setModePhase(input, "requireTLS"),
      configPhase(input, "requireTLS"),
      arbiterRestarts(input, "requireTLS"),
      finalize,
    ]
    : [
      configPhase(input, "preferTLS"),
      ...restartRound(input, "preferTLS"),
      configPhase(input, "allowTLS"),
      ...restartRound(input, "allowTLS"),
      configPhase(input, "disabled"),
      ...restartRound(input, "disabled"),
      finalize,
      // Nothing reads them any more; a CA-signed key left on a host would be trusted again by a
      // later `tls enable` with the same CA, and destroy or scale-in, which go by the metadata,
      // would not know them as the cluster's (tester111 #1). The store keeps the CA.
      {
        name: "remove-certificates",
        description: "Remove each process's TLS certificate and key, and the CA certificate, " +
          "from the hosts",
        ops: [
          ...l.procs.map((p) =>
            removeOp(p.host, hostCertPath(l.deployRoot, p.id), "TLS certificate and key", [
              record.id,
            ])
          ),
          ...l.hosts.map((h) =>
            removeOp(h, hostCaPath(l.deployRoot), "CA certificate", [record.id])
          ),
        ],
      },
    ];
  const warnings: ValidationIssue[] = input.action === "enable"
    ? [{
      code: "clients_need_tls",
      severity: "warning",
      message: "Once the cluster requires TLS, clients must connect with TLS trusting the " +
        "cluster CA (`mup cluster credentials " + name +
        "` prints the connection string): connections opened in plain before stay open, new " +
        "ones are refused.",
    }]
    : [];
  // Every round restarts every process, the mongos included.
  warnings.push(...singleMongosWarnings(procs, procs), ...priorityNotes(input));
  warnings.push(...downWhileRestartedWarnings(l.procs, l.sets, l.procs));
  const marked = markedPhases(input, phases);
  // The first operation records the switch as under way: every other planner refuses to act on
  // a cluster between TLS modes until it is finished (ClusterMeta.tls_switch).
  const mark = marked[0].ops.find((o) => o.id === MARK_OP);
  if (mark) {
    mark.target.params.tls_switch = input.action;
    mark.description = `Record that TLS ${input.action} is under way (status unknown)`;
    // Checked again when applied (a plan saved earlier): every process answers before anything
    // is written, as planning required. A member found down half way through the switch could
    // only be started by hand (tester43).
    mark.pre_conditions.push(check(
      `${MARK_OP}:running`,
      "members_reachable",
      name,
      "every process of the cluster answers (each round restarts them all)",
      { members: procs.map((p) => hostPort(p.host, p.port)) },
    ));
  }
  return lifecyclePlan(input, `tls-${input.action}`, marked, {
    errors,
    warnings,
  });
}
