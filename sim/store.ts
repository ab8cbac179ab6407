/**
 * What a simulated mongod keeps in its dbpath, in one SQLite database (Deno's built-in
 * `node:sqlite`, WAL journal, `synchronous=NORMAL`: a committed transaction is in the WAL file
 * before the command returns, so every write survives SIGKILL of the process; `syncJournal()`
 * fsyncs the WAL where MongoDB promises the journal is on disk (j: true, w: "majority", a
 * secondary's applied batch), so those survive the machine going down too).
 *
 * - `docs`: one row per document (BSON), so a write touches its own rows, never the data set.
 *   Documents are also held in memory (`dbs`) for queries.
 * - `colls`: collections with their index specifications.
 * - `oplog`: the replica-set oplog (local.oplog.rs), on disk only, capped by size
 *   (`replication.oplogSizeMB`) like MongoDB's (sim/oplog.ts).
 * - `meta`: the replica-set config, and the election state (term, vote) in its own small row.
 */
import { History } from "./history.ts";
import { Oplog } from "./oplog.ts";
import * as path from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { BSON, type Document, EJSON, Timestamp } from "bson";

/** minSnapshotHistoryWindowInSeconds's default: how far back a snapshot read can go. */
export const SNAPSHOT_HISTORY_WINDOW_S = 300;

export const STORE_FILE = "mup-sim.sqlite";
/** MongoDB's oplog is 5% of the disk but at least 990 MB; the simulator uses the minimum. */
export const DEFAULT_OPLOG_MB = 990;

export interface ReplMeta {
  config?: Document;
  /** Set while an initial sync or rollback rewrites the data: unfinished, it starts over. */
  resyncing?: boolean;
  term: number;
  votedFor?: { term: number; candidate: number };
}

export const ID_INDEX: Document = { v: 2, key: { _id: 1 }, name: "_id_" };

/** One collection in memory: documents by _id key, index specifications, creation options. */
export class Collection {
  readonly docs = new Map<string, Document>();
  indexes: Document[] = [ID_INDEX];
}

/** A stable map key for an _id value (numbers of any BSON type compare by value, as in MongoDB). */
export function idKey(v: unknown): string {
  return valueKey(v);
}

/** The exact text of a number, integers without loss (2^53 and beyond, from a Long). */
function numberText(n: number | bigint | string): string {
  if (typeof n === "bigint") return n.toString();
  if (typeof n === "string") {
    // Decimal128's text: an integer value is the same number as an int or a long.
    const x = Number(n);
    return /^-?\d+(\.0*)?(E\+?\d+)?$/i.test(n) && Number.isSafeInteger(x) ? String(x) : n;
  }
  if (Number.isNaN(n)) return "NaN";
  return Number.isInteger(n) && Number.isFinite(n) ? BigInt(n).toString() : String(n);
}

/**
 * A value as MongoDB compares it for equality in an index (and for _id): numbers by value
 * whatever their type (7, 7.0, Long 7 and Decimal128 "7" are one key), every other type apart
 * (an ObjectId is not its hex string, a date not its ISO text), documents field by field in
 * order. https://www.mongodb.com/docs/v7.0/reference/bson-type-comparison-order/
 */
export function valueKey(v: unknown): string {
  if (v === undefined || v === null) return "z";
  if (typeof v === "string") return "s" + v;
  if (typeof v === "number") return "n" + numberText(v);
  if (typeof v === "boolean") return "b" + v;
  if (v instanceof Date) return "d" + v.getTime();
  if (Array.isArray(v)) return "a[" + v.map(valueKey).join(",") + "]";
  const b = v as { _bsontype?: string } & Record<string, unknown>;
  switch (b._bsontype) {
    case "Int32":
    case "Double":
      return "n" + numberText(Number((b as { valueOf(): number }).valueOf()));
    case "Long":
      return "n" + numberText((b as unknown as { toBigInt(): bigint }).toBigInt());
    case "Decimal128":
      return "n" + numberText(String(b));
    case "ObjectId":
      return "o" + (b as unknown as { toHexString(): string }).toHexString();
    case undefined:
      return "{" + Object.entries(b).map(([k, x]) => `${JSON.stringify(k)}:${valueKey(x)}`)
        .join(",") +
        "}";
  }
  return "e" + EJSON.stringify(v as Document, { relaxed: false });
}

