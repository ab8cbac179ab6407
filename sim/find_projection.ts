/**
 * Where `find`'s projection differs from the `$project` stage the query engine runs for it
 * (find_projection_executor.cpp): the positional `path.$`, which keeps the first array element
 * the query matched, and the order of fields, `_id` first.
 */
import { BSON, type Document } from "bson";
import type { SpecError } from "./spec_checks.ts";
import { isNumeric } from "./update_checks.ts";

/** The positional field of a projection, if it has one, and what the engine projects instead. */
export interface Positional {
  /** The array's path (`arr` for `arr.$`). */
  path: string;
  /** The projection with `path: 1` in place of `path.$`. */
  projection: Document;
}

/** A projection's positional field, or mongod's refusal of more than one (31276). */
export function positionalField(projection: Document): Positional | SpecError | undefined {
  const fields = Object.keys(projection).filter((k) => k === "$" || k.endsWith(".$"));
  if (fields.length === 0) return undefined;
  if (fields.length > 1) {
    return {
      message: "Cannot specify more than one positional projection per query.",
      code: 31276,
      codeName: "Location31276",
    };
  }
  const path = fields[0].slice(0, -2);
  const rest = Object.fromEntries(Object.entries(projection).filter(([k]) => k !== fields[0]));
  return { path, projection: { ...rest, [path]: 1 } };
}

function get(doc: unknown, parts: string[]): unknown {
  let v = doc;
  for (const p of parts) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    v = (v as Document)[p];
  }
  return v;
}

function put(doc: Document, parts: string[], value: unknown): void {
  let v = doc;
  for (const p of parts.slice(0, -1)) v = v[p] as Document;
  v[parts.at(-1)!] = value;
}

/**
 * The element of `doc`'s array at `path` that the query matched: the first with which the
 * document alone in its array still matches `test` (the filter). Undefined when the field is
 * not an array or no element matches, which mongod refuses (`positionalMiss`).
 */
export function positionalElement(
  doc: Document,
  path: string,
  filter: Document | undefined,
  test: (d: Document) => boolean,
): { value: unknown } | undefined {
  // A query without a condition on the array matched no element of it.
  if (!mentions(filter, path)) return undefined;
  const parts = path.split(".");
  const arr = get(doc, parts);
  if (!Array.isArray(arr)) return undefined;
  for (const e of arr) {
    const one = BSON.deserialize(BSON.serialize(doc));
    put(one, parts, [e]);
    if (test(one)) return { value: [e] };
  }
  return undefined;
}

/** Whether a filter has a condition on `path` or a field under it (in `$and`, `$or`, `$nor` too). */
function mentions(filter: unknown, path: string): boolean {
  if (Array.isArray(filter)) return filter.some((f) => mentions(f, path));
  if (typeof filter !== "object" || filter === null) return false;
  return Object.entries(filter).some(([k, v]) =>
    k === path || k.startsWith(`${path}.`) ||
    (["$and", "$or", "$nor"].includes(k) && mentions(v, path))
  );
}

/** mongod's refusal when the positional element is not there (51246). */
export const positionalMiss: SpecError = {
  message: "positional operator '.$' couldn't find a matching element in the array",
  code: 51246,
  codeName: "Location51246",
};

/** `doc` with the positional element in place of the projected array, and `_id` first. */
export function finishProjected(out: Document, positional?: { path: string; value: unknown }) {
  if (positional) {
    const parts = positional.path.split(".");
    if (get(out, parts.slice(0, -1)) !== undefined || parts.length === 1) {
      put(out, parts, positional.value);
    }
  }
  if (!("_id" in out) || Object.keys(out)[0] === "_id") return out;
  const { _id, ...rest } = out;
  return { _id, ...rest };
}

