/**
 * The calendar arithmetic of mongod's date operators (dateAdd, dateDiff, truncateDate and
 * TimeZone::createFromDateParts in src/mongo/db/query/datetime/date_time_support.cpp, over
 * timelib): days and months on the proleptic Gregorian calendar, wall clocks read and resolved
 * with a zone's offset at the date (time_zone.ts). Pure: instants (ms) and units in, Dates or
 * counts out; date_arith.ts evaluates the operators' arguments around it.
 */
import { QueryError } from "./query_errors.ts";
import { instantOfLocal, offsetMsAt } from "./time_zone.ts";
import type { Unit } from "./date_arith_parse.ts";

const DAY = 86_400_000;
/** The farthest a JavaScript Date reaches from 1970, in ms. */
const MAX_DATE = 8.64e15;
const INT64 = 2 ** 63;
export const SUNDAY = 7;

export const located = (message: string, code: number) =>
  new QueryError(message, code, `Location${code}`);

/**
 * The Date of `ms`; BadValue (2) for a date mongod holds (64 bits of ms) but a JavaScript Date
 * does not (past ±8.64e15 ms): the simulator refuses what it cannot answer.
 */
function dateAt(ms: number): Date {
  if (Math.abs(ms) <= MAX_DATE) return new Date(ms);
  throw new QueryError(
    "the result is outside the dates the simulator represents (±8.64e15 ms from 1970)",
    2,
    "BadValue",
  );
}

/** dateAdd's result `ms`: 5166406 past 64 bits of ms, as mongod's overflow check. */
function added(ms: number): number {
  if (!(Math.abs(ms) < INT64)) throw located("dateAdd overflowed", 5166406);
  return ms;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (month 1–12; any day count). */
export function daysFromCivil(y: number, m: number, d: number): number {
  // Howard Hinnant's days_from_civil: years start in March, so February's length comes last.
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
}

/** The [year, month, day] of a day count from 1970-01-01 (civil_from_days). */
function civil(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, doy - Math.floor((153 * mp + 2) / 5) + 1];
}

const daysInMonth = (y: number, m: number) => daysFromCivil(y, m + 1, 1) - daysFromCivil(y, m, 1);
/** 1 (Monday) to 7 (Sunday); 1970-01-01 was a Thursday. */
const isoDayOfWeek = (days: number) => ((days + 3) % 7 + 7) % 7 + 1;
/** The day's place in a week starting on `startOfWeek` (1–7): 0 for the first day. */
const dayInWeek = (days: number, startOfWeek: number) => (isoDayOfWeek(days) - startOfWeek + 7) % 7;

/** The wall clock of instant `t` (ms) in `zone` (UTC when undefined), as timelib reads it. */
interface Clock {
  /** Days from 1970-01-01 of the local date. */
  days: number;
  y: number;
  m: number;
  d: number;
  hour: number;
  minute: number;
  second: number;
  /** ms of the local day. */
  ms: number;
  /** The offset east of UTC, in seconds (timelib's `z`). */
  z: number;
}

function clockAt(t: number, zone: string | undefined): Clock {
  const offset = zone === undefined ? 0 : offsetMsAt(zone, t)!;
  const local = t + offset;
  const days = Math.floor(local / DAY);
  const ms = local - days * DAY;
  const [y, m, d] = civil(days);
  const sec = Math.floor(ms / 1000);
  return {
    days,
    y,
    m,
    d,
    hour: Math.floor(sec / 3600),
    minute: Math.floor(sec / 60) % 60,
    second: sec % 60,
    ms,
    z: offset / 1000,
  };
}

/** The Date at which the clock of `zone` reads local time `local` (ms); dateAt's refusal. */
export function fromLocal(local: number, zone: string | undefined): Date {
  // Two days inside the Date range leave room for any offset.
  if (!(Math.abs(local) < MAX_DATE - 2 * DAY)) return dateAt(Infinity);
  return dateAt(zone === undefined ? local : instantOfLocal(zone, local));
}

const UNIT_MS: Partial<Record<Unit, number>> = { hour: 3_600_000, minute: 60_000, second: 1000 };
const MAX_DAYS = 18_446_744_073_709_551_615n / 86_400_000n + 1n;
const MAX_YEARS = MAX_DAYS / 365n + 1n;
/** isDateAddAmountValid: an amount must be strictly inside ±these. */
const MAX_AMOUNT: Partial<Record<Unit, bigint>> = {
  year: MAX_YEARS,
  quarter: MAX_YEARS * 4n,
  month: MAX_YEARS * 12n,
  week: MAX_DAYS / 7n,
  day: MAX_DAYS,
  hour: MAX_DAYS * 24n,
  minute: MAX_DAYS * 1440n,
  second: MAX_DAYS * 86400n,
};
const MONTHS: Partial<Record<Unit, number>> = { year: 12, quarter: 3, month: 1 };

