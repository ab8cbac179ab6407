/**
 * The date operators that compute dates — `$dateFromParts`, `$dateAdd`, `$dateSubtract`,
 * `$dateDiff` and `$dateTrunc` — as mongod evaluates them (src/mongo/db/exec/expression/
 * evaluate_date.cpp; dateAdd, dateDiff, truncateDate and TimeZone::createFromDateParts in
 * src/mongo/db/query/datetime/date_time_support.cpp, over timelib), run by the simulator instead
 * of the query engine, which refused "UTC", "GMT" and three-part zone names, ignored the zone in
 * $dateAdd, used today's offset in $dateFromParts and rolled February 31 back to the 29th. Run
 * as `{[DATE_ARITH]: [op, arg]}` (expression_ops.ts renames them, checking their arguments as
 * mongod parses them: date_arith_parse.ts). A date is a Date, an ObjectId (its time) or a
 * Timestamp (its seconds). Local times are read and resolved with the zone's offset at the date
 * (time_zone.ts), to the second.
 */
import type { Document } from "bson";
import { QueryError } from "./query_errors.ts";
import { type Evaluate, instantOf, zoneOf } from "./date_parts.ts";
import {
  argsOf,
  binSizeOf,
  bsonType,
  constValue,
  dayOfWeekOf,
  integral64,
  isConstant,
  type Unit,
  unitOf,
  valueText,
  withContext,
} from "./date_arith_parse.ts";

import {
  dateAdd,
  dateDiff,
  daysFromCivil,
  fromLocal,
  located,
  SUNDAY,
  truncateDate,
} from "./date_calendar.ts";

export { ARITH_OPERATORS, DATE_ARITH } from "./date_arith_parse.ts";

/** The instant (ms) of a date value (Date, ObjectId, Timestamp); undefined for other values. */
function instantIfDate(v: unknown): number | undefined {
  const t = (v as { _bsontype?: string } | null)?._bsontype;
  return v instanceof Date || t === "ObjectId" || t === "Timestamp" ? instantOf(v)! : undefined;
}

/** A date argument of $dateDiff or $dateTrunc (convertDate): 5166307 for no date. */
function dateArg(v: unknown, op: string, name: string): number {
  const t = instantIfDate(v);
  if (t === undefined) {
    throw located(`${op} requires '${name}' to be a date, but got ${bsonType(v)}`, 5166307);
  }
  return t;
}

const zoneContext = (op: string) =>
  op === "$dateDiff" || op === "$dateTrunc"
    ? `${op} parameter 'timezone' value parsing failed`
    : undefined;

/** The zone of `a` (zoneOf), its errors in `op`'s context. */
const zoneArg = (op: string, a: Document, evaluate: Evaluate) =>
  withContext(zoneContext(op), () => zoneOf(a.timezone, "timezone" in a, evaluate));

/** `startOfWeek` when `unit` is week and it is given, else Sunday; null for a nullish one. */
function startOfWeekArg(op: string, a: Document, unit: Unit, evaluate: Evaluate): number | null {
  if (unit !== "week" || !("startOfWeek" in a)) return SUNDAY;
  const v = evaluate(a.startOfWeek);
  return v == null ? null : dayOfWeekOf(v, op);
}

/** $dateAdd and $dateSubtract (extractDateArithmetics): a Date, or null. */
function arith(op: string, a: Document, evaluate: Evaluate): Date | null {
  const start = evaluate(a.startDate);
  if (start == null) return null;
  const unitValue = evaluate(a.unit);
  if (unitValue == null) return null;
  const unit = unitOf(unitValue, op);
  const amountValue = evaluate(a.amount);
  if (amountValue == null) return null;
  const zone = zoneArg(op, a, evaluate);
  if (zone === null) return null;
  const t = instantIfDate(start);
  if (t === undefined) {
    throw located(`${op} requires startDate to be convertible to a date`, 5166403);
  }
  let amount = integral64(amountValue);
  if (amount === undefined) throw located(`${op} expects integer amount of time units`, 5166405);
  if (op === "$dateSubtract") {
    // The smallest long has no negation.
    if (amount === -(2n ** 63n)) {
      throw located(`invalid $dateSubtract 'amount' parameter value: ${amount}`, 6045000);
    }
    amount = -amount;
  }
  return dateAdd(t, unit, amount, zone);
}

