/**
 * What `mup cluster display` prints, from what it gathered (cluster_display.ts): the `--json`
 * document, and the notes, table and lines of the text. No I/O but printing.
 */
import type { ClusterMeta } from "../state/meta.ts";
import type { failedApplyHook, UndeployedApply, UnfinishedApply } from "../state/undeployed.ts";
import { resumeHookNote, unfinishedWords } from "../state/undeployed.ts";
import { START_THEM } from "../probe/set_view.ts";
import type { ProcessStatus } from "../probe/live.ts";
import type { mixedVersions, readFcv } from "./display_release.ts";
import { fcvDrift } from "./display_release.ts";
import { cmpVersion } from "../download/manifest.ts";
import { renderStatuses } from "./display_table.ts";
import type { readDefaultWriteConcern } from "./display_write_concern.ts";
import { writeConcernDrift, writeConcernLine } from "./display_write_concern.ts";
import type { optionsChanged, StartedProcess } from "./display_notes.ts";
import {
  balancerLine,
  downNote,
  downOnTheirOwn,
  firstDeployNote,
  optionsNote,
  startedNote,
  withoutVoteNotes,
} from "./display_notes.ts";
import { membershipNotes } from "./unlisted_members.ts";
import type { unlistedMembers } from "../probe/unlisted_members.ts";
import { repairCommand } from "../plan/recorded.ts";
import { lockPath } from "../state/lock.ts";
import type { unreadableLockNote } from "../state/lock.ts";
import type { LockInfo } from "../state/schema.ts";
import type { stoppedByLastApply } from "../state/stopped_by.ts";
import { shellQuote } from "../executor/shell_quote.ts";
import { securityOf } from "../security/settings.ts";
import { writeConcernDocument } from "../topology/schema.ts";
import { print } from "./context.ts";

/** What display gathered of the cluster, as cluster_display.ts found it. */
export interface DisplayFacts {
  name: string;
  clusterDir: string;
  meta: ClusterMeta;
  /** Set when the cluster has no metadata: the first deploy that left it. */
  firstDeploy?: UndeployedApply;
  rows: ProcessStatus[];
  fcvRead: Awaited<ReturnType<typeof readFcv>>;
  wcRead?: Awaited<ReturnType<typeof readDefaultWriteConcern>>;
  balancer?: string;
  mixed: ReturnType<typeof mixedVersions>;
  /** listShards through a mongos (sharded clusters). */
  listed?: { shards?: string[]; draining?: string[]; error?: string };
  /** Recorded shard sets listShards does not list. */
  unlisted: string[];
  /** Shards listShards lists that no recorded member serves. */
  unrecorded: string[];
  healthy: boolean;
  /** The live lock's holder: an apply in progress. */
  applying?: LockInfo;
  badLock?: Awaited<ReturnType<typeof unreadableLockNote>>;
  left?: UnfinishedApply;
  unfinished?: {
    state_id: string;
    operation: string;
    status: UnfinishedApply["outcome"];
    failed_hook?: NonNullable<ReturnType<typeof failedApplyHook>>;
    started?: StartedProcess[];
    replan?: string;
  };
  started: StartedProcess[];
  kept: NonNullable<ClusterMeta["retained_data"]>;
  extra: Awaited<ReturnType<typeof unlistedMembers>>["unlisted"];
  dropped: Awaited<ReturnType<typeof unlistedMembers>>["dropped"];
  lost: string[];
  optionDrift: ReturnType<typeof optionsChanged>;
  stop?: Awaited<ReturnType<typeof stoppedByLastApply>>;
  stopped: ProcessStatus[];
  /**
   * An unfinished reconfigure the last stop replaced, whose configuration files the stopped
   * processes would start on: the command that finishes it (a start is refused until then).
   */
  reconfigure?: { state_id: string; command: string };
}

/** downOnTheirOwn of the display's facts. */
function downOf(f: DisplayFacts): ReturnType<typeof downOnTheirOwn> {
  return downOnTheirOwn(f.name, f.rows, {
    busy: !!(f.applying || f.unfinished || f.firstDeploy || f.meta.tls_switch),
    stoppedIds: f.stop ? f.stopped.map((r) => r.id) : [],
    removed: f.dropped.map((m) => m.host),
  });
}

/** The `--json` document of `cluster display`. */
export function displayDocument(f: DisplayFacts): Record<string, unknown> {
  const { name, meta, firstDeploy, rows, fcvRead, wcRead, balancer, mixed, healthy } = f;
  const { unlisted, unrecorded, applying, badLock, unfinished, kept, extra, dropped } = f;
  const { lost, optionDrift, stop, stopped } = f;
  const fcv = fcvRead.text;
  const shards = f.listed?.shards;
  const draining = f.listed?.draining ?? [];
  return {
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
    // Null when none could be read, as the FCV and the balancer are: a script sees the key.
    ...(wcRead
      ? { default_write_concern: { ...(wcRead.value ?? { w: 1 }), source: wcRead.source } }
      : meta.kind === "standalone"
      ? {}
      : { default_write_concern: null }),
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
    ...(meta.forgotten?.length ? { forgotten: meta.forgotten } : {}),
    ...(extra.length ? { unlisted_members: extra } : {}),
    ...(dropped.length ? { dropped_members: dropped } : {}),
    ...(lost.length ? { secrets_lost: lost } : {}),
    ...(optionDrift.length ? { options_changed: optionDrift } : {}),
    ...(stop && stopped.length
      ? {
        stopped_by_last_apply: {
          state_id: stop.state_id,
          processes: stopped.map((r) => r.id),
          ...(f.reconfigure ? { replaced_reconfigure: f.reconfigure } : {}),
        },
      }
      : {}),
    ...((down) => down ? { down_not_stopped: down } : {})(downOf(f)),
  };
}

