/**
 * The date operators that read parts of a date — `$year` … `$millisecond`, `$dayOfYear`,
 * `$dayOfWeek`, `$week`, `$isoWeek`, `$isoWeekYear`, `$isoDayOfWeek`, `$dateToParts` and
 * `$dateToString` (date_to_string.ts) — as mongod evaluates them (DateExpressionAcceptingTimeZone, ExpressionDateToParts
 * and ExpressionDateToString in src/mongo/db/pipeline/expression.cpp, TimeZone in
 * src/mongo/db/query/datetime/date_time_support.cpp), run by the simulator instead of the query
 * engine (whose ISO weeks, negative offsets and early years were wrong). A date is a Date, an
 * ObjectId (its time) or a Timestamp (its seconds); anything else is 16006. Pure: expressions in,
 * through `evaluate`, a value or a QueryError out.
 */
import { QueryError } from "./query_errors.ts";
import { isObject, typeName } from "./update_checks.ts";
import { offsetMsAt } from "./time_zone.ts";

/** The name the part-reading operators run under inside the engine: `{[DATE_PART]: [op, arg]}`. */
export const DATE_PART = "$mongodDatePart";

/** The operators DATE_PART runs (its `op`). */
export const PART_OPERATORS = new Set([
  "$year",
  "$month",
  "$dayOfMonth",
  "$hour",
  "$minute",
  "$second",
  "$millisecond",
  "$dayOfYear",
  "$dayOfWeek",
  "$week",
  "$isoWeek",
  "$isoWeekYear",
  "$isoDayOfWeek",
  "$dateToParts",
]);

export type Evaluate = (e: unknown) => unknown;

/** The parts of a date in a zone. */
export interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
  dayOfYear: number;
  /** 1 (Sunday) to 7. */
  dayOfWeek: number;
  /** Weeks from Sunday, the days before the year's first Sunday week 0 (strftime's %U). */
  week: number;
  isoWeekYear: number;
  isoWeek: number;
  /** 1 (Monday) to 7. */
  isoDayOfWeek: number;
  /** The zone's offset at the date, in whole minutes towards zero. */
  offsetMinutes: number;
}

const DAY = 86_400_000;

/** The instant (ms) a date value names: null for a nullish one; 16006 for no date. */
export function instantOf(value: unknown): number | null {
  if (value == null) return null;
  if (value instanceof Date) return value.getTime();
  const v = value as { _bsontype?: string; getTimestamp?: () => Date; high?: number };
  if (v._bsontype === "ObjectId") return v.getTimestamp!().getTime();
  // A Timestamp's seconds are unsigned (getSecs()).
  if (v._bsontype === "Timestamp") return (Number(v.high) >>> 0) * 1000;
  throw new QueryError(
    `can't convert from BSON type ${typeName(value)} to Date`,
    16006,
    "Location16006",
  );
}

/** The parts of instant `t` (ms) at offset `offsetMs`. */
function partsOf(t: number, offsetMs: number): Parts {
  const d = new Date(t + offsetMs);
  const year = d.getUTCFullYear();
  const startOfYear = new Date(0);
  startOfYear.setUTCFullYear(year, 0, 1);
  const midnight = t + offsetMs - (((t + offsetMs) % DAY) + DAY) % DAY;
  const dayOfYear = Math.round((midnight - startOfYear.getTime()) / DAY) + 1;
  const dayOfWeek = d.getUTCDay() + 1;
  const isoDayOfWeek = d.getUTCDay() === 0 ? 7 : d.getUTCDay();
  // ISO 8601: a week belongs to the year of its Thursday.
  const thursday = new Date(midnight + (4 - isoDayOfWeek) * DAY);
  const isoWeekYear = thursday.getUTCFullYear();
  const isoStart = new Date(0);
  isoStart.setUTCFullYear(isoWeekYear, 0, 1);
  const isoWeek = Math.floor(Math.round((thursday.getTime() - isoStart.getTime()) / DAY) / 7) + 1;
  return {
    year,
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    millisecond: d.getUTCMilliseconds(),
    dayOfYear,
    dayOfWeek,
    week: Math.floor((dayOfYear + 7 - dayOfWeek) / 7),
    isoWeekYear,
    isoWeek,
    isoDayOfWeek,
    offsetMinutes: Math.trunc(offsetMs / 60_000),
  };
}

/**
 * A timezone argument given as a string constant is checked when the expression is parsed, as
 * mongod's optimize() checks one: before anything is evaluated (40485, whatever the date).
 */
export function checkConstantZone(zoneExpr: unknown, hasZone: boolean): void {
  if (hasZone && typeof zoneExpr === "string" && !zoneExpr.startsWith("$")) {
    offsetMsAt(zoneExpr, 0);
  }
}

