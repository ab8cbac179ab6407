/**
 * What mongod refuses in a projection before it reads a document (projection_parser.cpp, and
 * FieldPath's rules for field names), with its codes, so the simulator refuses the same
 * projections instead of answering with the query engine's own reading. `find` allows its
 * own features (`$slice` as [skip, limit], `$elemMatch`, the positional `.$`); `$project` does
 * not. Pure: returns the refusal, the caller throws it.
 */
import type { Document } from "bson";
import { bsonText, isNumeric, isObject, typeName } from "./update_checks.ts";
import type { SpecError } from "./spec_checks.ts";

/** The projection's tree of paths so far: a leaf is a projected field, a map a sub-document. */
type Node = Map<string, Node | "leaf">;

interface Parse {
  find: boolean;
  filter?: Document;
  kind?: "inclusion" | "exclusion";
  hasPositional: boolean;
  hasElemMatch: boolean;
}

const err = (code: number, message: string): SpecError => ({
  message,
  code,
  codeName: `Location${code}`,
});

/** Field names starting with `$` that are still fields: a DBRef's. */
const DBREF_FIELDS = new Set(["$id", "$ref", "$db"]);

/**
 * The first refusal of `projection`, in the order mongod parses it, or undefined. `filter` is
 * the find's query, which a positional projection must name (31277).
 */
export function projectionSpecError(
  projection: Document,
  { find, filter }: { find: boolean; filter?: Document },
): SpecError | undefined {
  const p: Parse = { find, filter, hasPositional: false, hasElemMatch: false };
  const root: Node = new Map();
  for (const [field, v] of Object.entries(projection)) {
    const e = element(p, field, v, root);
    if (e) return e;
  }
  return undefined;
}

/** FieldPath's refusal of a dotted path (field_path.cpp). */
export function fieldPathError(path: string): SpecError | undefined {
  if (path === "") return err(40352, "FieldPath cannot be constructed with empty string");
  if (path.endsWith(".")) return err(40353, "FieldPath must not end with a '.'.");
  for (const c of path.split(".")) {
    if (c === "") return err(15998, "FieldPath field names may not be empty strings.");
    if (c.startsWith("$") && !DBREF_FIELDS.has(c)) {
      return err(
        16410,
        "FieldPath field names may not start with '$'. Consider using $getField or $setField.",
      );
    }
  }
  return undefined;
}

/** Adds `path` to the tree, refusing a path that collides with one already there. */
function addAt(node: Node, path: string): SpecError | undefined {
  const parts = path.split(".");
  let at = node;
  for (let i = 0; i < parts.length; i++) {
    const child = at.get(parts[i]);
    if (i === parts.length - 1) {
      if (child) return err(31250, `Path collision at ${path}`);
      at.set(parts[i], "leaf");
      return undefined;
    }
    if (child === "leaf") {
      return err(
        31249,
        `Path collision at ${path} remaining portion ${parts.slice(1).join(".")}`,
      );
    }
    if (!child) at.set(parts[i], new Map());
    at = at.get(parts[i]) as Node;
  }
  return undefined;
}

/** Where the first positional `$` of a field name is: `[begin, end)`. */
function firstPositional(field: string): [number, number] | undefined {
  const mid = field.indexOf(".$.");
  if (mid !== -1) return [mid, mid + 3];
  if (field.endsWith(".$")) return [field.length - 2, field.length];
  if (field === "$") return [0, 1];
  return undefined;
}

/** The names of Object.prototype's members (`constructor`, `toString`, …). */
const PROTO_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

function element(
  p: Parse,
  field: string,
  v: unknown,
  parent: Node,
  parentPath?: string,
): SpecError | undefined {
  const pos = firstPositional(field);
  if (pos && !p.find) {
    return err(31324, "Cannot use positional projection in aggregation projection");
  }
  if (isObject(v)) {
    if (pos) {
      return err(31271, "positional projection cannot be used with an expression or sub object");
    }
    return subObject(p, field, v, parent, parentPath);
  }
  if (typeof v === "boolean" || isNumeric(v)) {
    // The engine's inclusion of a field named after an Object.prototype member merges the
    // value into that member (Object.prototype.toString itself), for every later query of the
    // process: refused, never answered (115).
    const proto = field.split(".").find((f) => PROTO_NAMES.has(f));
    if (Number(v) && proto !== undefined) {
      return {
        code: 115,
        codeName: "CommandNotSupported",
        message: `this server does not project a field named ${proto} by inclusion; exclude ` +
          "the other fields instead, or use $addFields",
      };
    }
    return Number(v)
      ? inclusion(p, field, parent, parentPath, pos)
      : exclusion(p, field, parent, parentPath);
  }
  if (pos) return err(31308, "positional projection cannot be used with a literal");
  const e = fieldPathError(field) ?? addAt(parent, field);
  if (e) return e;
  return becomeInclusion(
    p,
    31310,
    `Cannot use an expression ${field}: ${bsonText(v)} in an exclusion projection`,
  );
}

/** Marks the projection an inclusion, or refuses (`code`, `message`) an exclusion's field. */
function becomeInclusion(p: Parse, code: number, message: string): SpecError | undefined {
  if (p.kind === "exclusion") return err(code, message);
  p.kind = "inclusion";
  return undefined;
}

