/**
 * Each operation's `description`, checked against what the operation does. The review (`plan
 * show`, the apply's progress) prints descriptions, and a plan's content hash is no signature:
 * a `stop_process` whose description was edited to "Harmless no-op" and the file sealed again
 * would otherwise be reviewed as harmless and approved by its hash (tester51). The planners'
 * descriptions start with the verb of what their operation does and name what it acts on; a
 * description that does not is refused. The sibling of plan_members.ts, in its style: pure, each
 * problem a validation error (code `plan_description`) naming the operation and the fix.
 */
import { hostPort } from "../topology/hosts.ts";
import { remakeFix } from "./plan_paths.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";

/**
 * The words a description of each operation type starts with, as the planners write them
 * (lib/plan/*: deploy_steps, lifecycle_ops, security_steps, rollback, upgrade_ops, tls…).
 */
export const DESCRIPTION_VERBS: Record<string, readonly string[]> = {
  download_binary: ["Download", "Use the cached"],
  create_directory: ["Create"],
  upload_file: ["Upload", "Install", "Put"],
  generate_config: ["Generate"],
  start_process: ["Start"],
  wait_for_process: ["Wait"],
  init_replica_set: ["Initialize"],
  add_shard: ["Add"],
  verify_health: ["Verify"],
  save_metadata: ["Save"],
  stop_process: ["Stop"],
  remove_directory: ["Remove"],
  step_down: ["Step down"],
  wait_for_primary: ["Wait"],
  wait_for_member_state: ["Wait"],
  update_metadata: ["Record", "Remove"],
  archive_cluster: ["Archive"],
  mark_rolled_back: ["Mark"],
  generate_secret: ["Generate", "Copy", "Reuse", "Keep", "Create"],
  create_user: ["Create"],
  set_parameter: ["Set"],
  set_balancer: ["Stop the balancer", "Start the balancer"],
  set_fcv: ["Set the feature compatibility version"],
  set_default_write_concern: ["Set the default write concern"],
  add_members: ["Add"],
  remove_members: ["Remove"],
  remove_shard: ["Remove shard"],
  reconfig_members: ["Set"],
};

/** Operation types that act on one process: their description names it (host:port or ID). */
const ON_PROCESS = new Set([
  "start_process",
  "stop_process",
  "wait_for_process",
  "wait_for_member_state",
  "step_down",
  "set_parameter",
]);

/** Operation types that act on one replica set or shard: their description names it. */
const ON_SET = new Set([
  "init_replica_set",
  "add_shard",
  "add_members",
  "remove_members",
  "remove_shard",
  "reconfig_members",
  "wait_for_primary",
]);

/** What `o`'s description lacks, or undefined when it says what the operation does. */
function lacks(o: PlannedOperation): string | undefined {
  const d = o.description;
  const verbs = DESCRIPTION_VERBS[o.type];
  const verb = verbs?.find((v) => d === v || d.startsWith(`${v} `));
  if (verbs && !verb) {
    return `does not start with what a ${o.type} does (${verbs.map((v) => `"${v} …"`).join(", ")})`;
  }
  // The verb said, then taken back ("Remove nothing: …", "Stop no process", "a no-op"): mup
  // never describes what an operation does so (tester54).
  if (
    (verb && /^(nothing|no|none|nobody)\b/i.test(d.slice(verb.length + 1))) ||
    /\b(no-?op|harmless|check only|dry[- ]run)\b/i.test(d)
  ) {
    return "says it does nothing, which no operation of mup is described as";
  }
  const t = o.target;
  if (ON_PROCESS.has(o.type)) {
    const names = [t.name, ...(t.host && t.port ? [hostPort(t.host, t.port)] : [])];
    if (!names.some((n) => n && d.includes(n))) {
      return `does not name the process it acts on (${names.join(" or ")})`;
    }
  }
  if (ON_SET.has(o.type) && !d.includes(t.name) && !/^Initialize config replica set$/.test(d)) {
    return `does not name the replica set or shard it acts on (${t.name})`;
  }
  if (o.type === "remove_directory" && t.params.path && !d.includes(`:${t.params.path}`)) {
    return `does not name the directory it removes (${t.host}:${t.params.path})`;
  }
  return undefined;
}

/**
 * Every operation of `plan` whose description does not say what it does, as validation errors
 * (code `plan_description`): it must start with its type's verb (DESCRIPTION_VERBS) and name the
 * process, set, shard or directory it acts on. Linear in the operations.
 */
export function planDescriptionIssues(plan: Plan): ValidationIssue[] {
  const fix = remakeFix(plan);
  return plan.phases.flatMap((p) => p.operations).flatMap((o) => {
    const why = lacks(o);
    return why
      ? [{
        code: "plan_description",
        severity: "error" as const,
        message: `operation ${o.id} (${o.type}) is described as ${
          JSON.stringify(o.description)
        }, which ${why}: the review would not show what it does. ${fix}`,
        ...(o.target.host ? { host: o.target.host } : {}),
      }]
      : [];
  });
}
