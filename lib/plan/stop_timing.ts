/**
 * How long a stop may take, shared by the planner (which describes and estimates it) and
 * lib/ops/stop_process.ts (which runs it), so the two cannot disagree.
 */

/** How long a stop may take in all (ms) when the plan gives no timeout: a third each for the
 * shutdown command, SIGTERM and SIGKILL. */
export const STOP_TIMEOUT_MS = 30_000;

/**
 * The shutdown command's timeoutSecs of a stop whose plan gives no quiesce period (seconds) for
 * a stop that may take `stopTimeoutMs` in all: a primary waits up to that long for a secondary
 * to catch up, then, stepped down, spends as long again in its quiesce period (MongoDB 5.0+,
 * https://www.mongodb.com/docs/manual/reference/command/shutdown/).
 */
export function shutdownWaitSecs(stopTimeoutMs: number): number {
  return Math.ceil(stopTimeoutMs / 3000);
}

/** shutdownWaitSecs of a stop with the default timeout (10 s). */
export const PRIMARY_SHUTDOWN_SECS = shutdownWaitSecs(STOP_TIMEOUT_MS);
