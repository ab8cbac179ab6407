/**
 * What mongod's update driver refuses before it changes a document, and the array modifiers it
 * applies, where the query engine (mingo) would silently do nothing or something else: an
 * operator on a value of the wrong type, a path through a scalar, an empty path, two operators
 * on one path; `$push` with `$sort`/`$slice` and `$addToSet` with `$each`. Codes and messages are
 * mongod 7.0's (src/mongo/db/update/*_node.cpp);
 * https://www.mongodb.com/docs/manual/reference/operator/update/
 */
import { type Document, EJSON } from "bson";
import { compareBson, documentOrder } from "./bson_order.ts";

/** An update refused: `code` and `codeName` as mongod answers. */
export class UpdateError extends Error {
  constructor(message: string, readonly code: number, readonly codeName: string) {
    super(message);
  }
}

const NUMERIC = new Set(["Long", "Int32", "Double", "Decimal128"]);

/** Whether `v` is a BSON number: a JS number or bigint, or a Long, Int32, Double, Decimal128. */
export function isNumeric(v: unknown): boolean {
  return typeof v === "number" || typeof v === "bigint" ||
    NUMERIC.has((v as { _bsontype?: string })?._bsontype ?? "");
}

/** Whether `v` is an embedded document: not an array, date, regex or other BSON value. */
export function isObject(v: unknown): v is Document {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date) &&
    !(v instanceof RegExp) && (v as { _bsontype?: string })._bsontype === undefined;
}

/** mongod's name of a value's BSON type (typeName). */
export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (v instanceof Date) return "date";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "double";
  const t = (v as { _bsontype?: string })?._bsontype;
  if (t) return t === "ObjectId" ? "objectId" : t.charAt(0).toLowerCase() + t.slice(1);
  return "object";
}

/** A value as mongod's messages print it (relaxed Extended JSON). */
export function text(v: unknown): string {
  try {
    return EJSON.stringify(v as Document, { relaxed: true });
  } catch {
    return String(v);
  }
}

/**
 * The value at a dotted `path` of `doc`, when the path is plain (no positional `$`, `$[]`,
 * `$[id]`; array elements only by index): `found` false when it is missing. Undefined when the
 * path is not plain (left to the engine). Throws PathNotViable (28) for a path through a scalar.
 */
function resolve(
  doc: Document,
  path: string,
  /** A field name on an array is PathNotViable (28) too, as it is for $set, $inc…. */
  strict = false,
): { found: boolean; value?: unknown } | undefined {
  const parts = path.split(".");
  if (parts.some((p) => p.startsWith("$"))) return undefined;
  let at: unknown = doc;
  for (const [i, part] of parts.entries()) {
    if (Array.isArray(at)) {
      if (!/^\d+$/.test(part)) {
        if (!strict) return undefined;
        throw new UpdateError(
          `Cannot create field '${part}' in element {${parts[i - 1]}: ${text(at)}}`,
          28,
          "PathNotViable",
        );
      }
      at = at[Number(part)];
    } else if (isObject(at)) {
      at = at[part];
    } else {
      throw new UpdateError(
        `Cannot create field '${part}' in element {${parts[i - 1]}: ${text(at)}}`,
        28,
        "PathNotViable",
      );
    }
    if (at === undefined) return { found: false };
  }
  return { found: true, value: at };
}

/**
 * Refuses what mongod refuses of operator update `ops` ({$set: {...}, $inc: {...}}) on `doc`
 * (with `_id`): an empty path (56), one path under two operators or under itself (40), `$inc`
 * or `$mul` of a non-number or with a non-number (14), `$push`/`$addToSet`/`$pull`/`$pullAll`
 * on a non-array (2), `$pop` of a non-array (14), a path through a scalar (28).
 */
const NON_VIABLE_OK = new Set(["$pull", "$pullAll", "$pop", "$rename"]);