/**
 * find's own projection operators, `$slice` (its number or `[skip, limit]` form) and
 * `$elemMatch`, taken out of a projection: the query engine applies them otherwise than mongod
 * (it refused them beside an exclusion, read `$elemMatch`'s conditions on a scalar array as
 * top-level operators, and projected only `_id` and the slices: tester92, tester100). `rest` is
 * what the engine projects; `inclusion` the projection's type (projection_parser.cpp
 * computeProjectionType: `$slice` alone is an exclusion unless `_id: 1`, `$elemMatch` an
 * inclusion). Undefined when there is none.
 */
export interface FindOperators {
  rest: Document;
  ops: [string, Document][];
  inclusion: boolean;
}

export function splitFindOperators(projection: Document): FindOperators | undefined {
  const isOp = (v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 &&
    (("$slice" in v && findSliceForm((v as Document).$slice)) || "$elemMatch" in v);
  const ops = Object.entries(projection).filter(([, v]) => isOp(v)) as [string, Document][];
  if (!ops.length) return undefined;
  const rest = Object.fromEntries(Object.entries(projection).filter(([, v]) => !isOp(v)));
  const kinds = Object.entries(rest).filter(([k]) => k !== "_id").map(([, v]) =>
    typeof v === "boolean" || isNumeric(v) ? Boolean(Number(v)) : true
  );
  const inclusion = kinds.length
    ? kinds[0]
    : ops.some(([, v]) => "$slice" in v)
    ? rest._id !== undefined && Boolean(Number(rest._id))
    : true;
  return { rest, ops, inclusion };
}

/**
 * `docs` projected by `f`: `project` (the engine) applies `rest` (with the operators' fields
 * included, for an inclusion), then each operator is applied from the original document:
 * `$slice` cuts the array, `$elemMatch` keeps the first element `matcher(field, condition)`
 * accepts (the document alone with it in its array), or drops the field when none does.
 */
export function applyFindOperators(
  docs: Document[],
  f: FindOperators,
  project: (docs: Document[], projection: Document) => Document[],
  matcher: (field: string, condition: unknown) => (d: Document) => boolean,
): Document[] {
  const spec = f.inclusion
    ? { ...f.rest, ...Object.fromEntries(f.ops.map(([k]) => [k, 1])) }
    : f.rest;
  const base = Object.keys(spec).length
    ? project(docs, spec)
    : docs.map((d) => BSON.deserialize(BSON.serialize(d)));
  const tests = f.ops.map(([path, v]) =>
    "$elemMatch" in v ? matcher(path, v.$elemMatch) : undefined
  );
  return base.map((out, i) => {
    f.ops.forEach(([path, v], j) => {
      const parts = path.split(".");
      const was = get(docs[i], parts);
      const at = (parts.length === 1 ? out : get(out, parts.slice(0, -1))) as Document | undefined;
      if (!at || typeof at !== "object") return;
      const last = parts.at(-1)!;
      if ("$slice" in v) {
        if (Array.isArray(was)) at[last] = slice(was, v.$slice);
        return;
      }
      const hit = Array.isArray(was)
        ? was.find((e) => tests[j]!({ ...docs[i], [path]: [e] }))
        : undefined;
      if (hit === undefined) delete at[last];
      else at[last] = [hit];
    });
    return finishProjected(out);
  });
}

/** find's own `$slice` argument: a number, or `[skip, limit]` (the rest is the expression's). */
function findSliceForm(a: unknown): boolean {
  const num = (x: unknown) => typeof x === "number" || isNumeric(x);
  return num(a) ||
    Array.isArray(a) && a.length === 2 && num(a[0]) && num(a[1]) && Number(a[1]) >= 1;
}

/** `arr` as `$slice: n` (first n, or last -n) or `$slice: [skip, limit]` leaves it. */
function slice(arr: unknown[], spec: unknown): unknown[] {
  if (Array.isArray(spec)) {
    const [skip, limit] = spec.map(Number);
    const from = skip < 0 ? Math.max(0, arr.length + skip) : skip;
    return arr.slice(from, from + limit);
  }
  const n = Number(spec);
  return n >= 0 ? arr.slice(0, n) : arr.slice(Math.max(0, arr.length + n));
}
