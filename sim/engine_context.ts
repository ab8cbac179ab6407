/**
 * The query engine (mingo), loaded on first need, and the context its queries and pipelines
 * run with in the simulator: the simulator's own stages and operators, which do what the engine
 * does otherwise than mongod (sim/query.ts runs them).
 */
import type { Document } from "bson";
import { compareBson, sortDocuments } from "./bson_order.ts";
import { sortSpecError } from "./spec_checks.ts";
import { QueryError } from "./query_errors.ts";
import { inMongodOrder } from "./projection_order.ts";
import { TYPE_OPERATOR, typeOperator } from "./type_query.ts";
import { ADD_TO_SET, DATE_FROM_STRING, DATE_TO_STRING, indexOfCP, PUSH } from "./expression_ops.ts";
import { DATE_PART, datePart } from "./date_parts.ts";
import { DATE_ARITH, dateArith } from "./date_arith.ts";
import { dateToString } from "./date_to_string.ts";
import { dateFromString } from "./date_from_string.ts";
import { NO_BRANCH } from "./pipeline_desugar.ts";

/**
 * mingo, loaded on first need: importing it costs about 0.25 s of CPU, and most members (the
 * secondaries, which only replicate; arbiters) never run a query. `Server.runCommand` loads it
 * before any command that may query (`loadQueryEngine`), so the functions below stay synchronous.
 */
let mingo: typeof import("mingo") | undefined;
/** The engine's expression evaluator, for the simulator's own expressions (simContext). */
export let evalExpr: typeof import("mingo/core").evalExpr | undefined;

/** Loads the query engine; resolves at once when it already is. */
export async function loadQueryEngine(): Promise<void> {
  mingo ??= await import("mingo");
  evalExpr ??= (await import("mingo/core")).evalExpr;
}

export function engine(): typeof import("mingo") {
  if (!mingo) throw new Error("internal error: the query engine was not loaded before a query");
  return mingo;
}

let simStages: ReturnType<typeof import("mingo").Context.init> | undefined;

/** The name the simulator's `$sort` runs under inside the engine (ownStages). */
export const SORT_STAGE = "$mongodSort";
/** The name the simulator's `$project` runs under inside the engine (ownStages). */
export const PROJECT_STAGE = "$mongodProject";

/** The engine's lazy sequence of documents, as much of it as these stages use. */
interface Stream {
  map(f: (d: Document) => Document): Stream;
  transform(f: (docs: Document[]) => Iterator<Document>): Stream;
}
type Stage = (coll: Stream, spec: unknown, options: unknown) => Stream;
type StageOptions = { context: { getOperator(type: string, name: string): unknown } };
/** `expr` of each document of a group, the missing ones left out. */
function pushed(coll: Document[], expr: unknown, options: StageOptions): unknown[] {
  const opts = options as StageOptions & { update?(o: Document): unknown };
  return coll.map((root) => evalExpr!(root, expr, (opts.update?.({ root }) ?? opts) as never))
    .filter((v) => v !== undefined);
}

/**
 * The simulator's own operators inside the engine: SORT_STAGE (`$sort` in MongoDB's order:
 * sortStage), PROJECT_STAGE (the engine's `$project`, its result's fields in mongod's order:
 * projection_order.ts), TYPE_OPERATOR (`$type` in filters: type_query.ts), `$indexOfCP` and
 * DATE_FROM_STRING, DATE_TO_STRING, DATE_PART, DATE_ARITH (expression_ops.ts,
 * date_from_string.ts, date_parts.ts, date_arith.ts), and NO_BRANCH.
 */
export function simContext(): ReturnType<typeof import("mingo").Context.init> {
  return simStages ??= engine().Context.init({
    query: { [TYPE_OPERATOR]: ((path: string, arg: unknown) => typeOperator(path, arg)) as never },
    expression: {
      $indexOfCP: ((obj: Document, expr: unknown, options: StageOptions) =>
        indexOfCP(evalExpr!(obj, expr, options as never))) as never,
      [DATE_TO_STRING]: ((obj: Document, expr: unknown, options: StageOptions) =>
        dateToString(expr, (e) =>
          evalExpr!(obj, e, options as never))) as never,
      [DATE_PART]: ((obj: Document, expr: unknown, options: StageOptions) =>
        datePart(expr, (e) =>
          evalExpr!(obj, e, options as never))) as never,
      [DATE_ARITH]: ((obj: Document, expr: unknown, options: StageOptions) =>
        dateArith(expr, (e) =>
          evalExpr!(obj, e, options as never))) as never,
      [DATE_FROM_STRING]: ((obj: Document, expr: unknown, options: StageOptions) =>
        dateFromString(expr, (e) =>
          evalExpr!(obj, e, options as never))) as never,
      [NO_BRANCH]: (() => {
        throw new QueryError(
          "$switch could not find a matching branch for an input, and no default was specified.",
          40066,
          "Location40066",
        );
      }) as never,
    },
    // $push and $addToSet leave a missing value out (AccumulatorPush::processInternal); the
    // engine's pushed null for it.
    accumulator: {
      [PUSH]: ((coll: Document[], expr: unknown, options: StageOptions) =>
        pushed(coll, expr, options)) as never,
      [ADD_TO_SET]: ((coll: Document[], expr: unknown, options: StageOptions) =>
        pushed(coll, expr, options).filter((v, i, all) =>
          all.findIndex((w) =>
            compareBson(v, w) === 0
          ) === i
        )) as never,
    },
    pipeline: {
      [SORT_STAGE]:
        ((coll: { transform(f: (docs: Document[]) => unknown): unknown }, spec: unknown) => {
          if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
            throw new QueryError(
              "the $sort key specification must be an object",
              15973,
              "Location15973",
            );
          }
          if (!Object.keys(spec).length) {
            throw new QueryError(
              "$sort stage must have at least one sort key",
              15976,
              "Location15976",
            );
          }
          return coll.transform((docs) =>
            sortStage(docs, spec as Document).values()
          );
        }) as never,
      [PROJECT_STAGE]: ((coll: Stream, spec: unknown, options: StageOptions) => {
        // The inputs, kept as the engine's $project reads them (one output per input, in order).
        const inputs: Document[] = [];
        const project = options.context.getOperator("pipeline", "$project") as Stage;
        const order = inMongodOrder(spec as Document);
        return project(coll.map((d) => (inputs.push(d), d)), spec, options).transform((out) =>
          out.map((d, i) => order(d, inputs[i])).values()
        );
      }) as never,
    },
  });
}

/** `docs` in the order of a sort specification, or mongod's refusal of it (spec_checks.ts). */
export function sortStage(docs: Document[], sort: Document): Document[] {
  const e = sortSpecError(sort);
  if (e) throw new QueryError(e.message, e.code, e.codeName);
  return sortDocuments(docs, sort);
}
