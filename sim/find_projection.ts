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
 * Whether a projection has only `$slice` fields (and `_id`): mongod then returns whole documents
 * with those arrays sliced, as an exclusion projection would (the `$slice` projection page;
 * tester92: the engine returned only `_id` and the slices).
 */
export function sliceOnly(projection: Document): boolean {
  const fields = Object.entries(projection).filter(([k]) => k !== "_id");
  return fields.length > 0 &&
    fields.every(([, v]) =>
      typeof v === "object" && v !== null && !Array.isArray(v) &&
      Object.keys(v).length === 1 && "$slice" in v && findSliceForm(v.$slice)
    );
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

/** A copy of `doc` with every `$slice` of a sliceOnly projection applied (and `_id: 0`). */
export function applySlices(doc: Document, projection: Document): Document {
  const out = BSON.deserialize(BSON.serialize(doc));
  for (const [path, v] of Object.entries(projection)) {
    if (path === "_id") {
      if (!Number(v) && v !== true) delete out._id;
      continue;
    }
    const parts = path.split(".");
    const parent = get(out, parts.slice(0, -1));
    const at = (parts.length === 1 ? out : parent) as Document | undefined;
    const arr = at?.[parts.at(-1)!];
    if (at && Array.isArray(arr)) at[parts.at(-1)!] = slice(arr, (v as Document).$slice);
  }
  return out;
}
