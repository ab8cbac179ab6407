/**
 * What mongod refuses of a find's or an aggregate's options before reading, shared by mongod's
 * own reads (sim/commands/read.ts) and mongos's reads of a sharded collection
 * (sim/mongos_gather.ts), so that both refuse alike.
 */
import type { Document } from "bson";
import { CommandError } from "./errors.ts";

/**
 * A find's options the simulator cannot honour or mongod refuses: returnKey/showRecordId (115:
 * they answer from the index and storage layers, which the simulator does not have), min/max
 * (51173 without a hint, else 115: an index scan's bounds), awaitData without tailable (9), and a
 * tailable cursor (2: only capped collections take one, and the simulator's only capped
 * collection, the oplog, is read apart; query_request_helper.cpp).
 * @throws CommandError with mongod's code
 */
export function refuseFindOptions(b: Document): void {
  for (const option of ["returnKey", "showRecordId"]) {
    if (b[option]) {
      throw new CommandError(
        `${option} is not supported by this server`,
        115,
        "CommandNotSupported",
      );
    }
  }
  if (b.min !== undefined || b.max !== undefined) {
    throw b.hint === undefined
      ? new CommandError(
        "When using min()/max() a hint of which index to use must be provided",
        51173,
        "Location51173",
      )
      : new CommandError(
        "min() and max() are not supported by this server",
        115,
        "CommandNotSupported",
      );
  }
  if (b.awaitData && !b.tailable) {
    throw new CommandError(
      "Cannot set 'awaitData' without also setting 'tailable'",
      9,
      "FailedToParse",
    );
  }
  if (b.tailable) {
    throw new CommandError("tailable cursor requested on non capped collection", 2, "BadValue");
  }
}

/**
 * An aggregate without `cursor` (9, unless it explains) or with `explain` (115: the simulator
 * has no query planner to explain).
 * @throws CommandError with mongod's code
 */
export function refuseAggregateOptions(b: Document): void {
  if (b.cursor === undefined && !b.explain) {
    throw new CommandError(
      "The 'cursor' option is required, except for aggregate with the explain argument",
      9,
      "FailedToParse",
    );
  }
  if (b.explain) {
    throw new CommandError("explain is not supported by this server", 115, "CommandNotSupported");
  }
}
