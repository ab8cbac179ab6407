/**
 * Every command-line option that is a timeout or another duration (`--timeout`, `--ssh-timeout`,
 * `--wait-timeout`) is read by this one parser, so they all take the same forms: a number with
 * a unit (`500ms`, `30s`, `2m`, `1h`, or several: `1m30s`), as topology files write durations.
 * A bare number is refused with the readings it could have: these options once read it in
 * different units (milliseconds for some, seconds for `--ssh-timeout`), so `--wait-timeout 600`
 * meant 0.6 s to one reader and 10 minutes to another (tester53).
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { MupError } from "../errors.ts";
import { DURATION_MAX_MS, durationMs, formatDuration } from "../topology/bounds.ts";

/** What one duration option accepts. */
export interface DurationOptionSpec {
  /** The flag, e.g. `--ssh-timeout`. */
  flag: string;
  /** The unit a bare number was read in before units were required (named in its refusal). */
  bareUnit: "ms" | "s";
  /** Bounds in milliseconds, inclusive. */
  minMs: number;
  maxMs: number;
  /** Examples shown in the help and in the refusal, e.g. ["10s", "1m"]. */
  examples: string[];
}

const WITH_UNITS = /^(\d+(ms|s|m|h))+$/;
const BARE = /^\d+$/;
const UNIT_WORD = { ms: "milliseconds", s: "seconds" } as const;

/** The help text's tail: the accepted forms (a number needs its unit). */
export function durationHelp(spec: DurationOptionSpec, what: string): string {
  return `${what}: a duration such as ${spec.examples.join(", ")} (units ms, s, m, h; ` +
    "a number needs its unit)";
}

/**
 * Why `value` is refused for `spec`'s option, or its milliseconds. The refusal names the flag,
 * the value, the forms accepted and the bounds.
 */
export function durationOptionMs(
  spec: DurationOptionSpec,
  value: string,
): { ms: number } | { error: string } {
  const v = value.trim();
  const range = `from ${formatDuration(spec.minMs)} to ${formatDuration(spec.maxMs)}`;
  if (BARE.test(v)) {
    // Only the readings the option takes are offered (`--wait-timeout 600`: 600s, not 600ms).
    const n = Number(v);
    const fits = ([["s", 1000], ["ms", 1], ["m", 60_000]] as const).filter(([, k]) =>
      n * k >= spec.minMs && n * k <= spec.maxMs
    ).map(([u]) => `${v}${u}`);
    return {
      error:
        `${spec.flag} ${v} has no unit: ${
          fits.length ? `write ${fits.join(" or ")} for what you mean` : "give it one"
        } (it was once read as ${UNIT_WORD[spec.bareUnit]}; the duration options did not agree), ` +
        `a duration ${range}`,
    };
  }
  const ms = WITH_UNITS.test(v) ? durationMs(v) : NaN;
  if (Number.isSafeInteger(ms) && ms >= spec.minMs && ms <= spec.maxMs) return { ms };
  return {
    error: `${spec.flag} must be a duration ${range} such as ${spec.examples.join(", ")} ` +
      `(a number with its unit: ms, s, m or h), not "${value}"`,
  };
}

/** Milliseconds of `value`; throws MupError (a usage problem, with an example) when refused. */
export function parseDurationOption(spec: DurationOptionSpec, value: string): number {
  const r = durationOptionMs(spec, value);
  if ("error" in r) {
    throw new MupError(r.error, { hint: `for example ${spec.flag} ${spec.examples[0]}` });
  }
  return r.ms;
}

/**
 * A commander argument parser for `spec`'s option: refuses a bad value while the command line
 * is parsed (a usage error, before anything is planned), and keeps the value as written.
 */
export function durationArg(spec: DurationOptionSpec): (v: string) => string {
  return (v) => {
    const r = durationOptionMs(spec, v);
    if ("error" in r) throw new InvalidArgumentError(r.error);
    return v;
  };
}

/** `--wait-timeout`: at least 1s, at most one timer step (a bare number was milliseconds). */
export const WAIT_TIMEOUT: DurationOptionSpec = {
  flag: "--wait-timeout",
  bareUnit: "ms",
  minMs: 1000,
  maxMs: DURATION_MAX_MS,
  examples: ["90s", "5m", "1h30m"],
};