export function checkUpdate(doc: Document, ops: Document): void {
  const paths: string[] = [];
  for (const [op, fields] of Object.entries(ops)) {
    if (!isObject(fields)) continue;
    for (const [path, arg] of Object.entries(fields)) {
      if (path === "" || path.split(".").some((p) => p === "")) {
        throw new UpdateError("An empty update path is not valid.", 56, "EmptyFieldName");
      }
      paths.push(path);
      checkArrayPath(doc, path);
      if (op === "$rename" && typeof arg === "string") paths.push(arg);
      if (op === "$unset") continue;
      // $pull, $pullAll and $pop leave a path that cannot exist alone, as $unset does
      // (allowNonViablePath); the other operators would create it (28 through an array).
      const at = resolve(doc, path, !NON_VIABLE_OK.has(op));
      if (op === "$inc" || op === "$mul") {
        if (!isNumeric(arg)) {
          throw new UpdateError(
            `Cannot ${op === "$inc" ? "increment" : "multiply"} with non-numeric argument: ` +
              `{${path}: ${text(arg)}}`,
            14,
            "TypeMismatch",
          );
        }
        if (at?.found && !isNumeric(at.value)) {
          throw new UpdateError(
            `Cannot apply ${op} to a value of non-numeric type. {_id: ${text(doc._id)}} has the ` +
              `field '${path.split(".").at(-1)}' of non-numeric type ${typeName(at.value)}`,
            14,
            "TypeMismatch",
          );
        }
      }
      if (!at?.found || Array.isArray(at.value)) continue;
      const last = path.split(".").at(-1);
      if (op === "$push") {
        throw new UpdateError(
          `The field '${last}' must be an array but is of type ${typeName(at.value)} in ` +
            `document {_id: ${text(doc._id)}}`,
          2,
          "BadValue",
        );
      }
      if (op === "$addToSet") {
        throw new UpdateError(
          `Cannot apply $addToSet to non-array field. Field named '${last}' has non-array type ` +
            typeName(at.value),
          2,
          "BadValue",
        );
      }
      if (op === "$pull" || op === "$pullAll") {
        throw new UpdateError(`Cannot apply ${op} to a non-array value`, 2, "BadValue");
      }
      if (op === "$pop") {
        throw new UpdateError(
          `Path '${path}' contains an element of non-array type '${typeName(at.value)}'`,
          14,
          "TypeMismatch",
        );
      }
    }
  }
  for (const a of paths) {
    const clash = paths.find((b) => b !== a && (b.startsWith(a + ".") || a.startsWith(b + ".")));
    if (clash || paths.filter((b) => b === a).length > 1) {
      throw new UpdateError(
        `Updating the path '${a}' would create a conflict at '${clash ?? a}'`,
        40,
        "ConflictingUpdateOperators",
      );
    }
  }
}

/** Sets `value` at plain dotted `path` of `doc`, making missing objects on the way. */
function setPath(doc: Document, path: string, value: unknown): void {
  const parts = path.split(".");
  let at: Document = doc;
  for (const part of parts.slice(0, -1)) {
    if (at[part] === undefined) at[part] = {};
    at = at[part] as Document;
  }
  at[parts.at(-1)!] = value;
}

/** `$push`'s `$sort`: elements by value, or embedded documents by a sort specification. */
function sortBy(spec: unknown): (a: unknown, b: unknown) => number {
  if (isObject(spec)) {
    const order = documentOrder(spec, "whole");
    return (a, b) => order(a as Document, b as Document);
  }
  return (a, b) => compareBson(a, b) * (Number(spec) < 0 ? -1 : 1);
}

/**
 * Takes out of `ops` the `$push` entries with `$sort` or `$slice` and the `$addToSet` entries
 * with `$each` on plain paths, and returns a function that applies them to the updated
 * document as mongod does: `$push` inserts `$each` at `$position`, then sorts, then slices;
 * `$addToSet` adds each element not already there (the engine adds duplicates within `$each`
 * and ignores `$sort` and `$slice`).
 */
export function takeArrayModifiers(ops: Document): (out: Document) => void {
  const later: ((out: Document) => void)[] = [];
  for (const op of ["$push", "$addToSet"]) {
    const fields = ops[op];
    if (!isObject(fields)) continue;
    for (const [path, arg] of Object.entries(fields)) {
      if (
        !isObject(arg) || !Array.isArray(arg.$each) || path.split(".").some((p) => p[0] === "$")
      ) {
        continue;
      }
      if (op === "$push" && arg.$sort === undefined && arg.$slice === undefined) continue;
      delete fields[path];
      later.push((out) => {
        const now = resolve(out, path);
        const arr = now?.found && Array.isArray(now.value) ? [...now.value] : [];
        if (op === "$addToSet") {
          for (const v of arg.$each as unknown[]) {
            if (!arr.some((x) => text(x) === text(v))) arr.push(v);
          }
        } else {
          const pos = arg.$position === undefined ? arr.length : Number(arg.$position);
          arr.splice(pos < 0 ? Math.max(0, arr.length + pos) : pos, 0, ...arg.$each as unknown[]);
          if (arg.$sort !== undefined) arr.sort(sortBy(arg.$sort));
          if (arg.$slice !== undefined) {
            const n = Number(arg.$slice);
            arr.splice(0, arr.length, ...(n < 0 ? arr.slice(n) : arr.slice(0, n)));
          }
        }
        setPath(out, path, arr);
      });
    }
    if (!Object.keys(fields).length) delete ops[op];
  }
  return (out) => later.forEach((f) => f(out));
}

