/**
 * What mongod refuses in a sort, a projection or a `$group` specification, with its codes, so
 * that the simulator refuses it too instead of answering with the query engine's own reading.
 * Pure: each returns the refusal, the caller throws it.
 */
import type { Document } from "bson";
import { isNumeric, isObject, text } from "./update_checks.ts";

/** A refusal: mongod's message, code and codeName. */
export interface SpecError {
  message: string;
  code: number;
  codeName: string;
}

/**
 * A sort specification's first bad field (sort_pattern.cpp): an object other than
 * `{$meta: …}` (17312), a direction that is not a number (15974), a number other than 1 and -1
 * (15975). A `$meta` sort is refused too: the simulator has no text search, so there is never
 * a text score to sort by (40218, as mongod says without a `$text` query).
 */
export function sortSpecError(sort: Document): SpecError | undefined {
  for (const [field, d] of Object.entries(sort)) {
    if (isObject(d)) {
      if ("$meta" in d) {
        return {
          message: "query requires text score metadata, but it is not available",
          code: 40218,
          codeName: "Location40218",
        };
      }
      return {
        message: "$meta is the only expression supported by $sort right now",
        code: 17312,
        codeName: "Location17312",
      };
    }
    if (!isNumeric(d)) {
      return {
        message: `Illegal key in $sort specification: ${field}: ${text(d)}`,
        code: 15974,
        codeName: "Location15974",
      };
    }
    if (Math.abs(Number(d)) !== 1) {
      return {
        message: "$sort key ordering must be 1 (for ascending) or -1 (for descending)",
        code: 15975,
        codeName: "Location15975",
      };
    }
  }
  return undefined;
}

/** A `$group` stage's specification: an object (15947) with an `_id` (15955), as mongod asks. */
export function groupSpecError(spec: unknown): SpecError | undefined {
  if (!isObject(spec)) {
    return {
      message: "a group's fields must be specified in an object",
      code: 15947,
      codeName: "Location15947",
    };
  }
  if (!("_id" in spec)) {
    return {
      message: "a group specification must include an _id",
      code: 15955,
      codeName: "Location15955",
    };
  }
  return undefined;
}
