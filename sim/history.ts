/**
 * Pre-images of the document changes made by recent oplog entries, oldest first: a majority
 * read rebuilds the majority-committed snapshot from them instead of waiting, and a snapshot
 * read (atClusterTime) the data as of its time, as a storage engine's history does
 * (https://www.mongodb.com/docs/v7.0/reference/read-concern-majority/, read-concern-snapshot/).
 * Kept until the commit point has passed them and they are older than the snapshot history
 * window (store.ts); bounded, so a stuck commit point cannot exhaust memory.
 */
import type { Document, Timestamp } from "bson";

/** Pre-images kept at most; older snapshots cannot be built once they were dropped. */
const MAX_HISTORY = 200_000;

interface PreImage {
  ts: Timestamp;
  ns: string;
  /** The document's key in its collection (store.ts idKey). */
  k: string;
  /** The document before the change; undefined when the change created it. */
  prev?: Document;
}

export class History {
  private entries: PreImage[] = [];
  /** History older than this was dropped: snapshots before it cannot be built. */
  private floor?: Timestamp;

  /** Keeps a pre-image of a change made at optime `ts`. */
  push(ts: Timestamp, ns: string, k: string, prev: Document | undefined): void {
    this.entries.push({ ts, ns, k, prev });
    if (this.entries.length > MAX_HISTORY) {
      const dropped = this.entries.splice(0, this.entries.length - MAX_HISTORY);
      this.floor = dropped[dropped.length - 1].ts;
    }
  }

  /** Takes back the newest pre-image (its change was rolled back with its transaction). */
  pop(): void {
    this.entries.pop();
  }

  /**
   * Forgets pre-images of changes at or before `ts`: snapshots before the newest of them can no
   * longer be built (reaches says so).
   */
  forget(ts: Timestamp): void {
    let n = 0;
    while (n < this.entries.length && this.entries[n].ts.compare(ts) <= 0) n++;
    if (!n) return;
    this.floor = this.entries[n - 1].ts;
    this.entries.splice(0, n);
  }

  /**
   * Forgets everything: no snapshot before `ts` can be built (the data was loaded at a restart,
   * or rewritten, at `ts`); undefined: the data is new, every snapshot can be.
   */
  startAt(ts: Timestamp | undefined): void {
    this.entries = [];
    this.floor = ts;
  }

  /** Whether the history reaches back to optime `at`. */
  reaches(at: Timestamp): boolean {
    return !this.floor || at.compare(this.floor) >= 0;
  }

  /**
   * `docs` (the collection `ns` now, by key) as they were at optime `at`: every change after it
   * undone, newest first.
   */
  rewind(ns: string, docs: Map<string, Document>, at: Timestamp): Document[] {
    const out = new Map(docs);
    for (let i = this.entries.length - 1; i >= 0 && this.entries[i].ts.compare(at) > 0; i--) {
      const h = this.entries[i];
      if (h.ns !== ns) continue;
      if (h.prev) out.set(h.k, h.prev);
      else out.delete(h.k);
    }
    return [...out.values()];
  }
}
