/**
 * What `cluster display` says of the release a cluster runs: the feature compatibility version
 * its data-bearing members report, and a sharded cluster's balancer (which an upgrade stops).
 */
import { majorMinor } from "../download/manifest.ts";
import { type Fcv, fcvText, readFcv as readMemberFcv } from "../mongo/fcv.ts";
import type { ProcessStatus } from "../probe/live.ts";
import type { clusterAccess } from "../security/access.ts";
import type { ClusterMeta } from "../state/meta.ts";

/** What `cluster display` read of the feature compatibility version. */
export interface FcvReading {
  /**
   * One value when every member that answered agrees ("7.0"), else each value with its
   * processes ("6.0 on localhost:1; 7.0 on localhost:2, …"); undefined when none answered.
   */
  text?: string;
  /** Each answering process's value, by process id (for --json). */
  byProcess: Map<string, Fcv>;
}

/**
 * The feature compatibility version (getParameter) every data-bearing process that answers
 * reports; a setFeatureCompatibilityVersion cut short shows its targetVersion. Replica set
 * members replicate it, and an upgrade leaves it at the old series until
 * `cluster upgrade --set-fcv` raises it.
 */
export async function readFcv(
  access: ReturnType<typeof clusterAccess>,
  rows: ProcessStatus[],
  timeoutMs: number,
): Promise<FcvReading> {
  // Every data-bearing process that answers, healthy or not: a set without a primary still
  // says its FCV (tester85).
  const asked = rows.filter((r) =>
    r.version !== undefined && r.role !== "mongos" && r.role !== "arbiter"
  );
  const byProcess = new Map<string, Fcv>();
  await Promise.all(asked.map(async (r) => {
    const f = await readMemberFcv(access, r.host, r.port, timeoutMs);
    if (f) byProcess.set(r.id, f);
  }));
  const seen = new Map<string, string[]>();
  for (const [id, f] of byProcess) seen.set(fcvText(f), [...(seen.get(fcvText(f)) ?? []), id]);
  if (seen.size <= 1) return { text: [...seen.keys()][0], byProcess };
  const text = [...seen].sort(([a], [b]) => a.localeCompare(b)).map(([v, ids]) =>
    `${v} on ${ids.sort().join(", ")}`
  ).join("; ");
  return { text, byProcess };
}

/**
 * The versions the running processes report other than the recorded one (an upgrade paused or
 * cut off part way), as fields for `--json`: each other version with the processes (ids) that
 * run it, counted among those that answer.
 */
export interface MixedVersions {
  /** Processes that reported a version. */
  answering: number;
  /** Processes that did not (down, or not answering). */
  not_answering: number;
  /** Each version other than the recorded one, sorted, with the ids of the processes that run it. */
  others: { version: string; processes: string[] }[];
}

/** The processes that run other versions than the recorded one; undefined when none does. */
export function mixedVersions(meta: ClusterMeta, rows: ProcessStatus[]): MixedVersions | undefined {
  const reported = rows.filter((r) => r.version);
  const others = new Map<string, string[]>();
  for (const r of reported) {
    if (r.version !== meta.version) {
      others.set(r.version!, [...(others.get(r.version!) ?? []), r.id]);
    }
  }
  if (!others.size) return undefined;
  return {
    answering: reported.length,
    not_answering: rows.length - reported.length,
    others: [...others].sort(([a], [b]) => a.localeCompare(b)).map(([version, ids]) => ({
      version,
      processes: ids.sort(),
    })),
  };
}

/**
 * `mixed` in words: "6 of 10 processes run 8.0.4", or "6 of the 9 processes that answer run
 * 8.0.4; 1 does not answer" when some do not (tester45).
 */
export function mixedText(mixed: MixedVersions): string {
  const silent = mixed.not_answering;
  const among = silent
    ? `of the ${mixed.answering} processes that answer`
    : `of ${mixed.answering} processes`;
  return mixed.others.map((o) => `${o.processes.length} ${among} run ${o.version}`).join(", ") +
    (silent ? `; ${silent} ${silent === 1 ? "does" : "do"} not answer` : "");
}

/** "7.0.14 (mongo), feature compatibility 6.0 (…raises it)", and "mixed: …" when they differ. */
export function versionLine(
  meta: ClusterMeta,
  fcv: string | undefined,
  rows: ProcessStatus[] = [],
): string {
  const mixed = mixedVersions(meta, rows);
  // None runs the recorded release (an upgrade cut off after its last restart): not "mixed".
  const reported = rows.filter((r) => r.version);
  const versions = new Set(reported.map((r) => r.version));
  const none = mixed && versions.size === 1 && !versions.has(meta.version)
    ? ` (recorded; all ${reported.length} processes that answer run ${[...versions][0]})`
    : undefined;
  const base = `Version: ${meta.version} (${meta.variant})${
    none ?? (mixed ? ` (mixed: ${mixedText(mixed)})` : "")
  }`;
  if (!fcv) return base;
  const notes = [
    ...(fcvDrift(meta, fcv)
      ? [`recorded ${meta.feature_compatibility_version}: set outside mup since`]
      : []),
    // While processes run other releases (an upgrade paused or cut off), that upgrade refuses
    // a --set-fcv of the recorded one: its resume comes first, which the display names (tester85).
    ...(fcv === majorMinor(meta.version) || mixed
      ? []
      : [`\`mup cluster upgrade ${meta.name} --version ${meta.version} --set-fcv\` raises it`]),
  ];
  return `${base}, feature compatibility ${fcv}${notes.length ? ` (${notes.join("; ")})` : ""}`;
}

/**
 * Whether the feature compatibility version every answering member agrees on (`fcv`, one
 * `major.minor`) is not the one the metadata recorded (an upgrade's `--set-fcv` records it): a
 * setFeatureCompatibilityVersion run outside mup since. Members that disagree, or a change of
 * it under way, are shown as they are instead.
 */
export function fcvDrift(meta: ClusterMeta, fcv: string | undefined): boolean {
  const recorded = meta.feature_compatibility_version;
  return !!recorded && !!fcv && /^\d+\.\d+$/.test(fcv) && fcv !== recorded;
}

/**
 * A sharded cluster's balancer as the first healthy mongos reports it (balancerStatus mode),
 * and whether an upgrade of mup's stopped it (ClusterMeta.balancer_stopped_by).
 */
export async function readBalancer(
  access: ReturnType<typeof clusterAccess>,
  routers: ProcessStatus[],
  timeoutMs: number,
): Promise<string | undefined> {
  for (const r of routers.filter((x) => x.healthy)) {
    const s = await access.adminCommand(r.host, r.port, { balancerStatus: 1 }, timeoutMs)
      .catch(() => undefined);
    if (s?.mode) return String(s.mode);
  }
  return undefined;
}
