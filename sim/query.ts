/**
 * MongoDB's query language over in-memory documents, by `mingo` (query operators, projection,
 * sort, update operators, aggregation pipeline). What mingo cannot do is refused with the error
 * MongoDB gives for it, never answered wrongly.
 */
import { BSON, type Document, ObjectId, Timestamp } from "bson";
import { checkUpdate, takeArrayModifiers, text, UpdateError } from "./update_checks.ts";
import { sortDocuments } from "./bson_order.ts";
import {
  finishProjected,
  type Positional,
  positionalElement,
  positionalField,
  positionalMiss,
} from "./find_projection.ts";
import { groupSpecError, projectionError, sortSpecError, type SpecError } from "./spec_checks.ts";

/**
 * mingo, loaded on first need: importing it costs about 0.25 s of CPU, and most members (the
 * secondaries, which only replicate; arbiters) never run a query. `Server.runCommand` loads it
 * before any command that may query (`loadQueryEngine`), so the functions below stay synchronous.
 */
let mingo: typeof import("mingo") | undefined;

/** Loads the query engine; resolves at once when it already is. */
export async function loadQueryEngine(): Promise<void> {
  mingo ??= await import("mingo");
}

function engine(): typeof import("mingo") {
  if (!mingo) throw new Error("internal error: the query engine was not loaded before a query");
  return mingo;
}

export class QueryError extends Error {
  constructor(message: string, readonly code = 2, readonly codeName = "BadValue") {
    super(message);
  }
}

/** Stages that write or need a server-side feature the simulator does not have. */
const REFUSED_STAGES = new Set([
  "$out",
  "$merge",
  "$changeStream",
  "$currentOp",
  "$listSessions",
  "$indexStats",
  "$planCacheStats",
  "$search",
  "$searchMeta",
  "$vectorSearch",
  "$geoNear",
  "$graphLookup",
  "$unionWith",
]);

/** Converts mingo's errors to MongoDB's codes for the same mistakes. */
function translate(e: unknown, kind: "query" | "update" | "pipeline"): never {
  if (e instanceof QueryError) throw e;
  const msg = (e as Error).message ?? String(e);
  let m: RegExpExecArray | null;
  if ((m = /unknown top level operator: (\S+)/.exec(msg))) {
    throw new QueryError(`unknown top level operator: ${m[1]}`, 2, "BadValue");
  }
  if ((m = /unknown query operator (\S+)/.exec(msg))) {
    throw new QueryError(`unknown operator: ${m[1]}`, 2, "BadValue");
  }
  if ((m = /Unknown update operator: '(\S+)'/.exec(msg))) {
    throw new QueryError(
      `Unknown modifier: ${
        m[1]
      }. Expected a valid update modifier or pipeline-style update specified as an array`,
      9,
      "FailedToParse",
    );
  }
  if ((m = /unregistered pipeline operator (\$\w+)/.exec(msg))) {
    throw new QueryError(`Unrecognized pipeline stage name: '${m[1]}'`, 40324, "Location40324");
  }
  if ((m = /(?:accumulator|operator|expression) '?(\$\w+)'? is not registered/.exec(msg))) {
    throw new QueryError(`Unrecognized expression '${m[1]}'`, 168, "InvalidPipelineOperator");
  }
  if (kind === "update") throw new QueryError(msg, 9, "FailedToParse");
  throw new QueryError(msg, 2, "BadValue");
}

/** Turns a filter's `$where` and other JavaScript into MongoDB's refusal (no JS engine here). */
function checkFilter(filter: Document | undefined): void {
  if (!filter) return;
  for (const [k, v] of Object.entries(filter)) {
    if (k === "$where" || k === "$function" || k === "$accumulator") {
      throw new QueryError(
        "no globalScriptEngine in $where parsing",
        2,
        "BadValue",
      );
    }
    if ((k === "$and" || k === "$or" || k === "$nor") && Array.isArray(v)) {
      for (const f of v) checkFilter(f as Document);
    }
  }
}