/**
 * mongod's dateAdd: instant `t` (ms) plus `amount` `unit`s in `zone` (an offset or a name, UTC
 * when undefined). Milliseconds, and hours, minutes and seconds, add to the instant (mongod adds
 * those in UTC with a named zone); a day and larger units add to the local date, keeping its
 * wall-clock time across a change of offset, a month's day past the result month's end becoming
 * its last day (2020-01-31 + 1 month is 2020-02-29), the local result placed as instantOfLocal
 * places it. Throws 5976500 for an amount out of range, 5166406 past 64 bits, 40517/40485 for
 * the zone, BadValue (2) for a date a JavaScript Date does not hold.
 */
export function dateAdd(t: number, unit: Unit, amount: bigint, zone: string | undefined): Date {
  if (unit === "millisecond") return dateAt(t + Number(amount));
  const max = MAX_AMOUNT[unit]!;
  if (amount <= -max || amount >= max) {
    throw located(`invalid dateAdd 'amount' parameter value: ${amount} ${unit}`, 5976500);
  }
  const n = Number(amount);
  if (UNIT_MS[unit]) return dateAt(added(t + n * UNIT_MS[unit]));
  const c = clockAt(t, zone);
  let days = c.days + n * (unit === "week" ? 7 : 1);
  if (MONTHS[unit]) {
    const months = c.y * 12 + c.m - 1 + n * MONTHS[unit];
    const y = Math.floor(months / 12);
    const m = months - y * 12 + 1;
    days = daysFromCivil(y, m, Math.min(c.d, daysInMonth(y, m)));
  }
  return fromLocal(added(days * DAY + c.ms), zone);
}

/**
 * mongod's dateDiff: how many `unit` boundaries lie between instants `start` and `end` (ms) on
 * the clock of `zone` (negative when `end` is earlier). Weeks start on `startOfWeek` (1 Monday
 * to 7 Sunday); hours, minutes and seconds count the change of offset between the two too, by
 * C's integer division (dateDiffHour…: an hour's count ignores a half-hour change).
 */
export function dateDiff(
  start: number,
  end: number,
  unit: Unit,
  zone: string | undefined,
  startOfWeek: number,
): number {
  if (unit === "millisecond") return end - start;
  const a = clockAt(start, zone);
  const b = clockAt(end, zone);
  const days = b.days - a.days;
  switch (unit) {
    case "year":
      return b.y - a.y;
    case "quarter":
      return Math.floor((b.m - 1) / 3) - Math.floor((a.m - 1) / 3) + (b.y - a.y) * 4;
    case "month":
      return b.m - a.m + (b.y - a.y) * 12;
    case "week":
      return Math.trunc(
        (days + dayInWeek(a.days, startOfWeek) - dayInWeek(b.days, startOfWeek)) / 7,
      );
    case "day":
      return days;
  }
  const hours = b.hour - a.hour + days * 24;
  if (unit === "hour") return hours + Math.trunc((a.z - b.z) / 3600);
  const minutes = b.minute - a.minute + hours * 60;
  if (unit === "minute") return minutes + Math.trunc((a.z - b.z) / 60);
  return b.second - a.second + minutes * 60 + (a.z - b.z);
}

/**
 * mongod's truncateDate: the start of the `binSize`-`unit` bin instant `t` (ms) falls in, bins
 * counted from 2000-01-01 00:00 on the clock of `zone` (its offset at 2000-01-01T00:00Z), for
 * weeks from the first `startOfWeek` day on or after it. Up to hours a bin is a fixed number of
 * ms; larger units count by dateDiff from that point and add back with dateAdd. Throws 5439002
 * (a bin past 64 bits of ms), 5439006 (over 10^11 days or larger units) and as dateAdd does.
 */
export function truncateDate(
  t: number,
  unit: Unit,
  binSize: bigint,
  zone: string | undefined,
  startOfWeek: number,
): Date {
  const REFERENCE = 946_684_800_000;
  let ref = REFERENCE - (zone === undefined ? 0 : offsetMsAt(zone, REFERENCE)!);
  let refDays = daysFromCivil(2000, 1, 1);
  if (unit === "week") {
    // 2000-01-01 was a Saturday (6); no zone changed its offset in early January 2000.
    const shift = (7 - (6 - startOfWeek + 7) % 7) % 7;
    ref += shift * DAY;
    refDays += shift;
  }
  if (unit === "millisecond" || UNIT_MS[unit]) {
    const bin = binSize * BigInt(UNIT_MS[unit] ?? 1);
    if (bin >= 2n ** 63n) throw located("dateTrunc overflowed", 5439002);
    const rem = ((BigInt(t) - BigInt(ref)) % bin + bin) % bin;
    return dateAt(t - Number(rem));
  }
  if (binSize > 100_000_000_000n) throw located("dateTrunc unsupported binSize value", 5439006);
  const c = clockAt(t, zone);
  const days = c.days - refDays;
  const distance = unit === "day"
    ? days
    : unit === "week"
    ? Math.trunc((days + dayInWeek(refDays, startOfWeek) - dayInWeek(c.days, startOfWeek)) / 7)
    : unit === "month"
    ? c.m - 1 + (c.y - 2000) * 12
    : unit === "quarter"
    ? Math.floor((c.m - 1) / 3) + (c.y - 2000) * 4
    : c.y - 2000;
  const bin = Number(binSize);
  return dateAdd(ref, unit, BigInt(distance - ((distance % bin) + bin) % bin), zone);
}
