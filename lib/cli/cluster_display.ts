/**
 * `mup cluster display`: one row per process, asked live. A cluster whose first deploy did not
 * finish (or was rolled back) has no metadata; it is shown from its deploy plans, as destroy
 * plans it, under a note that it is not deployed and how to continue or undo it.
 */
import { reachedLocally } from "../executor/factory.ts";
import { unlistedMembers } from "../probe/unlisted_members.ts";
import { lostSecrets } from "../preflight/lost_secrets.ts";
import { checkStoreCertificates } from "../preflight/store_certs.ts";
import type { Command } from "@commander-js/extra-typings";
import * as path from "node:path";
import { listProcesses } from "../plan/processes.ts";
import { collect, selectProcesses } from "../plan/select.ts";
import { listedShards, probeProcesses } from "../probe/live.ts";
import { type ClusterMeta, readMeta } from "../state/meta.ts";
import { repairCommand } from "../plan/recorded.ts";
import { reconfigureCommand } from "../plan/reconfigure_left.ts";
import { isStale, lockFile, unreadableLockNote } from "../state/lock.ts";
import { stoppedByLastApply } from "../state/stopped_by.ts";
import {
  failedApplyHook,
  recordedReplan,
  replacedReconfigure,
  type UndeployedApply,
  undeployedApply,
  undeployedMeta,
  unfinishedApply,
} from "../state/undeployed.ts";
import {
  durationArg,
  durationHelp,
  type DurationOptionSpec,
  parseDurationOption,
} from "./duration_option.ts";
import { clusterAccess } from "../security/access.ts";
import { fillPids, nameHolders } from "./display_holders.ts";
import { securityOf } from "../security/settings.ts";
import { mixedVersions, readBalancer, readFcv } from "./display_release.ts";
import { readDefaultWriteConcern } from "./display_write_concern.ts";
import { optionsChanged, removedByUnfinished, startedByUnfinished } from "./display_notes.ts";
import { hostKey } from "../topology/hosts.ts";
import { type CliContext, printJson } from "./context.ts";
import { isClusterName, requireMeta } from "./cluster_show.ts";
import { configureSsh, type SshCliOptions, sshCommandOptions } from "./ssh_options.ts";
import { displayDocument, type DisplayFacts, printDisplay } from "./display_output.ts";

/**
 * The cluster to display: the recorded one, or, without metadata, what its first deploys
 * describe (undeployedMeta) with the apply that left it. Throws requireMeta's errors when
 * there is neither.
 */
async function displayedCluster(
  ctx: CliContext,
  name: string,
): Promise<{ meta: ClusterMeta; firstDeploy?: UndeployedApply }> {
  const dir = ctx.store.clusterDir(name);
  if (isClusterName(name) && !(await readMeta(dir))) {
    const firstDeploy = await undeployedApply(dir);
    const meta = firstDeploy
      ? await undeployedMeta(dir, (id) => ctx.store.planPath(name, id))
      : undefined;
    if (firstDeploy && meta) return { meta, firstDeploy };
  }
  return { meta: await requireMeta(ctx, name) };
}

/** `cluster display --timeout`: each process's answer (a bare number was milliseconds). */
export const DISPLAY_TIMEOUT: DurationOptionSpec = {
  flag: "--timeout",
  bareUnit: "ms",
  minMs: 100,
  maxMs: 600_000,
  examples: ["500ms", "2s", "1m"],
};

