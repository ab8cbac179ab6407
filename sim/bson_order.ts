/**
 * MongoDB's comparison and sort order of BSON values, and the sort keys of documents, as the
 * manual states them: "Comparison/Sort Order"
 * (https://www.mongodb.com/docs/manual/reference/bson-type-comparison-order/) and `sort()`'s
 * "Sort Consistency" and array rules (ascending sorts compare an array by its smallest element,
 * descending by its largest; an empty array sorts before null and a missing field).
 */
import type { Binary, Document, ObjectId, Timestamp } from "bson";

const NUMERIC = new Set(["Long", "Int32", "Double", "Decimal128"]);

/**
 * A value's place in the order, lowest first: MinKey, null (and missing), numbers, strings
 * (and symbols), objects, arrays, BinData, ObjectId, booleans, dates, timestamps, regular
 * expressions, MaxKey.
 */
function rank(v: unknown): number {
  if (v === null || v === undefined) return 2;
  if (typeof v === "number" || typeof v === "bigint") return 3;
  if (typeof v === "string") return 4;
  if (typeof v === "boolean") return 9;
  if (v instanceof Date) return 10;
  if (v instanceof RegExp) return 12;
  if (Array.isArray(v)) return 6;
  const t = (v as { _bsontype?: string })._bsontype;
  if (t === undefined) return 5;
  if (NUMERIC.has(t)) return 3;
  return ({
    MinKey: 1,
    BSONSymbol: 4,
    Binary: 7,
    ObjectId: 8,
    Timestamp: 11,
    BSONRegExp: 12,
    MaxKey: 13,
  } as Record<string, number>)[t] ?? 5;
}

/** A number as exactly as it can be compared: a bigint for integers, else a double. */
function numeric(v: unknown): number | bigint {
  if (typeof v === "number" || typeof v === "bigint") return v;
  const b = v as { _bsontype: string; toBigInt?(): bigint; valueOf(): unknown; toString(): string };
  if (b._bsontype === "Long") return b.toBigInt!();
  if (b._bsontype === "Decimal128") return Number(b.toString());
  return Number(b.valueOf());
}

/** NaN sorts below every other number (and equal to itself), as mongod orders doubles. */
function compareNumbers(x: number | bigint, y: number | bigint): number {
  const nx = typeof x === "number" && Number.isNaN(x),
    ny = typeof y === "number" && Number.isNaN(y);
  if (nx || ny) return nx && ny ? 0 : nx ? -1 : 1;
  if (typeof x === "bigint" && typeof y === "bigint") return x < y ? -1 : x > y ? 1 : 0;
  if (typeof x === "bigint" && typeof y === "number" && Number.isInteger(y)) {
    return compareNumbers(x, BigInt(y));
  }
  if (typeof y === "bigint" && typeof x === "number" && Number.isInteger(x)) {
    return compareNumbers(BigInt(x), y);
  }
  const a = Number(x), b = Number(y);
  return a < b ? -1 : a > b ? 1 : 0;
}

const utf8 = new TextEncoder();

/** Byte-wise, as the simple collation compares strings (UTF-8, not UTF-16 code units). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length - b.length ? Math.sign(a.length - b.length) : 0;
}

function compareStrings(a: string, b: string): number {
  return a === b ? 0 : compareBytes(utf8.encode(a), utf8.encode(b));
}

/**
 * -1, 0 or 1: how MongoDB orders `a` and `b` (the simple collation). Values of different types
 * order by type; numbers of any type by value; objects field by field (each field's type, then
 * its name, then its value; the shorter first when one is a prefix of the other); arrays element
 * by element; BinData by length, subtype, then bytes.
 */
export function compareBson(a: unknown, b: unknown): number {
  const ra = rank(a), rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 3:
      return compareNumbers(numeric(a), numeric(b));
    case 4:
      return compareStrings(String(a), String(b));
    case 5: {
      const ea = Object.entries(a as Document), eb = Object.entries(b as Document);
      for (let i = 0; i < Math.min(ea.length, eb.length); i++) {
        const c = Math.sign(rank(ea[i][1]) - rank(eb[i][1])) ||
          compareStrings(ea[i][0], eb[i][0]) || compareBson(ea[i][1], eb[i][1]);
        if (c) return c;
      }
      return Math.sign(ea.length - eb.length);
    }
    case 6: {
      const xa = a as unknown[], xb = b as unknown[];
      for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
        const c = compareBson(xa[i], xb[i]);
        if (c) return c;
      }
      return Math.sign(xa.length - xb.length);
    }
    case 7: {
      const ba = a as Binary, bb = b as Binary;
      return Math.sign(ba.length() - bb.length()) || Math.sign(ba.sub_type - bb.sub_type) ||
        compareBytes(ba.value(), bb.value());
    }
    case 8:
      return compareBytes((a as ObjectId).id, (b as ObjectId).id);
    case 9:
      return Number(a) - Number(b);
    case 10:
      return Math.sign((a as Date).getTime() - (b as Date).getTime());
    case 11: {
      const ta = a as Timestamp, tb = b as Timestamp;
      return Math.sign(ta.t - tb.t) || Math.sign(ta.i - tb.i);
    }
    case 12: {
      const pa = a as { source?: string; pattern?: string; flags?: string; options?: string };
      const pb = b as typeof pa;
      return compareStrings(pa.source ?? pa.pattern ?? "", pb.source ?? pb.pattern ?? "") ||
        compareStrings(pa.flags ?? pa.options ?? "", pb.flags ?? pb.options ?? "");
    }
  }
  return 0;
}

