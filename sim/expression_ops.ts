/**
 * Aggregation expressions the query engine lacks or runs otherwise than mongod, as mongod runs
 * them (src/mongo/db/pipeline/expression.cpp): `$indexOfCP`, which the engine does not know,
 * `$dateToString`'s `%w`, `%U` and `%%`, `$week`, and the renaming that runs `$dateFromString`
 * (date_from_string.ts), `$dateToString` and `$week` as the simulator's own. Pure:
 * evaluated arguments in, a value or a QueryError out; sim/query.ts registers them.
 */
import { QueryError } from "./query_errors.ts";
import { isNumeric, isObject, typeName } from "./update_checks.ts";
import { zonedExpressions } from "./time_zone.ts";

/** The names the simulator's date expressions run under inside the engine (ownDateExpressions). */
export const DATE_FROM_STRING = "$mongodDateFromString";
export const DATE_TO_STRING = "$mongodDateToString";
export const WEEK = "$mongodWeek";
const OWN: Record<string, string> = {
  $dateFromString: DATE_FROM_STRING,
  $dateToString: DATE_TO_STRING,
  $week: WEEK,
};

/**
 * The week of the year as mongod counts it (TimeZone::week, strftime's %U): weeks begin on
 * Sunday, the days before the year's first Sunday are week 0. `dayOfYear` 1–366, `dayOfWeek`
 * 1 (Sunday) to 7, in the timezone asked (the engine's own counted otherwise).
 */
export function weekOfYear(dayOfYear: number, dayOfWeek: number): number {
  return Math.floor((dayOfYear + 7 - dayOfWeek) / 7);
}

/**
 * `value` (a pipeline, or any part of one) with every `$dateFromString` and `$dateToString`
 * expression renamed to the simulator's own (DATE_FROM_STRING, DATE_TO_STRING): the engine's
 * operators cannot be replaced under their own names, and every extraction given a `timezone`
 * renamed ZONED (time_zone.ts). What a `$literal` holds is data and stays as it is.
 */
export function ownDateExpressions<T>(value: T): T {
  if (Array.isArray(value)) return value.map(ownDateExpressions) as T;
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) =>
      k === "$literal"
        ? [k, v]
        : Object.hasOwn(OWN, k)
        ? [OWN[k], ownDateExpressions(v)]
        : zonedExpressions(k, ownDateExpressions(v))
    ),
  ) as T;
}

/** `$dateToString`'s format specifiers: kDateToStringFormatMap, and `%b` `%B` (7.0). */
const TO_STRING_SPECIFIERS = new Set("bBdGHjLmMSwuUVYzZ");

/**
 * A `$dateToString` format checked as mongod's validateFormat checks it (18535 for a `%` at the
 * end, 18536 for an unknown specifier: src/mongo/db/query/datetime/date_time_support.cpp) and cut
 * into pieces: each `%%`, `%w` and `%U` a piece of its own (the engine renders `%%` as nothing,
 * counts `%w` 0–6 and numbers weeks otherwise, so the simulator renders those), the text between
 * them the engine's. "a%%b%w" gives ["a", "%%", "b", "%w"].
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
    if (c === "%" || c === "w" || c === "U") {
      if (text) pieces.push(text);
      pieces.push(`%${c}`);
      text = "";
    } else text += `%${c}`;
  }
  if (text) pieces.push(text);
  return pieces;
}

/** mongod's check of an index argument (uassertIfNotIntegralAndNonNegative: 40096, 40097). */
function index(v: unknown, op: string, name: string): number {
  const n = Number(v);
  if (!isNumeric(v) || !Number.isInteger(n)) {
    // mongod's message has no space after the operator's name.
    throw new QueryError(
      `${op}requires an integral ${name}, found a value of type: ${typeName(v)}, with value: ${
        String(v)
      }`,
      40096,
      "Location40096",
    );
  }
  if (n < 0) {
    throw new QueryError(
      `${op} requires a nonnegative ${name}, found: ${n}`,
      40097,
      "Location40097",
    );
  }
  return n;
}

/**
 * `$indexOfCP: [string, substring, start?, end?]` of evaluated arguments: the code point index
 * of the first match within [start, end), -1 when there is none, null for a null or missing
 * string. Throws 28667 (arity), 40093/40094 (not strings), 40096/40097 (bad indexes).
 */
export function indexOfCP(args: unknown): number | null {
  const list = Array.isArray(args) ? args : [args];
  if (list.length < 2 || list.length > 4) {
    throw new QueryError(
      `Expression $indexOfCP takes at least 2 arguments, and at most 4, but ${list.length} were passed in.`,
      28667,
      "Location28667",
    );
  }
  const [str, token, start, end] = list;
  if (str == null) return null;
  if (typeof str !== "string") {
    throw new QueryError(
      `$indexOfCP requires a string as the first argument, found: ${typeName(str)}`,
      40093,
      "Location40093",
    );
  }
  if (typeof token !== "string") {
    throw new QueryError(
      `$indexOfCP requires a string as the second argument, found: ${
        token === undefined ? "missing" : typeName(token)
      }`,
      40094,
      "Location40094",
    );
  }
  const cps = [...str];
  const sought = [...token];
  const from = list.length > 2 ? index(start, "$indexOfCP", "starting index") : 0;
  const to = Math.min(
    list.length > 3 ? index(end, "$indexOfCP", "ending index") : cps.length,
    cps.length,
  );
  // Each code point from start to end (exclusive) is a candidate: none when start is the end,
  // an empty substring included.
  for (let i = from; i < to && i + sought.length <= to; i++) {
    if (sought.every((c, j) => cps[i + j] === c)) return i;
  }
  return -1;
}
