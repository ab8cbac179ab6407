/**
 * The replica-set oplog (local.oplog.rs) of a simulated mongod: a table of the store's SQLite
 * database (sim/store.ts), so entries commit in the same transactions as the writes they log.
 * On disk only, in optime order, capped by size like MongoDB's (`replication.oplogSizeMB`),
 * never truncated past `protectFrom` (the majority commit point).
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { BSON, type Document, Timestamp } from "bson";

/** What a transaction restores when it fails: the newest entry and the oplog's size. */
export interface OplogState {
  lastTs?: Timestamp;
  lastT?: number;
  bytes: number;
}

export class Oplog {
  private opCounter = 0;
  private lastSecs = 0;
  private lastTs?: Timestamp;
  /** The term (`t`) of the newest entry. */
  private lastT?: number;
  private bytes = 0;
  private readonly appendWaiters = new Set<() => void>();
  private readonly st: Record<string, StatementSync>;
  /**
   * Entries at or after this optime are kept whatever the cap (MongoDB never truncates the
   * oplog past the majority commit point, so a secondary that is only slow never goes stale).
   */
  protectFrom?: Timestamp;

  /**
   * Entries newer than this (ms) are kept whatever the cap: replSetResizeOplog's
   * minRetentionHours, until the next restart (storageGlobalParams.oplogMinRetentionHours).
   */
  minRetentionMs = 0;

  /** `capBytes`: the size cap in bytes (`replication.oplogSizeMB` × 1 MiB; resize changes it). */
  constructor(private readonly sql: DatabaseSync, public capBytes: number) {
    const p = (q: string) => sql.prepare(q);
    this.st = {
      put: p("INSERT OR REPLACE INTO oplog(s, i, entry) VALUES(?, ?, ?)"),
      from: p("SELECT entry FROM oplog WHERE s > ? OR (s = ? AND i >= ?) ORDER BY s, i LIMIT ?"),
      first: p("SELECT s, i, length(entry) AS n FROM oplog ORDER BY s, i LIMIT ?"),
      last: p("SELECT entry FROM oplog ORDER BY s DESC, i DESC LIMIT 1"),
      delTo: p("DELETE FROM oplog WHERE s < ? OR (s = ? AND i <= ?)"),
      tail: p("SELECT entry FROM oplog ORDER BY s DESC, i DESC LIMIT ?"),
      count: p("SELECT count(*) AS n FROM oplog"),
      bytes: p("SELECT coalesce(sum(length(entry)), 0) AS n FROM oplog"),
    };
  }

  /** Reads the size and newest entry of what is on disk (at open, and after a truncation). */
  load(): void {
    this.bytes = Number(this.st.bytes.get()?.n ?? 0);
    const last = this.st.last.get();
    this.noteLast(last ? BSON.deserialize(last.entry as Uint8Array) : undefined);
  }

  private noteLast(entry: Document | undefined): void {
    this.lastTs = entry?.ts as Timestamp | undefined;
    this.lastT = entry ? Number(entry.t ?? 0) : undefined;
  }

  /** The in-memory state a failed transaction puts back (`restore`). */
  snapshot(): OplogState {
    return { lastTs: this.lastTs, lastT: this.lastT, bytes: this.bytes };
  }

  restore(s: OplogState): void {
    [this.lastTs, this.lastT, this.bytes] = [s.lastTs, s.lastT, s.bytes];
  }

  /** A cluster time that always moves forward (seconds, then a counter within the second). */
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

  /**
   * Makes the next optime later than `ts`: a cluster time a read asks for moves this member's
   * clock on (MongoDB's vector clock takes the time a request gossips).
   */
  advanceClock(ts: Timestamp): void {
    if (ts.high > this.lastSecs || (ts.high === this.lastSecs && ts.low > this.opCounter)) {
      this.lastSecs = ts.high;
      this.opCounter = ts.low;
    }
  }

