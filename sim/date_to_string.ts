/**
 * `$dateToString` as mongod evaluates it (ExpressionDateToString::evaluate, TimeZone::formatDate
 * in src/mongo/db/query/datetime/date_time_support.cpp): its format checked and rendered here,
 * every specifier from the date's parts in its zone (date_parts.ts). Pure: expressions in,
 * through `evaluate`, a string, null or a QueryError out.
 */
import type { Document } from "bson";
import { QueryError } from "./query_errors.ts";
import { isObject, typeName } from "./update_checks.ts";
import { offsetOf } from "./time_zone.ts";
import {
  checkConstantZone,
  type Evaluate,
  instantOf,
  type Parts,
  partsAt,
  zoneOf,
} from "./date_parts.ts";

/** `$dateToString`'s format specifiers: kDateToStringFormatMap, and `%b` `%B` (7.0). */
const TO_STRING_SPECIFIERS = new Set("bBdGHjLmMSwuUVYzZ");

/**
 * A `$dateToString` format checked as mongod's validateFormat checks it (18535 for a `%` at the
 * end, 18536 for an unknown specifier: src/mongo/db/query/datetime/date_time_support.cpp) and cut
 * into pieces: each specifier a piece of its own, and the text between them. "a%%b%w" gives
 * ["a", "%%", "b", "%w"].
 */
export function formatPieces(format: string): string[] {
  const pieces: string[] = [];
  let text = "";
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== "%") {
      text += format[i];
      continue;
    }
    const c = format[++i];
    if (c === undefined) {
      throw new QueryError("Unmatched '%' at end of format string", 18535, "Location18535");
    }
    if (c !== "%" && !TO_STRING_SPECIFIERS.has(c)) {
      throw new QueryError(
        `Invalid format character '%${c}' in format string`,
        18536,
        "Location18536",
      );
    }
    if (text) pieces.push(text);
    pieces.push(`%${c}`);
    text = "";
  }
  if (text) pieces.push(text);
  return pieces;
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/** A year `$dateToString` can print (TimeZone::formatDate's insertPadded: 0–9999, else 18537). */
function inRange(year: number): number {
  if (year < 0 || year > 9999) {
    throw new QueryError(
      "Could not convert date to string: date component was outside the supported range of " +
        `0-9999: ${year}`,
      18537,
      "Location18537",
    );
  }
  return year;
}

const pad = (n: number, width: number) =>
  (n < 0 ? "-" : "") + String(Math.abs(n)).padStart(width, "0");

/** One `%x` specifier of `$dateToString` rendered for `p` (TimeZone::formatDate). */
function render(spec: string, p: Parts): string {
  switch (spec) {
    case "%%":
      return "%";
    case "%Y":
      return pad(inRange(p.year), 4);
    case "%G":
      return pad(inRange(p.isoWeekYear), 4);
    case "%m":
      return pad(p.month, 2);
    case "%d":
      return pad(p.day, 2);
    case "%H":
      return pad(p.hour, 2);
    case "%M":
      return pad(p.minute, 2);
    case "%S":
      return pad(p.second, 2);
    case "%L":
      return pad(p.millisecond, 3);
    case "%j":
      return pad(p.dayOfYear, 3);
    case "%w":
      return String(p.dayOfWeek);
    case "%u":
      return String(p.isoDayOfWeek);
    case "%U":
      return pad(p.week, 2);
    case "%V":
      return pad(p.isoWeek, 2);
    case "%b":
      return MONTHS[p.month - 1].slice(0, 3);
    case "%B":
      return MONTHS[p.month - 1];
    case "%z": {
      const m = Math.abs(p.offsetMinutes);
      return `${p.offsetMinutes < 0 ? "-" : "+"}${pad(Math.floor(m / 60), 2)}${pad(m % 60, 2)}`;
    }
    case "%Z":
      return String(p.offsetMinutes);
  }
  return spec;
}

/**
 * ISO 8601 formats `$dateToString` uses without a `format`: with "Z" up to 7.0; from 7.1, without
 * it for a zone other than UTC (date_time_support.h kIsoFormatStringNonZ).
 */
const ISO_Z = "%Y-%m-%dT%H:%M:%S.%LZ";
const ISO = "%Y-%m-%dT%H:%M:%S.%L";
let isoWithoutZ = false;

/** Sets the server's version (sim/run.ts): 7.1+ formats a zone's default without "Z". */
export function setDateVersion(version: string): void {
  const [major, minor] = version.split(".").map(Number);
  isoWithoutZ = major > 7 || (major === 7 && minor >= 1);
}

/** Whether `zone` is UTC itself ("UTC", or an offset of zero): its default format keeps "Z". */
const isUtc = (zone: string) => zone === "UTC" || offsetOf(zone) === 0;

/**
 * `$dateToString: {date, format, timezone, onNull}` (ExpressionDateToString): an argument that
 * is no object is 18629, an unknown field 18534, no date 18628, a format that is neither a
 * string nor nullish 18533, one mongod cannot read 18535/18536 (formatPieces). A nullish date
 * gives `onNull` (null without it); a nullish format or zone gives null.
 */
export function dateToString(expr: unknown, evaluate: Evaluate): unknown {
  if (!isObject(expr)) {
    throw new QueryError(
      "$dateToString only supports an object as its argument",
      18629,
      "Location18629",
    );
  }
  const spec = expr as Document;
  const unknown = Object.keys(spec).find((k) =>
    !["date", "format", "timezone", "onNull"].includes(k)
  );
  if (unknown !== undefined) {
    throw new QueryError(
      `Unrecognized parameter to $dateToString: ${unknown}`,
      18534,
      "Location18534",
    );
  }
  if (!("date" in spec)) {
    throw new QueryError("Missing 'date' parameter to $dateToString", 18628, "Location18628");
  }
  const hasZone = "timezone" in spec;
  checkConstantZone(spec.timezone, hasZone);
  const format = "format" in spec ? evaluate(spec.format) : ISO_Z;
  if (format != null && typeof format !== "string") {
    throw new QueryError(
      `$dateToString requires that 'format' be a string, found: ${typeName(format)} with value ${
        String(format)
      }`,
      18533,
      "Location18533",
    );
  }
  // ExpressionDateToString::evaluate (7.0): the zone before the date's nullish check.
  const date = evaluate(spec.date);
  const zone = zoneOf(spec.timezone, hasZone, evaluate);
  if (zone === null) return null;
  if (date == null) return "onNull" in spec ? evaluate(spec.onNull) : null;
  if (typeof format !== "string") return null;
  // 7.1+ leaves the "Z" out of the default format for a zone other than UTC (SERVER-72914).
  const iso = !("format" in spec) && isoWithoutZ && zone !== undefined && !isUtc(zone)
    ? ISO
    : format;
  const p = partsAt(instantOf(date)!, zone);
  return formatPieces(iso).map((piece) => piece.startsWith("%") ? render(piece, p) : piece)
    .join("");
}