/**
 * A filter's test of one document; `variables` are the command's `let` (`$$name` in `$expr`).
 */
export function compileFilter(
  filter: Document | undefined,
  variables?: Document,
): (d: Document) => boolean {
  if (!filter || Object.keys(filter).length === 0) return () => true;
  checkFilter(filter);
  try {
    const q = new (engine().Query)(filter, variables ? { variables } : undefined);
    return (d) => {
      try {
        return q.test(d);
      } catch (e) {
        translate(e, "query");
      }
    };
  } catch (e) {
    translate(e, "query");
  }
}

export function matches(doc: Document, filter: Document | undefined): boolean {
  return compileFilter(filter)(doc);
}

export interface FindSpec {
  filter?: Document;
  sort?: Document;
  projection?: Document;
  skip?: number;
  limit?: number;
  /** The command's `let`: variables its filter and projection read as `$$name`. */
  let?: Document;
}

/** find: filter, sort, skip, limit, projection, in MongoDB's order. */
export function findDocs(docs: Document[], spec: FindSpec): Document[] {
  const test = compileFilter(spec.filter, spec.let);
  const variables = spec.let ? { variables: spec.let } : undefined;
  try {
    let out = docs.filter(test);
    if (spec.sort && Object.keys(spec.sort).length) out = sortStage(out, spec.sort);
    const skip = Math.max(0, spec.skip ?? 0);
    const limit = Math.abs(spec.limit ?? 0);
    out = out.slice(skip, limit ? skip + limit : undefined);
    if (spec.projection && Object.keys(spec.projection).length) {
      refuse(projectionError(spec.projection));
      const positional = positionalField(spec.projection);
      if (positional && "code" in positional) refuse(positional);
      const pos = positional as Positional | undefined;
      const elements = pos
        ? out.map((d) =>
          positionalElement(d, pos.path, spec.filter, test) ?? refuse(positionalMiss)
        )
        : [];
      const projected = new (engine().Aggregator)(
        [{ $project: pos?.projection ?? spec.projection }],
        variables,
      ).run(out) as Document[];
      out = projected.map((d, i) =>
        finishProjected(
          d,
          pos && elements[i] ? { path: pos.path, value: elements[i].value } : undefined,
        )
      );
    }
    return out;
  } catch (e) {
    translate(e, "query");
  }
}

/** A deep copy that keeps BSON types (structuredClone would not). */
export function cloneDoc(doc: Document): Document {
  return BSON.deserialize(BSON.serialize(doc));
}

/**
 * Applies an update (operators, a replacement document, or a pipeline) to a copy of `doc`;
 * `inserting` applies $setOnInsert (upserts); `query` is the statement's filter, which the
 * positional `$` operator needs. Returns the new document.
 */
