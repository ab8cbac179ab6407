/**
 * What each operation of a plan may act on, checked against the kind of plan and its topology.
 * A plan's content hash is no signature (see README): an operation added to a plan and the file
 * sealed again (a `remove_directory` or a `reconfig_members` in a stop plan), or a stop whose
 * target names one process and whose port, pid file and configuration are another's, would
 * otherwise run while the review names something harmless (tester54). The sibling of
 * plan_members.ts and plan_descriptions.ts, in their style: pure, each problem a validation
 * error naming the operation and the fix.
 *
 * - The operation types that remove, reshape or change what a cluster is run only in the plans
 *   whose planners make them (KIND_ONLY; code `plan_operation_kind`).
 * - An operation on one process (target type `process`) names a process of the topology
 *   (`processes`: the plan's own, and for a recorded cluster its recorded ones too) by its ID,
 *   at that process's host and port, and its `config`, `pid_file` and `log` are that process's
 *   (code `plan_target`).
 */
import { configFilePath, logFilePath, pidFilePath } from "./mongo_config.ts";
import type { ProcessSpec } from "./processes.ts";
import { remakeFix } from "./plan_paths.ts";
import { hostKey } from "../topology/hosts.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";

/**
 * The plans (their `operation`) each of these operation types may appear in, as the planners
 * make them: deploy (a repair too), scale-out and scale-in, reconfigure, upgrade, the TLS
 * switches, destroy and rollback. A type not listed here may appear in any plan.
 */
export const KIND_ONLY: Record<string, readonly string[]> = {
  remove_directory: ["destroy", "scale-in", "rollback", "tls-disable"],
  archive_cluster: ["destroy"],
  remove_members: ["scale-in", "rollback"],
  remove_shard: ["scale-in", "rollback"],
  add_members: ["deploy", "scale-out", "rollback"],
  reconfig_members: ["deploy", "scale-out", "reconfigure", "rollback"],
  init_replica_set: ["deploy", "scale-out"],
  add_shard: ["deploy", "scale-out"],
  create_user: ["deploy", "scale-out"],
  mark_rolled_back: ["rollback"],
  set_fcv: ["upgrade"],
  set_balancer: ["upgrade"],
  set_default_write_concern: ["deploy", "reconfigure"],
  set_parameter: ["tls-enable", "tls-disable", "rollback"],
};

/** The paths of a process an operation on it names, by parameter. */
const PATHS: Record<string, (p: ProcessSpec) => string> = {
  config: configFilePath,
  pid_file: pidFilePath,
  log: logFilePath,
};

/**
 * Every operation of `plan` that acts where its kind of plan does not, or whose process target
 * is not one process of `processes` throughout, as validation errors (see the module comment).
 * `processes`: the processes the plan may act on (its topology's, and the recorded cluster's
 * where there is one: a scale-in stops processes its topology no longer has). Linear in the
 * operations.
 */
export function planTargetIssues(
  plan: Plan,
  processes: ProcessSpec[],
  /**
   * Whether a process target that `processes` lacks is an error: not for a scale-in checked
   * without its recorded cluster (it stops processes its own topology no longer has).
   */
  strict = true,
  /**
   * Only the process targets: a second look against the recorded processes
   * (recordedMemberIssues), whose kind, wait and timeout checks the first already made.
   */
  onlyProcesses = false,
): ValidationIssue[] {
  const fix = remakeFix(plan);
  const byId = new Map(processes.map((p) => [p.id, p]));
  const issues: ValidationIssue[] = [];
  const error = (o: PlannedOperation, code: string, what: string) =>
    issues.push({
      code,
      severity: "error",
      message: `operation ${o.id} (${o.type}) ${what}. ${fix}`,
      ...(o.target.host ? { host: o.target.host } : {}),
    });
  for (const o of plan.phases.flatMap((ph) => ph.operations)) {
    const kinds = onlyProcesses ? undefined : KIND_ONLY[o.type];
    if (kinds && !kinds.includes(plan.operation)) {
      error(
        o,
        "plan_operation_kind",
        `is not an operation of a ${plan.operation} plan (mup makes it only in ${
          kinds.join(", ")
        } plans)`,
      );
      continue;
    }
    // A TLS switch off removes only the hosts' certificates it left unread (tls.ts).
    const removed = o.target.params.path ?? "";
    if (
      !onlyProcesses && o.type === "remove_directory" && plan.operation === "tls-disable" &&
      !/\/secrets\/[^/]+\.pem$/.test(removed)
    ) {
      error(
        o,
        "plan_operation_kind",
        `removes ${removed}, which is not a TLS certificate: a tls-disable plan removes only ` +
          "the certificates on the hosts",
      );
      continue;
    }
    const t = o.target;
    // mup's shortest wait is the 1s --wait-timeout allows: a wait of a few ms waits for nothing.
    if (!onlyProcesses && t.timeout_ms !== undefined && t.timeout_ms < 1000) {
      error(
        o,
        "plan_target",
        `waits ${t.timeout_ms}ms, less than the 1s mup ever gives an operation`,
      );
    }
    // A member's wait says what it waits for, as its parameters do (tester56).
    if (!onlyProcesses && o.type === "wait_for_member_state") {
      const state = t.params.state === "HEALTHY" ? "healthy" : t.params.state ?? "";
      const caughtUp = t.params.caught_up === "true";
      if (
        !o.description.includes(` is ${state}`) || o.description.includes("caught up") !== caughtUp
      ) {
        error(
          o,
          "plan_target",
          `waits for ${state}${caughtUp ? " and caught up" : ""}, which its description ` +
            `(${JSON.stringify(o.description)}) does not say`,
        );
      }
    }
    if (t.type !== "process") continue;
    const p = byId.get(t.name);
    if (!p) {
      if (strict) {
        error(
          o,
          "plan_target",
          `acts on ${JSON.stringify(t.name)}, which is no process of the cluster`,
        );
      }
      continue;
    }
    if (
      t.host === undefined || hostKey(t.host) !== hostKey(p.host) || t.port !== p.port
    ) {
      error(
        o,
        "plan_target",
        `names ${p.id} but targets ${t.host}:${t.port}, not its ${p.host}:${p.port}`,
      );
      continue;
    }
    for (const [key, pathOf] of Object.entries(PATHS)) {
      const given = t.params[key];
      if (given !== undefined && given !== pathOf(p)) {
        error(o, "plan_target", `names ${p.id} but its ${key} is ${given}, not ${pathOf(p)}`);
      }
    }
  }
  return issues;
}
