/**
 * Updates as mongod applies them to a document: operators (by the query engine, with mongod's
 * checks first: update_checks.ts), a replacement, or a pipeline; the `_id` kept; an upsert's
 * new document seeded from its query.
 */
import { type Document, ObjectId, Timestamp } from "bson";
import { checkUpdate, takeArrayModifiers, text, UpdateError } from "./update_checks.ts";
import { cloneDoc, engine, engineQuery, QueryError, runPipeline, translate } from "./query.ts";
import { exactArithmetic } from "./exact_arithmetic.ts";

/**
 * Applies an update (operators, a replacement document, or a pipeline) to a copy of `doc`;
 * `inserting` applies $setOnInsert (upserts); `query` is the statement's filter, which the
 * positional `$` operator needs; `vars` are the command's `let` and the statement's `c` (a
 * pipeline update reads them as `$$name`). Returns the new document.
 */
export function applyUpdate(
  doc: Document,
  update: Document | Document[],
  opts: { inserting?: boolean; arrayFilters?: Document[]; query?: Document; vars?: Document } = {},
): Document {
  if (Array.isArray(update)) {
    for (const st of update) {
      const name = Object.keys(st)[0];
      if (
        !["$addFields", "$set", "$project", "$unset", "$replaceRoot", "$replaceWith"].includes(name)
      ) {
        throw new QueryError(
          `${name} is not allowed to be used within an update`,
          72,
          "InvalidOptions",
        );
      }
    }
    const out = runPipeline([cloneDoc(doc)], update, () => [], opts.vars);
    if (out.length !== 1) throw new QueryError("update pipeline must produce one document");
    return { ...out[0], _id: doc._id };
  }
  const keys = Object.keys(update);
  if (!keys.some((k) => k.startsWith("$"))) {
    if (keys.some((k) => k !== "_id" && k.includes("."))) {
      throw new QueryError(
        `The dotted field '${keys.find((k) => k.includes("."))}' is not valid for storage.`,
        52,
        "DollarPrefixedFieldName",
      );
    }
    // A replacement keeps the _id: one with another is refused, never written as a new document.
    if (doc._id !== undefined && update._id !== undefined && idChanged(doc._id, update._id)) {
      throw new QueryError(
        "After applying the update, the (immutable) field '_id' was found to have been altered " +
          `to _id: ${text(update._id)}`,
        66,
        "ImmutableField",
      );
    }
    return { _id: doc._id, ...update, ...(update._id === undefined ? { _id: doc._id } : {}) };
  }
  if (keys.some((k) => !k.startsWith("$"))) {
    throw new QueryError(
      `Unknown modifier: ${
        keys.find((k) => !k.startsWith("$"))
      }. Expected a valid update modifier or pipeline-style update specified as an array`,
      9,
      "FailedToParse",
    );
  }
  const { $setOnInsert, ...ops } = update;
  const out = cloneDoc(doc);
  try {
    checkUpdate(doc, opts.inserting && $setOnInsert ? { ...ops, $setOnInsert } : ops);
    // A copy: the array modifiers taken out of it are the statement's for every document.
    const mod = cloneDoc(
      opts.inserting && $setOnInsert ? { ...ops, $set: { ...ops.$set, ...$setOnInsert } } : ops,
    );
    // An upsert's new document takes its _id from the update when its query gave none.
    if (doc._id === undefined) takeId(out, mod);
    else keepId(doc, mod);
    currentTimestamps(mod);
    exactArithmetic(out, mod);
    const arrays = takeArrayModifiers(mod);
    if (Object.keys(mod).length) {
      // The statement's query: the positional `$` updates the array element it matched.
      const q = opts.query ? engineQuery(opts.query, opts.vars) : undefined;
      engine().update(out, mod, opts.arrayFilters, q?.filter, {
        cloneMode: "deep",
        ...(q
          ? { queryOptions: q.options }
          : opts.vars
          ? { queryOptions: { variables: opts.vars } }
          : {}),
      });
    }
    arrays(out);
  } catch (e) {
    if (e instanceof UpdateError) throw new QueryError(e.message, e.code, e.codeName);
    translate(e, "update");
  }
  if (doc._id !== undefined && idChanged(doc._id, out._id)) {
    throw new QueryError(
      "Performing an update on the path '_id' would modify the immutable field '_id'",
      66,
      "ImmutableField",
    );
  }
  return out;
}

/**
 * An operator on `_id` of an existing document: a `$set` to the value it has is nothing to do
 * (taken out of `mod`); any other change is refused, ImmutableField (66), as mongod does.
 */
function keepId(doc: Document, mod: Document): void {
  for (const [op, fields] of Object.entries(mod)) {
    if (!fields || typeof fields !== "object") continue;
    for (const path of Object.keys(fields)) {
      const target = op === "$rename" ? String((fields as Document)[path]) : path;
      for (const p of new Set([path, target])) {
        if (p !== "_id" && !p.startsWith("_id.")) continue;
        if (op === "$set" && p === "_id" && !idChanged(doc._id, (fields as Document)._id)) {
          delete (fields as Document)._id;
          if (!Object.keys(fields).length) delete mod[op];
          continue;
        }
        throw new QueryError(
          "Performing an update on the path '_id' would modify the immutable field '_id'",
          66,
          "ImmutableField",
        );
      }
    }
  }
}

