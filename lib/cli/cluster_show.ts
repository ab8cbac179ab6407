/** `mup cluster list` and `mup cluster display`: read-only, live, no plan. */
import type { Command } from "@commander-js/extra-typings";
import * as path from "node:path";
import { MupError } from "../errors.ts";
import { listProcesses } from "../plan/processes.ts";
import { collect, selectProcesses } from "../plan/select.ts";
import { describeState, listedShards, probeProcesses, type ProcessStatus } from "../probe/live.ts";
import { type ClusterMeta, readMeta } from "../state/meta.ts";
import { StateStore } from "../state/store.ts";
import { interruption, liveHolder } from "../state/lock.ts";
import { undeployedApply, undeployedStatus, unfinishedApply } from "../state/undeployed.ts";
import { retainedData } from "../state/retained.ts";
import { parsePlanText } from "../plan/parse.ts";
import { formatDuration, table } from "../util/format.ts";
import {
  durationArg,
  durationHelp,
  type DurationOptionSpec,
  parseDurationOption,
} from "./duration_option.ts";
import { clusterAccess } from "../security/access.ts";
import { describeHolder } from "../preflight/ports.ts";
import { runningPid } from "../ops/process.ts";
import { securityOf } from "../security/settings.ts";
import { type CliContext, print, printJson } from "./context.ts";
import { addShowConfig } from "./show_config.ts";

/** The recorded cluster, or a clear error naming the clusters there are. */
export async function requireMeta(ctx: CliContext, name: string): Promise<ClusterMeta> {
  // The name is a directory under the storage root: nothing else (`..`, `/`) may reach a path.
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name)) {
    throw new MupError(`invalid cluster name "${name}"`, {
      hint: "cluster names use letters, digits, '.', '_' and '-'; `mup cluster list` shows them",
    });
  }
  const meta = await readMeta(ctx.store.clusterDir(name));
  if (!meta) {
    // A first deploy that did not finish may have left processes running: say how to end it.
    // One rolled back left files (at least the secrets store): say what removes them.
    const u = await undeployedApply(ctx.store.clusterDir(name));
    if (u?.outcome === "rolled_back") {
      throw new MupError(
        `no deployed cluster named "${name}": its deploy ${u.state.state_id} was rolled back ` +
          `to ${u.state.rolled_back_to ?? "a checkpoint"}; what it left (secrets, files) stays`,
        {
          hint: `\`mup cluster deploy ${name} …\` deploys it again; ` +
            `\`mup cluster destroy ${name}\` removes what is left`,
          details: { state_id: u.state.state_id, apply_status: u.outcome },
        },
      );
    }
    if (u) {
      const how = u.outcome === "interrupted"
        ? `was interrupted (${u.interrupted!.reason.split(";")[0]})`
        : u.outcome === "running"
        ? "is still running"
        : u.outcome;
      throw new MupError(
        `no deployed cluster named "${name}": its apply ${u.state.state_id} ` +
          `(${u.state.operation}) ${how}; its processes may be running`,
        {
          hint: `\`mup plan resume ${name}\` continues it; ` +
            `\`mup state rollback ${name} --checkpoint start\` undoes it; ` +
            `\`mup cluster destroy ${name}\` removes it`,
          details: { state_id: u.state.state_id, apply_status: u.outcome },
        },
      );
    }
    throw new MupError(`no deployed cluster named "${name}"`, {
      hint: "`mup cluster list` shows the clusters mup knows",
    });
  }
  return meta;
}

/**
 * Every cluster with a meta.yaml (destroyed ones have none and are not listed), and every
 * cluster whose first deploy did not finish or was rolled back, which left files behind (status
 * `not deployed (apply <id> <outcome>)`; `cluster destroy` removes them).
 */
