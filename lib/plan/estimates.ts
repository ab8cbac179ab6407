/**
 * Operation estimates from measured durations (pure). The applier records how long each
 * operation type took on each host in the cluster's history (lib/state/history.ts); a new plan
 * takes, for each operation, the median of the recent durations of its type on its host, and
 * keeps the planner's built-in constant where nothing was measured.
 */
import {
  allOperations,
  type EstimateSource,
  type OperationType,
  type Plan,
  type PlannedOperation,
} from "./schema.ts";
import { formatDuration } from "../util/format.ts";
import { hostKey } from "../topology/hosts.ts";

/** The host key of operations that run on the control machine (health check, metadata). */
export const CONTROL_HOST = "(control)";

/** Recent durations in milliseconds: host → operation type → samples; and where they come from. */
export interface MeasuredDurations {
  samples: Record<string, Partial<Record<OperationType, number[]>>>;
  /** host → durations of downloads that found the archive in the cache. */
  cachedDownloads?: Record<string, number[]>;
  /** How many applies recorded them. */
  applies: number;
  /** The clusters whose history they come from. */
  clusters: string[];
}

/**
 * The host an operation's duration is recorded under: its machine (topology/hosts.ts: the names
 * of one machine share a key), or the control machine for cluster-wide operations.
 */
export function durationHost(op: Pick<PlannedOperation, "target">): string {
  return op.target.host === undefined ? CONTROL_HOST : hostKey(op.target.host);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return Math.round(s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2);
}

/**
 * Whether an operation's duration stands for its type's on its host: a primary's stop that hands
 * over and quiesces (stop.ts) takes the seconds it says, which the stops of secondaries do not.
 * Such an operation is neither recorded in the history (lib/apply/run_operation.ts) nor
 * estimated from it (tester112 A).
 */
export function typicalOfType(op: Pick<PlannedOperation, "type" | "target">): boolean {
  return !(op.type === "stop_process" && op.target.params.hands_over === "true");
}

/**
 * Sets `estimated_ms` of each operation measured on its host to the median of those samples
 * (in place) and says how many were. A download of an archive already cached (pre-flight found
 * it) takes the durations of cache hits, not of downloads.
 */
export function applyMeasured(
  ops: PlannedOperation[],
  measured: MeasuredDurations,
): EstimateSource {
  let n = 0;
  for (const op of ops) {
    if (!typicalOfType(op)) continue;
    const cachedDownload = op.type === "download_binary" &&
      op.changes.every((c) => c.action === "none");
    const samples = cachedDownload
      ? measured.cachedDownloads?.[durationHost(op)]
      : measured.samples[durationHost(op)]?.[op.type];
    if (!samples?.length) continue;
    op.estimated_ms = median(samples);
    n++;
  }
  return {
    kind: n === 0 ? "defaults" : n === ops.length ? "measured" : "mixed",
    measured_operations: n,
    total_operations: ops.length,
    applies: measured.applies,
    clusters: measured.clusters,
  };
}

/** One line for `plan show` and the deploy review: where the estimates come from. */
export function describeEstimateSource(source: EstimateSource | undefined): string {
  if (!source || source.kind === "defaults") {
    // Durations are per host and operation type: a deploy measured does not time a stop.
    return source?.applies
      ? "built-in defaults (none of this plan's kinds of operation measured on these hosts yet)"
      : "built-in defaults (no durations measured on these hosts yet)";
  }
  const from = `durations measured in ${source.applies} earlier appl${
    source.applies === 1 ? "y" : "ies"
  } (cluster${source.clusters.length === 1 ? "" : "s"} ${source.clusters.join(", ")})`;
  return source.kind === "measured"
    ? `${from} for all ${source.total_operations} operations`
    : `${from} for ${source.measured_operations} of ${source.total_operations} operations; built-in defaults for the rest`;
}

/** A phase's duration if its operations ran with unlimited parallelism (its critical path). */
export function phaseEstimate(ops: PlannedOperation[]): number {
  const inPhase = new Map(ops.map((o) => [o.id, o]));
  const memo = new Map<string, number>();
  const finish = (o: PlannedOperation): number => {
    const m = memo.get(o.id);
    if (m !== undefined) return m;
    const start = Math.max(
      0,
      ...o.depends_on.map((d) => inPhase.get(d)).filter((d) => d).map((d) => finish(d!)),
    );
    memo.set(o.id, start + o.estimated_ms);
    return start + o.estimated_ms;
  };
  return Math.max(0, ...ops.map(finish));
}

/**
 * Estimates `plan` again once operations were added after its planner estimated (a repair's
 * drift corrections): each operation measured where it can be, `estimate_source` counting them
 * all, each phase's estimate its critical path. In place.
 */
export function refreshEstimates(
  plan: Pick<Plan, "phases" | "estimate_source">,
  measured: MeasuredDurations,
): void {
  plan.estimate_source = applyMeasured(allOperations(plan), measured);
  for (const ph of plan.phases) {
    ph.estimated_duration = formatDuration(phaseEstimate(ph.operations));
  }
}
