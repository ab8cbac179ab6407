/**
 * Time zones and the parts of a date as mongod reads them (TimeZoneDatabase::getTimeZone and
 * TimeZone in src/mongo/db/query/datetime/date_time_support.cpp): a `timezone` is an offset
 * (`±hh`, `±hhmm`, `±hh:mm`) or a name of the time zone database ("UTC", "GMT",
 * "America/Argentina/Buenos_Aires"), its offset at the date to the second (a zone's local mean
 * time before standard time: Dublin -0:25:21). A value that is not a string is 40517, a name the
 * database does not have 40485. The query engine read only whole-minute offsets and two-part
 * names, lost the sign of offsets under an hour, and took years 0–99 for 1900–1999, so the date
 * operators run here (date_parts.ts). Names come from the runtime's ICU data, which may differ
 * from mongod's for some historical dates (ICU merges Europe/Amsterdam into Europe/Brussels).
 */
import { QueryError } from "./query_errors.ts";
import { typeName } from "./update_checks.ts";

/** `±hh`, `±hhmm`, `±hh:mm` as minutes east of UTC; undefined when it is not one. */
export function offsetOf(text: string): number | undefined {
  const m = /^([+-])(\d{2})(?::?(\d{2}))?$/.exec(text);
  if (!m) return undefined;
  return (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
}

/**
 * Three-letter names ICU knows that the IANA time zone database (mongod's) does not: Java's
 * old IDs ("PST", "IST", "EST" is IANA's own). Refused as mongod refuses them.
 */
const IANA_THREE_LETTERS = new Set([
  "CET",
  "EET",
  "EST",
  "GMT",
  "HST",
  "MET",
  "MST",
  "PRC",
  "ROC",
  "ROK",
  "UCT",
  "UTC",
  "WET",
]);

const formats = new Map<string, Intl.DateTimeFormat>();

/** The formatter of zone `zone`, or undefined when the database has no such zone. */
function formatter(zone: string): Intl.DateTimeFormat | undefined {
  let f = formats.get(zone);
  if (f) return f;
  if (/^[A-Z]{3}$/.test(zone) && !IANA_THREE_LETTERS.has(zone)) return undefined;
  try {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch {
    return undefined;
  }
  // ICU reads names in any case ("utc", "europe/paris"); the database's names are exact.
  const resolved = f.resolvedOptions().timeZone;
  if (resolved !== zone && resolved.toLowerCase() === zone.toLowerCase()) return undefined;
  formats.set(zone, f);
  return f;
}

const unknownZone = (zone: string) =>
  new QueryError(`unrecognized time zone identifier: "${zone}"`, 40485, "Location40485");

/**
 * Milliseconds east of UTC of zone `zone` (a name) at instant `t` (ms), to the second; throws
 * 40485 for a name the time zone database does not have.
 */
export function zoneOffsetMs(zone: string, t: number): number {
  const f = formatter(zone);
  if (!f) throw unknownZone(zone);
  const parts = f.formatToParts(new Date(t));
  const n = (type: string) => Number(parts.find((x) => x.type === type)?.value);
  const era = parts.find((x) => x.type === "era")?.value;
  const year = era === "BC" || era === "B" ? 1 - n("year") : n("year");
  const local = new Date(0);
  local.setUTCFullYear(year, n("month") - 1, n("day"));
  local.setUTCHours(n("hour"), n("minute"), n("second"), 0);
  return local.getTime() - Math.floor(t / 1000) * 1000;
}

/**
 * An evaluated `timezone` argument: its offset from UTC in ms at instant `at` (ms), undefined
 * for a nullish zone (the expression's result is then null). Throws 40517 for a value that is
 * not a string, 40485 for a name the time zone database does not have.
 */
export function offsetMsAt(timezone: unknown, at: number): number | undefined {
  if (timezone == null) return undefined;
  if (typeof timezone !== "string") {
    throw new QueryError(
      `timezone must evaluate to a string, found ${typeName(timezone)}`,
      40517,
      "Location40517",
    );
  }
  const fixed = offsetOf(timezone);
  return fixed !== undefined ? fixed * 60_000 : zoneOffsetMs(timezone, at);
}

/**
 * The instant (ms) at which the wall clock of `timezone` (an offset or a name, as offsetMsAt
 * takes it) reads `local` (ms: that local date and time read as if it were UTC). Follows
 * timelib's do_adjust_timezone (tm2unixtime.c), which mongod's $dateFromParts and $dateAdd use:
 * `before` is the offset at `local` read as an instant, `after` the offset at `local - before`;
 * the result is `local - after`, or `local - before` when `local - after` falls before the
 * change that brought `after` (timelib's in_transition). So a time in a gap (one the clock
 * skips) moves forward by the gap (02:30 in New York on 2021-03-14 is 07:30Z, 03:30 EDT; 02:30
 * in Paris on 2021-03-28 is 01:30Z, 03:30 CEST), and a time in an overlap (one the clock reads
 * twice) is its earlier instant west of Greenwich (01:30 in New York on 2021-11-07 is 05:30Z,
 * EDT) and its later one east of it (02:30 in Paris on 2021-10-31 is 01:30Z, CET). Throws
 * 40517/40485 as offsetMsAt; `local` must be at least two days inside ±8.64e15.
 */
export function instantOfLocal(timezone: string, local: number): number {
  // timelib looks zones up by whole seconds; the milliseconds ride along.
  const ms = ((local % 1000) + 1000) % 1000;
  const l = local - ms;
  const before = offsetMsAt(timezone, l)!;
  const after = offsetMsAt(timezone, l - before)!;
  // `local - after` can fall before the change only when the offset grew (a gap west of
  // Greenwich); when it shrank, `local - after` is later than `local - before`, past it.
  const inGap = after > before && offsetMsAt(timezone, l - after) !== after;
  return (inGap ? l - before : l - after) + ms;
}
