/**
 * A delayed member (secondaryDelaySecs) applies an entry only that long after the primary wrote
 * it (its `wall` time), so it holds the set's past (MongoDB: "Delayed Replica Set Members",
 * https://www.mongodb.com/docs/manual/core/replica-set-delayed-member/).
 */
import type { Document } from "bson";
import type { ReplSet } from "./replset.ts";

/**
 * Of `fetched` (oplog entries, oldest first), the leading ones due now on this member, and,
 * when none is, how long to wait before fetching again (ms, 10 to 1000): the entries not due
 * are fetched again then.
 */
export function dueEntries(
  rs: ReplSet,
  fetched: Document[],
): { entries: Document[]; waitMs: number } {
  const delayMs = Number(rs.self()?.secondaryDelaySecs ?? 0) * 1000;
  if (delayMs <= 0) return { entries: fetched, waitMs: 0 };
  const dueAt = (e: Document) => new Date(e.wall as Date).getTime() + delayMs;
  const notDue = fetched.findIndex((e) => dueAt(e) > Date.now());
  const entries = notDue < 0 ? fetched : fetched.slice(0, notDue);
  const waitMs = entries.length || !fetched.length
    ? 0
    : Math.min(Math.max(dueAt(fetched[0]) - Date.now(), 10), 1000);
  return { entries, waitMs };
}
