/**
 * `$inc` and `$mul` on the numbers the query engine cannot compute with, computed exactly as
 * mongod computes them (SafeNum) and handed to the engine as a `$set` of the result; the engine
 * answered such updates as done and left the field unchanged:
 * - a Decimal128 on either side: the result is a Decimal128 (a double operand is first made a
 *   decimal of 15 significant digits, Decimal128's kRoundTo15Digits);
 * - a long beyond 2^53 (kept as a Long; smaller ones are read as numbers): the exact integer,
 *   or 2 BadValue when it leaves the 64-bit range, as mongod refuses the overflow.
 * Pure: the update is rewritten in place.
 */
import { Decimal128, type Document, Long } from "bson";
import { isNumeric, isObject, text } from "./update_checks.ts";
import { QueryError } from "./query_errors.ts";

/** A decimal value as `m × 10^e`. */
interface Dec {
  m: bigint;
  e: number;
}

const isDecimal = (v: unknown): v is Decimal128 =>
  (v as { _bsontype?: string } | undefined)?._bsontype === "Decimal128";
const isLong = (v: unknown): v is Long =>
  (v as { _bsontype?: string } | undefined)?._bsontype === "Long";
const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };

/** An integral BSON number as a bigint; undefined for a fraction or a non-number. */
function integer(v: unknown): bigint | undefined {
  if (isLong(v)) return BigInt(v.toString());
  const n = Number(typeof v === "object" && v !== null ? String(v) : v);
  return isNumeric(v) && Number.isInteger(n) ? BigInt(n) : undefined;
}

function parse(text: string): Dec | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m || (m[2] === "" && !m[3])) return undefined;
  const digits = `${m[2]}${m[3] ?? ""}` || "0";
  return {
    m: BigInt(`${m[1] === "-" ? "-" : ""}${digits}`),
    e: Number(m[4] ?? 0) - (m[3]?.length ?? 0),
  };
}

/** A BSON number as a decimal, as mongod converts it; undefined for NaN and infinities. */
function toDec(v: unknown): Dec | undefined {
  if (isDecimal(v)) return parse(v.toString());
  if (isLong(v)) return { m: BigInt(v.toString()), e: 0 };
  const n = Number(typeof v === "object" ? String(v) : v);
  if (!Number.isFinite(n)) return undefined;
  // An integral number is an int or a long here (the simulator reads integral doubles so).
  return Number.isInteger(n) ? { m: BigInt(n), e: 0 } : parse(n.toPrecision(15));
}

function add(a: Dec, b: Dec): Dec {
  const e = Math.min(a.e, b.e);
  return { m: a.m * 10n ** BigInt(a.e - e) + b.m * 10n ** BigInt(b.e - e), e };
}

/** `d` as a Decimal128, rounded to its 34 digits as mongod rounds. */
const decimal = (d: Dec) => Decimal128.fromStringWithRounding(`${d.m}E${d.e}`);

/** Whether `v` is or holds a Decimal128 (in arrays and embedded documents). */
function holdsDecimal(v: unknown): boolean {
  if (isDecimal(v)) return true;
  if (Array.isArray(v)) return v.some(holdsDecimal);
  return isObject(v) && Object.values(v).some(holdsDecimal);
}

/** The value at a plain dotted path of `doc` (array elements by index); undefined if missing. */
function valueAt(doc: Document, path: string): unknown {
  let v: unknown = doc;
  for (const p of path.split(".")) {
    if (Array.isArray(v)) v = /^\d+$/.test(p) ? v[Number(p)] : undefined;
    else if (isObject(v)) v = v[p];
    else return undefined;
  }
  return v;
}

/** Moves `op`'s entry for `path` out of `mod` into its `$set`, with the value `v`. */
function setInstead(mod: Document, op: string, path: string, v: unknown): void {
  const fields = mod[op] as Document;
  delete fields[path];
  if (!Object.keys(fields).length) delete mod[op];
  mod.$set = { ...(mod.$set as Document | undefined), [path]: v };
}

/**
 * Rewrites the `$inc` and `$mul` entries of `mod` (an operator update, after update_checks.ts
 * accepted it for `doc`) whose field or argument is a Decimal128, or a Long, into a `$set` of
 * the exact result. Throws 115 for a decimal NaN or infinity, which this server does not
 * compute with, and for a positional path (`$`, `$[]`, `$[id]`) through an array holding a
 * decimal, or with one; 2 for a long's 64-bit overflow.
 */
export function exactArithmetic(doc: Document, mod: Document): void {
  for (const op of ["$inc", "$mul"] as const) {
    const fields = mod[op];
    if (!isObject(fields)) continue;
    for (const [path, arg] of Object.entries(fields)) {
      if (path.includes("$")) {
        // The engine cannot apply a decimal through `$`, `$[]` or `$[id]` (it refused a decimal
        // argument, and skipped decimal elements with the update acknowledged): refused whole.
        const array = valueAt(doc, path.slice(0, path.indexOf("$")).replace(/\.$/, ""));
        if (isDecimal(arg) || holdsDecimal(array)) {
          throw new QueryError(
            `${op} of a Decimal128 through the positional path '${path}' is not supported by ` +
              "this server",
            115,
            "CommandNotSupported",
          );
        }
        continue;
      }
      const now = valueAt(doc, path);
      if (!isDecimal(arg) && !isDecimal(now)) {
        if (isLong(arg) || isLong(now)) longArithmetic(doc, mod, op, path, now, arg);
        continue;
      }
      const set = (v: unknown) => setInstead(mod, op, path, v);
      // A missing field: $inc sets the argument, $mul a zero of the argument's type.
      if (now === undefined) {
        set(op === "$inc" ? arg : Decimal128.fromString("0"));
        continue;
      }
      const a = toDec(arg);
      const b = isNumeric(now) ? toDec(now) : undefined;
      if (!a || !b) {
        throw new QueryError(
          `${op} with a Decimal128 NaN or infinity is not supported by this server`,
          115,
          "CommandNotSupported",
        );
      }
      set(decimal(op === "$inc" ? add(b, a) : { m: a.m * b.m, e: a.e + b.e }));
    }
  }
}

/**
 * `op` of a Long (beyond 2^53) and another number at `path` into `mod`'s `$set`: the exact
 * integer as a Long, a double when a fraction takes part, or 2 BadValue on a 64-bit overflow.
 */
function longArithmetic(
  doc: Document,
  mod: Document,
  op: "$inc" | "$mul",
  path: string,
  now: unknown,
  arg: unknown,
): void {
  const set = (v: unknown) => setInstead(mod, op, path, v);
  if (now === undefined) return set(op === "$inc" ? arg : Long.ZERO);
  if (!isNumeric(now)) return; // update_checks.ts refuses it (14)
  const [a, b] = [integer(now), integer(arg)];
  if (a === undefined || b === undefined) {
    return set(
      op === "$inc"
        ? Number(String(now)) + Number(String(arg))
        : Number(String(now)) * Number(String(arg)),
    );
  }
  const r = op === "$inc" ? a + b : a * b;
  if (r < INT64.min || r > INT64.max) {
    throw new QueryError(
      `Failed to apply ${op} operations to current value ((${
        isLong(now) ? "NumberLong" : "NumberInt"
      })${a}) for document {_id: ${text(doc._id)}}`,
      2,
      "BadValue",
    );
  }
  set(Long.fromBigInt(r));
}
