/**
 * What a simulated mongod keeps in its dbpath: collections (the replica-set oplog, the FCV
 * document, the config servers' shard registry are ordinary collections, as in MongoDB) and the
 * replication metadata (config, term, vote). Written atomically, debounced, and at shutdown.
 */
import * as path from "node:path";
import { type Document, EJSON, Timestamp } from "bson";

export const STATE_FILE = "mup-sim-state.json";
const OPLOG_CAP = 10_000;

export interface ReplMeta {
  config?: Document;
  term: number;
  votedFor?: { term: number; candidate: number };
}

export class DataStore {
  readonly dbs = new Map<string, Map<string, Document[]>>();
  repl: ReplMeta = { term: 0 };
  private timer?: ReturnType<typeof setTimeout>;
  private opCounter = 0;
  private lastSecs = 0;

  constructor(readonly dbpath?: string) {}

  static load(dbpath: string): DataStore {
    const s = new DataStore(dbpath);
    let text: string;
    try {
      text = Deno.readTextFileSync(path.join(dbpath, STATE_FILE));
    } catch {
      return s;
    }
    const doc = EJSON.parse(text, { relaxed: false }) as {
      dbs: Record<string, Record<string, Document[]>>;
      repl: ReplMeta;
    };
    for (const [db, colls] of Object.entries(doc.dbs)) {
      s.dbs.set(db, new Map(Object.entries(colls)));
    }
    s.repl = doc.repl ?? { term: 0 };
    return s;
  }

  collection(db: string, coll: string, create = false): Document[] | undefined {
    let d = this.dbs.get(db);
    if (!d) {
      if (!create) return undefined;
      this.dbs.set(db, d = new Map());
    }
    let c = d.get(coll);
    if (!c && create) d.set(coll, c = []);
    return c;
  }

  dropCollection(db: string, coll: string): boolean {
    const d = this.dbs.get(db);
    const had = d?.delete(coll) ?? false;
    if (d && d.size === 0) this.dbs.delete(db);
    return had;
  }

  /** A cluster time that always moves forward. */
  nextTimestamp(): Timestamp {
    const secs = Math.floor(Date.now() / 1000);
    if (secs > this.lastSecs) {
      this.lastSecs = secs;
      this.opCounter = 0;
    }
    const last = this.lastOplogTs();
    if (
      last &&
      (last.high > this.lastSecs || (last.high === this.lastSecs && last.low >= this.opCounter))
    ) {
      this.lastSecs = last.high;
      this.opCounter = last.low;
    }
    return new Timestamp({ t: this.lastSecs, i: ++this.opCounter });
  }

  oplog(): Document[] {
    return this.collection("local", "oplog.rs", true)!;
  }

  lastOplogTs(): Timestamp | undefined {
    const o = this.collection("local", "oplog.rs");
    return o && o.length ? (o[o.length - 1].ts as Timestamp) : undefined;
  }

  appendOplog(entry: Document): void {
    const o = this.oplog();
    o.push(entry);
    if (o.length > OPLOG_CAP) o.splice(0, o.length - OPLOG_CAP);
  }

  /** Schedules a write of everything; many changes in a burst give one write. */
  markDirty(): void {
    if (!this.dbpath || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, 20);
  }

  flush(): void {
    if (!this.dbpath) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const dbs: Record<string, Record<string, Document[]>> = {};
    for (const [db, colls] of this.dbs) dbs[db] = Object.fromEntries(colls);
    const text = EJSON.stringify({ dbs, repl: this.repl }, { relaxed: false });
    const file = path.join(this.dbpath, STATE_FILE);
    const tmp = `${file}.tmp`;
    const f = Deno.openSync(tmp, { write: true, create: true, truncate: true });
    try {
      f.writeSync(new TextEncoder().encode(text));
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.renameSync(tmp, file);
  }
}