export async function listClusters(ctx: CliContext) {
  const out = [];
  for (const name of await ctx.store.clusters()) {
    const dir = ctx.store.clusterDir(name);
    let meta;
    try {
      meta = await readMeta(dir);
    } catch (e) {
      // A damaged metadata file is shown, not skipped: the cluster still runs somewhere.
      out.push({
        name,
        kind: "-",
        version: "-",
        variant: "-",
        status: "damaged metadata",
        hosts: [] as string[],
        processes: 0,
        error: (e as Error).message,
        last_apply: undefined,
      });
      continue;
    }
    if (!meta) {
      const u = await undeployedApply(dir);
      if (u) out.push(await undeployedRow(ctx, name, u));
      continue;
    }
    const store = new StateStore(dir);
    const id = await store.currentId();
    const last = id ? await store.load(id).catch(() => undefined) : undefined;
    // A "running" apply whose mup is gone (kill -9) is interrupted, as `state show` says.
    const cut = last ? await interruption(dir, last) : undefined;
    out.push({
      name,
      kind: meta.kind,
      version: meta.version,
      variant: meta.variant,
      status: meta.status,
      hosts: [...new Set(meta.processes.map((p) => p.host))],
      processes: meta.processes.length,
      last_apply: last
        ? {
          state_id: last.state_id,
          operation: last.operation,
          status: cut ? "interrupted" : last.status,
          at: last.completed_at ?? last.updated_at,
        }
        : undefined,
    });
  }
  // Destroyed with --retain-data, and not deployed again: the data is still on the hosts.
  for (const r of await retainedData(ctx.store.root)) {
    if (out.some((o) => o.name === r.name)) continue;
    out.push({
      name: r.name,
      kind: r.kind,
      version: r.version,
      variant: r.variant,
      status: "destroyed, data kept",
      hosts: r.hosts,
      processes: 0,
      data_kept: { directories: r.data_dirs, archive: r.archive },
      last_apply: {
        state_id: r.state_id ?? r.plan_id,
        operation: "destroy",
        status: "completed",
        at: r.destroyed_at,
      },
    });
  }
  return out;
}

/** The list row of a cluster without metadata, described from its apply's plan. */
async function undeployedRow(
  ctx: CliContext,
  name: string,
  u: NonNullable<Awaited<ReturnType<typeof undeployedApply>>>,
) {
  const file = ctx.store.planPath(name, u.state.plan_id);
  const plan = await Deno.readTextFile(file).then(
    (t) => parsePlanText(t, file).plan,
    () => undefined,
  );
  const procs = plan
    ? listProcesses(plan.topology, path.join(ctx.store.clusterDir(name), "deploy"))
    : [];
  return {
    name,
    kind: plan?.kind ?? "-",
    version: plan?.version ?? "-",
    variant: plan?.variant ?? "-",
    status: undeployedStatus(u),
    hosts: [...new Set(procs.map((p) => p.host))],
    processes: procs.length,
    last_apply: {
      state_id: u.state.state_id,
      operation: u.state.operation,
      status: u.outcome,
      at: u.state.updated_at,
    },
  };
}

function uptime(s?: number): string {
  return s === undefined ? "-" : formatDuration(s * 1000);
}

function renderStatuses(meta: ClusterMeta, rows: ProcessStatus[]): string {
  const lines = [
    `Cluster: ${meta.name}`,
    `Kind: ${meta.kind.replace("_", " ")}`,
    `Version: ${meta.version} (${meta.variant})`,
    "",
    table([24, 9, 12, 14, 8, 9, 10, 8], [
      ["ID", "ROLE", "REPLICA SET", "STATE", "LAG", "PID", "UPTIME", "VERSION", "DATA DIR"],
      ...rows.map((r) => [
        r.id,
        r.role,
        r.replica_set ?? "-",
        describeState(r),
        r.lag_s === undefined ? "-" : `${r.lag_s}s`,
        r.pid === undefined ? "-" : String(r.pid),
        uptime(r.uptime_s),
        r.version ?? "-",
        r.data_dir ?? "-",
      ]),
    ]),
  ];
  const down = rows.filter((r) => r.reason);
  if (down.length) {
    lines.push("", ...down.map((r) => `${r.id} ${r.state}: ${r.reason}`));
  }
  lines.push("", `Connection: ${meta.connection_string}`);
  if (securityOf(meta.topology).auth) {
    lines.push(`Password: run \`mup cluster credentials ${meta.name}\``);
  }
  return lines.join("\n");
}