function subObject(
  p: Parse,
  field: string,
  obj: Document,
  parent: Node,
  parentPath?: string,
): SpecError | undefined {
  const keys = Object.keys(obj);
  if (keys.length === 1 && keys[0].startsWith("$")) {
    const op = keys[0];
    if (p.find && op === "$slice") return findSlice(p, field, obj, parent);
    if (p.find && op === "$elemMatch") {
      if (!isObject(obj.$elemMatch)) {
        return err(
          31274,
          `elemMatch: Invalid argument, object required, but got ${typeName(obj.$elemMatch)}`,
        );
      }
      if (p.hasPositional) return err(31255, "Cannot specify positional operator and $elemMatch.");
      if (parentPath !== undefined || field.includes(".")) {
        return err(31275, "Cannot use $elemMatch projection on a nested field.");
      }
      const e = fieldPathError(field) ?? addAt(parent, field);
      if (e) return e;
      p.hasElemMatch = true;
      return undefined;
    }
    if (!p.find && op === "$elemMatch") {
      return {
        message: "Cannot use $elemMatch in this context",
        code: 168,
        codeName: "InvalidPipelineOperator",
      };
    }
    return expression(p, field, op, parent);
  }
  const e = fieldPathError(field);
  if (e) return e;
  const node: Node = new Map();
  parent.set(field, node);
  const full = parentPath === undefined ? field : `${parentPath}.${field}`;
  for (const [k, v] of Object.entries(obj)) {
    const sub = element(p, k, v, node, full);
    if (sub) return sub;
  }
  return undefined;
}

/** An aggregation expression `{field: {$op: …}}`: only `$meta` may stand in an exclusion. */
function expression(p: Parse, field: string, op: string, parent: Node): SpecError | undefined {
  if (p.kind === "exclusion" && op !== "$meta") {
    return err(31252, "Cannot use expression other than $meta in exclusion projection");
  }
  if (op !== "$meta") p.kind = "inclusion";
  return fieldPathError(field) ?? addAt(parent, field);
}

/**
 * find's `$slice`: a number or `[skip, limit]`; anything else is read as the aggregation
 * expression `$slice` (2 or 3 arguments), and refused with both reasons when it is not one.
 */
function findSlice(p: Parse, field: string, obj: Document, parent: Node): SpecError | undefined {
  const a = obj.$slice;
  let why: SpecError | undefined;
  if (Array.isArray(a)) {
    if (a.length !== 2) why = err(31272, "$slice array argument should be of form [skip, limit]");
    else if (!isNumeric(a[0])) {
      why = err(31257, `$slice expects the skip argument to be a number, got ${typeName(a[0])}`);
    } else if (!isNumeric(a[1])) {
      why = err(31258, `$slice expects the limit argument to be a number, got ${typeName(a[1])}`);
    } else if (Math.trunc(Number(a[1])) <= 0) {
      why = err(31259, `$slice limit must be positive, got ${Math.trunc(Number(a[1]))}`);
    }
  } else if (!isNumeric(a)) {
    why = err(31273, "$slice only supports numbers and [skip, limit] arrays");
  }
  if (!why) return fieldPathError(field) ?? addAt(parent, field);
  const context = `Invalid $slice syntax. The given syntax ${bsonText(obj)} did not match the ` +
    `find() syntax because :: ${why.codeName}: ${why.message} :: The given syntax did not ` +
    "match the expression $slice syntax.";
  const args = Array.isArray(a) ? a.length : 1;
  const cause = p.kind === "exclusion"
    ? err(31252, "Cannot use expression other than $meta in exclusion projection")
    : args < 2 || args > 3
    ? err(
      28667,
      `Expression $slice takes at least 2 arguments, and at most 3, but ${args} were passed in.`,
    )
    : undefined;
  if (cause) return { ...cause, message: `${context} :: caused by :: ${cause.message}` };
  return expression(p, field, "$slice", parent);
}

function inclusion(
  p: Parse,
  field: string,
  parent: Node,
  parentPath: string | undefined,
  pos: [number, number] | undefined,
): SpecError | undefined {
  const topId = field === "_id" && parentPath === undefined;
  if (!pos) {
    const e = fieldPathError(field) ?? addAt(parent, field);
    if (e) return e;
  } else {
    if (p.hasPositional) {
      return err(31276, "Cannot specify more than one positional projection per query.");
    }
    if (p.hasElemMatch) return err(31256, "Cannot specify positional operator and $elemMatch.");
    const matchField = (parentPath ?? field).split(".")[0];
    if (!namesField(p.filter, matchField)) {
      return err(31277, `Positional projection '${field}' does not match the query document.`);
    }
    if (field.endsWith(".$.")) return err(31270, "Path cannot end with '.$.'");
    const rest = field.slice(pos[1]);
    if (firstPositional(rest) || rest === "$") {
      return err(31287, `Cannot use positional operator twice: ${field}`);
    }
    const e = fieldPathError(field.slice(0, pos[0])) ?? addAt(parent, field.slice(0, pos[0]));
    if (e) return e;
    p.hasPositional = true;
  }
  if (topId) return undefined;
  return becomeInclusion(p, 31253, `Cannot do inclusion on field ${field} in exclusion projection`);
}

function exclusion(
  p: Parse,
  field: string,
  parent: Node,
  parentPath: string | undefined,
): SpecError | undefined {
  const e = fieldPathError(field) ?? addAt(parent, field);
  if (e) return e;
  if (field === "_id" && parentPath === undefined) return undefined;
  if (p.kind === "inclusion") {
    return err(31254, `Cannot do exclusion on field ${field} in inclusion projection`);
  }
  p.kind = "exclusion";
  return undefined;
}

/**
 * Whether the query has a condition whose path starts with `field` (its first component), in
 * `$and`/`$or`/`$nor` too: what a positional projection needs (hasPositionalOperatorMatch).
 */
function namesField(filter: unknown, field: string): boolean {
  if (Array.isArray(filter)) return filter.some((f) => namesField(f, field));
  if (!isObject(filter)) return false;
  return Object.entries(filter).some(([k, v]) =>
    ["$and", "$or", "$nor"].includes(k) ? namesField(v, field) : k.split(".")[0] === field
  );
}
