/**
 * What a plan's operations do to replica sets, shards and users, checked against the plan's own
 * topology. A plan's content hash shows only that the file was not changed after it was sealed,
 * not who sealed it (see README, "not a signature"), and the review (`plan show`, `plan diff`)
 * names a set, not its members: an `init_replica_set` config edited to another priority or an
 * extra member, or a `create_user` edited to another user, sealed again, would otherwise be
 * applied as reviewed while the metadata records the topology (tester51). The sibling of
 * plan_configs.ts and plan_uploads.ts, in their style: pure, each problem a validation error
 * (code `plan_members`) naming the operation, the parameter and the fix.
 *
 * What the planners write (deploy_steps.ts, scale_out.ts, scale_in.ts, security_steps.ts,
 * member_options.ts):
 *
 * - `init_replica_set`: `config` is initConfig of the topology's set;
 * - `add_members`: each member in `add` is that set's initConfig member (without `_id`), and
 *   `members` are the set's;
 * - `reconfig_members`: `options` hosts are the set's data-bearing members, with the topology's
 *   priority, votes and hidden;
 * - `add_shard`: `shard` is `<set>/<its members>` of a shard of the topology;
 * - `create_user`: `user` is the topology's admin user, at processes of the topology;
 * - in a scale-in, `remove_members` removes hosts the set keeps no longer, and `remove_shard`
 *   a shard the topology no longer has, its databases moved to one it has.
 */
import { hostPort } from "../topology/hosts.ts";
import { SECRET, securityOf } from "../security/settings.ts";
import { initConfig } from "./deploy_steps.ts";
import { listProcesses, listReplicaSets, type ReplicaSetSpec } from "./processes.ts";
import { remakeFix } from "./plan_paths.ts";
import { canonical } from "./redeploy.ts";
import { allowedTopology } from "./added_entries.ts";
import { describeOptionChange, withMemberOptions } from "./member_options.ts";
import type { MemberOptions } from "../ops/reconfig_members.ts";
import { planTargetIssues } from "./plan_targets.ts";
import type { Plan, PlannedOperation, ValidationIssue } from "./schema.ts";

/**
 * The scopes (`create-user-<scope>` operations, security_steps.ts wireSecurity), each with the
 * `via` its operation creates the user through, that must get the admin user when access
 * control is on: in a deploy, each standalone mongod, each replica set
 * but the config servers', and a sharded cluster through mongos (`cluster`); in a scale-out,
 * each set it initiates (a new shard). None for other plans, or with access control off.
 */
function requiredUsers(
  plan: Plan,
  procs: ReturnType<typeof listProcesses>,
  sets: Map<string, ReplicaSetSpec>,
): [scope: string, via: string][] {
  if (!securityOf(plan.topology).auth) return [];
  const data = [...sets.values()].filter((s) => !s.configsvr).map((s) => s.name);
  const inSets = (names: string[]) => names.map((n) => [n, "replica_set"] as [string, string]);
  if (plan.operation === "deploy") {
    if (procs.some((p) => p.role === "mongos")) return [...inSets(data), ["cluster", "mongos"]];
    return sets.size ? inSets(data) : procs.map((p) => [p.id, "standalone"]);
  }
  if (plan.operation !== "scale-out") return [];
  return inSets(
    plan.phases.flatMap((p) => p.operations)
      .filter((o) => o.type === "init_replica_set" && data.includes(o.target.name))
      .map((o) => o.target.name),
  );
}

/** A parameter's JSON, or undefined when it does not parse. */
function parsed(o: PlannedOperation, key: string): unknown {
  try {
    return JSON.parse(o.target.params[key] ?? "");
  } catch {
    return undefined;
  }
}

const TYPES = new Set([
  "init_replica_set",
  "add_members",
  "reconfig_members",
  "add_shard",
  "create_user",
  "remove_members",
  "remove_shard",
]);

/**
 * Every operation of `plan` on sets, shards and users that is not what mup plans from the
 * plan's topology, as validation errors (code `plan_members`; see the module comment). Linear
 * in the operations and the members.
 */
