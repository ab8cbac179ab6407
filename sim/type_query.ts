/**
 * The `$type` query operator as mongod matches it (TypeMatchExpression; the aliases and numbers
 * of bsontypes.cpp): by BSON type, `"number"` for any number, an array field by itself (4) or
 * by any element, an unknown alias or number refused (2). The query engine knew neither
 * `objectId` nor `timestamp`, `binData`, `minKey`…, so a filter on them matched nothing, and
 * it took `decimal` or `double` for any number. A filter's `$type` runs under TYPE_OPERATOR
 * (ownTypes renames it; the engine's own operators cannot be replaced under their names).
 */
import type { Document } from "bson";
import { QueryError } from "./query_errors.ts";
import { isObject } from "./update_checks.ts";

/** The name the simulator's `$type` query operator runs under inside the engine. */
export const TYPE_OPERATOR = "$mongodType";

const ALIASES: Record<string, number> = {
  double: 1,
  string: 2,
  object: 3,
  array: 4,
  binData: 5,
  undefined: 6,
  objectId: 7,
  bool: 8,
  date: 9,
  null: 10,
  regex: 11,
  dbPointer: 12,
  javascript: 13,
  symbol: 14,
  javascriptWithScope: 15,
  int: 16,
  timestamp: 17,
  long: 18,
  decimal: 19,
  minKey: -1,
  maxKey: 127,
};
const CODES = new Set(Object.values(ALIASES));
const NUMBERS = [1, 16, 18, 19];

const BSON_TYPES: Record<string, number> = {
  ObjectId: 7,
  Decimal128: 19,
  Long: 18,
  Int32: 16,
  Double: 1,
  Timestamp: 17,
  Binary: 5,
  UUID: 5,
  BSONSymbol: 14,
  MinKey: -1,
  MaxKey: 127,
  BSONRegExp: 11,
  DBRef: 3,
};

/** The BSON type number of a stored value (an integral number in int32 range is an int). */
export function bsonTypeOf(v: unknown): number {
  if (v === null) return 10;
  if (v === undefined) return 6;
  if (Array.isArray(v)) return 4;
  if (typeof v === "string") return 2;
  if (typeof v === "boolean") return 8;
  if (typeof v === "bigint") return 18;
  if (typeof v === "number") {
    return Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 ? 16 : 1;
  }
  if (v instanceof Date) return 9;
  if (v instanceof RegExp) return 11;
  const t = (v as { _bsontype?: string })._bsontype;
  if (t === "Code") return (v as { scope?: unknown }).scope ? 15 : 13;
  return (t ? BSON_TYPES[t] : undefined) ?? 3;
}

/** The type numbers a `$type` argument names, or mongod's refusal of it (2 BadValue). */
function typesOf(arg: unknown): Set<number> {
  const one = (a: unknown): number[] => {
    if (a === "number") return NUMBERS;
    if (typeof a === "string") {
      if (!(a in ALIASES)) throw new QueryError(`Unknown type name alias: ${a}`, 2, "BadValue");
      return [ALIASES[a]];
    }
    const n = Number(typeof a === "object" && a !== null ? String(a) : a);
    if (typeof a === "boolean" || !Number.isInteger(n) || !CODES.has(n)) {
      throw new QueryError(`Invalid numerical type code: ${String(a)}`, 2, "BadValue");
    }
    return [n];
  };
  return new Set((Array.isArray(arg) ? arg : [arg]).flatMap(one));
}

/** Every value `parts` reaches in `v`, through arrays of documents as a query path does. */
function reached(v: unknown, parts: string[]): unknown[] {
  if (!parts.length) return [v];
  const [p, ...rest] = parts;
  if (Array.isArray(v)) {
    const indexed = /^\d+$/.test(p) && Number(p) < v.length ? reached(v[Number(p)], rest) : [];
    return [...indexed, ...v.flatMap((e) => isObject(e) ? reached(e, parts) : [])];
  }
  return isObject(v) && p in v ? reached(v[p], rest) : [];
}

/**
 * The engine's query operator for TYPE_OPERATOR: `(path, argument) => document test`. Throws
 * the refusal of a bad argument when the filter is compiled.
 */
export function typeOperator(path: string, arg: unknown): (doc: Document) => boolean {
  const types = typesOf(arg);
  const parts = path.split(".");
  return (doc) =>
    reached(doc, parts).some((v) =>
      types.has(bsonTypeOf(v)) || (Array.isArray(v) && v.some((e) => types.has(bsonTypeOf(e))))
    );
}

/** A field's condition (`{$type: …, $gt: …}`) with `$type` renamed, in `$not`/`$elemMatch` too. */
function ownCondition(cond: Document): Document {
  return Object.fromEntries(
    Object.entries(cond).map(([op, v]) => {
      if (op === "$type") return [TYPE_OPERATOR, v];
      if (op === "$not" && isObject(v)) return [op, ownCondition(v)];
      if (op === "$elemMatch" && isObject(v)) {
        return [op, Object.keys(v).every((k) => k.startsWith("$")) ? ownCondition(v) : ownTypes(v)];
      }
      return [op, v];
    }),
  );
}

/**
 * `filter` with each `$type` query operator renamed TYPE_OPERATOR, through `$and`/`$or`/`$nor`,
 * `$not` and `$elemMatch`. `$expr`'s `$type` is the aggregation expression: left as it is.
 */
export function ownTypes(filter: Document): Document {
  if (!isObject(filter)) return filter;
  return Object.fromEntries(
    Object.entries(filter).map(([k, v]) => {
      if ((k === "$and" || k === "$or" || k === "$nor") && Array.isArray(v)) {
        return [k, v.map((f) => ownTypes(f as Document))];
      }
      if (k.startsWith("$") || !isObject(v)) return [k, v];
      return [k, Object.keys(v).some((o) => o.startsWith("$")) ? ownCondition(v) : v];
    }),
  );
}
