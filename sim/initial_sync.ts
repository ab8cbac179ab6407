/**
 * The clone half of an initial sync or a rollback-by-resync: every database of the source but
 * `local` is read first, then swapped in for ours in one store transaction. The member's data is
 * therefore never seen half copied or empty: a rollback keeps its users (and every other
 * majority-committed document) until the moment the source's copy replaces them, as MongoDB's
 * recover-to-stable-timestamp rollback keeps them; a clone that fails part way (the source gone)
 * leaves the old data, and `resyncing` (durable) makes the next round start again.
 */
import { type Document, Long, type Timestamp } from "bson";
import type { ReplSet } from "./replset.ts";

const SECONDARY_OK = { $readPreference: { mode: "secondaryPreferred" } };

/** The source as the clone reads it: commands, and finds on its oplog (local.oplog.rs). */
export interface CloneSource {
  run(db: string, cmd: Document, timeoutMs: number): Promise<Document>;
  oplog(cmd: Document): Promise<Document[]>;
}

interface CollectionCopy {
  db: string;
  coll: string;
  indexes: Document[];
  docs: Document[];
}

export interface CloneOptions {
  /**
   * The common point of a rollback: our oplog up to it stays, and the source's entries after it
   * are copied, so the set's history stays whole for members that need it.
   */
  keepFrom?: Timestamp;
  /** Oplog entries per find. */
  batch: number;
  /** A wait before each collection's copy (ms; the fault MUP_SIM_CLONE_DELAY_MS). */
  delayMs: number;
  /** A file the copy waits for before it begins (the fault MUP_SIM_CLONE_GATE): a test's hold. */
  gate?: string;
}

/**
 * Copies the source's data and, with `keepFrom` (a rollback), its oplog from that point to
 * `begin`, then replaces ours with them in one transaction.
 *
 * @param begin the source's newest oplog entry when the clone started; the oplog resumes there.
 * @throws whatever a read of the source throws; nothing of ours has changed then.
 */
export async function cloneFrom(
  rs: ReplSet,
  source: CloneSource,
  begin: Document,
  { keepFrom, batch, delayMs, gate }: CloneOptions,
): Promise<void> {
  while (gate && !(await Deno.stat(gate).then(() => true, () => false))) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const copies: CollectionCopy[] = [];
  const dbs = await source.run(
    "admin",
    { listDatabases: 1, nameOnly: true, ...SECONDARY_OK },
    10_000,
  );
  for (const { name: db } of dbs.databases as Document[]) {
    if (db === "local") continue;
    const colls = await source.run(
      db,
      { listCollections: 1, nameOnly: true, ...SECONDARY_OK },
      10_000,
    );
    for (const { name: coll } of (colls.cursor?.firstBatch ?? []) as Document[]) {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      const ix = await source.run(db, { listIndexes: coll, ...SECONDARY_OK }, 10_000);
      const docs: Document[] = [];
      let r = await source.run(db, { find: coll, batchSize: 10_000, ...SECONDARY_OK }, 30_000);
      docs.push(...(r.cursor?.firstBatch ?? []));
      while (r.cursor?.id && !Long.ZERO.equals(r.cursor.id)) {
        r = await source.run(
          db,
          { getMore: r.cursor.id, collection: coll, batchSize: 10_000 },
          30_000,
        );
        docs.push(...(r.cursor?.nextBatch ?? []));
      }
      copies.push({ db, coll, indexes: (ix.cursor?.firstBatch ?? []) as Document[], docs });
    }
  }
  const history: Document[] = [];
  const end = begin.ts as Timestamp;
  for (let from = keepFrom; from && from.compare(end) < 0;) {
    const page = (await source.oplog({ filter: { ts: { $gt: from } }, limit: batch }))
      .filter((e) => (e.ts as Timestamp).compare(end) <= 0);
    if (page.length === 0) break;
    history.push(...page);
    from = page[page.length - 1].ts as Timestamp;
  }
  const store = rs.store;
  store.transaction(() => {
    store.wipeData();
    if (keepFrom) store.oplog.truncateAfter(keepFrom);
    else store.oplog.clear();
    for (const c of copies) {
      store.setIndexes(c.db, c.coll, c.indexes);
      for (const d of c.docs) store.putDoc(c.db, c.coll, d);
    }
    for (const e of history) store.oplog.append(e);
    const last = store.oplog.lastTimestamp();
    if (!last || last.compare(end) < 0) store.oplog.append(begin);
  });
}
