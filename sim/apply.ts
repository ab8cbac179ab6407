/**
 * Applying one oplog-style entry to the store. A primary's commands and a secondary's oplog
 * application change data by this same code. Entries carry whole documents (an update logs the
 * document after the update), so applying an entry twice gives the same result, as initial sync
 * needs.
 */
import type { Document, Timestamp } from "bson";
import { type DataStore, ID_INDEX } from "./store.ts";

/**
 * Applies entry `e` ({op: i|u|d|c|n, ns, o, o2?}) to `store`. An entry of a retryable write's
 * statement (`lsid`, `txnNumber`, `stmtId`) also notes the statement in the session's
 * config.transactions record, as MongoDB's session catalog does while it applies the oplog: a
 * member that holds some of a write's statements, and becomes primary, runs only the others on
 * a retry (writes.ts).
 */
export function applyEntry(store: DataStore, e: Document): void {
  applyData(store, e);
  if (e.lsid?.id !== undefined && e.txnNumber !== undefined && e.stmtId !== undefined) {
    const key = { id: e.lsid.id };
    const rec = store.findById("config", "transactions", key);
    const txnNum = Number(e.txnNumber);
    if (!rec || Number(rec.txnNum) < txnNum) {
      store.putDoc("config", "transactions", {
        _id: key,
        txnNum: e.txnNumber,
        lastWriteDate: new Date(),
        stmts: [e.stmtId],
      });
    } else if (Number(rec.txnNum) === txnNum && !rec.reply) {
      store.putDoc("config", "transactions", {
        ...rec,
        stmts: [...((rec.stmts ?? []) as unknown[]), e.stmtId],
      });
    }
  }
}

function applyData(store: DataStore, e: Document): void {
  const ns = String(e.ns);
  const i = ns.indexOf(".");
  const db = ns.slice(0, i), coll = ns.slice(i + 1);
  // The entry's optime tags the pre-images the store keeps for majority snapshots.
  store.applyingTs = e.ts as Timestamp | undefined;
  try {
    switch (e.op) {
      case "i":
      case "u":
        store.putDoc(db, coll, e.o);
        return;
      case "d":
        store.deleteDoc(db, coll, e.o._id);
        return;
      case "c":
        applyCommand(store, db, e.o);
        return;
    }
  } finally {
    store.applyingTs = undefined;
  }
}

function applyCommand(store: DataStore, db: string, o: Document): void {
  if (o.drop) store.dropCollection(db, o.drop);
  else if (o.dropDatabase) store.dropDatabase(db);
  else if (o.create) store.ensureColl(db, o.create);
  else if (o.createIndexes) {
    const { createIndexes: coll, ...spec } = o;
    const c = store.ensureColl(db, coll);
    store.setIndexes(db, coll, [...c.indexes.filter((x) => x.name !== spec.name), spec]);
  } else if (o.dropIndexes) {
    const c = store.coll(db, o.dropIndexes);
    if (c) {
      store.setIndexes(
        db,
        o.dropIndexes,
        o.index === "*"
          ? [ID_INDEX]
          : c.indexes.filter((x) => x.name !== o.index || x.name === "_id_"),
      );
    }
  }
}
