/**
 * How a secondary gets its data, as MongoDB's replication does it: it fetches the oplog from a
 * sync source (the primary; with `settings.chainingAllowed`, the freshest secondary when no
 * primary is reachable), checks that the source still holds its own last entry, and applies
 * each fetched batch in one store transaction. A member with no data clones every collection
 * from the source, then applies the oplog written meanwhile (initial sync). A member whose last
 * entry the source has already truncated goes RECOVERING ("too stale"); one whose last entries
 * the source never had (a former primary's unreplicated writes) rolls back by resyncing.
 */
import { type Document, Long, type Timestamp } from "bson";
import { applyEntry } from "./apply.ts";
import { type ReplSet, tsGte } from "./replset.ts";

const BATCH = 5000;
const SECONDARY_OK = { $readPreference: { mode: "secondaryPreferred" } };

export class OplogSync {
  private running = false;
  /** Set when this member fell off the source's oplog; only a resync clears it. */
  tooStale = false;
  syncSource?: string;

  constructor(private readonly rs: ReplSet) {}

  /** The member to fetch from, or undefined. */
  chooseSource(): Document | undefined {
    const rs = this.rs;
    const me = rs.self();
    if (rs.primaryId !== undefined && rs.primaryId !== me?._id) {
      const v = rs.views.get(rs.primaryId);
      if (v?.health === 1 && v.state === 1) return rs.member(rs.primaryId);
    }
    const initial = rs.lastApplied() === undefined;
    if (!initial && rs.config?.settings?.chainingAllowed === false) return undefined;
    const mine = rs.lastApplied();
    let best: Document | undefined;
    let bestTs: Timestamp | undefined;
    for (const m of rs.members()) {
      if (m._id === me?._id || m.arbiterOnly) continue;
      const v = rs.views.get(m._id);
      if (v?.health !== 1 || (v.state !== 1 && v.state !== 2) || !v.optime) continue;
      if (mine && !(v.optime.compare(mine) > 0)) continue;
      if (!bestTs || v.optime.compare(bestTs) > 0) {
        best = m;
        bestTs = v.optime;
      }
    }
    return best;
  }

  /** One round: fetch and apply until caught up with the source (or an error). */
  async round(): Promise<void> {
    const rs = this.rs;
    if (this.running || rs.server.shuttingDown || this.tooStale) return;
    // SECONDARY, STARTUP2 (initial sync), ROLLBACK (a resync that failed half-way is retried).
    if (rs.state !== 2 && rs.state !== 5 && rs.state !== 9) return;
    const source = this.chooseSource();
    if (!source) return;
    this.running = true;
    this.syncSource = source.host;
    try {
      if (rs.lastApplied() === undefined || rs.store.repl.resyncing) {
        await this.initialSync(source.host);
      }
      while (!rs.server.shuttingDown && [2, 5, 9].includes(rs.state)) {
        const n = await this.fetchOnce(source.host);
        if (n >= 0 && (rs.state === 5 || rs.state === 9)) rs.setState(2);
        if (n < 0) break;
        // An empty long poll: ask again at once while the source stays the one to follow, as
        // MongoDB's oplog fetcher does, rather than wait for the next round's timer.
        if (n === 0 && this.chooseSource()?.host !== source.host) break;
      }
    } catch {
      // The source may be gone; heartbeats notice and the next round picks another.
    } finally {
      this.running = false;
    }
  }

  private find(host: string, cmd: Document): Promise<Document[]> {
    return this.rs.server.peers.run(
      host,
      "local",
      { find: "oplog.rs", ...cmd },
      30_000,
      "sync",
    ).then(
      (r) => (r.cursor?.firstBatch ?? []) as Document[],
    );
  }

  /** Fetches entries after our last one; returns how many were applied (-1: none possible). */
  private async fetchOnce(host: string): Promise<number> {
    const rs = this.rs;
    const store = rs.store;
    const lastTs = rs.lastApplied()!;
    const lastT = store.lastOplogEntry()?.t;
    const batch = await this.find(host, {
      filter: { ts: { $gte: lastTs } },
      limit: BATCH + 1,
      // Long-poll once caught up; a member finishing initial sync asks without waiting.
      ...(rs.state === 2 ? { awaitData: true, maxAwaitTimeMS: 1000 } : {}),
    });
    // Elected (or stepped aside) while the fetch was in flight: this batch is not ours to apply.
    if (![2, 5, 9].includes(rs.state)) return -1;
    const head = batch[0];
    if (!head || !(head.ts as Timestamp).equals(lastTs) || Number(head.t) !== Number(lastT)) {
      const [oldest] = await this.find(host, { filter: {}, limit: 1 });
      if (oldest && (oldest.ts as Timestamp).compare(lastTs) > 0) {
        this.tooStale = true;
        rs.setState(3);
        rs.server.log.info(
          "REPL",
          21799,
          "BackgroundSync",
          "Sync source candidate chosen, but we are too stale to catch up",
          {
            syncSource: host,
            lastOpTimeFetched: lastTs,
            earliestOpTimeSeen: oldest.ts,
            error:
              `too stale to catch up -- entry in oplog at ${lastTs.toString()} is older than the sync source's earliest entry`,
          },
        );
        return -1;
      }
      if (!oldest || ![2, 5, 9].includes(rs.state)) return -1;
      await this.rollback(host);
      return -1;
    }
    const entries = batch.slice(1);
    if (entries.length === 0) return 0;
    store.transaction(() => {
      for (const e of entries) {
        if (e.op !== "n") applyEntry(store, e);
        store.appendOplog(e);
      }
    });
    // What a secondary reports as applied counts towards w: "majority": on disk first.
    store.syncJournal();
    rs.appliedLocally();
    this.reportPosition();
    return entries.length;
  }