/** Stands for an empty array in a sort key: below null and missing, as the manual says. */
const EMPTY_ARRAY = Symbol("empty array");

/**
 * The values a dotted `path` reaches in `doc`, through arrays: a numeric part indexes an array;
 * any other part is looked up in each of an array's embedded documents. An array at the end of
 * the path gives its elements (an empty one, EMPTY_ARRAY).
 */
function valuesAt(doc: unknown, parts: string[]): unknown[] {
  if (parts.length === 0) {
    if (!Array.isArray(doc)) return [doc];
    return doc.length ? doc : [EMPTY_ARRAY];
  }
  const [part, ...rest] = parts;
  if (Array.isArray(doc)) {
    if (/^\d+$/.test(part) && Number(part) < doc.length) return valuesAt(doc[Number(part)], rest);
    // An embedded document without the field gives a null key (the sort key generator's, as
    // an index's: tester92), a scalar element none.
    return doc.flatMap((e) => {
      if (typeof e !== "object" || e === null || Array.isArray(e) || rank(e) !== 5) return [];
      const v = valuesAt(e, parts);
      return v.length ? v : [null];
    });
  }
  if (typeof doc !== "object" || doc === null || rank(doc) !== 5) return [];
  // Own fields only: a missing `constructor` is no field, not Object's function.
  const next = Object.hasOwn(doc, part) ? (doc as Document)[part] : undefined;
  return next === undefined ? [] : valuesAt(next, rest);
}

/** One field of a document's sort key: the smallest value (ascending) or the largest. */
function sortKey(doc: unknown, parts: string[], dir: number): unknown {
  const values = valuesAt(doc, parts);
  if (values.length === 0) return null;
  let best = values[0];
  for (const v of values.slice(1)) {
    const c = keyCompare(v, best);
    if (dir > 0 ? c < 0 : c > 0) best = v;
  }
  return best;
}

function keyCompare(a: unknown, b: unknown): number {
  if (a === EMPTY_ARRAY || b === EMPTY_ARRAY) return a === b ? 0 : a === EMPTY_ARRAY ? -1 : 1;
  return compareBson(a, b);
}

/**
 * The value at a dotted `path` without looking into arrays but by a numeric part (null when
 * there is none), as `$push`'s `$sort` reads a field (pattern_cmp.cpp compares an array whole).
 */
function at(doc: unknown, parts: string[]): unknown {
  let v = doc;
  for (const part of parts) {
    if (Array.isArray(v) && /^\d+$/.test(part)) v = v[Number(part)];
    else if (typeof v === "object" && v !== null && rank(v) === 5) {
      v = Object.hasOwn(v, part) ? (v as Document)[part] : undefined;
    } else return null;
  }
  return v ?? null;
}

/**
 * A comparator of documents for a sort specification `{field: 1 | -1, …}` (dotted paths), as
 * `find`'s and `$sort`'s order them (`arrays` "elements": an array by its smallest or largest
 * element), or as `$push`'s `$sort` does ("whole": an array as one value). Every direction must
 * already be 1 or -1 (spec_checks.ts `sortSpecError`).
 */
export function documentOrder(
  spec: Document,
  arrays: "elements" | "whole" = "elements",
): (a: Document, b: Document) => number {
  const fields = Object.entries(spec).map(([f, d]) => ({ parts: f.split("."), dir: Number(d) }));
  const key = arrays === "elements" ? sortKey : (doc: unknown, parts: string[]) => at(doc, parts);
  return (a, b) => {
    for (const { parts, dir } of fields) {
      const c = keyCompare(key(a, parts, dir), key(b, parts, dir)) * dir;
      if (c) return c;
    }
    return 0;
  };
}

/** `docs` sorted by `spec` (a stable sort: equal keys keep their order, as mongod's often do). */
export function sortDocuments(docs: Document[], spec: Document): Document[] {
  return [...docs].sort(documentOrder(spec));
}
