/**
 * How a secondary gets its data, as MongoDB's replication does it: it fetches the oplog from a
 * sync source (the primary; with `settings.chainingAllowed`, the freshest secondary when no
 * primary is reachable), checks that the source still holds its own last entry, and applies
 * each fetched batch in one store transaction. A member with no data clones every collection
 * from the source, then applies the oplog written meanwhile (initial sync). A member whose last
 * entry the source no longer holds tries the other members, and goes RECOVERING ("too stale")
 * only when none holds it (sim/sync_stale.ts); one whose last entries the source never had (a
 * former primary's unreplicated writes) rolls back by resyncing.
 *
 * The source is re-evaluated whenever a heartbeat brings news (`reconsider`), as MongoDB's
 * TopologyCoordinator::shouldChangeSyncSource does on each fetched batch: a source heartbeats
 * mark down, or one that is no longer primary and not ahead while another member is, is given
 * up at once (its fetch abandoned) and a new one chosen, rather than waited on until the
 * fetch's network timeout.
 */
import { divergence, writeRollbackFiles } from "./rollback_data.ts";
import { raiseRollbackId } from "./rollback_id.ts";
import { type Document, Long, type Timestamp } from "bson";
import { applyEntry } from "./apply.ts";
import { dueEntries } from "./sync_delay.ts";
import { FCV_ID } from "./fcv.ts";
import { cloneFrom } from "./initial_sync.ts";
import {
  fcvRefusal,
  INITIAL_SYNC_ATTEMPTS,
  initialSyncAttemptFailed,
  refuseUnknownFcv,
} from "./sync_fcv.ts";
import { StaleSources, TOO_STALE_DENYLIST_MS } from "./sync_stale.ts";
import { changeReason } from "./sync_source.ts";
import { type ReplSet, tsGte } from "./replset.ts";
import { fetchOplog, reportPosition } from "./oplog_fetch.ts";

const BATCH = 5000;
/**
 * How long a caught-up secondary's fetch waits for new entries at the source (ms). MongoDB
 * waits half the election timeout, at most 30 s (repl/oplog_fetcher.cpp
 * `calculateAwaitDataTimeout`); 1 s here keeps idle sets' wake-ups few.
 */
const AWAIT_DATA_MS = 1000;
/**
 * What a fetch may take beyond its own wait before this member gives up on the source (ms):
 * oplogNetworkTimeoutBufferSeconds, default 5, as the OplogFetcher adds it to its socket
 * timeout (repl/oplog_fetcher.cpp `_setSocketTimeout`).
 */
const NETWORK_TIMEOUT_BUFFER_MS = 5000;
const SECONDARY_OK = { $readPreference: { mode: "secondaryPreferred" } };

export class OplogSync {
  private running = false;
  /** Aborts the running round's requests when its source is given up (`reconsider`). */
  private abandon?: AbortController;
  /**
   * Set when no source's oplog reaches back to this member's last entry (RECOVERING); cleared
   * when one does again, or by a resync.
   */
  tooStale = false;
  /** Sources whose oplog no longer reaches back to our last entry, passed over for a while. */
  private readonly stale = new StaleSources();
  /** The member the running round fetches from (replSetGetStatus syncSourceHost). */
  syncSource?: string;
  /** The fault MUP_SIM_CLONE_DELAY_MS: a wait before each collection's copy (ms). */
  cloneDelayMs = 0;
  /** The fault MUP_SIM_CLONE_GATE: a file each copy waits for before it begins. */
  cloneGate?: string;

  constructor(private readonly rs: ReplSet) {}

