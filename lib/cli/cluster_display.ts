/**
 * `mup cluster display`: one row per process, asked live. A cluster whose first deploy did not
 * finish (or was rolled back) has no metadata; it is shown from its deploy plans, as destroy
 * plans it, under a note that it is not deployed and how to continue or undo it.
 */
import { writeConcernDocument } from "../topology/schema.ts";
import { reachedLocally } from "../executor/factory.ts";
import { membershipNotes } from "./unlisted_members.ts";
import { unlistedMembers } from "../probe/unlisted_members.ts";
import { lostSecrets } from "../preflight/lost_secrets.ts";
import { checkStoreCertificates } from "../preflight/store_certs.ts";
import type { Command } from "@commander-js/extra-typings";
import * as path from "node:path";
import { listProcesses } from "../plan/processes.ts";
import { collect, selectProcesses } from "../plan/select.ts";
import { listedShards, probeProcesses } from "../probe/live.ts";
import { type ClusterMeta, readMeta } from "../state/meta.ts";
import { shellQuote } from "../executor/shell_quote.ts";
import { repairCommand } from "../plan/lifecycle_ops.ts";
import { isStale, lockFile, lockPath, unreadableLockNote } from "../state/lock.ts";
import { stoppedByLastApply } from "../state/stopped_by.ts";
import {
  failedApplyHook,
  recordedReplan,
  resumeHookNote,
  type UndeployedApply,
  undeployedApply,
  undeployedMeta,
  unfinishedApply,
  unfinishedWords,
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
import { fcvDrift, mixedVersions, readBalancer, readFcv } from "./display_release.ts";
import { cmpVersion } from "../download/manifest.ts";
import { renderStatuses } from "./display_table.ts";
import {
  readDefaultWriteConcern,
  writeConcernDrift,
  writeConcernLine,
} from "./display_write_concern.ts";
import {
  balancerLine,
  firstDeployNote,
  optionsChanged,
  optionsNote,
  startedByUnfinished,
  startedNote,
  withoutVoteNotes,
} from "./display_notes.ts";
import { type CliContext, print, printJson } from "./context.ts";
import { isClusterName, requireMeta } from "./cluster_show.ts";
import { configureSsh, type SshCliOptions, sshCommandOptions } from "./ssh_options.ts";

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
    const fcvRead = await readFcv(access, rows, timeout);
    const fcv = fcvRead.text;
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
    if (opts.json) {
      printJson({
        cluster: name,
        ...(firstDeploy
          ? {
            deployed: false,
            first_deploy: { state_id: firstDeploy.state.state_id, status: firstDeploy.outcome },
          }
          : { deployed: true }),
        kind: meta.kind,
        security: {
          ...(({ auth, tls }) => ({ auth, tls }))(securityOf(meta.topology)),
          // Processes that answer without credentials where access control is on (tester59).
          ...(rows.some((r) => r.no_access_control)
            ? { without_access_control: rows.filter((r) => r.no_access_control).map((r) => r.id) }
            : {}),
          ...(rows.some((r) => r.asks_credentials)
            ? { asking_credentials: rows.filter((r) => r.asks_credentials).map((r) => r.id) }
            : {}),
        },
        version: meta.version,
        ...(mixed ? { mixed_versions: mixed } : {}),
        feature_compatibility_version: fcv ?? null,
        // What the metadata recorded, when the members agree on another (set outside mup).
        ...(fcvDrift(meta, fcv)
          ? { recorded_feature_compatibility_version: meta.feature_compatibility_version }
          : {}),
        ...(wcRead
          ? { default_write_concern: { ...(wcRead.value ?? { w: 1 }), source: wcRead.source } }
          : {}),
        ...(wcRead && writeConcernDrift(meta, wcRead)
          // As the server's document (wtimeout in ms), to compare with the live one (tester73).
          ? {
            recorded_default_write_concern: writeConcernDocument(
              meta.topology.global.default_write_concern!,
            ),
          }
          : {}),
        ...(meta.kind === "sharded" ? { balancer: balancer ?? null } : {}),
        ...(meta.balancer_stopped_by ? { balancer_stopped_by: meta.balancer_stopped_by } : {}),
        healthy,
        // Each member's own value, so that a script sees which disagree without parsing prose.
        processes: rows.map((r) => {
          const f = fcvRead.byProcess.get(r.id);
          return f
            ? {
              ...r,
              feature_compatibility_version: f.version,
              ...(f.targetVersion ? { fcv_target_version: f.targetVersion } : {}),
            }
            : r;
        }),
        ...(meta.kind === "sharded"
          ? {
            shards: shards ?? null,
            unlisted_shards: unlisted,
            unrecorded_shards: unrecorded,
            draining_shards: draining,
          }
          : {}),
        connection_string: meta.connection_string,
        ...(applying ? { apply_in_progress: applying } : {}),
        ...(badLock ? { lock_unreadable: { path: badLock.path, reason: badLock.reason } } : {}),
        ...(meta.tls_switch ? { tls_switch: meta.tls_switch } : {}),
        ...(unfinished ? { unfinished_apply: unfinished } : {}),
        ...(kept.length ? { retained_data: kept } : {}),
        ...(extra.length ? { unlisted_members: extra } : {}),
        ...(dropped.length ? { dropped_members: dropped } : {}),
        ...(lost.length ? { secrets_lost: lost } : {}),
        ...(optionDrift.length ? { options_changed: optionDrift } : {}),
        ...(stop && stopped.length
          ? {
            stopped_by_last_apply: { state_id: stop.state_id, processes: stopped.map((r) => r.id) },
          }
          : {}),
      });
    } else {
      if (applying && applying.pid_start === undefined && applying.host === Deno.hostname()) {
        // mup's locks record their holder's start time: this one may be written by hand.
        print(
          `Note: the cluster's lock names process ${applying.pid} on this machine (` +
            `${applying.operation}, since ${applying.created}), which is alive, but it records no ` +
            "start time, as mup's locks do: whether a mup is applying a plan cannot be told. If " +
            `process ${applying.pid} is no mup, remove the lock: \`rm ${
              shellQuote(lockPath(ctx.store.clusterDir(name)))
            }\`.\n`,
        );
      } else if (applying) {
        print(
          `Note: an apply is in progress (${applying.operation}, mup PID ${applying.pid} on ` +
            `${applying.host}, since ${applying.created}); what follows may change as it runs.\n`,
        );
      }
      if (badLock) print(`Note: ${badLock.note}.\n`);
      if (firstDeploy) print(`Note: ${firstDeployNote(name, firstDeploy)}\n`);
      if (meta.tls_switch && !applying) {
        print(
          `Note: TLS ${meta.tls_switch.action} did not finish (apply ` +
            `${meta.tls_switch.state_id}): the members are between TLS modes. ${
              unfinished?.replan
                ? `A resume alone cannot finish it (its failure stands): ${unfinished.replan}.`
                : `\`mup plan resume ${name}\` finishes it${
                  left ? resumeHookNote(left.state) : ""
                }.`
            }\n`,
        );
      } else if (unfinished) {
        print(
          `Note: the last apply (${unfinished.operation}, ${unfinished.state_id}) ` +
            `${unfinishedWords(unfinished.status, unfinished.failed_hook)}; ${
              unfinished.replan
                ? `a resume alone cannot finish it (its failure stands): ${unfinished.replan}.`
                : `\`mup plan resume ${name}\` completes it${
                  left ? resumeHookNote(left.state) : ""
                }.`
            }${startedNote(started)}\n`,
        );
      }
      if (stop && stopped.length) {
        const ids = stopped.map((r) => r.id);
        // Others down too (an earlier stop): starting only these would leave those down.
        const others = rows.filter((r) => r.state === "DOWN" && !ids.includes(r.id));
        print(
          `Note: ${ids.join(", ")} ${ids.length === 1 ? "was" : "were"} stopped by the last ` +
            `apply (stop, ${stop.state_id}); ${
              others.length
                ? `${others.map((r) => r.id).join(", ")} ${
                  others.length === 1 ? "is" : "are"
                } down too: \`mup cluster start ${name}\` starts every one again.\n`
                : ids.length === rows.length
                ? `\`mup cluster start ${name}\` starts ${
                  ids.length === 1 ? "it" : "them"
                } again.\n`
                : `\`mup cluster start ${name} ${ids.map((id) => `-N ${id}`).join(" ")}\` starts ${
                  ids.length === 1 ? "it" : "them"
                } again.\n`
            }`,
        );
      }
      print(renderStatuses(meta, rows, fcv, writeConcernLine(meta, wcRead, unfinished)));
      if (meta.kind === "sharded") {
        print(
          shards
            ? `Shards (listShards): ${
              shards.map((s) => draining.includes(s) ? `${s} (draining)` : s).join(", ") || "none"
            }${
              unlisted.length
                ? `; not listed: ${unlisted.join(", ")} (removed outside mup? \`mup cluster ` +
                  `deploy ${name} ${
                    meta.topology_file || "<topology>"
                  } --version ${meta.version}\` ` +
                  "adds it back)"
                : ""
            }${
              unrecorded.length
                ? `; not in the metadata (no recorded member serves ${
                  unrecorded.length === 1 ? "it" : "them"
                }): ${unrecorded.join(", ")}`
                : ""
            }`
            : `Shards: unknown (${
              listed?.error ? `no mongos can list them: ${listed.error}` : "no mongos answers"
            })`,
        );
        const newer = rows.map((r) => r.version).filter((v): v is string =>
          !!v && v !== meta.version && cmpVersion(v, meta.version) > 0
        ).sort(cmpVersion).at(-1);
        print(balancerLine(name, meta, balancer, unfinished?.state_id, newer));
      }
      const notes = [
        ...membershipNotes(name, extra, dropped, kept, unfinished, repairCommand(meta)),
        ...optionsNote(name, optionDrift, unfinished, repairCommand(meta)),
        ...lost.map((m) => `Note: ${m}.`),
        ...withoutVoteNotes(rows),
        ...draining.map((s) =>
          `Note: shard ${s} is draining: its removal (removeShard) began and has not finished; ${
            unfinished?.operation === "scale-in"
              ? `\`mup plan resume ${name}\` finishes the scale-in (apply ${unfinished.state_id})`
              : "the `mup cluster scale-in` of its members finishes it"
          }.`
        ),
      ];
      for (const line of notes) print(line);
    }
    // An unfinished apply (failed, paused, cut off) or TLS switch left the cluster between what
    // was recorded and what was asked: degraded, whatever its processes answer (tester42).
    const settled = !unfinished && !(meta.tls_switch && !applying);
    if (!healthy || !settled) ctx.exitCode = opts.detailedExitcode ? 2 : 1;
  });
}