function nsOf(db: string, coll: string): string {
  return `${db}.${coll}`;
}

function splitNs(ns: string): [string, string] {
  const i = ns.indexOf(".");
  return [ns.slice(0, i), ns.slice(i + 1)];
}

export class DataStore {
  readonly dbs = new Map<string, Map<string, Collection>>();
  repl: ReplMeta = { term: 0 };
  private readonly sql: DatabaseSync;
  private readonly st: Record<string, StatementSync>;
  private txDepth = 0;
  /** Inverses of the in-memory changes of the open transaction, newest last. */
  private undo: (() => void)[] = [];
  /** Pre-images for majority snapshots (sim/history.ts). */
  private readonly history = new History();
  /** Set while an oplog entry is applied (sim/apply.ts): its changes go to the history. */
  applyingTs?: Timestamp;
  private wal?: Deno.FsFile;
  /** The replica-set oplog (local.oplog.rs), in the same database and transactions. */
  readonly oplog: Oplog;

  /** Opens (creating if needed) the store in `dbpath`; without a dbpath it lives in memory. */
  constructor(readonly dbpath?: string, oplogSizeMB = DEFAULT_OPLOG_MB) {
    this.sql = new DatabaseSync(dbpath ? path.join(dbpath, STORE_FILE) : ":memory:");
    this.sql.exec(`
      PRAGMA journal_mode=WAL;
      PRAGMA synchronous=NORMAL;
      CREATE TABLE IF NOT EXISTS docs(ns TEXT NOT NULL, id TEXT NOT NULL, doc BLOB NOT NULL,
        PRIMARY KEY(ns, id)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS colls(ns TEXT PRIMARY KEY, indexes BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS oplog(s INTEGER NOT NULL, i INTEGER NOT NULL,
        entry BLOB NOT NULL, PRIMARY KEY(s, i)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v BLOB NOT NULL);
    `);
    const p = (q: string) => this.sql.prepare(q);
    this.st = {
      putDoc: p("INSERT OR REPLACE INTO docs(ns, id, doc) VALUES(?, ?, ?)"),
      delDoc: p("DELETE FROM docs WHERE ns = ? AND id = ?"),
      delNsDocs: p("DELETE FROM docs WHERE ns = ?"),
      putColl: p("INSERT OR REPLACE INTO colls(ns, indexes) VALUES(?, ?)"),
      delColl: p("DELETE FROM colls WHERE ns = ?"),
      putMeta: p("INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)"),
    };
    this.oplog = new Oplog(this.sql, Math.max(1, oplogSizeMB) * 1024 * 1024);
    this.load();
    // The history lives in memory: a restarted member has none from before its start.
    this.history.startAt(this.oplog.lastTimestamp());
  }

  private load(): void {
    for (const row of this.sql.prepare("SELECT ns, indexes FROM colls").all()) {
      const [db, name] = splitNs(String(row.ns));
      const c = this.ensureMem(db, name);
      c.indexes = BSON.deserialize(row.indexes as Uint8Array).list as Document[];
    }
    const rekeyed: [string, string, string][] = [];
    for (const row of this.sql.prepare("SELECT ns, id, doc FROM docs").iterate()) {
      const [db, name] = splitNs(String(row.ns));
      const doc = BSON.deserialize(row.doc as Uint8Array);
      // Keys written by an older simulator (numbers by JS value, ObjectIds as EJSON) take
      // today's form, so that a lookup by _id finds them.
      const k = idKey(doc._id);
      if (k !== String(row.id)) rekeyed.push([String(row.ns), String(row.id), k]);
      this.ensureMem(db, name).docs.set(k, doc);
    }
    const rekey = this.sql.prepare("UPDATE docs SET id = ? WHERE ns = ? AND id = ?");
    for (const [ns, was, k] of rekeyed) rekey.run(k, ns, was);
    for (const row of this.sql.prepare("SELECT k, v FROM meta").all()) {
      const v = BSON.deserialize(row.v as Uint8Array);
      if (row.k === "config") this.repl.config = v.config;
      if (row.k === "resync") this.repl.resyncing = Boolean(v.on);
      // A size replSetResizeOplog set outlives the oplogSizeMB the server starts with.
      if (row.k === "oplogSize") this.oplog.capBytes = Number(v.bytes);
      if (row.k === "election") {
        this.repl.term = Number(v.term ?? 0);
        this.repl.votedFor = v.votedFor ?? undefined;
      }
    }
    this.oplog.load();
  }