  /** The member to fetch from, or undefined. */
  chooseSource(): Document | undefined {
    const rs = this.rs;
    const me = rs.self();
    const passedOver = (m: Document | undefined) => !m || this.stale.denied(String(m.host));
    if (rs.primaryId !== undefined && rs.primaryId !== me?._id) {
      const v = rs.views.get(rs.primaryId);
      const primary = rs.member(rs.primaryId);
      if (v?.health === 1 && v.state === 1 && !passedOver(primary)) return primary;
    }
    const initial = rs.lastApplied() === undefined;
    if (!initial && rs.config?.settings?.chainingAllowed === false) return undefined;
    const mine = rs.lastApplied();
    let best: Document | undefined;
    let bestTs: Timestamp | undefined;
    for (const m of rs.members()) {
      if (m._id === me?._id || m.arbiterOnly || passedOver(m)) continue;
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
    if (this.running || rs.server.shuttingDown) return;
    // SECONDARY, STARTUP2 (initial sync), ROLLBACK (a resync that failed half-way is retried);
    // RECOVERING too stale, still looking for a source that holds its last entry.
    if (this.tooStale ? rs.state !== 3 : rs.state !== 2 && rs.state !== 5 && rs.state !== 9) {
      return;
    }
    const source = this.chooseSource();
    if (!source) return;
    this.running = true;
    this.syncSource = source.host;
    const abandon = this.abandon = new AbortController();
    try {
      if (this.tooStale) {
        if (!(await this.holdsOurLast(source.host))) return;
        this.tooStale = false;
        rs.server.log.info("REPL", 21800, "BackgroundSync", "No longer too stale. Able to sync", {
          syncSource: source.host,
        });
        if (!rs.inMaintenance) rs.setState(2);
      }
      if (rs.lastApplied() === undefined || rs.store.repl.resyncing) {
        await this.initialSyncAttempts(source.host);
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
      this.abandon = undefined;
      // No longer fetching from it: replSetGetStatus names no source until the next round.
      this.syncSource = undefined;
      // Given up by `reconsider`: choose the next source now, not at the next heartbeat.
      if (abandon.signal.aborted && !rs.server.shuttingDown) void this.round();
    }
  }

  /**
   * Called on every heartbeat answer, request or failure (sim/heartbeat.ts): gives the running
   * round's source up when `changeReason` says so, abandoning its fetch at once (the
   * connection is closed, as the OplogFetcher's shutdown does) and clearing syncSourceHost;
   * the round then chooses again (MongoDB's BackgroundSync `chooseNewSyncSource`). A member
   * that is no longer a secondary stops fetching too. Synchronous, so no one can see the
   * source reported down while it is still the one followed. A source that
   * `chooseSource` would pick again is kept for the softer reasons, so the two never flap.
   */
  reconsider(): void {
    const host = this.syncSource;
    if (!this.running || !this.abandon || host === undefined) return;
    const rs = this.rs;
    let reason = ![2, 5, 9].includes(rs.state)
      ? undefined
      : changeReason(this.rs, host, () => this.chooseSource());
    if (reason && ![5929000, 21798, 21831].includes(reason.id)) {
      if (this.chooseSource()?.host === host) reason = undefined;
    }
    if (!reason && [2, 5, 9].includes(rs.state)) return;
    if (reason) {
      rs.server.log.info("REPL", reason.id, "BackgroundSync", reason.msg, {
        syncSource: host,
        lastOpTimeFetched: rs.lastApplied(),
      });
    }
    this.abandon.abort();
    this.syncSource = undefined;
  }

  private find(host: string, cmd: Document, timeoutMs = 30_000): Promise<Document[]> {
    return fetchOplog(this.rs.server.peers, host, cmd, timeoutMs, this.abandon?.signal);
  }

  /**
   * Whether `host`'s oplog still reaches back to our last entry; if not, it is passed over for a
   * minute (SyncSourceResolver's check of a candidate's earliest entry, 5579708).
   */
  private async holdsOurLast(host: string): Promise<boolean> {
    const lastTs = this.rs.lastApplied();
    const [oldest] = await this.find(host, { filter: {}, limit: 1 }, 10_000);
    if (!lastTs || !oldest || (oldest.ts as Timestamp).compare(lastTs) <= 0) return true;
    this.stale.deny(host);
    this.rs.server.log.info(
      "REPL",
      5579708,
      "BackgroundSync",
      "We are too stale to use candidate as a sync source. Denylisting this sync source because our last fetched timestamp is before their earliest timestamp",
      {
        candidate: host,
        lastOpTimeFetchedTimestamp: lastTs,
        remoteEarliestOpTimeTimestamp: oldest.ts,
        denylistDurationMillis: TOO_STALE_DENYLIST_MS,
      },
    );
    return false;
  }

  /** Fetches entries after our last one; returns how many were applied (-1: none possible). */
  private async fetchOnce(host: string): Promise<number> {
    const rs = this.rs;
    const store = rs.store;
    const lastTs = rs.lastApplied()!;
    const lastT = store.oplog.lastEntry()?.t;
    const awaitData = rs.state === 2;
    const batch = await this.find(host, {
      filter: { ts: { $gte: lastTs } },
      limit: BATCH + 1,
      // As MongoDB's OplogFetcher: a source that has not heard of a newer election steps down.
      term: Long.fromNumber(rs.term),
      // Long-poll once caught up; a member finishing initial sync asks without waiting.
      ...(awaitData ? { awaitData: true, maxAwaitTimeMS: AWAIT_DATA_MS } : {}),
    }, awaitData ? AWAIT_DATA_MS + NETWORK_TIMEOUT_BUFFER_MS : undefined);
    // Elected (or stepped aside) while the fetch was in flight: this batch is not ours to apply.
    if (![2, 5, 9].includes(rs.state)) return -1;
    const head = batch[0];
    if (!head || !(head.ts as Timestamp).equals(lastTs) || Number(head.t) !== Number(lastT)) {
      const [oldest] = await this.find(host, { filter: {}, limit: 1 });
      if (oldest && (oldest.ts as Timestamp).compare(lastTs) > 0) {
        this.stale.deny(host);
        rs.server.log.write(
          "W",
          "REPL",
          4613800,
          "BackgroundSync",
          "Oplog fetcher discovered we are too stale to sync from sync source. Denylisting sync source",
          { syncSource: host, denylistDurationMillis: TOO_STALE_DENYLIST_MS },
        );
        // Another member may still hold our last entry; only when none does are we too stale.
        for (let next = this.chooseSource(); next; next = this.chooseSource()) {
          if (await this.holdsOurLast(String(next.host))) return -1;
        }
        this.tooStale = true;
        rs.setState(3);
        rs.server.log.write(
          "E",
          "REPL",
          21799,
          "BackgroundSync",
          "Too stale to catch up. Entering maintenance mode. See http://dochub.mongodb.org/core/resyncingaverystalereplicasetmember",
          { lastOpTimeFetched: lastTs, earliestOpTimeSeen: oldest.ts },
        );
        return -1;
      }
      if (!oldest || ![2, 5, 9].includes(rs.state)) return -1;
      await this.rollback(host);
      return -1;
    }
    const fetched = batch.slice(1);
    if (fetched.length === 0) return 0;
    const due = dueEntries(rs, fetched);
    const waitMs = due.waitMs;
    let entries = due.entries;
    // A test's fail point: stop before the entry that holds its document, and stay stopped.
    const stopAt = rs.server.failPoints.get("stopReplProducerOnDocument");
    if (stopAt) {
      const want = Object.entries((stopAt.document ?? {}) as Document);
      const i = entries.findIndex((e) =>
        want.length > 0 &&
        want.every(([k, v]) => JSON.stringify(e.o?.[k]) === JSON.stringify(v))
      );
      if (i >= 0) {
        entries = entries.slice(0, i);
        stopAt.stopped = true;
      }
      if (stopAt.stopped && entries.length === 0) {
        await new Promise((r) => setTimeout(r, 100));
        return 0;
      }
    }
    if (entries.length === 0) {
      await new Promise((r) => setTimeout(r, waitMs));
      return 0;
    }
    for (const e of entries) refuseUnknownFcv(this.rs.server, e);
    store.transaction(() => {
      for (const e of entries) {
        if (e.op !== "n") applyEntry(store, e);
        rs.server.counters.applied(e);
        store.oplog.append(e);
      }
    });
    // What a secondary reports as applied counts towards w: "majority": on disk first.
    store.syncJournal();
    rs.appliedLocally();
    reportPosition(this.rs);
    return entries.length;
  }

  /**
   * Initial sync, attempted up to numInitialSyncAttempts (10) times, 1 s apart, while the
   * source's feature compatibility version is one this binary cannot run on; then the member
   * shuts down (fassert 40088), as MongoDB's InitialSyncer and ReplicationCoordinator do. Other
   * failures (the source gone) end the round; the next round starts again.
   */
  private async initialSyncAttempts(host: string): Promise<void> {
    const server = this.rs.server;
    for (let left = INITIAL_SYNC_ATTEMPTS - 1;; left--) {
      const r = await server.peers.run(
        host,
        "admin",
        { find: "system.version", filter: { _id: FCV_ID }, ...SECONDARY_OK },
        10_000,
        "sync",
        this.abandon?.signal,
      );
      const refused = fcvRefusal(server, r.cursor?.firstBatch?.[0]);
      if (!refused) return await this.initialSync(host);
      initialSyncAttemptFailed(server, refused, left);
      await new Promise((r) => setTimeout(r, 1000));
      if (server.shuttingDown || this.abandon?.signal.aborted) return;
    }
  }

  /**
   * Our newest entries are not in the source's history: start again from the source's data.
   * MongoDB recovers to the common point and applies the source's entries after it, so an FCV
   * this binary does not know among them aborts it, before anything is undone here.
   */
  private async rollback(host: string): Promise<void> {
    const rs = this.rs;
    rs.setState(9);
    rs.server.log.info("ROLLBACK", 21593, "BackgroundSync", "Transition to ROLLBACK", {
      syncSource: host,
      lastOpTime: rs.lastApplied(),
    });
    const { common, after } = await divergence(rs.store, (cmd) => this.find(host, cmd));
    const fcvEntries = await this.find(host, {
      filter: { ...(common ? { ts: { $gt: common } } : {}), ns: "admin.system.version" },
    });
    for (const e of fcvEntries) refuseUnknownFcv(this.rs.server, e);
    // Raised before any data changes, so a member that reads it sees the rollback (RBID).
    raiseRollbackId(rs.store);
    // What the rolled-back entries wrote, saved before the source's copy replaces it.
    for (const f of await writeRollbackFiles(rs.store, after)) {
      rs.server.log.info(
        "ROLLBACK",
        21609,
        "BackgroundSync",
        "Preparing to write deleted documents to a rollback file",
        { namespace: f.ns, file: f.file },
      );
    }
    await this.initialSync(host, common);
    rs.server.log.info("ROLLBACK", 21606, "BackgroundSync", "Rollback complete", {
      commonPoint: common,
    });
    rs.setState(2);
  }

  /**
   * Clones every database of `host` except local (sim/initial_sync.ts, swapped in whole), then
   * resumes the oplog from before the clone. With `keepFrom` (a rollback), our oplog up to that
   * point stays and the source's entries after it are copied.
   */
  async initialSync(host: string, keepFrom?: Timestamp): Promise<void> {
    const rs = this.rs;
    const store = rs.store;
    if (rs.state !== 9) rs.setState(5);
    // Durable before the first read of the source, and before the log line says the sync began:
    // a crash from here on restarts into STARTUP2 (sim/replset.ts installConfig), never serving
    // data it was about to replace.
    store.setResyncing(true);
    rs.server.log.info("INITSYNC", 21164, "ReplCoordExtern-0", "Starting initial sync", {
      syncSource: host,
    });
    const [begin] = await this.find(host, { filter: {}, sort: { $natural: -1 }, limit: 1 });
    if (!begin) throw new Error("sync source has no oplog");
    await cloneFrom(
      rs,
      {
        run: (db, cmd, ms) => rs.server.peers.run(host, db, cmd, ms, "sync", this.abandon?.signal),
        oplog: (cmd) => this.find(host, cmd),
      },
      begin,
      { keepFrom, batch: BATCH, delayMs: this.cloneDelayMs, gate: this.cloneGate },
    );
    store.setResyncing(false);
    this.tooStale = false;
    rs.appliedLocally();
    rs.server.log.info("INITSYNC", 21192, "ReplCoordExtern-0", "Initial sync done", {
      syncSource: host,
      beginFetchingTimestamp: begin.ts,
    });
  }

  /** Whether `ts` is at or behind what this member applied. */
  hasApplied(ts: Timestamp): boolean {
    return tsGte(this.rs.lastApplied(), ts);
  }
}
