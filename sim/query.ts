/**
 * MongoDB's query language over in-memory documents, by `mingo` (query operators, projection,
 * aggregation pipeline; sorts in MongoDB's order: bson_order.ts; updates: update.ts). What mingo
 * cannot do is refused with the error MongoDB gives for it, never answered wrongly.
 */
import { BSON, type Document } from "bson";
import {
  applyFindOperators,
  finishProjected,
  type Positional,
  positionalElement,
  positionalField,
  positionalMiss,
  splitFindOperators,
} from "./find_projection.ts";
import { groupSpecError, type SpecError } from "./spec_checks.ts";
import { projectionSpecError } from "./projection_checks.ts";
import { QueryError, translate } from "./query_errors.ts";
import { inMongodOrder } from "./projection_order.ts";
import { ownTypes } from "./type_query.ts";
import { ownDateExpressions } from "./expression_ops.ts";
import { isObject } from "./update_checks.ts";
import { conciseLookup, desugarBucket, desugarCount } from "./pipeline_desugar.ts";
import {
  engine,
  loadQueryEngine,
  PROJECT_STAGE,
  simContext,
  SORT_STAGE,
  sortStage,
} from "./engine_context.ts";

export { QueryError, translate };
export { engine, loadQueryEngine };

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
    const q = new (engine().Query)(ownTypes(ownExprDates(filter)), {
      context: simContext(),
      ...(variables ? { variables } : {}),
    });
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

/**
 * A command's `let` with each value evaluated once, as mongod does before the command runs
 * (against no document: `$$NOW`, `{$add: [1, 2]}`); the engine took the expression itself as
 * the value (tester106 #13).
 */
export function evaluateLet(vars: Document): Document {
  // $addFields evaluates each value as an expression, a number or `true` included.
  const [out] = new (engine().Aggregator)([{ $addFields: ownDateExpressions(vars) }], {
    context: simContext(),
  }).run([{}]) as Document[];
  return out;
}

/**
 * `filter` and the options the engine's own Query needs to read it as compileFilter does (the
 * simulator's `$type`, date and string operators): what an update hands the engine for the
 * positional `$` (update.ts), which otherwise matched nothing and changed nothing.
 */
export function engineQuery(
  filter: Document,
  variables?: Document,
): { filter: Document; options: Document } {
  return {
    filter: ownTypes(ownExprDates(filter)),
    options: { context: simContext(), ...(variables ? { variables } : {}) },
  };
}

/** `filter` with the date expressions of its `$expr`s the simulator's own (ownDateExpressions). */
function ownExprDates(filter: Document): Document {
  return Object.fromEntries(
    Object.entries(filter).map(([k, v]) =>
      k === "$expr"
        ? [k, ownDateExpressions(v)]
        : (k === "$and" || k === "$or" || k === "$nor") && Array.isArray(v)
        ? [k, v.map((f) => isObject(f) ? ownExprDates(f) : f)]
        : [k, v]
    ),
  );
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
  // The simulator's own expressions ($dateToString's %w, %U and %%…) in projections too.
  const variables = { context: simContext(), ...(spec.let ? { variables: spec.let } : {}) };
  try {
    let out = docs.filter(test);
    if (spec.sort && Object.keys(spec.sort).length) out = sortStage(out, spec.sort);
    const skip = Math.max(0, spec.skip ?? 0);
    const limit = Math.abs(spec.limit ?? 0);
    out = out.slice(skip, limit ? skip + limit : undefined);
    if (spec.projection) {
      refuse(projectionSpecError(spec.projection, { find: true, filter: spec.filter }));
    }
    const ops = spec.projection && !positionalField(spec.projection)
      ? splitFindOperators(spec.projection)
      : undefined;
    if (ops) {
      out = applyFindOperators(
        out,
        ops,
        (ds, p) => {
          const order = inMongodOrder(p);
          return (new (engine().Aggregator)([{ $project: ownDateExpressions(p) }], variables).run(
            ds.map(cloneDoc),
          ) as Document[]).map((d, i) => order(d, ds[i]));
        },
        (field, condition) => compileFilter({ [field]: { $elemMatch: condition } }, spec.let),
      );
    } else if (spec.projection && Object.keys(spec.projection).length) {
      const positional = positionalField(spec.projection);
      if (positional && "code" in positional) refuse(positional);
      const pos = positional as Positional | undefined;
      const elements = pos
        ? out.map((d) =>
          positionalElement(d, pos.path, spec.filter, test) ?? refuse(positionalMiss)
        )
        : [];
      const projected = new (engine().Aggregator)(
        [{ $project: ownDateExpressions(pos?.projection ?? spec.projection) }],
        variables,
      ).run(out.map(cloneDoc)) as Document[];
      const order = inMongodOrder(pos?.projection ?? spec.projection);
      out = projected.map((d, i) =>
        order(
          finishProjected(
            d,
            pos && elements[i] ? { path: pos.path, value: elements[i].value } : undefined,
          ),
          out[i],
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
      refuse(projectionSpecError(st.$project, { find: false }));
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
    // Every $sort, a $facet's and a $lookup's too, is MongoDB's (bson_order.ts): the engine's
    // own order of arrays and mixed types is not mongod's (tester92).
    // The engine may change the documents it is given ($unwind with preserveNullAndEmptyArrays
    // did, tester99): it gets copies, so that a read never changes what is stored.
    const staged = ownStages(desugarBucket(desugarCount(ownDateExpressions(pipeline)))).map(
      conciseLookup,
    );
    return new (engine().Aggregator)(staged, {
      collectionResolver: (c: string) => resolve(c).map(cloneDoc),
      context: simContext(),
      ...(variables ? { variables } : {}),
    }).run(docs.map(cloneDoc)) as Document[];
  } catch (e) {
    translate(e, "pipeline");
  }
}

/**
 * `pipeline` with each `$sort` and `$project` stage, in `$facet` branches and `$lookup`
 * pipelines too, made the simulator's own stage (SORT_STAGE, PROJECT_STAGE, simContext), and
 * each `$match`'s `$type` its own operator (ownTypes): the engine's operators cannot be replaced
 * under their own names (its built-in ones win a merge of contexts).
 */
function ownStages(pipeline: Document[]): Document[] {
  return pipeline.map((st) => {
    if (!st || typeof st !== "object") return st;
    if ("$sort" in st) return { [SORT_STAGE]: st.$sort };
    if ("$project" in st) return { [PROJECT_STAGE]: st.$project };
    if ("$match" in st) return { $match: ownTypes(st.$match) };
    if (st.$facet && typeof st.$facet === "object") {
      return {
        $facet: Object.fromEntries(
          Object.entries(st.$facet as Document).map((
            [k, p],
          ) => [k, Array.isArray(p) ? ownStages(p) : p]),
        ),
      };
    }
    if (st.$lookup && Array.isArray(st.$lookup.pipeline)) {
      return { $lookup: { ...st.$lookup, pipeline: ownStages(st.$lookup.pipeline) } };
    }
    return st;
  });
}

function refuse(e: SpecError | undefined): undefined {
  if (e) throw new QueryError(e.message, e.code, e.codeName);
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
