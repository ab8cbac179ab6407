/**
 * The date operators that read parts of a date — `$year` … `$millisecond`, `$dayOfYear`,
 * `$dayOfWeek`, `$week`, `$isoWeek`, `$isoWeekYear`, `$isoDayOfWeek`, `$dateToParts` and
 * `$dateToString` — as mongod evaluates them (DateExpressionAcceptingTimeZone, ExpressionDateToParts
 * and ExpressionDateToString in src/mongo/db/pipeline/expression.cpp, TimeZone in
 * src/mongo/db/query/datetime/date_time_support.cpp), run by the simulator instead of the query
 * engine (whose ISO weeks, negative offsets and early years were wrong). A date is a Date, an
 * ObjectId (its time) or a Timestamp (its seconds); anything else is 16006. Pure: expressions in,
 * through `evaluate`, a value or a QueryError out.
 */
import type { Document } from "bson";
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

type Evaluate = (e: unknown) => unknown;

/** The parts of a date in a zone. */
interface Parts {
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
function instantOf(value: unknown): number | null {
  if (value == null) return null;
  if (value instanceof Date) return value.getTime();
  const v = value as { _bsontype?: string; getTimestamp?: () => Date; high?: number };
  if (v._bsontype === "ObjectId") return v.getTimestamp!().getTime();
  if (v._bsontype === "Timestamp") return Number(v.high) * 1000;
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
 * The parts of the date `dateExpr` names in zone `zoneExpr` (UTC when absent): null when
 * either is nullish. The zone is evaluated (and checked) first.
 */
function partsIn(dateExpr: unknown, zoneExpr: unknown, hasZone: boolean, evaluate: Evaluate) {
  const zone = hasZone ? evaluate(zoneExpr) : undefined;
  // 40517 for no string, 40485 for no zone, before the date is looked at.
  if (hasZone && zone != null) offsetMsAt(zone, 0);
  const t = instantOf(evaluate(dateExpr));
  if (t === null || (hasZone && zone == null)) return null;
  return partsOf(t, hasZone ? offsetMsAt(zone, t)! : 0);
}

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
  const p = partsIn(spec.date, spec.timezone, spec.hasZone, evaluate);
  if (p === null) return null;
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
  const p = partsIn(arg.date, arg.timezone, "timezone" in arg, evaluate);
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
  if (p === null) return null;
  const time = { hour: p.hour, minute: p.minute, second: p.second, millisecond: p.millisecond };
  return iso
    ? { isoWeekYear: p.isoWeekYear, isoWeek: p.isoWeek, isoDayOfWeek: p.isoDayOfWeek, ...time }
    : { year: p.year, month: p.month, day: p.day, ...time };
}

/** `$dateToString`'s format specifiers: kDateToStringFormatMap, and `%b` `%B` (7.0). */
const TO_STRING_SPECIFIERS = new Set("bBdGHjLmMSwuUVYzZ");

/**
 * A `$dateToString` format checked as mongod's validateFormat checks it (18535 for a `%` at the
 * end, 18536 for an unknown specifier: src/mongo/db/query/datetime/date_time_support.cpp) and cut
 * into pieces: each specifier a piece of its own, and the text between them. "a%%b%w" gives
 * ["a", "%%", "b", "%w"].
 */
export function formatPieces(format: string): string[] {
  const pieces: string[] = [];
  let text = "";
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== "%") {
      text += format[i];
      continue;
    }
    const c = format[++i];
    if (c === undefined) {
      throw new QueryError("Unmatched '%' at end of format string", 18535, "Location18535");
    }
    if (c !== "%" && !TO_STRING_SPECIFIERS.has(c)) {
      throw new QueryError(
        `Invalid format character '%${c}' in format string`,
        18536,
        "Location18536",
      );
    }
    if (text) pieces.push(text);
    pieces.push(`%${c}`);
    text = "";
  }
  if (text) pieces.push(text);
  return pieces;
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

const pad = (n: number, width: number) =>
  (n < 0 ? "-" : "") + String(Math.abs(n)).padStart(width, "0");

/** One `%x` specifier of `$dateToString` rendered for `p` (TimeZone::formatDate). */
function render(spec: string, p: Parts): string {
  switch (spec) {
    case "%%":
      return "%";
    case "%Y":
      return pad(p.year, 4);
    case "%G":
      return pad(p.isoWeekYear, 4);
    case "%m":
      return pad(p.month, 2);
    case "%d":
      return pad(p.day, 2);
    case "%H":
      return pad(p.hour, 2);
    case "%M":
      return pad(p.minute, 2);
    case "%S":
      return pad(p.second, 2);
    case "%L":
      return pad(p.millisecond, 3);
    case "%j":
      return pad(p.dayOfYear, 3);
    case "%w":
      return String(p.dayOfWeek);
    case "%u":
      return String(p.isoDayOfWeek);
    case "%U":
      return pad(p.week, 2);
    case "%V":
      return pad(p.isoWeek, 2);
    case "%b":
      return MONTHS[p.month - 1].slice(0, 3);
    case "%B":
      return MONTHS[p.month - 1];
    case "%z": {
      const m = Math.abs(p.offsetMinutes);
      return `${p.offsetMinutes < 0 ? "-" : "+"}${pad(Math.floor(m / 60), 2)}${pad(m % 60, 2)}`;
    }
    case "%Z":
      return String(p.offsetMinutes);
  }
  return spec;
}

/** ISO 8601 formats `$dateToString` uses without a `format`: with a zone, no "Z". */
const ISO_Z = "%Y-%m-%dT%H:%M:%S.%LZ";
const ISO = "%Y-%m-%dT%H:%M:%S.%L";

/**
 * `$dateToString: {date, format, timezone, onNull}` (ExpressionDateToString): an argument that
 * is no object is 18629, an unknown field 18534, no date 18628, a format that is neither a
 * string nor nullish 18533, one mongod cannot read 18535/18536 (formatPieces). A nullish date
 * gives `onNull` (null without it); a nullish format or zone gives null.
 */
export function dateToString(expr: unknown, evaluate: Evaluate): unknown {
  if (!isObject(expr)) {
    throw new QueryError(
      "$dateToString only supports an object as its argument",
      18629,
      "Location18629",
    );
  }
  const spec = expr as Document;
  const unknown = Object.keys(spec).find((k) =>
    !["date", "format", "timezone", "onNull"].includes(k)
  );
  if (unknown !== undefined) {
    throw new QueryError(
      `Unrecognized parameter to $dateToString: ${unknown}`,
      18534,
      "Location18534",
    );
  }
  if (!("date" in spec)) {
    throw new QueryError("Missing 'date' parameter to $dateToString", 18628, "Location18628");
  }
  const format = "format" in spec ? evaluate(spec.format) : "timezone" in spec ? ISO : ISO_Z;
  if (format != null && typeof format !== "string") {
    throw new QueryError(
      `$dateToString requires that 'format' be a string, found: ${typeName(format)} with value ${
        String(format)
      }`,
      18533,
      "Location18533",
    );
  }
  const pieces = typeof format === "string" ? formatPieces(format) : [];
  const date = evaluate(spec.date);
  if (date == null) return "onNull" in spec ? evaluate(spec.onNull) : null;
  if (typeof format !== "string") return null;
  const p = partsIn({ $literal: date }, spec.timezone, "timezone" in spec, evaluate);
  if (p === null) return null;
  return pieces.map((piece) => piece.startsWith("%") ? render(piece, p) : piece).join("");
}