/**
 * $dateDiff's and $dateTrunc's unit, then startOfWeek (for weeks), then zone, evaluated in that
 * order as mongod does; null when one of them is nullish. Throws their QueryErrors.
 */
function unitWeekZone(
  op: string,
  a: Document,
  evaluate: Evaluate,
): { unit: Unit; startOfWeek: number; zone: string | undefined } | null {
  const unitValue = evaluate(a.unit);
  if (unitValue == null) return null;
  const unit = unitOf(unitValue, op);
  const startOfWeek = startOfWeekArg(op, a, unit, evaluate);
  if (startOfWeek === null) return null;
  const zone = zoneArg(op, a, evaluate);
  return zone === null ? null : { unit, startOfWeek, zone };
}

/**
 * $dateDiff: a number, or null. mongod answers a long; the simulator answers a number (an int,
 * or a double past 32 bits) because the engine's arithmetic, comparisons and $sum take no
 * Long: a Long would make `{$sum: {$dateDiff: …}}` 0 and `$gt` comparisons false.
 */
function diff(a: Document, evaluate: Evaluate): number | null {
  const op = "$dateDiff";
  const start = evaluate(a.startDate);
  if (start == null) return null;
  const end = evaluate(a.endDate);
  if (end == null) return null;
  const u = unitWeekZone(op, a, evaluate);
  if (u === null) return null;
  const from = dateArg(start, op, "startDate");
  return dateDiff(from, dateArg(end, op, "endDate"), u.unit, u.zone, u.startOfWeek);
}

/** $dateTrunc: a Date, or null. */
function trunc(a: Document, evaluate: Evaluate): Date | null {
  const op = "$dateTrunc";
  const date = evaluate(a.date);
  if (date == null) return null;
  let binSize = 1n;
  if ("binSize" in a) {
    const v = evaluate(a.binSize);
    if (v == null) return null;
    binSize = binSizeOf(v);
  }
  const u = unitWeekZone(op, a, evaluate);
  if (u === null) return null;
  return truncateDate(dateArg(date, op, "date"), u.unit, binSize, u.zone, u.startOfWeek);
}

/**
 * $dateFromParts: a Date, or null. Parts outside their natural range carry over as timelib's
 * normalization does (2021-02-31 is 2021-03-03, month 14 the next year's February, minute -1
 * the previous hour's last), the local time placed with the zone's offset at that date.
 */