/** Adds `display` to the `cluster` command. */
export function addDisplayCommand(cmd: Command, ctx: CliContext): void {
  const sub = cmd.command("display")
    .description(
      "One row per process, asked live (hello, serverStatus, replSetGetStatus). Exit 0 when all " +
        "are healthy and no apply is left unfinished; 1 on error or, without --detailed-exitcode, " +
        "when something is degraded or the last apply did not finish (2 with --detailed-exitcode). " +
        "A cluster whose first deploy did not finish is shown from its plan, as not deployed",
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
    .option("--json", "machine-readable output");
  // Remote hosts are asked over SSH (pid files, port holders, the localhost exception) as the
  // lifecycle commands reach them: the recorded topology's user, key and ssh_port, and the same
  // flags (which win).
  sshCommandOptions(sub);
  sub.action(async (name: string, o: unknown) => {
    const opts = o as SshCliOptions & {
      role?: string[];
      node?: string[];
      timeout: string;
      detailedExitcode?: boolean;
      json?: boolean;
    };
    const { meta, firstDeploy } = await displayedCluster(ctx, name);
    configureSsh(ctx.executors, meta.topology, opts);
    const timeout = parseDurationOption(DISPLAY_TIMEOUT, opts.timeout);
    const procs = selectProcesses(
      meta.processes,
      { roles: opts.role, nodes: opts.node },
      meta.name,
    );
    const specs = listProcesses(
      meta.topology,
      path.join(ctx.store.clusterDir(name), "deploy"),
    );
    const dataDirs = new Map(
      specs.filter((s) => s.role !== "mongos").map((s) => [s.id, s.dirs.data]),
    );
    const access = clusterAccess(meta.name, meta.topology, ctx.executors);
    const rows = await probeProcesses(
      access,
      procs,
      dataDirs,
      timeout,
      meta.processes,
      !firstDeploy,
      meta.name,
    );
    // A member that does not answer says nothing of itself: the topology still names an
    // arbiter one.
    const arbiters = new Set(specs.filter((s) => s.arbiterOnly).map((s) => s.id));
    for (const r of rows) if (arbiters.has(r.process_id)) r.role = "arbiter";
    // Without the CA or the admin credentials mup cannot ask the members: their silence is
    // mup's, not theirs.
    // Secrets mup no longer holds: it cannot log in, or a repair would lock members out.
    const lostFound = firstDeploy ? [] : await lostSecrets(meta);
    const cannotAsk = lostFound.some((l) => l.which === "ca" || l.which === "admin");
    await nameHolders(ctx, meta, rows, cannotAsk);
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
    const listed = meta.kind === "sharded"
      ? await listedShards(access, (await routers()).filter((r) => r.healthy), timeout)
      : undefined;
    const shards = listed?.shards;
    // A mongos that answers but cannot list the shards cannot route either (its config servers
    // do not answer): it is not healthy, and neither is a cluster whose shards are unknown.
    if (listed && !shards && listed.error) {
      for (const r of rows.filter((x) => x.role === "mongos" && x.healthy)) {
        r.healthy = false;
        r.reason = `answers, but cannot list the shards: ${listed.error}`;
      }
    }
    const unlisted = shards ? shardSets.filter((s) => !shards.includes(s)) : [];
    // And the reverse: a shard the cluster routes to that no recorded member serves (added by
    // hand, or by a scale-out that did not finish, or left by its rollback) holds data the
    // metadata does not know of.
    const unrecorded = shards ? shards.filter((s) => !shardSets.includes(s)) : [];
    // A shard being drained is on its way out (a scale-in cut off, or a removeShard by hand):
    // the cluster is not as recorded until its removal finishes.
    const draining = listed?.draining ?? [];
    // Members outside the metadata still count in their set's majority: one that cannot be
    // reached leaves the set less able to take a failure than the metadata says.
    const { unlisted: extra, dropped } = firstDeploy
      ? { unlisted: [], dropped: [] }
      : await unlistedMembers(access, meta, rows, timeout);
    // A cluster no deploy recorded is not healthy, whatever of it runs.
    const healthy = !firstDeploy && rows.every((r) => r.healthy) && unlisted.length === 0 &&
      unrecorded.length === 0 && draining.length === 0 &&
      (!listed || shards !== undefined) && extra.every((m) => m.reachable) && !dropped.length;
    // An apply running now (its live mup holds the lock) may be changing what this shows.
    // One read of the lock serves both: who holds it, and whether it can be read at all.
    const lock = await lockFile(ctx.store.clusterDir(name));
    const applying = "lock" in lock && !isStale(lock.lock) ? lock.lock : undefined;
    const badLock = await unreadableLockNote(ctx.store.clusterDir(name), lock);
    // An apply that failed, paused or was cut off part way explains members left down.
    const left = applying || firstDeploy
      ? undefined
      : await unfinishedApply(ctx.store.clusterDir(name));
    const started = left && left.outcome !== "running"
      ? await startedByUnfinished(ctx.store, left.state, meta, access, timeout)
      : [];
    // Members the unfinished scale-in already took out of their sets: its doing, which its
    // resume finishes, not a removal by hand (tester79).
    const removing = left && left.outcome !== "running"
      ? await removedByUnfinished(ctx.store, left.state)
      : new Set<string>();
    for (const r of rows) {
      if (r.state !== "REMOVED" || !removing.has(`${hostKey(r.host)}:${r.port}`)) continue;
      r.reason = `removed from replica set ${r.replica_set}'s configuration by the unfinished ` +
        `scale-in (apply ${left!.state.state_id}); \`mup plan resume ${name}\` finishes it`;
    }
    // A failure a resume alone cannot get past recorded what does (run_operation.ts).
    const replan = left ? recordedReplan(left) : undefined;
    const failedHook = left ? failedApplyHook(left.state) : undefined;
    const unfinished = left && left.outcome !== "running"
      ? {
        state_id: left.state.state_id,
        operation: left.state.operation,
        status: left.outcome,
        ...(failedHook ? { failed_hook: failedHook } : {}),
        ...(started.length ? { started } : {}),
        ...(replan ? { replan } : {}),
      }
      : undefined;
    // Members down because the last apply, a stop, stopped them: on purpose, not a failure.
    const stop = applying || firstDeploy || unfinished
      ? undefined
      : await stoppedByLastApply(ctx.store.clusterDir(name));
    const stopped = rows.filter((r) => r.state === "DOWN" && stop?.processes.has(r.process_id));
    // A reconfigure the stop replaced wrote their configuration files: only it starts them
    // (a start refuses those files; tester110 #5).
    // Read (every apply state) only when the note can name it: some of them are down.
    const replaced = stop && stopped.length
      ? await replacedReconfigure(ctx.store.clusterDir(name))
      : undefined;
    const replacedCommand = replaced
      ? await reconfigureCommand(
        name,
        (await ctx.store.load(replaced.plan_path).catch(() => undefined))?.plan,
      )
      : undefined;
    const fcvRead = await readFcv(access, rows, timeout);
    const wcRead = firstDeploy
      ? undefined
      : await readDefaultWriteConcern(access, meta, rows, timeout);
    const balancer = meta.kind === "sharded"
      ? await readBalancer(access, await routers(), timeout)
      : undefined;
    const mixed = mixedVersions(meta, rows);
    const optionDrift = firstDeploy ? [] : optionsChanged(meta, rows);
    // What a scale-in kept, as long as it is there (on this machine it is looked for).
    const kept = (await Promise.all(
      (meta.retained_data ?? []).map(async (r) =>
        reachedLocally(r.host) && !(await Deno.stat(r.path).then(() => true, () => false))
          ? []
          : [r]
      ),
    )).flat();
    // A certificate in the store that is not the CA's for its host: its member runs, but a
    // restart of it is refused until a repair signs it again (tester37).
    const certs = !firstDeploy && securityOf(meta.topology).tls && !cannotAsk
      ? (await checkStoreCertificates(name, meta.processes, repairCommand(meta))).issues
      : [];
    const lost = [...lostFound.map((l) => l.issue), ...certs].map((i) => i.message);
    const facts: DisplayFacts = {
      name,
      clusterDir: ctx.store.clusterDir(name),
      meta,
      firstDeploy,
      rows,
      fcvRead,
      wcRead,
      balancer,
      mixed,
      listed,
      unlisted,
      unrecorded,
      healthy,
      applying,
      badLock,
      left,
      unfinished,
      started,
      kept,
      extra,
      dropped,
      lost,
      optionDrift,
      stop,
      ...(replaced
        ? {
          reconfigure: {
            state_id: replaced.state_id,
            command: replacedCommand!,
          },
        }
        : {}),
      stopped,
    };
    if (opts.json) printJson(displayDocument(facts));
    else printDisplay(facts);
    // An unfinished apply (failed, paused, cut off) or TLS switch left the cluster between what
    // was recorded and what was asked: degraded, whatever its processes answer (tester42).
    const settled = !unfinished && !(meta.tls_switch && !applying);
    if (!healthy || !settled) ctx.exitCode = opts.detailedExitcode ? 2 : 1;
  });
}
