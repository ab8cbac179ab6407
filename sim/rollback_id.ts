/**
 * The rollback ID (RBID): a number a member keeps in `local.system.rollback.id` as
 * `{ _id: "rollbackId", rollbackId: <int> }`, 1 when first made and raised by one at every
 * rollback, so a member that read another's RBID before and after a fetch can tell that the
 * other rolled back in between (repl/storage_interface_impl.cpp, replSetGetRBID in
 * repl/repl_set_commands.cpp).
 */
import { Int32 } from "bson";
import type { DataStore } from "./store.ts";

const DB = "local";
const COLL = "system.rollback.id";
const ID = "rollbackId";

/** This member's RBID (an int ≥ 1); made (1) when the dbpath has none yet. */
export function rollbackId(store: DataStore): number {
  const doc = store.findById(DB, COLL, ID);
  if (doc) return Number(doc.rollbackId);
  store.transaction(() => store.putDoc(DB, COLL, { _id: ID, rollbackId: new Int32(1) }));
  return 1;
}

/** Raises the RBID by one, as a rollback does before it changes any data. Returns the new one. */
export function raiseRollbackId(store: DataStore): number {
  const next = rollbackId(store) + 1;
  store.transaction(() => store.putDoc(DB, COLL, { _id: ID, rollbackId: new Int32(next) }));
  return next;
}
