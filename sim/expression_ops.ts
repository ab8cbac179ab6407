/**
 * Aggregation expressions the query engine lacks or runs otherwise than mongod, as mongod runs
 * them (src/mongo/db/pipeline/expression.cpp): `$indexOfCP`, which the engine does not know, and
 * the checks `$dateFromString` makes that the engine's own skips (an impossible date such as
 * February 30 rolled over into March; a string it could not parse gave a missing field). Pure:
 * evaluated arguments in, a value or a QueryError out; sim/query.ts registers them.
 */
import type { Document } from "bson";
import { QueryError } from "./query_errors.ts";
import { isNumeric, isObject, typeName } from "./update_checks.ts";

/** The name the simulator's `$dateFromString` runs under inside the engine (ownDateParsing). */
export const DATE_FROM_STRING = "$mongodDateFromString";

/**
 * `value` (a pipeline, or any part of one) with every `$dateFromString` expression renamed to
 * DATE_FROM_STRING: the engine's own operators cannot be replaced under their own names. What a
 * `$literal` holds is data and stays as it is.
 */
export function ownDateParsing<T>(value: T): T {
  if (Array.isArray(value)) return value.map(ownDateParsing) as T;
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) =>
      k === "$literal"
        ? [k, v]
        : [k === "$dateFromString" ? DATE_FROM_STRING : k, ownDateParsing(v)]
    ),
  ) as T;
}

const nullish = (v: unknown) => v === null || v === undefined;

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
  if (nullish(str)) return null;
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
  for (let i = from; i + sought.length <= to; i++) {
    if (sought.every((c, j) => cps[i + j] === c)) return i;
  }
  return -1;
}

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * The checks mongod makes around parsing a `$dateFromString`'s `dateString`, given the evaluated
 * string and what the engine made of it (`parsed`: a Date, or nothing when it could not parse
 * it). Returns the Date to use, or `failed` when the string is not a date mongod accepts (the
 * caller then answers `onError`, or throws `conversionFailure`). Throws 241 for a dateString
 * that is not a string.
 */
export function checkedDate(dateString: unknown, parsed: unknown): Date | "failed" {
  if (typeof dateString !== "string") {
    throw new QueryError(
      `$dateFromString requires that 'dateString' be a string, found: ${
        typeName(dateString)
      } with value ${String(dateString)}`,
      241,
      "ConversionFailure",
    );
  }
  if (!(parsed instanceof Date) || Number.isNaN(parsed.getTime())) return "failed";
  // A calendar date's month and day as written: mongod's parser refuses Feb 30 and month 13
  // ("The parsed date was invalid"), where the engine's rolled them over.
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(dateString);
  if (m) {
    const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    const last = month === 2 && !leap ? 28 : DAYS[month - 1];
    if (month < 1 || month > 12 || day < 1 || day > last) return "failed";
  }
  return parsed;
}

/** mongod's ConversionFailure for a `dateString` it could not parse, when there is no onError. */
export function conversionFailure(dateString: string): QueryError {
  return new QueryError(`Error parsing date string '${dateString}'`, 241, "ConversionFailure");
}

/** Whether a `$dateFromString` specification names `onError` (its value may be null). */
export function hasOnError(spec: unknown): boolean {
  return isObject(spec) && "onError" in (spec as Document);
}
