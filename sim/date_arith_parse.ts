/**
 * The arguments of the date operators that compute dates — `$dateFromParts`, `$dateAdd`,
 * `$dateSubtract`, `$dateDiff`, `$dateTrunc` (date_arith.ts) — as mongod parses and converts
 * them: the argument's shape (its parse functions in src/mongo/db/pipeline/expression.cpp), the
 * conversion of `unit`, `startOfWeek`, `binSize` and integral numbers (parseTimeUnit,
 * parseDayOfWeek, convertDateTruncBinSizeValue and Value::integral64Bit in
 * src/mongo/db/exec/expression/evaluate_date.cpp and date_time_support.cpp), and which arguments
 * are constants, which mongod's optimize() checks when the pipeline is parsed. Pure: values in,
 * a value or a QueryError out.
 */
import type { Document } from "bson";
import { QueryError } from "./query_errors.ts";
import { isObject, text, typeName } from "./update_checks.ts";

/** The name the computing date operators run under inside the engine: `{[DATE_ARITH]: [op, arg]}`. */
export const DATE_ARITH = "$mongodDateArith";

/** An operator's fields, in mongod's order of its missing-field checks. */
const FIELDS: Record<string, string[]> = {
  $dateFromParts: [
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "millisecond",
    "isoWeekYear",
    "isoWeek",
    "isoDayOfWeek",
    "timezone",
  ],
  $dateAdd: ["startDate", "unit", "amount", "timezone"],
  $dateSubtract: ["startDate", "unit", "amount", "timezone"],
  $dateDiff: ["startDate", "endDate", "unit", "timezone", "startOfWeek"],
  $dateTrunc: ["date", "unit", "binSize", "timezone", "startOfWeek"],
};

/** The operators DATE_ARITH runs (its `op`). */
export const ARITH_OPERATORS = new Set(Object.keys(FIELDS));

const located = (message: string, code: number) => new QueryError(message, code, `Location${code}`);

/**
 * The fields of `arg`, the argument of `op`, checked as mongod's parse checks them: not an
 * object (40519, 5166400, 5166301, 5439007), a field it does not know (40518, 5166401, 5166302,
 * 5439008), a field missing (40516 and the mixing of natural and ISO dates, 40489/40525;
 * 5166402; 5166303–5166305; 5439009/5439010).
 */
export function argsOf(op: string, arg: unknown): Document {
  const fields = FIELDS[op];
  const notObject: Record<string, [string, number]> = {
    $dateFromParts: ["$dateFromParts only supports an object as its argument", 40519],
    $dateDiff: ["$dateDiff only supports an object as its argument", 5166301],
    $dateTrunc: ["$dateTrunc only supports an object as its argument", 5439007],
  };
  if (!isObject(arg)) {
    const [message, code] = notObject[op] ?? [`${op} expects an object as its argument`, 5166400];
    throw located(message, code);
  }
  const unknown = Object.keys(arg).find((k) => !fields.includes(k));
  if (unknown !== undefined) {
    const [message, code]: [string, number] = op === "$dateFromParts"
      ? [`Unrecognized argument to $dateFromParts: ${unknown}`, 40518]
      : op === "$dateDiff"
      ? [`Unrecognized argument to $dateDiff: ${unknown}`, 5166302]
      : op === "$dateTrunc"
      ? [
        `Unrecognized argument to $dateTrunc: ${unknown}. Expected arguments are date, unit, and optionally, binSize, timezone, startOfWeek`,
        5439008,
      ]
      : [
        `Unrecognized argument to ${op}: ${unknown}. Expected arguments are startDate, unit, amount, and optionally timezone.`,
        5166401,
      ];
    throw located(message, code);
  }
  const has = (k: string) => k in arg;
  if (op === "$dateFromParts") {
    if (!has("year") && !has("isoWeekYear")) {
      throw located("$dateFromParts requires either 'year' or 'isoWeekYear' to be present", 40516);
    }
    if (has("year") && (has("isoWeekYear") || has("isoWeek") || has("isoDayOfWeek"))) {
      throw located("$dateFromParts does not allow mixing natural dates with ISO dates", 40489);
    }
    if (has("isoWeekYear") && (has("month") || has("day"))) {
      throw located("$dateFromParts does not allow mixing ISO dates with natural dates", 40525);
    }
  } else if (op === "$dateDiff" || op === "$dateTrunc") {
    const required = op === "$dateDiff" ? ["startDate", "endDate", "unit"] : ["date", "unit"];
    const codes = op === "$dateDiff" ? [5166303, 5166304, 5166305] : [5439009, 5439010];
    required.forEach((k, i) => {
      if (!has(k)) throw located(`Missing '${k}' parameter to ${op}`, codes[i]);
    });
  } else if (!has("startDate") || !has("unit") || !has("amount")) {
    throw located(`${op} requires startDate, unit, and amount to be present`, 5166402);
  }
  return arg;
}