let timestampIncrement = 0;

/**
 * `$currentDate: {f: {$type: "timestamp"}}` turned into a `$set` of a BSON Timestamp (the engine
 * would store milliseconds as a number): the current second, and an increment that makes each
 * one this process gives unique, as mongod's write timestamps are.
 */
function currentTimestamps(mod: Document): void {
  const cd = mod.$currentDate as Document | undefined;
  if (!cd || typeof cd !== "object") return;
  for (const [path, spec] of Object.entries(cd)) {
    if ((spec as Document | undefined)?.$type !== "timestamp") continue;
    const t = Math.floor(Date.now() / 1000);
    mod.$set = { ...mod.$set, [path]: new Timestamp({ t, i: ++timestampIncrement }) };
    delete cd[path];
  }
  if (!Object.keys(cd).length) delete mod.$currentDate;
}

/** A `$set` of `_id` (or an upsert's `$setOnInsert` of it) taken out of `mod` into `out`. */
function takeId(out: Document, mod: Document): void {
  const set = mod.$set as Document | undefined;
  if (!set || typeof set !== "object" || !("_id" in set)) return;
  out._id = set._id;
  delete set._id;
  if (!Object.keys(set).length) delete mod.$set;
}

function idChanged(a: unknown, b: unknown): boolean {
  if (a instanceof ObjectId && b instanceof ObjectId) return !a.equals(b);
  return JSON.stringify(a) !== JSON.stringify(b);
}

/**
 * The document an upsert starts from: the query's equality conditions ("Upsert Behavior" in the
 * manual; update_driver.cpp populateDocumentWithQueryFields), found at the top level, in `$and`,
 * and in a one-clause `$or` or one-value `$in` (which MongoDB reads as equalities); a dotted path
 * makes nested fields ("x.y": 1 → {x: {y: 1}}). A regular expression is a match, not a value:
 * left out. Refused as mongod refuses them: a path given twice or inside another (54), a dotted
 * `_id` (111), an `_id` that is an array or a regular expression (53).
 */
export function upsertSeed(q: Document | undefined): Document {
  const found = new Map<string, unknown>();
  const add = (path: string, v: unknown) => {
    for (const other of found.keys()) {
      if (other === path || other.startsWith(`${path}.`) || path.startsWith(`${other}.`)) {
        throw new QueryError(
          `cannot infer query fields to set, path '${
            other.length <= path.length ? other : path
          }' is matched twice`,
          54,
          "NotSingleValueField",
        );
      }
    }
    found.set(path, v);
  };
  const walk = (filter: Document | undefined) => {
    for (const [k, v] of Object.entries(filter ?? {})) {
      if (k === "$and" && Array.isArray(v)) v.forEach((c) => walk(c as Document));
      else if (k === "$or" && Array.isArray(v) && v.length === 1) walk(v[0] as Document);
      else if (k.startsWith("$")) continue;
      else {
        const eq = equalityOf(v);
        if (eq !== undefined) add(k, eq.value);
      }
    }
  };
  walk(q);
  const base: Document = {};
  for (const [path, v] of found) {
    if (path === "_id" || path.startsWith("_id.")) checkSeedId(path, v);
    const parts = path.split(".");
    let at = base;
    for (const p of parts.slice(0, -1)) {
      at = (at[p] ??= {}) as Document;
    }
    at[parts.at(-1)!] = v;
  }
  return base;
}

function isRegex(v: unknown): boolean {
  return v instanceof RegExp || (v as { _bsontype?: string } | null)?._bsontype === "BSONRegExp";
}

/** The value a condition pins a field to, if it is an equality. */
function equalityOf(v: unknown): { value: unknown } | undefined {
  if (isRegex(v)) return undefined;
  if (v && typeof v === "object" && !Array.isArray(v) && !(v instanceof ObjectId)) {
    const ks = Object.keys(v);
    if (ks.length === 1 && ks[0] === "$eq") {
      return isRegex((v as Document).$eq) ? undefined : { value: (v as Document).$eq };
    }
    if (ks.length === 1 && ks[0] === "$in") {
      const list = (v as Document).$in;
      return Array.isArray(list) && list.length === 1 && !isRegex(list[0])
        ? { value: list[0] }
        : undefined;
    }
    if (ks.some((x) => x.startsWith("$"))) return undefined;
  }
  return { value: v };
}

/** An upsert's `_id` from its query: exact (111 otherwise), never an array or a regex (53). */
function checkSeedId(path: string, v: unknown): void {
  if (path !== "_id") {
    throw new QueryError(
      `field at '_id' must be exactly specified, field at sub-path '${path}'found`,
      111,
      "NotExactValueField",
    );
  }
  if (Array.isArray(v)) {
    throw new QueryError("The '_id' value cannot be of type array", 53, "InvalidIdField");
  }
}
