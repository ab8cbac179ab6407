/**
 * Reads of a replica-set member's oplog (local.oplog.rs), an ordinary capped collection to its
 * readers: a find's filter, sort, projection, skip and limit apply, and its cursor returns every
 * match through getMore; count, distinct and aggregate see every entry. Only the `ts` bounds of a
 * filter are read from the store's index; the rest of the filter runs over what they select.
 * A tailable cursor on it ends once it has returned what the oplog held when it opened (the
 * simulator's cursors hold their documents; a real one waits for new entries).
 * https://www.mongodb.com/docs/v7.0/core/replica-set-oplog/
 */
import { type Document, Timestamp } from "bson";
import { CommandError } from "../errors.ts";
import { findDocs } from "../query.ts";
import type { CommandContext } from "../server.ts";
import type { DataStore } from "../store.ts";

/** Every entry, oldest first (count, distinct, aggregate). */
export function oplogEntries(store: DataStore): Document[] {
  return store.oplog.from(undefined, Number.MAX_SAFE_INTEGER, Infinity);
}

/** Bounds on `ts` a filter gives: `$gt`/`$gte`/`$lt`/`$lte`/`$eq`, or a Timestamp (equality). */
interface TsRange {
  gt?: Timestamp;
  gte?: Timestamp;
  lt?: Timestamp;
  lte?: Timestamp;
}

/**
 * The filter's `ts` condition as a range, and the rest of the filter; a `ts` condition of any
 * other form stays in the rest, for the query engine.
 */
function splitTs(filter: Document): { range: TsRange; rest: Document } {
  const { ts, ...rest } = filter;
  if (ts === undefined) return { range: {}, rest };
  if (ts instanceof Timestamp) return { range: { gte: ts, lte: ts }, rest };
  const ops = typeof ts === "object" && ts !== null ? Object.entries(ts as Document) : [];
  const known: Record<string, keyof TsRange | "eq"> = {
    $gt: "gt",
    $gte: "gte",
    $lt: "lt",
    $lte: "lte",
    $eq: "eq",
  };
  if (!ops.length || ops.some(([op, v]) => !known[op] || !(v instanceof Timestamp))) {
    return { range: {}, rest: filter };
  }
  const range: TsRange = {};
  for (const [op, v] of ops) {
    const k = known[op];
    if (k === "eq") Object.assign(range, { gte: v, lte: v });
    else range[k] = v as Timestamp;
  }
  return { range, rest };
}

function inRange(ts: Timestamp, r: TsRange): boolean {
  return (!r.gt || ts.compare(r.gt) > 0) && (!r.gte || ts.compare(r.gte) >= 0) &&
    (!r.lt || ts.compare(r.lt) < 0) && (!r.lte || ts.compare(r.lte) <= 0);
}

/**
 * A find on local.oplog.rs: the first batch (`batchSize`, 101 by default, within 16 MiB) of a
 * cursor over the matching entries. A tailable awaitData find from the newest entry first waits
 * up to `maxAwaitTimeMS` (at most 5 s) for a new one, as a syncing member's fetcher long-polls.
 * @throws CommandError 9 for awaitData without tailable, as on any collection.
 */
export async function oplogFind(ctx: CommandContext): Promise<Document> {
  const b = ctx.body;
  const store = ctx.server.store;
  if (b.awaitData && !b.tailable) {
    throw new CommandError(
      "Cannot set 'awaitData' without also setting 'tailable'",
      9,
      "FailedToParse",
    );
  }
  const { range, rest } = splitTs((b.filter ?? {}) as Document);
  const from = range.gte ?? range.gt;
  if (b.awaitData && from && store.oplog.lastTimestamp()?.equals(from)) {
    await store.oplog.waitForAppend(Math.min(Number(b.maxAwaitTimeMS ?? 1000), 5000));
  }
  const { $natural: natural, ...sort } = (b.sort ?? {}) as Document;
  const backwards = (natural ?? b.hint?.$natural) === -1;
  const limit = Math.abs(Number(b.limit ?? 0));
  const skip = Number(b.skip ?? 0);
  // Only the ts bounds and a limit narrow what is read; anything else sees every entry.
  const bounded = limit > 0 && !skip && !Object.keys(rest).length && !Object.keys(sort).length;
  let entries: Document[];
  if (backwards) {
    entries = store.oplog.tail(
      bounded && !range.lt && !range.lte ? limit + 1 : Number.MAX_SAFE_INTEGER,
    )
      .filter((e) => inRange(e.ts as Timestamp, range));
  } else {
    entries = store.oplog.from(from, bounded ? limit + 1 : Number.MAX_SAFE_INTEGER, Infinity)
      .filter((e) => inRange(e.ts as Timestamp, range));
  }
  const docs = findDocs(entries, {
    filter: rest,
    sort: Object.keys(sort).length ? sort : undefined,
    projection: b.projection,
    skip,
    limit,
    let: b.let,
  });
  const batch = b.batchSize !== undefined ? Number(b.batchSize) : b.singleBatch ? docs.length : 101;
  return ctx.server.newCursor(
    "local.oplog.rs",
    docs,
    batch,
    "firstBatch",
    !!b.singleBatch,
    !!b.noCursorTimeout,
  );
}
