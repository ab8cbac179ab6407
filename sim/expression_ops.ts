/**
 * Aggregation expressions the query engine lacks or runs otherwise than mongod, as mongod runs
 * them (src/mongo/db/pipeline/expression.cpp): `$indexOfCP`, which the engine does not know, and
 * the renaming that runs the date operators as the simulator's own (date_from_string.ts,
 * date_parts.ts, date_arith.ts). Pure: evaluated arguments in, a value or a QueryError out;
 * sim/query.ts registers them.
 */
import type { Document } from "bson";
import { QueryError } from "./query_errors.ts";
import { isNumeric, isObject, typeName } from "./update_checks.ts";
import { DATE_PART, PART_OPERATORS } from "./date_parts.ts";
import { ARITH_OPERATORS, DATE_ARITH, foldDateArith } from "./date_arith.ts";
import { argsOf } from "./date_arith_parse.ts";

/** The names the simulator's date expressions run under inside the engine (ownDateExpressions). */
export const DATE_FROM_STRING = "$mongodDateFromString";
export const DATE_TO_STRING = "$mongodDateToString";
/** The names the simulator's $push and $addToSet accumulators run under (query.ts). */
export const PUSH = "$mongodPush";
export const ADD_TO_SET = "$mongodAddToSet";
const OWN: Record<string, string> = {
  $dateFromString: DATE_FROM_STRING,
  $dateToString: DATE_TO_STRING,
  $push: PUSH,
  $addToSet: ADD_TO_SET,
};

/**
 * `value` (a pipeline, or any part of one) with every `$dateFromString` and `$dateToString`
 * expression renamed to the simulator's own (DATE_FROM_STRING, DATE_TO_STRING), every operator
 * that reads a part of a date made `{[DATE_PART]: [op, arg]}` (date_parts.ts) and every one that
 * computes a date (`$dateFromParts`, `$dateAdd`, `$dateSubtract`, `$dateDiff`, `$dateTrunc`)
 * `{[DATE_ARITH]: [op, arg]}` (date_arith.ts): the engine's operators cannot be replaced under
 * their own names. What a `$literal` holds is data and stays as it is. Renaming is parsing, as
 * mongod parses a pipeline before it reads a document: the computing operators' arguments are
 * checked here (argsOf), then, once all is parsed, their constants, innermost first, as mongod's
 * optimize() checks them (foldDateArith: one that is all constants becomes its value). Throws
 * their QueryErrors, with no document needed.
 */
export function ownDateExpressions<T>(value: T): T {
  const checks: (() => void)[] = [];
  const out = renamed(value, checks);
  for (const check of checks) check();
  return out;
}

function renamed<T>(value: T, checks: (() => void)[]): T {
  if (Array.isArray(value)) return value.map((v) => renamed(v, checks)) as T;
  if (!isObject(value)) return value;
  // Object.fromEntries, not assignment, so that a field named "__proto__" stays a field.
  const out: Document = Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      if (k === "$literal") return [k, v];
      if (Object.hasOwn(OWN, k)) return [OWN[k], renamed(v, checks)];
      if (PART_OPERATORS.has(k)) return [DATE_PART, [k, renamed(v, checks)]];
      if (!ARITH_OPERATORS.has(k)) return [k, renamed(v, checks)];
      argsOf(k, v);
      const call: [string, Document] = [k, renamed(v as Document, checks)];
      // After its arguments' own checks (pushed while renaming them): optimize() is bottom-up.
      checks.push(() => {
        const folded = foldDateArith(call);
        if (!folded) return;
        delete out[DATE_ARITH];
        out.$literal = folded.value;
      });
      return [DATE_ARITH, call];
    }),
  );
  return out as T;
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
