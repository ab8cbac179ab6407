/**
 * The `timezone` argument of the date expressions as mongod reads it (TimeZoneDatabase::getTimeZone,
 * src/mongo/db/query/datetime/date_time_support.cpp): an offset (`±hh`, `±hhmm`, `±hh:mm`) or a
 * name of the time zone database ("UTC", "GMT", "America/Argentina/Buenos_Aires"). A value that
 * is not a string is 40517, a name it does not know 40485, and a null zone makes the result null.
 *
 * The query engine reads only offsets and two-part names ("Europe/Paris"): "UTC" and three-part
 * names were refused with its own message, an unknown two-part name was a RangeError. So the
 * extraction operators ($hour, $dayOfWeek, …) run as the simulator's own (ZONED): the zone is
 * resolved here to the offset in force at the date, which is all that an extraction needs.
 * `$dateToParts` runs so always, its fields put in mongod's order (the engine put the time first).
 */
import type { Document } from "bson";
import { QueryError } from "./query_errors.ts";
import { isObject, typeName } from "./update_checks.ts";

/** The name the zoned extraction operators run under inside the engine (zonedExpressions). */
export const ZONED = "$mongodZoned";

/** The operators that take `{date, timezone}` and read one part of the date in that zone. */
const EXTRACTIONS = new Set([
  "$year",
  "$month",
  "$dayOfMonth",
  "$hour",
  "$minute",
  "$second",
  "$millisecond",
  "$dayOfYear",
  "$dayOfWeek",
  "$isoWeek",
  "$isoWeekYear",
  "$isoDayOfWeek",
  "$dateToParts",
]);

/** `±hh`, `±hhmm`, `±hh:mm` as minutes east of UTC; undefined when it is not one. */
export function offsetOf(text: string): number | undefined {
  const m = /^([+-])(\d{2})(?::?(\d{2}))?$/.exec(text);
  if (!m) return undefined;
  return (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
}

/** Minutes east of UTC of Olson zone `zone` at instant `t` (ms); throws 40485 for no zone. */
export function zoneOffset(zone: string, t: number): number {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    }).formatToParts(new Date(t));
  } catch {
    throw new QueryError(`unrecognized time zone identifier: "${zone}"`, 40485, "Location40485");
  }
  const n = (type: string) => Number(parts.find((x) => x.type === type)?.value);
  const local = Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute"), n("second"));
  return Math.round((local - Math.floor(t / 1000) * 1000) / 60_000);
}

/**
 * An evaluated `timezone` argument as the offset the engine reads (`+hh:mm`) in force at `at`:
 * null for a nullish zone (the expression's result is then null). Throws 40517 for a value that
 * is not a string, 40485 for a name the time zone database does not have.
 */
export function engineOffset(timezone: unknown, at: Date | undefined): string | null {
  if (timezone == null) return null;
  if (typeof timezone !== "string") {
    throw new QueryError(
      `timezone must evaluate to a string, found ${typeName(timezone)}`,
      40517,
      "Location40517",
    );
  }
  const minutes = offsetOf(timezone) ?? zoneOffset(timezone, at?.getTime() ?? Date.now());
  const abs = Math.abs(minutes);
  const hhmm = `${String(Math.floor(abs / 60)).padStart(2, "0")}:${
    String(abs % 60).padStart(2, "0")
  }`;
  return `${minutes < 0 ? "-" : "+"}${hhmm}`;
}

/** The instant a date argument names, when it is one (a Date, or an ObjectId's time). */
function instantOf(date: unknown): Date | undefined {
  if (date instanceof Date) return date;
  const id = date as { _bsontype?: string; getTimestamp?: () => Date };
  return id?._bsontype === "ObjectId" ? id.getTimestamp!() : undefined;
}

/**
 * `value` with each extraction given a `timezone`, and each `$dateToParts`, renamed ZONED:
 * `{[ZONED]: [name, arg]}`.
 */
export function zonedExpressions(key: string, value: unknown): [string, unknown] {
  const arg = Array.isArray(value) && value.length === 1 ? value[0] : value;
  return EXTRACTIONS.has(key) && isObject(arg) && ("timezone" in arg || key === "$dateToParts")
    ? [ZONED, [key, arg]]
    : [key, value];
}

/** `$dateToParts`'s fields in mongod's order (ExpressionDateToParts::evaluate). */
const PARTS = ["year", "month", "day", "isoWeekYear", "isoWeek", "isoDayOfWeek"];
const TIME = ["hour", "minute", "second", "millisecond"];

/**
 * A ZONED extraction `[name, {date, timezone, …}]`: the date and the zone evaluated once, the
 * engine's operator run on the date with the zone's offset at it. Null for a nullish date or
 * zone, as mongod answers.
 */
export function zoned(
  expr: unknown,
  evaluate: (e: unknown) => unknown,
  op: (name: string) => (arg: unknown) => unknown,
): unknown {
  const [name, spec] = expr as [string, Document];
  const date = evaluate(spec.date);
  const offset = "timezone" in spec
    ? engineOffset(evaluate(spec.timezone), instantOf(date))
    : undefined;
  if (offset === null || date == null) return null;
  const out = op(name)({
    ...spec,
    date: { $literal: date },
    ...(offset === undefined ? {} : { timezone: offset }),
  });
  if (name !== "$dateToParts" || !isObject(out)) return out;
  return Object.fromEntries(
    [...PARTS, ...TIME].filter((k) => k in out).map((k) => [k, out[k]]),
  );
}