/** mongod's name of a value's BSON type (typeName), for the types the engine names otherwise. */
export function bsonType(v: unknown): string {
  const t = (v as { _bsontype?: string } | null)?._bsontype;
  if (t === "Decimal128") return "decimal";
  if (t === "Int32") return "int";
  if (t === "Binary") return "binData";
  if (t === "BSONRegExp" || v instanceof RegExp) return "regex";
  if (t === "Code") return "javascript";
  if (t === "BSONSymbol") return "symbol";
  return typeName(v);
}

/** C++'s `ostream << double` (%g, six significant digits): 2017.5, 1.80144e+19. */
function gFormat(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? "nan" : n > 0 ? "inf" : "-inf";
  if (n === 0) return Object.is(n, -0) ? "-0" : "0";
  const [mantissa, exp] = n.toExponential(5).split("e");
  const e = Number(exp);
  const trim = (s: string) => s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
  if (e < -4 || e >= 6) {
    return `${trim(mantissa)}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  }
  return trim(n.toFixed(5 - e));
}

/** A value as mongod's Value::toString prints it in messages (strings quoted, doubles as %g). */
export function valueText(v: unknown): string {
  if (typeof v === "string") return `"${v}"`;
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : gFormat(v);
  if (typeof v === "boolean" || typeof v === "bigint") return String(v);
  const t = (v as { _bsontype?: string } | null)?._bsontype;
  if (t === "Long" || t === "Decimal128" || t === "Int32" || t === "Double") return String(v);
  return text(v);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** The integer a Decimal128's text names exactly, undefined when it is not an integer. */
function decimalInteger(s: string): bigint | undefined {
  const m = /^([+-]?)(\d+)(?:\.(\d*))?(?:E([+-]?\d+))?$/i.exec(s);
  if (!m) return undefined;
  const digits = m[2] + (m[3] ?? "");
  const exp = Number(m[4] ?? 0) - (m[3]?.length ?? 0);
  let n: bigint;
  if (exp >= 0) {
    // Past 10^40 it is out of range anyway (unless it is 0).
    if (exp > 40) return /[^0]/.test(digits) ? undefined : 0n;
    n = BigInt(digits) * 10n ** BigInt(exp);
  } else {
    const cut = digits.length + exp;
    if (/[^0]/.test(cut > 0 ? digits.slice(cut) : digits)) return undefined;
    n = cut > 0 ? BigInt(digits.slice(0, cut)) : 0n;
  }
  return m[1] === "-" ? -n : n;
}

/**
 * The value of a number that is an integer within a 64-bit integer's range (mongod's
 * Value::integral64Bit and coerceToLong): an int, a long, an integral double or decimal.
 * Undefined for anything else (1.5, a string, 2^63 as a double).
 */
export function integral64(v: unknown): bigint | undefined {
  let n: bigint | undefined;
  if (typeof v === "number") n = Number.isInteger(v) ? BigInt(v) : undefined;
  else if (typeof v === "bigint") n = v;
  else {
    const t = (v as { _bsontype?: string } | null)?._bsontype;
    if (t === "Long") n = BigInt(String(v));
    else if (t === "Int32" || t === "Double") {
      const x = Number((v as { valueOf(): number }).valueOf());
      n = Number.isInteger(x) ? BigInt(x) : undefined;
    } else if (t === "Decimal128") n = decimalInteger(String(v));
  }
  return n !== undefined && n >= INT64_MIN && n <= INT64_MAX ? n : undefined;
}

/** The time units (TimeUnit), smallest last. */
export type Unit =
  | "year"
  | "quarter"
  | "month"
  | "week"
  | "day"
  | "hour"
  | "minute"
  | "second"
  | "millisecond";
const UNITS = new Set([
  "year",
  "quarter",
  "month",
  "week",
  "day",
  "hour",
  "minute",
  "second",
  "millisecond",
]);

/**
 * An evaluated `unit` of `op` (parseTimeUnit): 5439013 for no string, FailedToParse (9) for a
 * name mongod does not know (units are lower case: "Day" is not one).
 */
export function unitOf(v: unknown, op: string): Unit {
  if (typeof v !== "string") {
    throw located(`${op} requires 'unit' to be a string, but got ${bsonType(v)}`, 5439013);
  }
  if (!UNITS.has(v)) {
    throw new QueryError(
      `${op} parameter 'unit' value parsing failed :: caused by :: unknown time unit value: ${v}`,
      9,
      "FailedToParse",
    );
  }
  return v as Unit;
}

const DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/**
 * An evaluated `startOfWeek` of `op` as 1 (Monday) to 7 (Sunday), mongod's DayOfWeek: a day's
 * name or its first three letters in any (ASCII) case. 5439015 for no string, 5439016 for no day.
 */
export function dayOfWeekOf(v: unknown, op: string): number {
  if (typeof v !== "string") {
    throw located(`${op} requires 'startOfWeek' to be a string, but got ${bsonType(v)}`, 5439015);
  }
  const lower = v.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const i = DAYS.findIndex((d) => d === lower || d.slice(0, 3) === lower);
  if (i < 0) {
    throw located(
      `${op} parameter 'startOfWeek' value cannot be recognized as a day of a week: ${v}`,
      5439016,
    );
  }
  return i + 1;
}

/** An evaluated `binSize` of $dateTrunc: 5439017 when not integral, 5439018 when not above 0. */
export function binSizeOf(v: unknown): bigint {
  const n = integral64(v);
  if (n === undefined) {
    throw located(
      `$dateTrunc requires 'binSize' to be a 64-bit integer, but got value '${
        valueText(v)
      }' of type ${bsonType(v)}`,
      5439017,
    );
  }
  if (n <= 0n) {
    throw located(
      `$dateTrunc requires 'binSize' to be greater than 0, but got value ${n}`,
      5439018,
    );
  }
  return n;
}

