/**
 * The bounds of values a topology may hold, in one place. The topology schema checks them; the
 * plan schema derives its own checks from the same constants, so every value a topology accepts
 * makes a valid plan (a plan refused at apply time for a value planning accepted is a bug).
 */
import { z } from "zod";
import { MAX_TIMER_MS } from "../util/timer.ts";

/** Durations the user gives (hook timeouts, waits): at least 1 ms, at most one timer step. */
export const DURATION_MIN_MS = 1;
/**
 * 576h (24 days): the whole hours within the longest step the runtime's timer takes (2^31 - 1
 * ms, which would print as 596h31m23s647ms in a refusal, tester54). Longer waits would work
 * (lib/util/timer.ts waits in steps) but no deployment step needs them.
 */
export const DURATION_MAX_MS = 576 * 3_600_000;
if (DURATION_MAX_MS > MAX_TIMER_MS) throw new Error("DURATION_MAX_MS exceeds one timer step");

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds of a duration written as `30s`, `1h30m`, `250ms` or a number of ms. */
export function durationMs(d: string | number): number {
  if (typeof d === "number") return d;
  let total = 0;
  for (const [, n, unit] of d.matchAll(/(\d+)(ms|s|m|h)/g)) {
    total += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  return total;
}

/** A duration in words: 1h30m, 576h, 1s500ms. */
export function formatDuration(ms: number): string {
  let left = ms;
  let out = "";
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000], ["ms", 1]] as const) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n) out += `${n}${unit}`;
  }
  return out || "0ms";
}

const RANGE = `from ${formatDuration(DURATION_MIN_MS)} to ${
  formatDuration(DURATION_MAX_MS)
} (24 days)`;

/** A duration as a topology writes it: `30s`, `5m`, `1h`, `1m30s`, or plain milliseconds. */
const DURATION_TEXT = /^(\d+(ms|s|m|h))+$/;
export const Duration = z.union([
  z.string().regex(
    DURATION_TEXT,
    "must be a duration in whole units such as 30s, 5m, 1h30m or 1s500ms",
  ),
  z.number().int().nonnegative(),
]).refine((d) => {
  // A value that is no duration at all was refused above; it has no range to be out of.
  if (typeof d === "string" && !DURATION_TEXT.test(d)) return true;
  const ms = durationMs(d);
  return ms >= DURATION_MIN_MS && ms <= DURATION_MAX_MS;
}, { message: `a duration must be ${RANGE}` });

/** A duration as a plan records it: whole milliseconds within the same bounds. */
export const DurationMs = z.number().int().min(DURATION_MIN_MS, `must be ${RANGE}`).max(
  DURATION_MAX_MS,
  `must be ${RANGE}`,
);
