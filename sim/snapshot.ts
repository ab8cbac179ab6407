/**
 * The majority-committed snapshot of a replica-set member's data, for readConcern "majority"
 * (MongoDB: "returns data that has been acknowledged by a majority of the replica set members",
 * read from the snapshot at the majority commit point, without waiting for newer writes to be
 * committed). The store keeps its documents as of now; this keeps, for each document changed
 * after the commit point, its value at the commit point and its later versions, so that a
 * majority read sees the committed value. Versions at or before the commit point are folded
 * away as it advances.
 */
import type { Document, Timestamp } from "bson";

interface History {
  /** The document at the commit point (undefined: it did not exist). */
  base: Document | undefined;
  /** Later versions, oldest first: the value after the write at `ts`. */
  versions: { ts: Timestamp; after: Document | undefined }[];
}

export class MajoritySnapshot {
  /** ns → document key → history. */
  private readonly byNs = new Map<string, Map<string, History>>();
  /** Keys the running store transaction changed, with their value before it. */
  private touched = new Map<string, { ns: string; k: string; pre: Document | undefined }>();
  private prunedAt?: Timestamp;

  /** `point` gives the member's majority commit point now (undefined: none known yet). */
  constructor(private readonly point: () => Timestamp | undefined) {}

  /** A write of the running transaction changes document `k` of `ns`, which was `pre`. */
  touch(ns: string, k: string, pre: Document | undefined): void {
    const key = `${ns}\0${k}`;
    if (!this.touched.has(key)) this.touched.set(key, { ns, k, pre });
  }

  /** The transaction committed at oplog time `ts`; `now` reads a document's current value. */
  commit(ts: Timestamp | undefined, now: (ns: string, k: string) => Document | undefined): void {
    const touched = this.touched;
    this.touched = new Map();
    if (!ts) return;
    for (const { ns, k, pre } of touched.values()) {
      let m = this.byNs.get(ns);
      if (!m) this.byNs.set(ns, m = new Map());
      let h = m.get(k);
      if (!h) m.set(k, h = { base: pre, versions: [] });
      h.versions.push({ ts, after: now(ns, k) });
    }
    this.prune(true);
  }

  /** The transaction failed: nothing it touched changed. */
  discard(): void {
    this.touched = new Map();
  }

  /** Forgets every version (the data was rewritten: rollback, resync). */
  clear(): void {
    this.byNs.clear();
    this.touched = new Map();
    this.prunedAt = undefined;
  }

  /** Folds the versions at or before the commit point into their base. */
  private prune(onlyIfMoved = false): void {
    const p = this.point();
    if (!p || (onlyIfMoved && this.prunedAt && p.equals(this.prunedAt))) return;
    this.prunedAt = p;
    for (const [ns, m] of this.byNs) {
      for (const [k, h] of m) {
        while (h.versions.length && p.compare(h.versions[0].ts) >= 0) {
          h.base = h.versions.shift()!.after;
        }
        if (!h.versions.length) m.delete(k);
      }
      if (!m.size) this.byNs.delete(ns);
    }
  }

  /** The documents of `ns` at the commit point, given its current documents by key. */
  view(ns: string, current: Map<string, Document> | undefined): Document[] {
    this.prune();
    const m = this.byNs.get(ns);
    if (!m) return current ? [...current.values()] : [];
    const out = new Map(current ?? []);
    for (const [k, h] of m) {
      if (h.base) out.set(k, h.base);
      else out.delete(k);
    }
    return [...out.values()];
  }
}