/**
 * `f()`, a QueryError it throws prefixed with `context` as mongod's
 * addContextToAssertionException does ("<context> :: caused by :: <message>", the same code).
 */
export function withContext<T>(context: string | undefined, f: () => T): T {
  if (context === undefined) return f();
  try {
    return f();
  } catch (e) {
    if (!(e instanceof QueryError)) throw e;
    throw new QueryError(`${context} :: caused by :: ${e.message}`, e.code, e.codeName);
  }
}

/**
 * Whether expression `e` is a constant as mongod's optimize() finds it: a literal that is no
 * field path or variable, `{$literal: v}`, an array or a document of constants. Other
 * operators count as not constant (mongod folds some of them too: they are then checked as the
 * documents are, not before).
 */
export function isConstant(e: unknown): boolean {
  if (typeof e === "string") return !e.startsWith("$");
  if (Array.isArray(e)) return e.every(isConstant);
  if (!isObject(e)) return true;
  const keys = Object.keys(e);
  if (keys[0]?.startsWith("$")) return keys.length === 1 && keys[0] === "$literal";
  return keys.every((k) => isConstant(e[k]));
}

/** The value of a constant expression (isConstant). */
export function constValue(e: unknown): unknown {
  if (Array.isArray(e)) return e.map(constValue);
  if (!isObject(e)) return e;
  if (Object.keys(e)[0] === "$literal") return e.$literal;
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, constValue(v)]));
}