export function applyUpdate(
  doc: Document,
  update: Document | Document[],
  opts: { inserting?: boolean; arrayFilters?: Document[]; query?: Document } = {},
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
    const out = runPipeline([cloneDoc(doc)], update, () => []);
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
    const arrays = takeArrayModifiers(mod);
    if (Object.keys(mod).length) {
      // The statement's query: the positional `$` updates the array element it matched.
      engine().update(out, mod, opts.arrayFilters, opts.query, { cloneMode: "deep" });
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

/** Runs an aggregation pipeline; `resolve` gives the documents of another collection ($lookup). */
export function runPipeline(
  docs: Document[],
  pipeline: Document[],
  resolve: (coll: string) => Document[],
  variables?: Document,
): Document[] {
  for (const st of pipeline) {
    const name = Object.keys(st ?? {})[0];
    if (!st || Object.keys(st).length !== 1) {
      throw new QueryError(
        "A pipeline stage specification object must contain exactly one field.",
        40323,
        "Location40323",
      );
    }
    if (REFUSED_STAGES.has(name)) {
      throw new QueryError(`Unrecognized pipeline stage name: '${name}'`, 40324, "Location40324");
    }
    if (name === "$group") refuse(groupSpecError(st.$group));
    if (name === "$project" && st.$project && typeof st.$project === "object") {
      refuse(projectionError(st.$project));
    }
    // The servers answer a leading $collStats before running a pipeline (coll_stats.ts).
    if (name === "$collStats") {
      throw new QueryError(
        "$collStats is only valid as the first stage in a pipeline",
        40602,
        "Location40602",
      );
    }
  }
  try {
    // A $sort with plain directions is done here, in MongoDB's order (bson_order.ts), between
    // the runs of stages the engine does: its own order of arrays and mixed types is not mongod's.
    let out = docs;
    let run: Document[] = [];
    const flush = () => {
      if (run.length) {
        out = new (engine().Aggregator)(desugarBucket(run), {
          collectionResolver: resolve,
          ...(variables ? { variables } : {}),
        })
          .run(out) as Document[];
      }
      run = [];
    };
    for (const st of pipeline) {
      const sort = st.$sort;
      if (
        typeof sort === "object" && sort !== null && !Array.isArray(sort) &&
        Object.keys(sort).length
      ) {
        flush();
        out = sortStage(out, sort);
      } else run.push(st);
    }
    flush();
    return out;
  } catch (e) {
    translate(e, "pipeline");
  }
}

/** `docs` in the order of a sort specification, or mongod's refusal of it (spec_checks.ts). */
function sortStage(docs: Document[], sort: Document): Document[] {
  refuse(sortSpecError(sort));
  return sortDocuments(docs, sort);
}

function refuse(e: SpecError | undefined): undefined {
  if (e) throw new QueryError(e.message, e.code, e.codeName);
}

/**
 * `$bucket` as MongoDB runs it (document_source_bucket.cpp desugars it): a `$group` on a `$switch`
 * whose branches are `[lower, upper)` ranges, then a `$sort` on `_id`. The query engine's own
 * took each upper bound as inclusive (tester62).
 */
function desugarBucket(pipeline: Document[]): Document[] {
  return pipeline.flatMap((st) => {
    const b = st.$bucket as Document | undefined;
    if (!b || !Array.isArray(b.boundaries)) return [st];
    const bounds = b.boundaries as unknown[];
    const branches = bounds.slice(0, -1).map((lower, i) => ({
      case: { $and: [{ $gte: [b.groupBy, lower] }, { $lt: [b.groupBy, bounds[i + 1]] }] },
      then: lower,
    }));
    return [
      {
        $group: {
          _id: {
            $switch: { branches, ...(b.default !== undefined ? { default: b.default } : {}) },
          },
          ...(b.output ?? { count: { $sum: 1 } }),
        },
      },
      { $sort: { _id: 1 } },
    ];
  });
}

/** Fields of an equality filter, as an upsert seeds its new document with them. */
export function upsertSeed(q: Document | undefined): Document {
  const base: Document = {};
  for (const [k, v] of Object.entries(q ?? {})) {
    if (k.startsWith("$") || k.includes(".")) continue;
    if (v && typeof v === "object" && !Array.isArray(v) && !(v instanceof ObjectId)) {
      const ks = Object.keys(v);
      if (ks.length === 1 && ks[0] === "$eq") base[k] = (v as Document).$eq;
      else if (ks.some((x) => x.startsWith("$"))) continue;
      else base[k] = v;
    } else base[k] = v;
  }
  return base;
}

/** Key values of a document for an index key pattern (missing fields index as null). */
export function indexKey(doc: Document, key: Document): unknown[] {
  return Object.keys(key).map((p) => {
    let v: unknown = doc;
    for (const part of p.split(".")) {
      if (v === null || typeof v !== "object") return null;
      v = (v as Record<string, unknown>)[part];
    }
    return v === undefined ? null : v;
  });
}
