/**
 * `$dateToString` and `$week` as mongod evaluates them (ExpressionDateToString::evaluate,
 * TimeZone::week in src/mongo/db/query/datetime/date_time_support.h), over the query engine's
 * own: the engine renders each piece of a format but `%%`, `%w` and `%U`, which it renders
 * otherwise than mongod (nothing, 0–6, another week count). Pure: expressions in, through
 * `evaluate` and the engine's operators (`op`); sim/query.ts registers them.
 */
import type { Document } from "bson";
import { QueryError } from "./query_errors.ts";
import { isObject, typeName } from "./update_checks.ts";
import { engineOffset } from "./time_zone.ts";
import { formatPieces, weekOfYear } from "./expression_ops.ts";

/** The engine's expression operator `name`, applied to an (unevaluated) argument. */
export type EngineOp = (name: string) => (arg: unknown) => unknown;

/**
 * `$dateToString: {date, format, timezone, onNull}`: a format that is neither a string nor
 * nullish is 18533, one mongod cannot read 18535/18536 (formatPieces); a nullish date gives
 * `onNull` (null without it), then a nullish format null. The date and timezone are evaluated
 * once for every piece.
 */
export function dateToString(
  expr: unknown,
  evaluate: (e: unknown) => unknown,
  op: EngineOp,
): unknown {
  const spec = expr as Document;
  if (!spec || typeof spec !== "object" || Array.isArray(spec) || !("format" in spec)) {
    return op("$dateToString")(expr);
  }
  const format = evaluate(spec.format);
  if (format != null && typeof format !== "string") {
    throw new QueryError(
      `$dateToString requires that 'format' be a string, found: ${typeName(format)} with value ${
        String(format)
      }`,
      18533,
      "Location18533",
    );
  }
  const pieces = typeof format === "string" ? formatPieces(format) : [];
  const date = evaluate(spec.date);
  if (date == null) return "onNull" in spec ? evaluate(spec.onNull) : null;
  if (typeof format !== "string") return null;
  const timezone = "timezone" in spec
    ? engineOffset(evaluate(spec.timezone), date instanceof Date ? date : undefined)
    : undefined;
  if (timezone === null) return null;
  const at = { date: { $literal: date }, ...(timezone ? { timezone } : {}) };
  let dow: number | undefined;
  const dayOfWeek = () => dow ??= Number(op("$dayOfWeek")(at));
  return pieces.map((p) => {
    if (p === "%%") return "%";
    if (p === "%w") return String(dayOfWeek());
    if (p === "%U") {
      return String(weekOfYear(Number(op("$dayOfYear")(at)), dayOfWeek())).padStart(2, "0");
    }
    return op("$dateToString")({ ...spec, ...at, format: { $literal: p } });
  }).join("");
}

/**
 * `$week` of a date (or `{date, timezone}`, either in a one-element array) as mongod counts it
 * (weekOfYear); null for none. The argument is evaluated once, so that both days come from one
 * date (an expression with `$rand` would give two).
 */
export function week(expr: unknown, evaluate: (e: unknown) => unknown, op: EngineOp): unknown {
  const arg = Array.isArray(expr) && expr.length === 1 ? expr[0] : expr;
  let at: unknown = arg;
  if (isObject(arg) && "date" in arg) {
    const date = evaluate(arg.date);
    const timezone = "timezone" in arg
      ? engineOffset(evaluate(arg.timezone), date instanceof Date ? date : undefined)
      : undefined;
    if (timezone === null) return null;
    at = { ...arg, date: { $literal: date }, ...(timezone ? { timezone } : {}) };
  } else if (!Array.isArray(arg)) at = { $literal: evaluate(arg) };
  const dow = op("$dayOfWeek")(at);
  const doy = op("$dayOfYear")(at);
  return dow == null || doy == null ? null : weekOfYear(Number(doy), Number(dow));
}
