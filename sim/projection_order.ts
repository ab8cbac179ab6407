/**
 * The field order of an inclusion projection's result as mongod gives it. mongod's inclusion
 * projection (projection_executor's InclusionNode) walks the input document: the fields it keeps
 * come in the input's order, `_id` first as stored, then the computed fields in the projection's
 * order; nested projections the same way, level by level. The query engine put the kept fields
 * in the projection's order and `_id` last (tester100 #7). An exclusion keeps the input's order
 * already and is returned as it is. Pure: documents in, a document out.
 */
import type { Document } from "bson";
import { isNumeric, isObject as isPlain } from "./update_checks.ts";

/** What a projection does with one field: keeps it, computes it, drops it, or projects into it. */
type Node = "include" | "computed" | "exclude" | Tree;
type Tree = Map<string, Node>;

function nodeOf(v: unknown): Node {
  if (typeof v === "boolean" || isNumeric(v)) {
    return Number(v) ? "include" : "exclude";
  }
  if (isPlain(v)) {
    const keys = Object.keys(v);
    return keys.length && !keys.some((k) => k.startsWith("$")) ? treeOf(v) : "computed";
  }
  return "computed";
}

/** A projection as a tree of its dotted paths (`{"c.x": 1}` is `c → x → include`). */
function treeOf(spec: Document): Tree {
  const root: Tree = new Map();
  for (const [path, v] of Object.entries(spec)) {
    const parts = path.split(".");
    let level = root;
    for (const p of parts.slice(0, -1)) {
      let next = level.get(p);
      if (!(next instanceof Map)) level.set(p, next = new Map());
      level = next;
    }
    level.set(parts.at(-1)!, nodeOf(v));
  }
  return root;
}

/** Whether any field of `tree` keeps or computes something: an inclusion projection. */
function includes(tree: Tree): boolean {
  for (const [k, n] of tree) {
    if (n instanceof Map ? includes(n) : n !== "exclude" && k !== "_id") return true;
  }
  return false;
}

/**
 * For `projection`, read once per query: `(out, input) => out` with its fields in mongod's
 * order, `out` being the engine's result of the projection over `input`. An exclusion
 * projection's results are returned unchanged.
 */
export function inMongodOrder(
  projection: Document,
): (out: Document, input: Document) => Document {
  // What is no projection document is the engine's to refuse.
  if (!isPlain(projection)) return (out) => out;
  const tree = treeOf(projection);
  if (!includes(tree)) return (out) => out;
  // `_id` is kept unless the projection says otherwise.
  if (!tree.has("_id")) tree.set("_id", "include");
  return (out, input) => ordered(out, input, tree) as Document;
}

function ordered(out: unknown, input: unknown, tree: Tree): unknown {
  // A projection into an array applies to each element: in order when they still pair up.
  if (Array.isArray(out)) {
    return Array.isArray(input) && input.length === out.length
      ? out.map((o, i) => ordered(o, input[i], tree))
      : out;
  }
  if (!isPlain(out)) return out;
  const from = isPlain(input) ? input : {};
  const res: Document = {};
  const place = (k: string) => {
    const n = tree.get(k);
    res[k] = n instanceof Map ? ordered(out[k], from[k], n) : out[k];
  };
  // Own fields only: `"constructor" in out` is true of every object.
  const has = (o: Document, k: string) => Object.hasOwn(o, k) && typeof o[k] !== "function";
  // Kept fields, in the input's order; then computed ones, in the projection's; then the rest.
  for (const k of Object.keys(from)) {
    const n = tree.get(k);
    if (has(out, k) && (n === "include" || n instanceof Map)) place(k);
  }
  for (const k of tree.keys()) if (has(out, k) && !Object.hasOwn(res, k)) place(k);
  for (const k of Object.keys(out)) if (!Object.hasOwn(res, k)) res[k] = out[k];
  return res;
}