  /** Runs `f` as one SQLite transaction (nested calls join the outer one). */
  transaction<T>(f: () => T): T {
    if (this.txDepth > 0) return f();
    const oplogBefore = this.oplog.snapshot();
    this.sql.exec("BEGIN");
    this.txDepth++;
    this.undo = [];
    try {
      const r = f();
      this.txDepth--;
      this.sql.exec("COMMIT");
      this.undo = [];
      return r;
    } catch (e) {
      this.txDepth--;
      this.sql.exec("ROLLBACK");
      // Memory must hold what the disk holds: a change that was not stored is not served either.
      for (const u of this.undo.reverse()) u();
      this.undo = [];
      // The oplog's rolled-back entries were never written: what is last is what was before.
      this.oplog.restore(oplogBefore);
      throw e;
    }
  }

  /** Records how to reverse an in-memory change, when inside a transaction. */
  private noteUndo(f: () => void): void {
    if (this.txDepth > 0) this.undo.push(f);
  }

  /** Keeps a document's pre-image when an oplog entry changes it (see `history`). */
  private remember(ns: string, k: string, prev: Document | undefined): void {
    if (!this.applyingTs) return;
    this.history.push(this.applyingTs, ns, k, prev);
    this.noteUndo(() => this.history.pop());
  }

  /**
   * Forgets pre-images of changes at or before `ts` (the commit point reached them) that are
   * also older than the snapshot history window: MongoDB keeps minSnapshotHistoryWindowInSeconds
   * (300 s) of history for snapshot reads at a past atClusterTime.
   */
  forgetHistory(ts: Timestamp): void {
    const windowStart = Math.floor(Date.now() / 1000) - SNAPSHOT_HISTORY_WINDOW_S;
    this.history.forget(
      ts.t <= windowStart ? ts : new Timestamp({ t: windowStart, i: 0 }),
    );
  }

  /** Whether the history reaches back to optime `at`. */
  hasSnapshot(at: Timestamp): boolean {
    return this.history.reaches(at);
  }

  /**
   * The documents of db.name as they were at optime `at` (all changes after it undone), or
   * undefined when that snapshot is older than the history kept.
   */
  snapshotDocs(db: string, name: string, at: Timestamp): Document[] | undefined {
    if (!this.history.reaches(at)) return undefined;
    return this.history.rewind(nsOf(db, name), this.coll(db, name)?.docs ?? new Map(), at);
  }

  private ensureMem(db: string, name: string): Collection {
    let d = this.dbs.get(db);
    if (!d) {
      this.dbs.set(db, d = new Map());
      this.noteUndo(() => this.dbs.delete(db));
    }
    let c = d.get(name);
    if (!c) {
      const m = d;
      m.set(name, c = new Collection());
      this.noteUndo(() => m.delete(name));
    }
    return c;
  }

  coll(db: string, name: string): Collection | undefined {
    return this.dbs.get(db)?.get(name);
  }

  /** The documents of a collection, in insertion order; empty when it does not exist. */
  docs(db: string, name: string): Document[] {
    const c = this.coll(db, name);
    return c ? [...c.docs.values()] : [];
  }

  findById(db: string, name: string, id: unknown): Document | undefined {
    return this.coll(db, name)?.docs.get(idKey(id));
  }

  /** Creates the collection (persisted) if it does not exist. */
  ensureColl(db: string, name: string): Collection {
    const had = this.coll(db, name);
    if (had) return had;
    this.st.putColl.run(nsOf(db, name), BSON.serialize({ list: [ID_INDEX] }));
    return this.ensureMem(db, name);
  }