function fromParts(a: Document, evaluate: Evaluate): Date | null {
  // evaluateNumberWithDefault(AndBounds): null for a nullish part; 40515, 31034.
  const part = (name: string, fallback: bigint, bounded: boolean): bigint | null => {
    if (!(name in a)) return fallback;
    const v = evaluate(a[name]);
    if (v == null) return null;
    const n = integral64(v);
    if (n === undefined) {
      throw located(
        `'${name}' must evaluate to an integer, found ${bsonType(v)} with value ${valueText(v)}`,
        40515,
      );
    }
    if (bounded && (n < -32768n || n > 32767n)) {
      throw located(
        `'${name}' must evaluate to a value in the range [-32768, 32767]; value ${n} is not in range`,
        31034,
      );
    }
    return n;
  };
  const hour = part("hour", 0n, true);
  const minute = hour === null ? null : part("minute", 0n, true);
  const second = minute === null ? null : part("second", 0n, false);
  const ms = second === null ? null : part("millisecond", 0n, false);
  if (ms === null) return null;
  const zone = zoneOf(a.timezone, "timezone" in a, evaluate);
  if (zone === null) return null;
  const iso = !("year" in a);
  const year = part(iso ? "isoWeekYear" : "year", 1970n, false);
  const month = year === null ? null : part(iso ? "isoWeek" : "month", 1n, true);
  const day = month === null ? null : part(iso ? "isoDayOfWeek" : "day", 1n, true);
  if (day === null) return null;
  if (year! < 1n || year! > 9999n) {
    const [name, code] = iso ? ["isoWeekYear", 31095] : ["year", 40523];
    throw located(
      `'${name}' must evaluate to an integer in the range 1 to 9999, found ${year}`,
      code,
    );
  }
  let days: number;
  if (iso) {
    // timelib_date_from_isodate: week 1 holds the year's first Thursday.
    const jan1 = daysFromCivil(Number(year), 1, 1);
    const dow = ((jan1 + 4) % 7 + 7) % 7; // 0 for Sunday: 1970-01-01 was a Thursday
    days = jan1 - (dow > 4 ? dow - 7 : dow) + (Number(month) - 1) * 7 + Number(day);
  } else {
    const months = Number(year) * 12 + Number(month) - 1;
    const y = Math.floor(months / 12);
    days = daysFromCivil(y, months - y * 12 + 1, 1) + Number(day) - 1;
  }
  // createFromDateParts keeps the milliseconds as microseconds (Duration's checked cast).
  if (ms * 1000n >= 2n ** 63n || ms * 1000n < -(2n ** 63n)) {
    throw new QueryError(
      "Overflow casting from a lower-precision duration to a higher-precision duration",
      15,
      "DurationOverflow",
    );
  }
  const local = BigInt(days) * 86_400_000n + hour! * 3_600_000n + minute! * 60_000n +
    second! * 1000n + ms;
  return fromLocal(Number(local), zone);
}

/**
 * `[op, arg]` of a computing date operator (DATE_ARITH), evaluated for one document through
 * `evaluate`, in mongod's order of evaluation and null handling (evaluate_date.cpp): a Date, a
 * number ($dateDiff) or null. Throws the parse errors of argsOf and each operator's own.
 */
export function dateArith(call: unknown, evaluate: Evaluate): unknown {
  const [op, arg] = call as [string, unknown];
  const a = argsOf(op, arg);
  if (op === "$dateFromParts") return fromParts(a, evaluate);
  if (op === "$dateDiff") return diff(a, evaluate);
  if (op === "$dateTrunc") return trunc(a, evaluate);
  return arith(op, a, evaluate);
}

/**
 * What mongod's optimize() makes of `[op, arg]` (its shape already checked: argsOf) when the
 * pipeline is parsed, before any document: with every argument a constant, its value
 * (`{value}`; an invalid one fails now); else its constant `unit`, `startOfWeek`, `timezone` and
 * `binSize` checked, in that order, `{value: null}` when one is null (the call is then always
 * null), and undefined when the call stays as it is.
 */
export function foldDateArith(call: [string, Document]): { value: unknown } | undefined {
  const [op, a] = call;
  if (Object.values(a).every(isConstant)) return { value: dateArith(call, constValue) };
  const constant = (k: string) => k in a && isConstant(a[k]);
  if (constant("unit")) {
    const v = constValue(a.unit);
    if (v == null) return { value: null };
    unitOf(v, op);
  }
  // mongod checks a constant startOfWeek whatever the unit.
  if (constant("startOfWeek")) {
    const v = constValue(a.startOfWeek);
    if (v == null) return { value: null };
    dayOfWeekOf(v, op);
  }
  if (!("timezone" in a) || isConstant(a.timezone)) {
    if (zoneArg(op, a, constValue) === null) return { value: null };
  }
  if (constant("binSize")) {
    const v = constValue(a.binSize);
    if (v == null) return { value: null };
    binSizeOf(v);
  }
  return undefined;
}