export function planMemberIssues(plan: Plan): ValidationIssue[] {
  const all = plan.phases.flatMap((p) => p.operations);
  const ops = all.filter((o) => TYPES.has(o.type));
  const procs = listProcesses(plan.topology, plan.deploy_dir);
  const sets = new Map(listReplicaSets(procs).map((s) => [s.name, s]));
  const fix = remakeFix(plan);
  const issues: ValidationIssue[] = [];
  // An admin user's creation taken out (tester113 #2) leaves a cluster that requires
  // authentication with no user: open to the localhost exception, and failing its health check.
  // Kept by its ID, the operation must still be what creates that user (tester114 A: a wait
  // under its ID passed).
  const byId = new Map(all.map((o) => [o.id, o]));
  for (const [scope, via] of requiredUsers(plan, procs, sets)) {
    const u = byId.get(`create-user-${scope}`);
    if (
      u?.type === "create_user" && u.target.params.secret === SECRET.admin &&
      u.target.params.via === via
    ) continue;
    issues.push({
      code: "plan_members",
      severity: "error",
      message: `the plan has no operation create-user-${scope} that creates the admin user ` +
        `(create_user, via ${via}, with the cluster's admin password): with access ` +
        `control on, ${scope === "cluster" ? "the cluster (through mongos)" : scope} must get ` +
        `the admin user ${JSON.stringify(securityOf(plan.topology).adminUser)}, or it runs ` +
        `open to the localhost exception with no user to log in as. ${fix}`,
    });
  }
  if (!ops.length) return issues;
  const hosts = new Set(procs.map((p) => hostPort(p.host, p.port)));
  const error = (o: PlannedOperation, what: string) =>
    issues.push({
      code: "plan_members",
      severity: "error",
      message: `operation ${o.id} (${o.type}) ${what}. ${fix}`,
    });
  const setOf = (o: PlannedOperation): ReplicaSetSpec | undefined => {
    const s = sets.get(o.target.name);
    if (!s) {
      error(
        o,
        `names replica set ${JSON.stringify(o.target.name)}, which this plan's topology lacks`,
      );
    }
    return s;
  };
  const hostsOf = (s: ReplicaSetSpec) => s.members.map((m) => hostPort(m.host, m.port));
  const scaleIn = plan.operation === "scale-in";

  for (const o of ops) {
    switch (o.type) {
      case "init_replica_set": {
        const s = setOf(o);
        if (s && canonical(parsed(o, "config")) !== canonical(initConfig(s))) {
          error(
            o,
            `initiates ${s.name} with ${o.target.params.config ?? "no config"}, not as this ` +
              `plan's topology gives it: ${JSON.stringify(initConfig(s))}`,
          );
        }
        break;
      }
      case "add_members": {
        const s = setOf(o);
        if (!s) break;
        const want = new Map(
          initConfig(s).members.map(({ _id: _, ...m }) => [m.host, canonical(m)]),
        );
        const add = parsed(o, "add");
        const bad = Array.isArray(add)
          ? add.filter((m) => want.get(String(m?.host)) !== canonical(m))
          : [add];
        if (bad.length) {
          error(
            o,
            `adds ${
              JSON.stringify(bad)
            } to ${s.name}, not a member as this plan's topology gives it`,
          );
        }
        const members = parsed(o, "members");
        const set = new Set(hostsOf(s));
        if (!Array.isArray(members) || members.some((h) => !set.has(String(h)))) {
          error(
            o,
            `asks ${JSON.stringify(members)}, not members of ${s.name} in this plan's topology`,
          );
        }
        break;
      }
      case "reconfig_members": {
        const s = setOf(o);
        if (!s) break;
        const want = s.members.filter((m) => !m.arbiterOnly).map((m) => ({
          host: hostPort(m.host, m.port),
          priority: m.priority,
          votes: m.votes,
          hidden: m.hidden,
        }));
        if (canonical(parsed(o, "options")) !== canonical(want)) {
          error(
            o,
            `sets ${o.target.params.options ?? "nothing"} in ${s.name}, not its members' ` +
              `options as this plan's topology gives them: ${JSON.stringify(want)}`,
          );
          break;
        }
        // What the review says it changes is what it changes: each member whose options differ
        // from what the plan read (`before`), as reconfigMembersOp describes it (tester56).
        const before = parsed(o, "before");
        if (!Array.isArray(before)) break;
        const said = new Set(describedChanges(o.description, s.name));
        const meant = new Set(
          want.flatMap((w, i) => {
            const was = before[i] as MemberOptions | undefined;
            const change = was ? describeOptionChange({ was, want: w }) : "";
            return change ? [`${w.host} ${change}`] : [];
          }),
        );
        if (said.size !== meant.size || [...meant].some((m) => !said.has(m))) {
          error(
            o,
            `is described as setting ${[...said].join("; ") || "nothing"}, but it sets ${
              [...meant].join("; ") || "nothing"
            } (its options against what the plan read)`,
          );
        }
        break;
      }
      case "add_shard": {
        const s = sets.get(o.target.params.name ?? "");
        const seed = s && !s.configsvr ? `${s.name}/${hostsOf(s).join(",")}` : undefined;
        if (!seed || o.target.params.shard !== seed || o.target.name !== s!.name) {
          error(
            o,
            `adds shard ${JSON.stringify(o.target.params.shard)}, not a shard of this plan's ` +
              `topology${seed ? ` (${seed})` : ""}`,
          );
        }
        break;
      }
      case "create_user": {
        const admin = securityOf(plan.topology).adminUser;
        if (o.target.params.user !== admin) {
          error(
            o,
            `creates user ${JSON.stringify(o.target.params.user)}; this plan's topology's admin ` +
              `user is ${JSON.stringify(admin)}`,
          );
        }
        const members = parsed(o, "members");
        if (!Array.isArray(members) || members.some((h) => !hosts.has(String(h)))) {
          error(o, `asks ${JSON.stringify(members)}, not processes of this plan's topology`);
        }
        break;
      }
      case "remove_members": {
        if (!scaleIn) break;
        const s = setOf(o);
        const remove = parsed(o, "remove");
        const kept = new Set(s ? hostsOf(s) : []);
        if (!Array.isArray(remove) || remove.some((h) => kept.has(String(h)))) {
          error(
            o,
            `removes ${
              JSON.stringify(remove)
            }, members this plan's topology keeps in ${o.target.name}`,
          );
        }
        break;
      }
      case "remove_shard": {
        if (!scaleIn) break;
        const { name, move_primary_to: to } = o.target.params;
        const shard = (n?: string) => !!n && !!sets.get(n) && !sets.get(n)!.configsvr;
        if (shard(name) || !shard(to) || o.target.name !== name) {
          error(
            o,
            `removes shard ${JSON.stringify(name)} into ${JSON.stringify(to)}: this plan's ` +
              "topology must lack the one and have the other",
          );
        }
        break;
      }
    }
  }
  return issues;
}