/**
 * The identifiers an array filter names: its fields' first components, through `$and`, `$or`
 * and `$nor` (a filter may be `{$or: [{"e.score": 1}, {"e.score": 3}]}`).
 */
function filterIdentifiers(f: unknown): string[] {
  if (!isObject(f)) return [];
  return Object.entries(f).flatMap(([k, v]) =>
    ["$and", "$or", "$nor"].includes(k)
      ? (Array.isArray(v) ? v.flatMap(filterIdentifiers) : [])
      : k.startsWith("$")
      ? []
      : [k.split(".")[0]]
  );
}

/** Whether a path component is `$[]` or `$[<identifier>]`. */
const ARRAY_PART = /^\$\[([^\]]*)\]$/;

/**
 * An update path through `$[]` or `$[id]` must reach an array there (update_array_node.cpp):
 * a missing field is refused (2: an upsert's new document has only its query's fields), as is
 * any other value (2), rather than the update answered as done with nothing changed.
 */
function checkArrayPath(doc: Document, path: string): void {
  const parts = path.split(".");
  const i = parts.findIndex((p) => ARRAY_PART.test(p));
  if (i <= 0) return;
  const prefix = parts.slice(0, i).join(".");
  const at = resolve(doc, prefix);
  if (!at) return;
  if (!at.found) {
    throw new UpdateError(
      `The path '${prefix}' must exist in the document in order to apply array updates.`,
      2,
      "BadValue",
    );
  }
  if (!Array.isArray(at.value)) {
    throw new UpdateError(
      `Cannot apply array updates to non-array element ${parts[i - 1]}: ${text(at.value)}`,
      2,
      "BadValue",
    );
  }
}

/**
 * A statement's `arrayFilters` against its operator update `update`, as its parser checks them
 * before any document is read: every `$[id]` needs a filter for `id` (2), and every filter must
 * be used by some path (9).
 */
export function checkArrayFilters(update: unknown, arrayFilters: unknown): void {
  if (!isObject(update) || Array.isArray(update)) return;
  const used = new Set<string>();
  for (const fields of Object.values(update)) {
    if (!isObject(fields)) continue;
    for (const path of Object.keys(fields)) {
      for (const p of path.split(".")) {
        const id = ARRAY_PART.exec(p)?.[1];
        if (id) used.add(id);
      }
    }
  }
  const filters = Array.isArray(arrayFilters) ? arrayFilters : [];
  const given = new Set(filters.flatMap(filterIdentifiers));
  // The query engine reads a filter's identifier from its first field only.
  if (filters.some((f) => isObject(f) && Object.keys(f).some((k) => k.startsWith("$")))) {
    throw new UpdateError(
      "an array filter with $and, $or or $nor at its top is not supported by this server",
      115,
      "CommandNotSupported",
    );
  }
  for (const id of used) {
    if (!given.has(id)) {
      const path = Object.values(update).flatMap((f) => isObject(f) ? Object.keys(f) : [])
        .find((p) => p.split(".").includes(`$[${id}]`));
      throw new UpdateError(
        `No array filter found for identifier '${id}' in path '${path}'`,
        2,
        "BadValue",
      );
    }
  }
  for (const id of given) {
    if (!used.has(id)) {
      throw new UpdateError(
        `The array filter for identifier '${id}' was not used in the update ${bsonText(update)}`,
        9,
        "FailedToParse",
      );
    }
  }
}

/** A value as mongod's messages print BSON: `{ a: 1, b: [ "x" ] }`. */
export function bsonText(v: unknown): string {
  if (Array.isArray(v)) return v.length ? `[ ${v.map(bsonText).join(", ")} ]` : "[]";
  if (isObject(v)) {
    const e = Object.entries(v);
    return e.length ? `{ ${e.map(([k, x]) => `${k}: ${bsonText(x)}`).join(", ")} }` : "{}";
  }
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}
