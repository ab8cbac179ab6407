/**
 * Where `find`'s projection differs from the `$project` stage the query engine runs for it
 * (find_projection_executor.cpp): the positional `path.$`, which keeps the first array element
 * the query matched, and the order of fields, `_id` first.
 */
import { BSON, type Document } from "bson";
import type { SpecError } from "./spec_checks.ts";

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