  /** Our newest entries are not in the source's history: start again from the source's data. */
  private async rollback(host: string): Promise<void> {
    const rs = this.rs;
    rs.setState(9);
    rs.server.log.info("ROLLBACK", 21593, "BackgroundSync", "Transition to ROLLBACK", {
      syncSource: host,
      lastOpTime: rs.lastApplied(),
    });
    const common = await this.commonPoint(host);
    await this.initialSync(host, common);
    rs.server.log.info("ROLLBACK", 21606, "BackgroundSync", "Rollback complete", {
      commonPoint: common,
    });
    rs.setState(2);
  }

  /**
   * The newest of our oplog entries that `host` has too (same ts and term), looked for at
   * exponentially older positions; undefined when none is.
   */
  private async commonPoint(host: string): Promise<Timestamp | undefined> {
    for (let n = 1;; n *= 4) {
      const mine = this.rs.store.oplogTail(n);
      const cand = mine[mine.length - 1];
      if (!cand) return undefined;
      const [h] = await this.find(host, { filter: { ts: { $gte: cand.ts } }, limit: 1 });
      if (h && (h.ts as Timestamp).equals(cand.ts) && Number(h.t) === Number(cand.t)) {
        return cand.ts as Timestamp;
      }
      if (mine.length < n) return undefined;
    }
  }

  /**
   * Clones every database of `host` except local, then resumes the oplog from before the clone.
   * With `keepFrom` (a rollback), our oplog up to that point stays and the source's entries
   * after it are copied, so the set's oplog history stays whole for members that need it.
   */
  async initialSync(host: string, keepFrom?: Timestamp): Promise<void> {
    const rs = this.rs;
    const store = rs.store;
    const peers = {
      run: (h: string, db: string, cmd: Document, ms: number) =>
        rs.server.peers.run(h, db, cmd, ms, "sync"),
    };
    if (rs.state !== 9) rs.setState(5);
    rs.server.log.info("INITSYNC", 21164, "ReplCoordExtern-0", "Starting initial sync", {
      syncSource: host,
    });
    const [begin] = await this.find(host, { filter: {}, sort: { $natural: -1 }, limit: 1 });
    if (!begin) throw new Error("sync source has no oplog");
    store.setResyncing(true);
    store.wipeData();
    if (keepFrom) store.truncateOplogAfter(keepFrom);
    else store.clearOplog();
    const dbs = await peers.run(host, "admin", { listDatabases: 1, nameOnly: true }, 10_000);
    for (const { name: db } of dbs.databases as Document[]) {
      if (db === "local") continue;
      const colls = await peers.run(host, db, { listCollections: 1, nameOnly: true }, 10_000);
      for (const { name: coll } of (colls.cursor?.firstBatch ?? []) as Document[]) {
        const ix = await peers.run(host, db, { listIndexes: coll, ...SECONDARY_OK }, 10_000);
        const docs: Document[] = [];
        let r = await peers.run(
          host,
          db,
          { find: coll, batchSize: 10_000, ...SECONDARY_OK },
          30_000,
        );
        docs.push(...(r.cursor?.firstBatch ?? []));
        while (r.cursor?.id && !Long.ZERO.equals(r.cursor.id)) {
          r = await peers.run(
            host,
            db,
            { getMore: r.cursor.id, collection: coll, batchSize: 10_000 },
            30_000,
          );
          docs.push(...(r.cursor?.nextBatch ?? []));
        }
        store.transaction(() => {
          store.setIndexes(db, coll, (ix.cursor?.firstBatch ?? []) as Document[]);
          for (const d of docs) store.putDoc(db, coll, d);
        });
      }
    }
    if (keepFrom) {
      // The source's history from the common point to the clone's start.
      let from = keepFrom;
      while (from.compare(begin.ts as Timestamp) < 0) {
        const page = (await this.find(host, { filter: { ts: { $gt: from } }, limit: BATCH }))
          .filter((e) => (e.ts as Timestamp).compare(begin.ts as Timestamp) <= 0);
        if (page.length === 0) break;
        store.transaction(() => {
          for (const e of page) store.appendOplog(e);
        });
        from = page[page.length - 1].ts as Timestamp;
      }
    }
    if (!tsGte(store.lastOplogTs(), begin.ts as Timestamp)) store.appendOplog(begin);
    store.setResyncing(false);
    this.tooStale = false;
    rs.appliedLocally();
    rs.server.log.info("INITSYNC", 21192, "ReplCoordExtern-0", "Initial sync done", {
      syncSource: host,
      beginFetchingTimestamp: begin.ts,
    });
  }

  /** Tells the primary how far this member got, so write concerns are met without waiting. */
  private reportPosition(): void {
    const rs = this.rs;
    const primary = rs.primaryId !== undefined ? rs.member(rs.primaryId) : undefined;
    if (!primary || primary._id === rs.self()?._id) return;
    rs.server.peers.run(primary.host, "admin", {
      replSetUpdatePosition: 1,
      memberId: rs.self()?._id,
      optime: rs.lastApplied(),
      optimeTerm: rs.lastAppliedTerm(),
      configVersion: rs.config?.version,
    }, 2000).catch(() => {});
  }

  /** Whether `ts` is at or behind what this member applied. */
  hasApplied(ts: Timestamp): boolean {
    return tsGte(this.rs.lastApplied(), ts);
  }
}
