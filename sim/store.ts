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
 *   (`replication.oplogSizeMB`) like MongoDB's.
 * - `meta`: the replica-set config, and the election state (term, vote) in its own small row.
 */
import { History } from "./history.ts";
import * as path from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { BSON, type Document, EJSON, Timestamp } from "bson";

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
  if (typeof v === "string") return "s" + v;
  if (typeof v === "number") return "n" + v;
  const b = v as { _bsontype?: string; toNumber?: () => number };
  if (b?._bsontype === "Long" || b?._bsontype === "Int32" || b?._bsontype === "Double") {
    return "n" + b.toNumber!();
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
  readonly oplogCapBytes: number;
  private readonly sql: DatabaseSync;
  private readonly st: Record<string, StatementSync>;
  private opCounter = 0;
  private lastSecs = 0;
  private lastTs?: Timestamp;
  /** The term (`t`) of the newest oplog entry. */
  private lastT?: number;
  private oplogBytes = 0;
  private txDepth = 0;
  /** Inverses of the in-memory changes of the open transaction, newest last. */
  private undo: (() => void)[] = [];
  /** Pre-images for majority snapshots (sim/history.ts). */
  private readonly history = new History();
  /** Set while an oplog entry is applied (sim/apply.ts): its changes go to the history. */
  applyingTs?: Timestamp;
  private wal?: Deno.FsFile;
  private readonly appendWaiters = new Set<() => void>();
  /**
   * Entries at or after this optime are kept whatever the cap (MongoDB never truncates the
   * oplog past the majority commit point, so a secondary that is only slow never goes stale).
   */
  protectFrom?: Timestamp;

  /** Opens (creating if needed) the store in `dbpath`; without a dbpath it lives in memory. */
  constructor(readonly dbpath?: string, oplogSizeMB = DEFAULT_OPLOG_MB) {
    this.oplogCapBytes = Math.max(1, oplogSizeMB) * 1024 * 1024;
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
      putOplog: p("INSERT OR REPLACE INTO oplog(s, i, entry) VALUES(?, ?, ?)"),
      oplogFrom: p(
        "SELECT entry FROM oplog WHERE s > ? OR (s = ? AND i >= ?) ORDER BY s, i LIMIT ?",
      ),
      oplogFirst: p("SELECT s, i, length(entry) AS n FROM oplog ORDER BY s, i LIMIT ?"),
      oplogLast: p("SELECT entry FROM oplog ORDER BY s DESC, i DESC LIMIT 1"),
      oplogDelTo: p("DELETE FROM oplog WHERE s < ? OR (s = ? AND i <= ?)"),
      putMeta: p("INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)"),
    };
    this.load();
  }

  private load(): void {
    for (const row of this.sql.prepare("SELECT ns, indexes FROM colls").all()) {
      const [db, name] = splitNs(String(row.ns));
      const c = this.ensureMem(db, name);
      c.indexes = BSON.deserialize(row.indexes as Uint8Array).list as Document[];
    }
    for (const row of this.sql.prepare("SELECT ns, id, doc FROM docs").iterate()) {
      const [db, name] = splitNs(String(row.ns));
      this.ensureMem(db, name).docs.set(
        String(row.id),
        BSON.deserialize(row.doc as Uint8Array),
      );
    }
    for (const row of this.sql.prepare("SELECT k, v FROM meta").all()) {
      const v = BSON.deserialize(row.v as Uint8Array);
      if (row.k === "config") this.repl.config = v.config;
      if (row.k === "resync") this.repl.resyncing = Boolean(v.on);
      if (row.k === "election") {
        this.repl.term = Number(v.term ?? 0);
        this.repl.votedFor = v.votedFor ?? undefined;
      }
    }
    const size = this.sql.prepare("SELECT coalesce(sum(length(entry)), 0) AS n FROM oplog").get();
    this.oplogBytes = Number(size?.n ?? 0);
    const last = this.st.oplogLast.get();
    if (last) this.noteLast(BSON.deserialize(last.entry as Uint8Array));
  }

  private noteLast(entry: Document | undefined): void {
    this.lastTs = entry?.ts as Timestamp | undefined;
    this.lastT = entry ? Number(entry.t ?? 0) : undefined;
  }

  /** Runs `f` as one SQLite transaction (nested calls join the outer one). */
  transaction<T>(f: () => T): T {
    if (this.txDepth > 0) return f();
    const [ts, t, bytes] = [this.lastTs, this.lastT, this.oplogBytes];
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
      [this.lastTs, this.lastT, this.oplogBytes] = [ts, t, bytes];
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

  /** Forgets pre-images of changes at or before `ts` (the commit point reached them). */
  forgetHistory(ts: Timestamp): void {
    this.history.forget(ts);
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
    this.history.clear();
    this.transaction(() => {
      for (const db of [...this.dbs.keys()]) if (db !== "local") this.dropDatabase(db);
    });
  }

  saveConfig(): void {
    this.st.putMeta.run("config", BSON.serialize({ config: this.repl.config }));
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

  // ---- oplog

  /** A cluster time that always moves forward. */
  nextTimestamp(): Timestamp {
    const secs = Math.floor(Date.now() / 1000);
    if (secs > this.lastSecs) {
      this.lastSecs = secs;
      this.opCounter = 0;
    }
    const last = this.lastTs;
    if (
      last &&
      (last.high > this.lastSecs || (last.high === this.lastSecs && last.low >= this.opCounter))
    ) {
      this.lastSecs = last.high;
      this.opCounter = last.low;
    }
    return new Timestamp({ t: this.lastSecs, i: ++this.opCounter });
  }

  /** The oplog's entries and their bytes (local.oplog.rs's $collStats). */
  oplogSize(): { count: number; bytes: number } {
    const r = this.sql.prepare("SELECT count(*) AS n FROM oplog").get();
    return { count: Number(r?.n ?? 0), bytes: this.oplogBytes };
  }

  lastOplogTs(): Timestamp | undefined {
    return this.lastTs;
  }

  /** The term of the newest oplog entry: with its ts, the entry's place in the set's history. */
  lastOplogTerm(): number | undefined {
    return this.lastT;
  }

  lastOplogEntry(): Document | undefined {
    const last = this.st.oplogLast.get();
    return last ? BSON.deserialize(last.entry as Uint8Array) : undefined;
  }

  firstOplogTs(): Timestamp | undefined {
    const r = this.st.oplogFirst.get(1);
    return r ? new Timestamp({ t: Number(r.s), i: Number(r.i) }) : undefined;
  }

  appendOplog(entry: Document): void {
    const ts = entry.ts as Timestamp;
    const bytes = BSON.serialize(entry);
    this.st.putOplog.run(ts.high, ts.low, bytes);
    this.oplogBytes += bytes.length;
    if (!this.lastTs || ts.compare(this.lastTs) > 0) this.noteLast(entry);
    if (this.oplogBytes > this.oplogCapBytes) this.truncateOplog();
    if (this.appendWaiters.size) queueMicrotask(() => this.notifyAppend());
  }

  private notifyAppend(): void {
    for (const w of this.appendWaiters) w();
    this.appendWaiters.clear();
  }

  /** Resolves at the next oplog append (after its transaction) or after `ms`. */
  waitForAppend(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.appendWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.appendWaiters.add(done);
    });
  }

  /** Drops the oldest entries until the oplog is back under its cap (never the newest). */
  private truncateOplog(): void {
    const rows = this.st.oplogFirst.all(1000);
    let upTo: { s: number; i: number } | undefined;
    for (const r of rows.slice(0, -1)) {
      if (this.oplogBytes <= this.oplogCapBytes * 0.9) break;
      const p = this.protectFrom;
      if (p && (Number(r.s) > p.high || (Number(r.s) === p.high && Number(r.i) >= p.low))) break;
      this.oplogBytes -= Number(r.n);
      upTo = { s: Number(r.s), i: Number(r.i) };
    }
    if (upTo) this.st.oplogDelTo.run(upTo.s, upTo.s, upTo.i);
  }

  /** Oplog entries with ts >= `from` (all when undefined), oldest first, at most `limit`. */
  oplogFrom(from: Timestamp | undefined, limit: number, maxBytes = 8 * 1024 * 1024): Document[] {
    const s = from?.high ?? -1, i = from?.low ?? 0;
    const out: Document[] = [];
    let bytes = 0;
    for (const r of this.st.oplogFrom.iterate(s, s, i, limit)) {
      const b = r.entry as Uint8Array;
      if (out.length > 1 && bytes + b.length > maxBytes) break;
      bytes += b.length;
      out.push(BSON.deserialize(b));
    }
    return out;
  }

  /** The newest `n` oplog entries, newest first. */
  oplogTail(n: number): Document[] {
    return this.sql.prepare("SELECT entry FROM oplog ORDER BY s DESC, i DESC LIMIT ?").all(n).map(
      (r) => BSON.deserialize(r.entry as Uint8Array),
    );
  }

  /** Drops the entries after `ts` (a rollback keeps the history it shares with its source). */
  truncateOplogAfter(ts: Timestamp): void {
    this.sql.prepare("DELETE FROM oplog WHERE s > ? OR (s = ? AND i > ?)").run(
      ts.high,
      ts.high,
      ts.low,
    );
    const size = this.sql.prepare("SELECT coalesce(sum(length(entry)), 0) AS n FROM oplog").get();
    this.oplogBytes = Number(size?.n ?? 0);
    const last = this.st.oplogLast.get();
    this.noteLast(last ? BSON.deserialize(last.entry as Uint8Array) : undefined);
  }

  /** Removes the whole oplog (before an initial sync installs the sync source's position). */
  clearOplog(): void {
    this.sql.exec("DELETE FROM oplog");
    this.oplogBytes = 0;
    this.noteLast(undefined);
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