/**
 * A DOWN process whose port accepted the connection: whatever holds the port (this machine's
 * /proc, or over SSH) is named in its reason, since that is rarely the cluster's own server.
 */
/**
 * The PID of each process that answers but would not say it (serverStatus needs a user, and an
 * arbiter has none): read from its pid file, as the lifecycle commands do.
 */
async function fillPids(ctx: CliContext, meta: ClusterMeta, rows: ProcessStatus[]): Promise<void> {
  await Promise.all(rows.map(async (r) => {
    const p = meta.processes.find((x) => x.id === r.process_id);
    if (r.pid !== undefined || r.state === "DOWN" || !p) return;
    const pid = await runningPid(ctx.executors.forHost(p.host), p.pid_file, p.config)
      .catch(() => undefined);
    if (pid !== undefined) r.pid = pid;
  }));
}

async function nameHolders(ctx: CliContext, rows: ProcessStatus[]): Promise<void> {
  await Promise.all(rows.map(async (r) => {
    if (r.state !== "DOWN" || r.reason === "connection refused") return;
    const holder = await ctx.executors.forHost(r.host).portHolder?.(r.port).catch(() => undefined);
    if (holder) r.reason = `${r.reason}; port ${r.port} is held by ${describeHolder(holder)}`;
  }));
}

/** `cluster display --timeout`: each process's answer (a bare number is milliseconds). */
export const DISPLAY_TIMEOUT: DurationOptionSpec = {
  flag: "--timeout",
  bareUnit: "ms",
  minMs: 100,
  maxMs: 600_000,
  examples: ["500ms", "2s", "1m"],
};

