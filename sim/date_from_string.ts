/**
 * `$dateFromString` as mongod runs it (ExpressionDateFromString; the manual's
 * https://www.mongodb.com/docs/manual/reference/operator/aggregation/dateFromString/), for the
 * forms the simulator parses itself: ISO 8601 dates and times (`T` or a space between them, a
 * fraction of any length, `Z` or an offset `±hh`, `±hhmm`, `±hh:mm`, `GMT±hh:mm`) without
 * `format`, and `format`s of `%Y %m %d %H %M %S %L %z %Z %%`. The `timezone` argument (an Olson
 * name, daylight saving time included, or an offset) places a time the string gives no zone
 * for. An impossible date (February 30, month 13, minute 60) or a string that is no date is
 * 241, or `onError`. A string in another form mongod's parser reads (a month's name, `7/4/17`,
 * a zone's abbreviation) is refused with 115: the simulator never answers a date it did not
 * parse. The query engine's own operator ignored offsets and daylight saving time, rolled
 * impossible dates over, and left the field out for a string it could not read.
 */
import type { Document } from "bson";
import { QueryError } from "./query_errors.ts";
import { isObject, typeName } from "./update_checks.ts";
import { offsetOf, zoneOffsetMs } from "./time_zone.ts";

const ARGS = new Set(["dateString", "format", "timezone", "onError", "onNull"]);
/** The format characters mongod knows (date_time_support.cpp); those parsed here: PARSED. */
const KNOWN = new Set([..."YmdHMSLjwuUVGgzZbB%"]);
const PARSED = new Set([..."YmdHMSLzZ%"]);

/** The parts a string gives: a calendar date, a time, and an offset from UTC in minutes. */
interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  offset?: number;
}

/** An ISO 8601 date and time; undefined when `s` is not in that form. */
function isoParts(s: string): Parts | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?:[:.](\d{2})(?:\.(\d+))?)?)?\s*(Z|(?:GMT|UTC)?[+-]\d{2}(?::?\d{2})?|GMT|UTC)?$/
      .exec(s.trim());
  if (!m) return undefined;
  const zone = m[8]?.replace(/^(GMT|UTC)(?=[+-])/, "");
  return {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4] ?? 0),
    minute: Number(m[5] ?? 0),
    second: Number(m[6] ?? 0),
    ms: Math.floor(Number(`0.${m[7] ?? 0}`) * 1000),
    offset: zone === undefined ? undefined : /^(Z|GMT|UTC)$/.test(zone) ? 0 : offsetOf(zone),
  };
}

/** `s` read by `format`; undefined when it does not fit. Throws 115 for unparsed directives. */
function formatParts(s: string, format: string): Parts | undefined {
  let pattern = "";
  const fields: string[] = [];
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c !== "%") {
      pattern += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      continue;
    }
    const d = format[++i];
    if (d === undefined || !KNOWN.has(d)) {
      throw new QueryError(
        `Invalid format character '%${d ?? ""}' in format string`,
        18536,
        "Location18536",
      );
    }
    if (!PARSED.has(d)) {
      throw new QueryError(
        `$dateFromString with the format directive '%${d}' is not supported by this server`,
        115,
        "CommandNotSupported",
      );
    }
    if (d === "%") {
      pattern += "%";
      continue;
    }
    fields.push(d);
    pattern += d === "Y"
      ? "(\\d{4})"
      : d === "L"
      ? "(\\d{1,3})"
      : d === "z"
      ? "([+-]\\d{2}:?\\d{2})"
      : d === "Z"
      ? "([+-]\\d+)"
      : "(\\d{1,2})";
  }
  const m = new RegExp(`^${pattern}$`).exec(s);
  if (!m) return undefined;
  const p: Parts = { year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, ms: 0 };
  fields.forEach((f, i) => {
    const v = m[i + 1];
    if (f === "z") p.offset = offsetOf(v);
    else if (f === "Z") p.offset = Number(v);
    else {
      const key =
        ({ Y: "year", m: "month", d: "day", H: "hour", M: "minute", S: "second" } as Record<
          string,
          keyof Parts
        >)[f];
      if (key) (p[key] as number) = Number(v);
      else p.ms = Number(v.padEnd(3, "0"));
    }
  });
  return p;
}

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether the parts name a real calendar day and time of day. */
function possible(p: Parts): boolean {
  const leap = p.year % 4 === 0 && (p.year % 100 !== 0 || p.year % 400 === 0);
  const last = p.month === 2 && !leap ? 28 : DAYS[p.month - 1];
  return p.month >= 1 && p.month <= 12 && p.day >= 1 && p.day <= last && p.hour <= 23 &&
    p.minute <= 59 && p.second <= 59;
}