/**
 * `rows` with a set's "… are down or unreachable: start them" told otherwise while an
 * unfinished destroy or scale-in stopped members on purpose: the note above the table says what
 * finishes it, and starting them is not it (tester96).
 */
export function stoppedOnPurpose(
  rows: DisplayFacts["rows"],
  unfinished: DisplayFacts["unfinished"],
): DisplayFacts["rows"] {
  const op = unfinished?.operation;
  if (op !== "destroy" && op !== "scale-in") return rows;
  return rows.map((r) =>
    r.reason?.endsWith(START_THEM)
      ? {
        ...r,
        reason: `${r.reason.slice(0, -START_THEM.length)} (the unfinished ${op} stopped them)`,
      }
      : r
  );
}

/** The text of `cluster display`: notes first, the table, then the lines and notes after it. */
export function printDisplay(f: DisplayFacts): void {
  const { name, meta, firstDeploy, rows, fcvRead, wcRead, balancer, unlisted, unrecorded } = f;
  const { applying, badLock, left, unfinished, started, kept, extra, dropped, lost } = f;
  const { optionDrift, stop, stopped, listed } = f;
  const fcv = fcvRead.text;
  const shards = listed?.shards;
  const draining = listed?.draining ?? [];
  if (applying && applying.pid_start === undefined && applying.host === Deno.hostname()) {
    // mup's locks record their holder's start time: this one may be written by hand.
    print(
      `Note: the cluster's lock names process ${applying.pid} on this machine (` +
        `${applying.operation}, since ${applying.created}), which is alive, but it records no ` +
        "start time, as mup's locks do: whether a mup is applying a plan cannot be told. If " +
        `process ${applying.pid} is no mup, remove the lock: \`rm ${
          shellQuote(lockPath(f.clusterDir))
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
            : `\`mup plan resume ${name}\` finishes it${left ? resumeHookNote(left.state) : ""}.`
        }\n`,
    );
  } else if (unfinished) {
    print(
      `Note: the last apply (${unfinished.operation}, ${unfinished.state_id}) ` +
        `${unfinishedWords(unfinished.status, unfinished.failed_hook)}; ${
          unfinished.replan
            ? `a resume alone cannot finish it (its failure stands): ${unfinished.replan}.`
            : `\`mup plan resume ${name}\` completes it${left ? resumeHookNote(left.state) : ""}.`
        }${startedNote(started)}\n`,
    );
  }
  if (stop && stopped.length && f.reconfigure) {
    const ids = stopped.map((r) => r.id);
    print(
      `Note: ${ids.join(", ")} ${ids.length === 1 ? "was" : "were"} stopped by the last ` +
        `apply (stop, ${stop.state_id}), which replaced the unfinished reconfigure (apply ` +
        `${f.reconfigure.state_id}): their configuration files are the ones it wrote, so a ` +
        `start is refused until \`${f.reconfigure.command}\` finishes it (it starts them).\n`,
    );
  } else if (stop && stopped.length) {
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
            ? `\`mup cluster start ${name}\` starts ${ids.length === 1 ? "it" : "them"} again.\n`
            : `\`mup cluster start ${name} ${ids.map((id) => `-N ${id}`).join(" ")}\` starts ${
              ids.length === 1 ? "it" : "them"
            } again.\n`
        }`,
    );
  }
  print(
    renderStatuses(
      meta,
      stoppedOnPurpose(rows, unfinished),
      fcv,
      writeConcernLine(
        meta,
        wcRead,
        unfinished,
      ),
    ),
  );
  if (meta.kind === "sharded") {
    print(
      shards
        ? `Shards (listShards): ${
          shards.map((s) => draining.includes(s) ? `${s} (draining)` : s).join(", ") || "none"
        }${
          unlisted.length
            ? `; not listed: ${unlisted.join(", ")} (removed outside mup? \`mup cluster ` +
              `deploy ${name} ${meta.topology_file || "<topology>"} --version ${meta.version}\` ` +
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
    ...forgottenNotes(meta),
    ...membershipNotes(name, extra, dropped, kept, unfinished, repairCommand(meta)),
    ...optionsNote(name, optionDrift, unfinished, repairCommand(meta)),
    ...lost.map((m) => `Note: ${m}.`),
    ...withoutVoteNotes(rows),
    ...((down) => down ? [downNote(down)] : [])(downOf(f)),
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

/**
 * What `scale-in --host-gone` left on hosts it took as gone for good: one note per host, with the
 * processes and their directories, which the operator stops and removes should the host return.
 */
function forgottenNotes(meta: ClusterMeta): string[] {
  const all = meta.forgotten ?? [];
  return [...new Set(all.map((f) => f.host))].map((host) => {
    const here = all.filter((f) => f.host === host);
    const one = here.length === 1;
    return `Note: ${host} was taken as gone for good (scale-in --host-gone, ${
      here[0].at.slice(0, 10)
    }): ${here.map((f) => `${f.id} (${f.host}:${f.port})`).join(", ")} ${
      one ? "was" : "were"
    } never stopped there, and ${one ? "its" : "their"} directories are still there: ${
      [...new Set(here.flatMap((f) => f.paths))].join(", ")
    }. If ${host} comes back, stop ${one ? "it" : "them"} and remove those yourself.`;
  });
}