/**
 * planMemberIssues and the process targets (plan_targets.ts) of a current plan of a recorded
 * cluster, judged against the cluster as its metadata records it (with what the plan's kind
 * may change: a scale-out's added entries, a reconfigure's options): a plan whose topology was
 * edited together with its operations is refused too (tester54).
 */
export function recordedMemberIssues(
  plan: Plan,
  recorded: Pick<Plan, "topology" | "deploy_dir">,
  /** For a rollback: the plan of the apply it undoes, whose processes it may stop too. */
  undone?: Pick<Plan, "topology" | "deploy_dir">,
): ValidationIssue[] {
  // A reconfigure's job is to change members' options: those are the plan's.
  const allowed = allowedTopology(plan, recorded.topology);
  const topology = plan.operation === "reconfigure"
    ? withMemberOptions(allowed, plan.topology)
    : allowed;
  const asRecorded: Plan = { ...plan, topology, deploy_dir: recorded.deploy_dir };
  const processes = [
    ...listProcesses(plan.topology, plan.deploy_dir),
    ...(undone ? listProcesses(undone.topology, undone.deploy_dir) : []),
    // The recorded ones last: where both name a process, its recorded paths are the ones.
    ...listProcesses(recorded.topology, recorded.deploy_dir),
  ];
  return [...planMemberIssues(asRecorded), ...planTargetIssues(plan, processes, true, true)].map((
    i,
  ) => ({
    ...i,
    message: `cluster ${plan.cluster_name} as recorded in its metadata: ${i.message}`,
  }));
}

/** The member changes a reconfig_members description names: "Set A x → y; B … in replica set S". */
function describedChanges(description: string, set: string): string[] {
  const end = description.indexOf(` in replica set ${set}`);
  if (!description.startsWith("Set ") || end < 0) return [];
  return description.slice(4, end).split("; ");
}
