/**
 * A query's `hint`: an index name or key pattern that must name an index of the collection, or
 * `{ $natural: 1 | -1 }` (a collection scan). mongod's planner refuses any other with BadValue
 * (2) "hint provided does not correspond to an existing index" (query_planner.cpp); a
 * collection that does not exist has no plan to make, so no hint is refused there.
 */
import type { Document } from "bson";
import { CommandError } from "./errors.ts";
import type { DataStore } from "./store.ts";

/** Throws BadValue (2) when `hint` names no index of `db.coll`. */
export function checkHint(store: DataStore, db: string, coll: string, hint: unknown): void {
  // An empty hint is none (query_request_helper.cpp).
  if (hint === undefined || hint === null || hint === "") return;
  if (typeof hint === "object" && !Object.keys(hint as Document).length) return;
  const c = store.coll(db, coll);
  if (!c) return;
  if (typeof hint === "object" && "$natural" in (hint as Document)) return;
  const found = typeof hint === "string"
    ? c.indexes.some((i) => i.name === hint)
    : typeof hint === "object" &&
      c.indexes.some((i) => JSON.stringify(i.key) === JSON.stringify(hint));
  if (found) return;
  throw new CommandError(
    `error processing query: ns=${db}.${coll} planner returned error :: caused by :: hint ` +
      "provided does not correspond to an existing index",
    2,
    "BadValue",
  );
}
