/** What the confirmation of a lifecycle plan says it will do, and the end of a destroy. */
import * as path from "node:path";
import { removeScratch } from "../security/tls.ts";
import { allOperations, type Plan } from "../plan/schema.ts";
import { plural } from "../util/format.ts";
import { hostPort } from "../topology/hosts.ts";
import { SECRET } from "../security/settings.ts";

const VERB: Record<string, (n: number, plan: Plan) => string | string[] | undefined> = {
  stop_process: (n, plan) => `Stop ${processes(n, plan, "stop_process", "stops")}`,
  start_process: (n, plan) => `Start ${processes(n, plan, "start_process", "starts")}`,
  step_down: (n) => `Step down ${plural(n, "replica-set primary", "replica-set primaries")}`,
  remove_directory: (n, plan) => {
    if (plan.operation === "tls-disable") {
      const ca = allOperations(plan).filter((o) =>
        o.type === "remove_directory" && String(o.target.params.path).endsWith("/ca.pem")
      ).length;
      return `Remove the TLS certificates and keys of ${
        plural(n - ca, "process", "processes")
      } and the CA certificate from the hosts (the cluster's CA stays in mup's store)`;
    }
    const kinds = removedKinds(plan);
    return `Remove ${plural(n, "directory or file", "directories and files")}${
      kinds.length ? ` (${kinds.join(", ")})` : ""
    }`;
  },
  create_directory: () => undefined,
  archive_cluster: (_n, plan) => {
    const o = allOperations(plan).find((x) => x.type === "archive_cluster");
    return `Keep metadata, plans, apply states and logs in ${o?.target.params.archive_dir}`;
  },
  verify_health: () => "Verify the cluster's health",
  download_binary: (_n, plan) => `Download ${plan.variant} ${plan.version}`,
  // One kind of upload_file installs a release's binaries on a host; the others write a
  // process's configuration file (from a staged render) or install a secret: each said once per
  // thing, however many times the plan writes it (a TLS switch writes each file twice).
  upload_file: (_n, plan) => {
    const uploads = allOperations(plan).filter((o) => o.type === "upload_file");
    const hosts = new Set(
      uploads.filter((o) => o.target.params.kind === "binaries").map((o) => o.target.host),
    );
    const files = uploads.filter((o) => o.target.params.kind !== "binaries");
    const configs = new Set(files.filter((o) => o.target.params.source).map((o) => o.target.name));
    const secrets = files.map((o) => o.target.params.secret ?? "");
    const keyfiles = new Set(
      files.filter((o) => o.target.params.secret === SECRET.keyfile).map((o) =>
        `${o.target.host}:${o.target.params.dest}`
      ),
    );
    const certs = new Set(secrets.filter((r) => r.startsWith("secret:cert:")));
    const ca = secrets.includes(SECRET.ca);
    return [
      ...(hosts.size
        ? [`Install the ${plan.version} binaries on ${plural(hosts.size, "host")}`]
        : []),
      ...(configs.size
        ? [`Write new configuration files of ${plural(configs.size, "process", "processes")}`]
        : []),
      ...(keyfiles.size
        ? [`Install the keyfile (${plural(keyfiles.size, "copy", "copies")})`]
        : []),
      ...(ca || certs.size
        ? [`Install ${
          [
            ...(ca ? ["the CA certificate"] : []),
            ...(certs.size ? [plural(certs.size, "TLS certificate")] : []),
          ].join(" and ")
        }`]
        : []),
    ];
  },
  set_balancer: (_n, plan) =>
    allOperations(plan).some((o) => o.type === "set_balancer" && o.target.params.state === "stop")
      ? "Stop the balancer during the upgrade, and start it again after"
      : "Start the balancer an earlier upgrade stopped",
  set_fcv: (_n, plan) => {
    const o = allOperations(plan).find((x) => x.type === "set_fcv");
    return `Raise the feature compatibility version to ${o?.target.params.fcv} (it cannot be ` +
      "lowered again without MongoDB's support)";
  },
  set_default_write_concern: (_n, plan) =>
    allOperations(plan).filter((o) => o.type === "set_default_write_concern").map((o) =>
      `${o.description} (once set, MongoDB keeps a cluster-wide default: it can be changed, ` +
      "not unset)"
    ).join("; "),
  mark_rolled_back: () => "Mark the rolled-back apply as rolled_back",
  remove_members: (_n, plan) =>
    allOperations(plan).filter((o) => o.type === "remove_members").map((o) => o.description)
      .join("; ") + " (a primary among them is stepped down first)",
  reconfig_members: (_n, plan) =>
    allOperations(plan).filter((o) => o.type === "reconfig_members").map((o) => o.description)
      .join("; ") + " (a primary that loses its priority is stepped down first)",
  remove_shard: (_n, plan) =>
    allOperations(plan).filter((o) => o.type === "remove_shard").map((o) => o.description)
      .join("; "),
  save_metadata: (_n, plan) =>
    plan.operation === "scale-in"
      ? "Record the cluster without the removed processes in its metadata"
      : undefined,
};

