import type { Plan, PlannedOperation } from "../plan/schema.ts";
import { formatArchiveSize, plural } from "../util/format.ts";
import { hostKey, hostPort } from "../topology/hosts.ts";
import { SECRET } from "../security/settings.ts";

/** Operations shown as one line: alike operations of one phase (all starts of config servers…). */
export interface OpGroup {
  key: string;
  phase: string;
  ops: PlannedOperation[];
}

function roleOf(o: PlannedOperation): string {
  return o.target.params.role ?? o.target.name.split("-")[0];
}

const DEPLOY_GROUPABLE = new Set([
  "create_directory",
  "generate_config",
  "upload_file",
  "start_process",
  "wait_for_process",
]);

export function groupOperations(plan: Plan): OpGroup[] {
  const groups: OpGroup[] = [];
  // Lifecycle plans (a rolling restart…) are read step by step: one line per operation.
  const GROUPABLE = plan.operation === "deploy" ? DEPLOY_GROUPABLE : new Set<string>();
  const depth = plan.operation === "deploy" ? depths(plan) : new Map<string, number>();
  const rank = (g: OpGroup) => Math.min(...g.ops.map((o) => depth.get(o.id) ?? 0));
  for (const ph of plan.phases) {
    const mine: OpGroup[] = [];
    for (const o of ph.operations) {
      // Secrets installed on hosts (keyfile, certificates) are a group of their own.
      const key = o.type === "upload_file"
        ? `${o.type}:${o.target.params.secret ? "secret" : o.target.params.kind}`
        : ["start_process", "wait_for_process"].includes(o.type)
        ? `${o.type}:${roleOf(o)}`
        : GROUPABLE.has(o.type)
        ? o.type
        : `${o.type}:${o.id}`;
      const g = GROUPABLE.has(o.type) ? mine.find((x) => x.key === key) : undefined;
      if (g) g.ops.push(o);
      else mine.push({ key, phase: ph.name, ops: [o] });
    }
    // A deploy's groups in the order the apply runs them: a group after what it depends on (the
    // admin users before the shards added with them: tester101 #3), else as the plan lists
    // them. A lifecycle plan's lines stay in its own, step-by-step order.
    if (plan.operation !== "deploy") {
      groups.push(...mine);
      continue;
    }
    groups.push(
      ...mine.map((g, i) => ({ g, i })).sort((a, b) => rank(a.g) - rank(b.g) || a.i - b.i)
        .map((x) => x.g),
    );
  }
  return groups;
}

/** Each operation's longest chain of dependencies (0 for one that depends on nothing). */
function depths(plan: Plan): Map<string, number> {
  const byId = new Map(plan.phases.flatMap((ph) => ph.operations).map((o) => [o.id, o]));
  const out = new Map<string, number>();
  const of = (id: string, seen: Set<string>): number => {
    const known = out.get(id);
    if (known !== undefined) return known;
    const o = byId.get(id);
    // A cycle (an invalid plan, shown with its errors) or an unknown dependency ends the chain.
    if (!o || seen.has(id)) return 0;
    seen.add(id);
    const d = o.depends_on.reduce(
      (m, dep) => Math.max(m, byId.has(dep) ? of(dep, seen) + 1 : 0),
      0,
    );
    out.set(id, d);
    return d;
  };
  for (const id of byId.keys()) of(id, new Set());
  return out;
}

const ROLE: Record<string, [string, string]> = {
  config: ["config server", "config servers"],
  mongod: ["shard mongod process", "shard mongod processes"],
  mongos: ["mongos", "mongos processes"],
};

function roleNames(plan: Plan, role: string): [string, string] {
  if (plan.kind !== "sharded" && role === "mongod") return ["mongod", "mongod processes"];
  return ROLE[role] ?? [role, `${role}s`];
}

