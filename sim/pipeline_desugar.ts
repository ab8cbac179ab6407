/**
 * Pipeline stages rewritten as MongoDB itself runs them, before the query engine gets the
 * pipeline: `$bucket` and `$count` desugared as mongod does, and the concise correlated
 * `$lookup` joined before its pipeline. Pure: stages in, stages out.
 */
import type { Document } from "bson";
import { QueryError } from "./query_errors.ts";

/** The simulator's expression for a `$switch` that found no branch and has no default. */
export const NO_BRANCH = "$mongodNoBranch";

/**
 * `$bucket` as MongoDB runs it (document_source_bucket.cpp desugars it): a `$group` on a `$switch`
 * whose branches are `[lower, upper)` ranges, then a `$sort` on `_id`. The query engine's own
 * took each upper bound as inclusive (tester62).
 */
export function desugarBucket(pipeline: Document[]): Document[] {
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
            // Without a default, a value in no bucket fails the stage, as $switch does in mongod.
            $switch: {
              branches,
              default: b.default !== undefined ? b.default : { [NO_BRANCH]: 1 },
            },
          },
          ...(b.output ?? { count: { $sum: 1 } }),
        },
      },
      { $sort: { _id: 1 } },
    ];
  });
}

/**
 * `$count` as MongoDB runs it (document_source_count.cpp desugars it): a `$group` counting into
 * the field, then a `$project` without `_id`, so that no input gives no document (the engine's
 * own gave `{n: 0}`: tester94); in `$facet` and `$lookup` pipelines too. A bad field name is
 * refused with mongod's codes (40156–40160).
 */
export function desugarCount(pipeline: Document[]): Document[] {
  return pipeline.flatMap((st) => {
    if (!st || typeof st !== "object") return [st];
    if (st.$facet && typeof st.$facet === "object") {
      return [{
        $facet: Object.fromEntries(
          Object.entries(st.$facet as Document).map((
            [k, p],
          ) => [k, Array.isArray(p) ? desugarCount(p) : p]),
        ),
      }];
    }
    if (st.$lookup && Array.isArray(st.$lookup.pipeline)) {
      return [{ $lookup: { ...st.$lookup, pipeline: desugarCount(st.$lookup.pipeline) } }];
    }
    if (!("$count" in st)) return [st];
    const name = st.$count;
    const bad = (code: number, why: string) => {
      throw new QueryError(`the count field ${why}`, code, `Location${code}`);
    };
    if (typeof name !== "string") bad(40156, "must be a non-empty string");
    if (name === "") bad(40157, "must be a non-empty string");
    if (name.startsWith("$")) bad(40158, "cannot be a $-prefixed path");
    if (name.includes("\0")) bad(40159, "cannot contain a null byte");
    if (name.includes(".")) bad(40160, "cannot contain '.'");
    return [{ $group: { _id: null, [name]: { $sum: 1 } } }, { $project: { _id: 0 } }];
  });
}

/**
 * A `$lookup` with both `localField`/`foreignField` and a `pipeline` (5.0's concise correlated
 * form) as MongoDB runs it: the equality join first, then the pipeline on the matches. The
 * engine ran the pipeline on every foreign document, ignoring the join (tester100). The join
 * becomes a leading `$match` on a variable holding the local value (an array: any element).
 */
export function conciseLookup(st: Document): Document {
  const l = st?.$lookup as Document | undefined;
  if (!l || !Array.isArray(l.pipeline) || l.localField === undefined) return st;
  const { localField, foreignField, ...rest } = l;
  // A name the stage's own `let` does not use, so that neither hides the other.
  let local = "mupLookupLocal";
  while (l.let && typeof l.let === "object" && local in l.let) local += "_";
  return {
    $lookup: {
      ...rest,
      let: { ...l.let, [local]: `$${localField}` },
      pipeline: [
        {
          $match: {
            $expr: {
              $in: [
                { $ifNull: [`$${foreignField}`, null] },
                {
                  $cond: [{ $isArray: `$$${local}` }, `$$${local}`, [{
                    $ifNull: [`$$${local}`, null],
                  }]],
                },
              ],
            },
          },
        },
        ...l.pipeline,
      ],
    },
  };
}