  setIndexes(db: string, name: string, indexes: Document[]): void {
    const c = this.ensureColl(db, name);
    this.st.putColl.run(nsOf(db, name), BSON.serialize({ list: indexes }));
    const prev = c.indexes;
    this.noteUndo(() => c.indexes = prev);
    c.indexes = indexes;
  }

  /** Inserts or replaces the document with the same _id. */
  putDoc(db: string, name: string, doc: Document): void {
    const c = this.ensureColl(db, name);
    const k = idKey(doc._id);
    const bytes = BSON.serialize(doc);
    this.st.putDoc.run(nsOf(db, name), k, bytes);
    const prev = c.docs.get(k);
    this.noteUndo(() => prev ? c.docs.set(k, prev) : c.docs.delete(k));
    this.remember(nsOf(db, name), k, prev);
    // The stored copy is the deserialised BSON, so memory and disk hold the same types.
    c.docs.set(k, BSON.deserialize(bytes));
  }

  deleteDoc(db: string, name: string, id: unknown): boolean {
    const c = this.coll(db, name);
    const k = idKey(id);
    const prev = c?.docs.get(k);
    if (!c || !prev) return false;
    // Disk first: memory changes only once the statement succeeded.
    this.st.delDoc.run(nsOf(db, name), k);
    c.docs.delete(k);
    this.noteUndo(() => c.docs.set(k, prev));
    this.remember(nsOf(db, name), k, prev);
    return true;
  }

  dropCollection(db: string, name: string): boolean {
    this.st.delNsDocs.run(nsOf(db, name));
    this.st.delColl.run(nsOf(db, name));
    const d = this.dbs.get(db);
    const c = d?.get(name);
    if (!d || !c) return false;
    d.delete(name);
    if (d.size === 0) this.dbs.delete(db);
    for (const [k, prev] of c.docs) this.remember(nsOf(db, name), k, prev);
    this.noteUndo(() => {
      if (!this.dbs.has(db)) this.dbs.set(db, d);
      d.set(name, c);
    });
    return true;
  }

  dropDatabase(db: string): void {
    for (const name of [...(this.dbs.get(db)?.keys() ?? [])]) this.dropCollection(db, name);
  }

  /** Removes every database but `local` (initial sync starts from nothing). */
  wipeData(): void {
    // The rewritten data has no history to read older snapshots from.
    this.history.startAt(new Timestamp({ t: Math.floor(Date.now() / 1000), i: 0 }));
    this.transaction(() => {
      for (const db of [...this.dbs.keys()]) if (db !== "local") this.dropDatabase(db);
    });
  }

  saveConfig(): void {
    this.st.putMeta.run("config", BSON.serialize({ config: this.repl.config }));
    this.syncJournal();
  }

  /** replSetResizeOplog's new cap (bytes), kept across restarts; the oldest entries go now. */
  resizeOplog(capBytes: number): void {
    this.transaction(() => {
      this.st.putMeta.run("oplogSize", BSON.serialize({ bytes: capBytes }));
      this.oplog.resize(capBytes);
    });
    this.syncJournal();
  }

  /** Marks (durably) whether the data is being rewritten by a resync. */
  setResyncing(on: boolean): void {
    this.repl.resyncing = on;
    this.st.putMeta.run("resync", BSON.serialize({ on }));
    this.syncJournal();
  }

  /** The election state on its own, small row: term and this term's vote. */
  saveElection(): void {
    this.st.putMeta.run(
      "election",
      BSON.serialize({ term: this.repl.term, votedFor: this.repl.votedFor ?? null }),
    );
    // A vote must never be forgotten: it is on disk before it is granted.
    this.syncJournal();
  }

  /** fsyncs the WAL: every transaction committed so far is on disk. */
  syncJournal(): void {
    if (!this.dbpath) return;
    try {
      this.wal ??= Deno.openSync(path.join(this.dbpath, `${STORE_FILE}-wal`), { read: true });
      this.wal.syncDataSync();
    } catch {
      // No WAL file (nothing written yet): nothing to sync.
      this.wal = undefined;
    }
  }

  close(): void {
    try {
      this.wal?.close();
    } catch {
      // Already closed.
    }
    try {
      this.sql.close();
    } catch {
      // Already closed.
    }
  }
}