/** The line `plan show` gives a group, in the future tense (Example 1, step 2). */
export function groupPlanLine(plan: Plan, g: OpGroup): string {
  const n = g.ops.length;
  // Starts of processes found running when planned (a first deploy tried again) only check.
  const running =
    g.ops.filter((o) =>
      o.type === "start_process" && o.changes.length && o.changes.every((c) => c.action === "none")
    ).length;
  if (n === 1) return g.ops[0].description + (running ? " (already running)" : "");
  const [type, sub] = g.key.split(":");
  const hosts = new Set(g.ops.map((x) => hostKey(x.target.host ?? ""))).size;
  const names = roleNames(plan, sub);
  switch (type) {
    case "create_directory":
      return `Create directories on ${plural(hosts, "host")} (data, logs, config)`;
    case "generate_config":
      return `Generate configuration files (${n} configs)`;
    case "upload_file":
      return sub === "binaries"
        ? `Install ${plan.version} binaries on ${plural(hosts, "host")}`
        : sub === "secret"
        ? `Install the keyfile and certificates on ${plural(hosts, "host")} (${n} files, mode 0400)`
        : `Upload configuration files (${n} configs)`;
    case "start_process": {
      const how = [
        ...(g.ops.every((o) => o.parallel) ? ["parallel"] : []),
        ...(running ? [`${running === n ? "all" : running} already running`] : []),
      ];
      return `Start ${n} ${names[1]}${how.length ? ` (${how.join("; ")})` : ""}`;
    }
    case "wait_for_process":
      return `Wait for ${names[1]} ready`;
    default:
      return `${g.ops[0].description} (+${n - 1} more)`;
  }
}

/** The archives' size, from the operations' `size_bytes` (the plan's resources as a fallback). */
export function archiveSize(ops: PlannedOperation[], plan: Plan): string {
  const bytes = ops.reduce((n, o) => n + Number(o.target.params.size_bytes ?? 0), 0);
  if (!bytes) return `${plan.resources.download_size_mb}MB`;
  return formatArchiveSize(bytes);
}

/** The line shown once a group is done, in the past tense. */
export function groupDoneLine(plan: Plan, g: OpGroup): string {
  const n = g.ops.length;
  const o = g.ops[0];
  const [type, sub] = g.key.split(":");
  const hosts = new Set(g.ops.map((x) => hostKey(x.target.host ?? ""))).size;
  const names = roleNames(plan, sub);
  // One process's files: named by its address, so a plan that prepares a shard member and a
  // mongos (a scale-out) does not print the same line twice (tester40 L10).
  const one = () =>
    n === 1 && o.target.host !== undefined && o.target.port !== undefined
      ? hostPort(o.target.host, o.target.port)
      : undefined;
  switch (type) {
    case "download_binary":
      return `Downloaded MongoDB ${plan.version} (${archiveSize(g.ops, plan)})`;
    case "create_directory": {
      const p = one();
      return p
        ? `Created the directories of ${p}`
        : `Created directories on ${plural(hosts, "host")}`;
    }
    case "generate_config": {
      const p = one();
      return p
        ? `Generated the configuration of ${p}`
        : `Generated ${plural(n, "configuration file")}`;
    }
    case "upload_file":
      return sub === "binaries"
        ? `Installed binaries on ${plural(hosts, "host")}`
        : sub === "secret"
        ? `Installed ${plural(n, secretKind(g.ops))} on ${plural(hosts, "host")}`
        : one()
        ? `Uploaded the configuration of ${one()}`
        : `Uploaded ${plural(n, "configuration file")}`;
    case "start_process":
      return n === 1
        ? `Started ${names[0]} ${hostPort(o.target.host!, o.target.port!)}`
        : `Started ${n} ${names[1]}`;
    case "wait_for_process":
      return n === 1
        ? `${cap(names[0])} ${hostPort(o.target.host!, o.target.port!)} ready`
        : `${cap(names[1])} ready`;
    case "init_replica_set":
      return `Initialized ${
        o.target.params.config?.includes('"configsvr":true') ? "config" : o.target.name
      } replica set`;
    case "add_shard":
      return `Added ${o.target.name} to cluster`;
    case "verify_health":
      return "Verified cluster health";
    case "save_metadata":
      return "Saved cluster metadata";
    default:
      return o.description;
  }
}

function cap(s: string): string {
  return s === "mongos" || s.startsWith("mongo") ? s : s[0].toUpperCase() + s.slice(1);
}

/**
 * What a group of secret uploads installs, by the secret each names: keyfiles, TLS certificates
 * (the CA's and the processes'), or both.
 */
function secretKind(ops: PlannedOperation[]): string {
  const keyfiles = ops.filter((o) => o.target.params.secret === SECRET.keyfile).length;
  return keyfiles === ops.length
    ? "key file"
    : keyfiles === 0
    ? "TLS certificate file"
    : "secret file";
}

/**
 * A phase as a title: "Restart mongod" for the phase `restart-mongod` (its ID, which hooks
 * name, stays in the hook lines), "Prepare" for `prepare`.
 */
export function phaseTitle(name: string): string {
  const words = name.replaceAll("-", " ");
  return `${words[0]?.toUpperCase() ?? ""}${words.slice(1)}`;
}
