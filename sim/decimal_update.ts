/**
 * `$inc` and `$mul` on Decimal128 values, computed exactly as mongod computes them (SafeNum:
 * with a Decimal128 on either side the result is a Decimal128; a double operand is first made a
 * decimal of 15 significant digits, Decimal128's kRoundTo15Digits) and handed to the query
 * engine as a `$set` of the result. The engine cannot add or multiply them: it answered such an
 * update as done and left the field unchanged. Pure: the update is rewritten in place.
 */
import { Decimal128, type Document } from "bson";
import { isNumeric, isObject } from "./update_checks.ts";
import { QueryError } from "./query_errors.ts";

/** A decimal value as `m × 10^e`. */
interface Dec {
  m: bigint;
  e: number;
}

const isDecimal = (v: unknown): v is Decimal128 =>
  (v as { _bsontype?: string } | undefined)?._bsontype === "Decimal128";

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
  const t = (v as { _bsontype?: string })?._bsontype;
  if (t === "Long") return { m: BigInt(String(v)), e: 0 };
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

/**
 * Rewrites the `$inc` and `$mul` entries of `mod` (an operator update, after update_checks.ts
 * accepted it for `doc`) whose field or argument is a Decimal128 into a `$set` of the exact
 * result. Positional paths are left to the engine. Throws 115 for NaN or an infinity, which
 * this server does not compute with.
 */
export function decimalArithmetic(doc: Document, mod: Document): void {
  for (const op of ["$inc", "$mul"] as const) {
    const fields = mod[op];
    if (!isObject(fields)) continue;
    for (const [path, arg] of Object.entries(fields)) {
      if (path.includes("$")) continue;
      const now = valueAt(doc, path);
      if (!isDecimal(arg) && !isDecimal(now)) continue;
      delete fields[path];
      const set = (v: unknown) => mod.$set = { ...(mod.$set as Document | undefined), [path]: v };
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
    if (!Object.keys(fields).length) delete mod[op];
  }
}
