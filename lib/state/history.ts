import * as path from "node:path";
import { z } from "zod";
import { OperationType } from "../plan/schema.ts";
import { writeFileAtomic } from "./atomic.ts";

export const HISTORY_FORMAT_VERSION = 1;

/** How many of an operation type's latest durations on a host are kept. */
export const RECENT_SAMPLES = 20;

/** Measured durations of one operation type on one host. */
export const DurationStats = z.object({
  /** Every measurement ever recorded. */
  count: z.number().int().nonnegative(),
  /** The latest RECENT_SAMPLES durations, oldest first, in milliseconds. */
  recent_ms: z.array(z.number().int().nonnegative()),
  /**
   * Downloads only: the latest durations of finding the archive already in the cache, which the
   * planner knows in advance (pre-flight looks), so they are estimated apart from downloads.
   */
  in_place_ms: z.array(z.number().int().nonnegative()).optional(),
});
export type DurationStats = z.infer<typeof DurationStats>;

/**
 * `clusters/<name>/history.json`: how long each operation type took on each host in this
 * cluster's applies, from its check whether the effect is in place to its end (an effect found
 * in place counts: a wait for a server that already answers takes that long; a download found in
 * the cache is kept apart; waits for the user's answer at a failed safety check do not count).
 * New plans take their estimates from it (lib/plan/estimates.ts).
 */
export const ClusterHistory = z.object({
  format_version: z.literal(HISTORY_FORMAT_VERSION),
  cluster_name: z.string(),
  updated_at: z.string(),
  /** Applies (and resumes) that recorded durations. */
  applies: z.number().int().nonnegative(),
  /** host → operation type → durations. */
  durations: z.record(z.string(), z.partialRecord(OperationType, DurationStats)),
});
export type ClusterHistory = z.infer<typeof ClusterHistory>;

/** One measured operation. */
export interface DurationSample {
  host: string;
  type: OperationType;
  ms: number;
  /** The effect was found in place (kept apart for downloads: see DurationStats). */
  inPlace?: boolean;
}

/** `<clusterDir>/history.json`. */
export function historyPath(clusterDir: string): string {
  return path.join(clusterDir, "history.json");
}

/**
 * The cluster's history, or undefined when there is none. A damaged file reads as none: the
 * history only feeds estimates, and must never stop a plan or an apply; the next apply rewrites it.
 */
export async function readHistory(clusterDir: string): Promise<ClusterHistory | undefined> {
  try {
    const parsed = ClusterHistory.safeParse(
      JSON.parse(await Deno.readTextFile(historyPath(clusterDir))),
    );
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Adds one apply's measurements to the cluster's history (read, merge, atomic write). Callers
 * hold the cluster's lock, so no two applies write it at once.
 */
export async function recordDurations(
  clusterDir: string,
  clusterName: string,
  samples: DurationSample[],
): Promise<void> {
  if (!samples.length) return;
  const h: ClusterHistory = await readHistory(clusterDir) ?? {
    format_version: HISTORY_FORMAT_VERSION,
    cluster_name: clusterName,
    updated_at: "",
    applies: 0,
    durations: {},
  };
  for (const s of samples) {
    const byType = h.durations[s.host] ??= {};
    const stats = byType[s.type] ??= { count: 0, recent_ms: [] };
    stats.count++;
    const into = s.inPlace && s.type === "download_binary"
      ? stats.in_place_ms ??= []
      : stats.recent_ms;
    into.push(Math.max(0, Math.round(s.ms)));
    if (into.length > RECENT_SAMPLES) into.splice(0, 1);
  }
  h.applies++;
  h.updated_at = new Date().toISOString();
  await writeFileAtomic(historyPath(clusterDir), JSON.stringify(ClusterHistory.parse(h), null, 1));
}