/** The layout's directory names (lib/topology/layout.ts) and what each holds, in review order. */
const KINDS: [string, string][] = [
  ["data", "data"],
  ["logs", "logs"],
  ["conf", "configuration"],
  ["bin", "binaries"],
  ["secrets", "secrets"],
];

/**
 * What `plan`'s removals hold, by the layout's directory each path lies in or is (a data_dir
 * the topology placed elsewhere is not named; a parent removed only if empty is no removal of
 * what it holds): "data", "logs", …, in KINDS's order.
 */
function removedKinds(plan: Plan): string[] {
  const segments = new Set(
    // A parent removed only if empty holds nothing of its own.
    allOperations(plan).filter((o) =>
      o.type === "remove_directory" && o.target.params.if_empty !== "true"
    ).flatMap((o) => String(o.target.params.path ?? "").split("/")),
  );
  return KINDS.filter(([dir]) => segments.has(dir)).map(([, kind]) => kind);
}

/**
 * "3 MongoDB processes", counted once each: a TLS switch stops and starts each process once per
 * round, said as "(9 stops in all: each once per restart round)", not as 9 processes (tester112).
 */
function processes(n: number, plan: Plan, type: string, what: string): string {
  const distinct = new Set(
    allOperations(plan).filter((o) => o.type === type).map((o) => o.target.name),
  ).size;
  return `${plural(distinct, "MongoDB process", "MongoDB processes")}${
    distinct < n ? ` (${n} ${what} in all: each once per restart round)` : ""
  }`;
}

/** The "This will:" block of a start, stop, restart, destroy or rollback plan. */
export function describeLifecycleEffects(plan: Plan): string {
  const counts = new Map<string, number>();
  for (const o of allOperations(plan)) counts.set(o.type, (counts.get(o.type) ?? 0) + 1);
  const lines = [...counts].flatMap(([type, n]) => VERB[type]?.(n, plan) ?? []).filter((l) => l);
  // The last record is the one that says what the plan leaves (the first may mark a change).
  const meta = allOperations(plan).filter((o) => o.type === "update_metadata").at(-1);
  // A scale-in's record is its save_metadata (above); its update_metadata only marks the change.
  if (meta && plan.operation !== "scale-in") {
    lines.push(
      meta.target.params.status === "removed"
        ? "Remove the cluster's metadata (`cluster list` will no longer show it)"
        : meta.target.params.release
        ? `Record ${plan.variant} ${plan.version} as the cluster's release in its metadata`
        : "Record the cluster's status in its metadata",
    );
  }
  if (plan.operation === "upgrade" && allOperations(plan).some((o) => o.type === "start_process")) {
    lines.unshift(
      `Restart each process on ${plan.version}, one at a time per replica set (rolling)`,
    );
  }
  if (plan.operation === "restart") {
    // Writable throughout only when no warning says a part of it goes away meanwhile (the only
    // mongos, a set without a majority, a standalone).
    const gaps = new Set([
      "single_mongos",
      "no_majority_while_restarted",
      "standalone_down_while_restarted",
    ]);
    const writable = !plan.validation.warnings.some((w) => gaps.has(w.code));
    const how = writable ? "; the cluster stays writable" : "; see the warnings below";
    // --force stops everything in one phase; a rolling restart has none (each process in turn,
    // a step-down only where a primary is among them).
    const stops = allOperations(plan).filter((o) => o.type === "stop_process");
    lines.unshift(
      plan.phases.some((ph) => ph.name === "stop")
        ? "Restart the processes all at once (--force: not rolling)"
        : stops.length === 1
        ? `Restart ${
          stops[0].target.host !== undefined && stops[0].target.port !== undefined
            ? hostPort(stops[0].target.host, stops[0].target.port)
            : stops[0].target.name
        } (one process${how})`
        : `Restart one member at a time per replica set (rolling${how})`,
    );
  }
  return [
    `Apply ${plan.plan_id} (${plan.operation}) to cluster ${plan.cluster_name}?`,
    "",
    "This will:",
    ...lines.map((l) => `  • ${l}`),
    ...plan.validation.warnings.map((w) => `  ! ${w.message}`),
  ].join("\n");
}

/**
 * After a destroy completed: its own plans and apply states, and whatever else the apply wrote
 * there, join the archive (the archive operation copied them while the apply still ran), and the
 * cluster's directory goes unless something was kept in it (retained data).
 */
export async function finishDestroy(plan: Plan, clusterDir: string): Promise<void> {
  const archive = allOperations(plan).find((o) => o.type === "archive_cluster")?.target.params
    .archive_dir;
  if (!archive) return;
  // Everything but the deploy directory (which holds only what --retain-data kept): states,
  // plans, the measured durations (history.json)…
  const entries = await Array.fromAsync(Deno.readDir(clusterDir)).catch(() => []);
  // TLS scratch directories a killed mup left in the secrets are not records: they go.
  await removeScratch(path.join(clusterDir, "secrets"));
  for (const e of entries) {
    if (e.name === "deploy") continue;
    await Deno.remove(path.join(archive, e.name), { recursive: true }).catch(() => {});
    await Deno.rename(path.join(clusterDir, e.name), path.join(archive, e.name));
  }
  await Deno.remove(clusterDir).catch(() => {}); // only when empty
}