/** The instant of `p`: its own offset, else the `timezone` argument's, else UTC. */
function instant(p: Parts, timezone: string | undefined): Date {
  const local = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second, p.ms);
  if (p.offset !== undefined) return new Date(local - p.offset * 60_000);
  if (timezone === undefined || /^(UTC|GMT|Z)$/.test(timezone)) return new Date(local);
  const fixed = offsetOf(timezone);
  if (fixed !== undefined) return new Date(local - fixed * 60_000);
  // An Olson zone: its offset at that local time, daylight saving time included.
  let t = local - zoneOffsetMs(timezone, local);
  t = local - zoneOffsetMs(timezone, t);
  return new Date(t);
}

/**
 * `$dateFromString` of `spec` (unevaluated), evaluating its arguments with `evaluate`: a Date,
 * null, or `onError`'s value. Throws mongod's codes: 40540 (not an object), 40541 (unknown
 * argument), 40684 (format not a string), 18536 (bad format character), 40485 (unknown zone),
 * 241 (not a date, without onError), 115 (a form the simulator does not parse).
 */
export function dateFromString(spec: unknown, evaluate: (e: unknown) => unknown): unknown {
  if (!isObject(spec)) {
    throw new QueryError(
      `$dateFromString only supports an object as an argument, found: ${typeName(spec)}`,
      40540,
      "Location40540",
    );
  }
  const unknown = Object.keys(spec).find((k) => !ARGS.has(k));
  if (unknown !== undefined) {
    throw new QueryError(
      `Unrecognized argument to $dateFromString: ${unknown}`,
      40541,
      "Location40541",
    );
  }
  const s = spec as Document;
  const format = "format" in s ? evaluate(s.format) : undefined;
  const timezone = "timezone" in s ? evaluate(s.timezone) : undefined;
  // A null format or zone makes the result null (the manual: "If … is null … returns null").
  if (("format" in s && format == null) || ("timezone" in s && timezone == null)) return null;
  if (format !== undefined && typeof format !== "string") {
    throw new QueryError(
      `$dateFromString requires that 'format' be a string, found: ${typeName(format)} with ` +
        `value ${String(format)}`,
      40684,
      "Location40684",
    );
  }
  const dateString = evaluate(s.dateString);
  if (dateString == null) return "onNull" in s ? evaluate(s.onNull) : null;
  const failed = (message: string) => {
    if ("onError" in s) return evaluate(s.onError);
    throw new QueryError(message, 241, "ConversionFailure");
  };
  if (typeof dateString !== "string") {
    return failed(
      `$dateFromString requires that 'dateString' be a string, found: ${
        typeName(dateString)
      } with value ${String(dateString)}`,
    );
  }
  const parts = format === undefined ? isoParts(dateString) : formatParts(dateString, format);
  if (parts === undefined) {
    // Without a digit it is no date in any form; with one, mongod's parser may read it.
    if (format !== undefined || !/\d/.test(dateString)) {
      return failed(`Error parsing date string '${dateString}'`);
    }
    throw new QueryError(
      `$dateFromString of '${dateString}': this server parses ISO 8601 dates and times, and ` +
        "format's %Y %m %d %H %M %S %L %z %Z; give a format for this form",
      115,
      "CommandNotSupported",
    );
  }
  if (!possible(parts)) {
    return failed(`Error parsing date string '${dateString}'; 11: The parsed date was invalid`);
  }
  if (parts.offset !== undefined && timezone !== undefined) {
    return failed(
      `you cannot pass in a date/time string with time zone information ('${dateString}') ` +
        "together with a timezone argument",
    );
  }
  if (timezone !== undefined && typeof timezone !== "string") {
    throw new QueryError(
      `timezone must evaluate to a string, found ${typeName(timezone)}`,
      40517,
      "Location40517",
    );
  }
  return instant(parts, timezone as string | undefined);
}