/** Adds `list` and `display` to the `cluster` command. */
export function addShowCommands(cmd: Command, ctx: CliContext): void {
  addShowConfig(cmd, ctx);
  cmd.command("list")
    .description(
      "Every cluster mup has deployed: kind, version, recorded status, hosts, processes, last " +
        "apply. The status is what mup recorded (the last plan applied), not a live check: " +
        "`mup cluster display <name>` asks the servers",
    )
    .option("--json", "machine-readable output")
    .action(async (opts) => {
      const rows = await listClusters(ctx);
      if (opts.json) return printJson(rows);
      if (!rows.length) return print("No clusters.");
      // RECORDED: what the last apply left, not what runs now (that is `cluster display`).
      print(table([16, 12, 9, 8, 9, 10, 10], [
        ["NAME", "KIND", "VERSION", "VARIANT", "RECORDED", "HOSTS", "PROCESSES", "LAST APPLY"],
        ...rows.map((r) => [
          r.name,
          r.kind,
          r.version,
          r.variant,
          r.status,
          String(r.hosts.length),
          String(r.processes),
          r.last_apply
            ? `${r.last_apply.state_id} ${r.last_apply.operation} ${r.last_apply.status} ${r.last_apply.at}`
            : "-",
        ]),
      ]));
      print(
        "\nRECORDED is what the last apply left; `mup cluster display <name>` asks the servers.",
      );
      for (const r of rows) {
        if (!("data_kept" in r) || !r.data_kept) continue;
        print(
          `${r.name}: destroyed with --retain-data; its data is kept in ${
            r.data_kept.directories.join(", ")
          }. A \`mup cluster deploy ${r.name}\` with these data_dir paths reuses it; remove ` +
            "them yourself when no longer needed.",
        );
      }
    });

  cmd.command("display")
    .description(
      "One row per process, asked live (hello, serverStatus, replSetGetStatus). Exit 0 when all " +
        "are healthy; 1 on error or, without --detailed-exitcode, when something is degraded",
    )
    .argument("<name>", "cluster name")
    .option("-R, --role <role>", "only processes of this role (mongod, config, mongos)", collect)
    .option("-N, --node <host:port>", "only this process (repeatable)", collect)
    .option(
      "--timeout <duration>",
      durationHelp(
        DISPLAY_TIMEOUT,
        "how long a process that accepts the connection has to answer (one that refuses it is DOWN at once)",
      ),
      durationArg(DISPLAY_TIMEOUT),
      "10s",
    )
    .option("--detailed-exitcode", "exit 2 (not 1) when a process is down or unhealthy")
    .option("--json", "machine-readable output")
    .action(async (name, opts) => {
      const meta = await requireMeta(ctx, name);
      const timeout = parseDurationOption(DISPLAY_TIMEOUT, opts.timeout);
      const procs = selectProcesses(meta.processes, { roles: opts.role, nodes: opts.node });
      const specs = listProcesses(
        meta.topology,
        path.join(ctx.store.clusterDir(name), "deploy"),
      );
      const dataDirs = new Map(
        specs.filter((s) => s.role !== "mongos").map((s) => [s.id, s.dirs.data]),
      );
      const access = clusterAccess(meta.name, meta.topology, ctx.executors);
      const rows = await probeProcesses(access, procs, dataDirs, timeout);
      await nameHolders(ctx, rows);
      await fillPids(ctx, meta, rows);
      // A sharded cluster is also only healthy when mongos lists every shard set.
      const shardSets = [
        ...new Set(meta.processes.filter((p) => p.role === "mongod").map((p) => p.replica_set)),
      ].filter((s): s is string => !!s).sort();
      // The shards are the cluster's, whatever the selection: without a mongos in it (-N of a
      // shard member), the cluster's mongos are asked.
      const routers = async () =>
        procs.some((p) => p.role === "mongos")
          ? rows.filter((r) => r.role === "mongos")
          : await probeProcesses(
            access,
            meta.processes.filter((p) => p.role === "mongos"),
            dataDirs,
            timeout,
          );
      const shards = meta.kind === "sharded"
        ? await listedShards(access, (await routers()).filter((r) => r.healthy), timeout)
        : undefined;
      const unlisted = shards ? shardSets.filter((s) => !shards.includes(s)) : [];
      const healthy = rows.every((r) => r.healthy) && unlisted.length === 0;
      // An apply running now (its live mup holds the lock) may be changing what this shows.
      const applying = await liveHolder(ctx.store.clusterDir(name));
      // An apply that failed, paused or was cut off part way explains members left down.
      const left = applying ? undefined : await unfinishedApply(ctx.store.clusterDir(name));
      const unfinished = left && left.outcome !== "running"
        ? { state_id: left.state.state_id, operation: left.state.operation, status: left.outcome }
        : undefined;
      if (opts.json) {
        printJson({
          cluster: name,
          kind: meta.kind,
          version: meta.version,
          healthy,
          processes: rows,
          ...(meta.kind === "sharded" ? { shards: shards ?? null, unlisted_shards: unlisted } : {}),
          connection_string: meta.connection_string,
          ...(applying ? { apply_in_progress: applying } : {}),
          ...(meta.tls_switch ? { tls_switch: meta.tls_switch } : {}),
          ...(unfinished ? { unfinished_apply: unfinished } : {}),
        });
      } else {
        if (applying) {
          print(
            `Note: an apply is in progress (${applying.operation}, mup PID ${applying.pid} on ` +
              `${applying.host}, since ${applying.created}); what follows may change as it runs.\n`,
          );
        }
        if (meta.tls_switch && !applying) {
          print(
            `Note: TLS ${meta.tls_switch.action} did not finish (apply ` +
              `${meta.tls_switch.state_id}): the members are between TLS modes. ` +
              `\`mup plan resume ${name}\` finishes it.\n`,
          );
        } else if (unfinished) {
          print(
            `Note: the last apply (${unfinished.operation}, ${unfinished.state_id}) is ` +
              `${unfinished.status}, not finished; \`mup plan resume ${name}\` completes it.\n`,
          );
        }
        print(renderStatuses(meta, rows));
        if (meta.kind === "sharded") {
          print(
            shards
              ? `Shards (listShards): ${shards.join(", ") || "none"}${
                unlisted.length ? `; not listed: ${unlisted.join(", ")}` : ""
              }`
              : "Shards: unknown (no mongos answers)",
          );
        }
      }
      if (!healthy) ctx.exitCode = opts.detailedExitcode ? 2 : 1;
    });
}
