/** Enough of MongoDB's query language for drivers' CRUD on small data. */
import { BSON, type Document, ObjectId } from "bson";

export class QueryError extends Error {
  constructor(message: string, readonly code = 2, readonly codeName = "BadValue") {
    super(message);
  }
}

export function getPath(doc: unknown, path: string): unknown {
  let v: unknown = doc;
  for (const p of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

function typeRank(v: unknown): number {
  if (v === undefined || v === null) return 1;
  if (
    typeof v === "number" || typeof v === "bigint" ||
    (v as { _bsontype?: string })?._bsontype === "Long" ||
    (v as { _bsontype?: string })?._bsontype === "Double" ||
    (v as { _bsontype?: string })?._bsontype === "Int32"
  ) return 2;
  if (typeof v === "string") return 3;
  if (v instanceof ObjectId) return 7;
  if (typeof v === "boolean") return 8;
  if (v instanceof Date) return 9;
  if ((v as { _bsontype?: string })?._bsontype === "Timestamp") return 10;
  if (Array.isArray(v)) return 5;
  return 4;
}

function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  const b = v as { toNumber?: () => number; valueOf: () => unknown };
  if (b?.toNumber) return b.toNumber();
  return Number(b?.valueOf());
}

export function compare(a: unknown, b: unknown): number {
  const ra = typeRank(a), rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 1:
      return 0;
    case 2:
      return num(a) - num(b);
    case 3:
      return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
    case 7:
      return (a as ObjectId).toHexString().localeCompare((b as ObjectId).toHexString());
    case 8:
      return Number(a) - Number(b);
    case 9:
      return (a as Date).getTime() - (b as Date).getTime();
    case 10:
      return (a as { compare(o: unknown): number }).compare(b);
    default:
      return JSON.stringify(a).localeCompare(JSON.stringify(b));
  }
}

export function equals(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && !Array.isArray(b)) return a.some((x) => equals(x, b));
  if (typeRank(a) !== typeRank(b)) return false;
  if (typeRank(a) === 4 || typeRank(a) === 5) return JSON.stringify(a) === JSON.stringify(b);
  return compare(a, b) === 0;
}

function matchOps(v: unknown, cond: Document): boolean {
  for (const [op, arg] of Object.entries(cond)) {
    switch (op) {
      case "$eq":
        if (!equals(v, arg)) return false;
        break;
      case "$ne":
        if (equals(v, arg)) return false;
        break;
      case "$gt":
        if (v === undefined || typeRank(v) !== typeRank(arg) || compare(v, arg) <= 0) return false;
        break;
      case "$gte":
        if (v === undefined || typeRank(v) !== typeRank(arg) || compare(v, arg) < 0) return false;
        break;
      case "$lt":
        if (v === undefined || typeRank(v) !== typeRank(arg) || compare(v, arg) >= 0) return false;
        break;
      case "$lte":
        if (v === undefined || typeRank(v) !== typeRank(arg) || compare(v, arg) > 0) return false;
        break;
      case "$in":
        if (!(arg as unknown[]).some((x) => equals(v, x))) return false;
        break;
      case "$nin":
        if ((arg as unknown[]).some((x) => equals(v, x))) return false;
        break;
      case "$exists":
        if ((v !== undefined) !== Boolean(arg)) return false;
        break;
      default:
        throw new QueryError(`unknown operator: ${op}`);
    }
  }
  return true;
}

export function matches(doc: Document, filter: Document | undefined): boolean {
  if (!filter) return true;
  for (const [k, cond] of Object.entries(filter)) {
    if (k === "$and") {
      if (!(cond as Document[]).every((f) => matches(doc, f))) return false;
    } else if (k === "$or") {
      if (!(cond as Document[]).some((f) => matches(doc, f))) return false;
    } else if (k === "$nor") {
      if ((cond as Document[]).some((f) => matches(doc, f))) return false;
    } else if (k.startsWith("$")) {
      if (k === "$comment") continue;
      throw new QueryError(`unknown top level operator: ${k}`);
    } else {
      const v = getPath(doc, k);
      const isOps = cond && typeof cond === "object" && !Array.isArray(cond) &&
        !(cond instanceof ObjectId) && !(cond instanceof Date) && Object.keys(cond).length > 0 &&
        Object.keys(cond).every((x) => x.startsWith("$"));
      if (isOps ? !matchOps(v, cond as Document) : !equals(v, cond)) return false;
    }
  }
  return true;
}

export function sortDocs(docs: Document[], sort: Document | undefined): Document[] {
  if (!sort || Object.keys(sort).length === 0) return docs;
  const keys = Object.entries(sort);
  return [...docs].sort((a, b) => {
    for (const [k, dir] of keys) {
      const c = compare(getPath(a, k), getPath(b, k));
      if (c) return Number(dir) < 0 ? -c : c;
    }
    return 0;
  });
}

export function project(doc: Document, projection: Document | undefined): Document {
  if (!projection || Object.keys(projection).length === 0) return doc;
  const entries = Object.entries(projection);
  const inclusive = entries.some(([k, v]) => k !== "_id" && Boolean(v));
  if (inclusive) {
    const out: Document = {};
    if (projection._id !== 0 && projection._id !== false && "_id" in doc) out._id = doc._id;
    for (const [k, v] of entries) {
      if (v && k !== "_id" && getPath(doc, k) !== undefined) out[k] = getPath(doc, k);
    }
    return out;
  }
  const out = { ...doc };
  for (const [k, v] of entries) if (!v) delete out[k];
  return out;
}

/** Applies an update document ($set, $unset, $inc) or a replacement; returns the new document. */
export function applyUpdate(doc: Document, update: Document): Document {
  const ops = Object.keys(update);
  if (!ops.some((k) => k.startsWith("$"))) return { _id: doc._id, ...update };
  const out = BSON.deserialize(BSON.serialize(doc)); // keeps BSON types, unlike structuredClone
  for (const [op, fields] of Object.entries(update)) {
    for (const [k, v] of Object.entries(fields as Document)) {
      const parts = k.split(".");
      let o = out as Record<string, unknown>;
      for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
      const last = parts[parts.length - 1];
      if (op === "$set") o[last] = v;
      else if (op === "$unset") delete o[last];
      else if (op === "$inc") o[last] = num(o[last] ?? 0) + num(v);
      else {
        throw new QueryError(
          `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`,
          9,
          "FailedToParse",
        );
      }
    }
  }
  return out;
}
