/**
 * Aggregation expressions the query engine lacks or runs otherwise than mongod, as mongod runs
 * them (src/mongo/db/pipeline/expression.cpp): `$indexOfCP`, which the engine does not know, and
 * the renaming that runs the date operators as the simulator's own (date_from_string.ts,
 * date_parts.ts). Pure: evaluated arguments in, a value or a QueryError out; sim/query.ts
 * registers them.
 */
import { QueryError } from "./query_errors.ts";
import { isNumeric, isObject, typeName } from "./update_checks.ts";
import { DATE_PART, PART_OPERATORS } from "./date_parts.ts";

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
 * expression renamed to the simulator's own (DATE_FROM_STRING, DATE_TO_STRING), and every
 * operator that reads a part of a date made `{[DATE_PART]: [op, arg]}` (date_parts.ts): the
 * engine's operators cannot be replaced under their own names. What a `$literal` holds is data
 * and stays as it is.
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
        : PART_OPERATORS.has(k)
        ? [DATE_PART, [k, ownDateExpressions(v)]]
        : [k, ownDateExpressions(v)]
    ),
  ) as T;
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