  /** The entries and their bytes (local.oplog.rs's $collStats). */
  size(): { count: number; bytes: number } {
    return { count: Number(this.st.count.get()?.n ?? 0), bytes: this.bytes };
  }

  lastTimestamp(): Timestamp | undefined {
    return this.lastTs;
  }

  /** The term of the newest entry: with its ts, the entry's place in the set's history. */
  lastTerm(): number | undefined {
    return this.lastT;
  }

  lastEntry(): Document | undefined {
    const last = this.st.last.get();
    return last ? BSON.deserialize(last.entry as Uint8Array) : undefined;
  }

  firstTs(): Timestamp | undefined {
    const r = this.st.first.get(1);
    return r ? new Timestamp({ t: Number(r.s), i: Number(r.i) }) : undefined;
  }

  append(entry: Document): void {
    const ts = entry.ts as Timestamp;
    const bytes = BSON.serialize(entry);
    this.st.put.run(ts.high, ts.low, bytes);
    this.bytes += bytes.length;
    if (!this.lastTs || ts.compare(this.lastTs) > 0) this.noteLast(entry);
    if (this.bytes > this.capBytes) this.truncate();
    if (this.appendWaiters.size) queueMicrotask(() => this.notifyAppend());
  }

  private notifyAppend(): void {
    for (const w of this.appendWaiters) w();
    this.appendWaiters.clear();
  }

  /** Resolves at the next append (after its transaction) or after `ms` milliseconds. */
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

  /** A new cap (replSetResizeOplog's size), the oldest entries dropped now if it is smaller. */
  resize(capBytes: number): void {
    this.capBytes = capBytes;
    if (this.bytes > capBytes) this.truncate();
  }

  /** Drops the oldest entries until the oplog is back under its cap (never the newest). */
  private truncate(): void {
    const rows = this.st.first.all(1000);
    let upTo: { s: number; i: number } | undefined;
    for (const r of rows.slice(0, -1)) {
      if (this.bytes <= this.capBytes * 0.9) break;
      const p = this.protectFrom;
      if (p && (Number(r.s) > p.high || (Number(r.s) === p.high && Number(r.i) >= p.low))) break;
      // An optime's seconds are its wall clock's.
      if (this.minRetentionMs && Number(r.s) * 1000 > Date.now() - this.minRetentionMs) break;
      this.bytes -= Number(r.n);
      upTo = { s: Number(r.s), i: Number(r.i) };
    }
    if (upTo) this.st.delTo.run(upTo.s, upTo.s, upTo.i);
  }

  /**
   * Entries with ts >= `from` (all when undefined), oldest first, at most `limit` and about
   * `maxBytes` (always at least two, so a fetch that starts at its own last entry moves on).
   */
  from(from: Timestamp | undefined, limit: number, maxBytes = 8 * 1024 * 1024): Document[] {
    const s = from?.high ?? -1, i = from?.low ?? 0;
    const out: Document[] = [];
    let bytes = 0;
    for (const r of this.st.from.iterate(s, s, i, limit)) {
      const b = r.entry as Uint8Array;
      if (out.length > 1 && bytes + b.length > maxBytes) break;
      bytes += b.length;
      out.push(BSON.deserialize(b));
    }
    return out;
  }

  /** The newest `n` entries, newest first. */
  tail(n: number): Document[] {
    return this.st.tail.all(n).map((r) => BSON.deserialize(r.entry as Uint8Array));
  }

  /** Drops the entries after `ts` (a rollback keeps the history it shares with its source). */
  truncateAfter(ts: Timestamp): void {
    this.sql.prepare("DELETE FROM oplog WHERE s > ? OR (s = ? AND i > ?)").run(
      ts.high,
      ts.high,
      ts.low,
    );
    this.load();
  }

  /** Removes every entry (before an initial sync installs the sync source's position). */
  clear(): void {
    this.sql.exec("DELETE FROM oplog");
    this.bytes = 0;
    this.noteLast(undefined);
  }
}