/**
 * The evaluated zone: undefined without one (UTC), null for a nullish one (the result is then
 * null). Throws 40517 (no string) or 40485 (no such zone), as mongod's makeTimeZone.
 */
export function zoneOf(
  zoneExpr: unknown,
  hasZone: boolean,
  evaluate: Evaluate,
): string | null | undefined {
  if (!hasZone) return undefined;
  const zone = evaluate(zoneExpr);
  if (zone == null) return null;
  offsetMsAt(zone, 0);
  return zone as string;
}

/** The parts of instant `t` (ms) in `zone` (UTC when undefined). */
export const partsAt = (t: number, zone: string | undefined) =>
  partsOf(t, zone === undefined ? 0 : offsetMsAt(zone, t)!);

const json = (v: unknown) => JSON.stringify(v);

/**
 * `[op, arg]` of a part-reading operator: `arg` a date expression, one in a one-element array,
 * or `{date, timezone}` (`$dateToParts`: `{date, timezone, iso8601}`).
 */
export function datePart(expr: unknown, evaluate: Evaluate): unknown {
  const [op, arg] = expr as [string, unknown];
  if (op === "$dateToParts") return dateToParts(arg, evaluate);
  let spec: { date: unknown; timezone?: unknown; hasZone: boolean };
  if (isObject(arg) && !Object.keys(arg)[0]?.startsWith("$")) {
    const unknown = Object.keys(arg).find((k) => k !== "date" && k !== "timezone");
    if (unknown !== undefined) {
      throw new QueryError(
        `unrecognized option to ${op}: "${unknown}"`,
        40535,
        "Location40535",
      );
    }
    if (!("date" in arg)) {
      throw new QueryError(
        `missing 'date' argument to ${op}, provided: ${op}: ${json(arg)}`,
        40539,
        "Location40539",
      );
    }
    spec = { date: arg.date, timezone: arg.timezone, hasZone: "timezone" in arg };
  } else if (Array.isArray(arg)) {
    if (arg.length !== 1) {
      throw new QueryError(
        `${op} accepts exactly one argument if given an array, but was given ${arg.length}`,
        40536,
        "Location40536",
      );
    }
    // The element is an expression: an object of fields is a document, not {date, timezone}.
    spec = { date: arg[0], hasZone: false };
  } else spec = { date: arg, hasZone: false };
  // DateExpressionAcceptingTimeZone::evaluate: the date (null gives null), then the zone,
  // then the date's conversion (16006).
  checkConstantZone(spec.timezone, spec.hasZone);
  const date = evaluate(spec.date);
  if (date == null) return null;
  const zone = zoneOf(spec.timezone, spec.hasZone, evaluate);
  if (zone === null) return null;
  const p = partsAt(instantOf(date)!, zone);
  const key = op.slice(1) === "dayOfMonth" ? "day" : op.slice(1) as keyof Parts;
  return p[key];
}

/** `$dateToParts: {date, timezone, iso8601}` (ExpressionDateToParts): 40520–40524. */
function dateToParts(arg: unknown, evaluate: Evaluate): unknown {
  if (!isObject(arg)) {
    throw new QueryError(
      "$dateToParts only supports an object as its argument",
      40524,
      "Location40524",
    );
  }
  const unknown = Object.keys(arg).find((k) => !["date", "timezone", "iso8601"].includes(k));
  if (unknown !== undefined) {
    throw new QueryError(
      `Unrecognized argument to $dateToParts: ${unknown}`,
      40520,
      "Location40520",
    );
  }
  if (!("date" in arg)) {
    throw new QueryError("Missing 'date' parameter to $dateToParts", 40522, "Location40522");
  }
  // ExpressionDateToParts::evaluate: the zone, then iso8601, then the date.
  checkConstantZone(arg.timezone, "timezone" in arg);
  const zone = zoneOf(arg.timezone, "timezone" in arg, evaluate);
  if (zone === null) return null;
  let iso = false;
  if ("iso8601" in arg) {
    const v = evaluate(arg.iso8601);
    if (v == null) return null;
    if (typeof v !== "boolean") {
      throw new QueryError(
        `iso8601 must evaluate to a bool, found ${typeName(v)}`,
        40521,
        "Location40521",
      );
    }
    iso = v;
  }
  const date = evaluate(arg.date);
  if (date == null) return null;
  const p = partsAt(instantOf(date)!, zone);
  const time = { hour: p.hour, minute: p.minute, second: p.second, millisecond: p.millisecond };
  return iso
    ? { isoWeekYear: p.isoWeekYear, isoWeek: p.isoWeek, isoDayOfWeek: p.isoDayOfWeek, ...time }
    : { year: p.year, month: p.month, day: p.day, ...time };
}
