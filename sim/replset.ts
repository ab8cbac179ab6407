/**
 * Replica-set member behaviour: heartbeats (sim/heartbeat.ts), elections (sim/election.ts:
 * terms, one vote per term, freshest data, highest priority first, priority takeover), oplog
 * fetching by secondaries (sim/sync.ts), the commit point (sim/commit_point.ts), write concern
 * (sim/write_concern.ts), read concern (sim/read_concern.ts), election handoff on stepDown
 * (sim/handoff.ts), hello's fields (sim/replset_hello.ts). Members are separate processes that
 * talk over the wire.
 */
import type { Document, ObjectId, Timestamp } from "bson";
import { Election } from "./election.ts";
import { Heartbeats } from "./heartbeat.ts";
import { CommandError, errors } from "./errors.ts";
import type { RoleHooks, Server } from "./server.ts";
import { OplogSync } from "./sync.ts";
import { replSetHelloFields } from "./replset_hello.ts";
import { handOffBeforeShutdown } from "./handoff.ts";
import { awaitWriteConcern, resolveWriteConcern } from "./write_concern.ts";
import { FCV_ID } from "./fcv.ts";
import { isVoter } from "./newly_added.ts";
import { onUpdatePosition, updateCommitPoint } from "./commit_point.ts";
import {
  checkLinearizable,
  checkReadable,
  confirmLinearizable,
  majoritySnapshot,
  waitForMajorityRead,
  waitForOpTime,
} from "./read_concern.ts";

export const STATE_NAMES: Record<number, string> = {
  0: "STARTUP",
  1: "PRIMARY",
  2: "SECONDARY",
  3: "RECOVERING",
  5: "STARTUP2",
  6: "UNKNOWN",
  7: "ARBITER",
  8: "DOWN",
  9: "ROLLBACK",
  10: "REMOVED",
};

export interface MemberView {
  health: 0 | 1;
  state: number;
  term: number;
  optime?: Timestamp;
  /** The term of the member's newest entry: an optime is (term, ts), as in MongoDB. */
  optimeTerm?: number;
  configVersion: number;
  lastHeartbeat?: Date;
  pingMs: number;
  since: number;
  /** When the member was last heard from (an answer, or its own heartbeat), ms since the epoch. */
  heardAt?: number;
  /** Why the last heartbeat failed (replSetGetStatus `lastHeartbeatMessage`). */
  message?: string;
  /** The member it syncs from, as its heartbeat answer says (`syncingTo`; "" for none). */
  syncingTo?: string;
  /** When a heartbeat from the member last arrived (replSetGetStatus `lastHeartbeatRecv`). */
  lastHeartbeatRecv?: Date;
}

function envMs(name: string, dflt: number): number {
  const v = Number(Deno.env.get(name));
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

export function tsGte(a: Timestamp | undefined, b: Timestamp | undefined): boolean {
  if (!b) return true;
  if (!a) return false;
  return a.compare(b) >= 0;
}

export class ReplSet implements RoleHooks {
  state = 0;
  primaryId?: number;
  stepDownUntil = 0;
  electionId?: ObjectId;
  electionDate?: Date;
  /** replSetGetStatus's electionCandidateMetrics of this primary's election (election.ts). */
  candidateMetrics?: Document;
  /** replSetGetStatus's electionParticipantMetrics: the last vote this member cast. */
  participantMetrics?: Document;
  readonly views = new Map<number, MemberView>();
  /** Defaults for a config that does not set them: faster than MongoDB's, for tests. */
  readonly defaultHeartbeatMs = envMs("MUP_SIM_HEARTBEAT_MS", 200);
  readonly defaultElectionTimeoutMs = envMs("MUP_SIM_ELECTION_TIMEOUT_MS", 600);
  readonly electionDelayMs = Number(Deno.env.get("MUP_SIM_ELECTION_DELAY_MS") ?? 0) || 0;
  readonly election = new Election(this);
  readonly heartbeats = new Heartbeats(this);
  readonly sync = new OplogSync(this);
  /** The newest optime known to be on a majority (computed on the primary, learnt by heartbeat). */
  commitPoint?: Timestamp;
  /** Set while a step-down waits for a secondary to catch up: writes wait for it (handoff.ts). */
  private writeGate?: Promise<void>;
  private timers: ReturnType<typeof setTimeout>[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(readonly server: Server) {}

  get store() {
    return this.server.store;
  }
  get config(): Document | undefined {
    return this.store.repl.config;
  }
  /** settings.heartbeatIntervalMillis of the config in use. */
  get heartbeatMs(): number {
    return Number(this.config?.settings?.heartbeatIntervalMillis) || this.defaultHeartbeatMs;
  }
  /** settings.electionTimeoutMillis of the config in use. */
  get electionTimeoutMs(): number {
    return Number(this.config?.settings?.electionTimeoutMillis) || this.defaultElectionTimeoutMs;
  }
  get term(): number {
    return this.store.repl.term;
  }
  get setName(): string {
    return this.server.opts.replSet!;
  }

  /**
   * This member's entry in the config in use; undefined when it has none, or when the config is
   * of another set than --replSet names (mongod then takes itself for no member of it: REMOVED,
   * "waiting for reconfig or remote heartbeat", repl/replication_coordinator_impl.cpp).
   */
  self(): Document | undefined {
    if (this.config?._id !== this.setName) return undefined;
    return (this.config?.members as Document[] | undefined)?.find((m) =>
      this.server.isSelf(m.host)
    );
  }
  members(): Document[] {
    return (this.config?.members ?? []) as Document[];
  }
  member(id: number): Document | undefined {
    return this.members().find((m) => m._id === id);
  }
  lastApplied(): Timestamp | undefined {
    return this.store.oplog.lastTimestamp();
  }
  /** The term of the newest applied entry (-1 with none). */
  lastAppliedTerm(): number {
    return this.store.oplog.lastTerm() ?? -1;
  }

  /**
   * Whether member `id` (as last heard) holds this primary's entry at `ts`: its newest entry is
   * of the current term (only this primary writes in it, so it is on our history, not on a
   * former primary's unreplicated branch whose timestamps may be as high) and at or after `ts`.
   */
  memberHas(id: number, ts: Timestamp | undefined): boolean {
    const v = this.views.get(id);
    return v?.health === 1 && v.optimeTerm === this.term && tsGte(v.optime, ts);
  }

  start(): void {
    if (this.config && this.config._id !== this.setName) {
      // Data of another set (a --replSet that differs from the stored local.system.replset):
      // mongod keeps that config and stays REMOVED, as in MongoDB's 21406 warning.
      this.server.log.write(
        "W",
        "REPL",
        21406,
        "initandlisten",
        "Local replica set configuration document set name differs from command line set name; waiting for reconfig or remote heartbeat",
        { localConfigSetName: this.config._id, commandLineSetName: this.setName },
      );
    }
    if (this.config) {
      this.installConfig(this.config, false);
      this.election.everHadPrimary = this.term > 0;
    }
    // One timer per interval sends the heartbeats that are due; it waits for none of them, so
    // a member that hangs delays nothing (sim/heartbeat.ts `tick`). Fetching starts after
    // heartbeats, which is when this member learns whom to follow.
    const beat = () => {
      this.heartbeats.tick();
      if (this.timers.length) this.timers[0] = setTimeout(beat, this.heartbeatMs);
    };
    this.timers.push(setTimeout(beat, this.heartbeatMs));
  }

  stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.wake();
    return Promise.resolve();
  }

  setState(state: number): void {
    this.state = state;
    this.wake();
    // A member that just became a secondary (or started a resync) fetches at once.
    if (this.timers.length && (state === 2 || state === 5 || state === 9)) void this.sync.round();
  }

  /** replSetMaintenance calls not yet undone; while any is, this member is RECOVERING. */
  private maintenance = 0;

  enterMaintenance(): void {
    this.maintenance++;
    if (this.state === 2) this.setState(3);
  }

  /** Whether replSetMaintenance holds this member RECOVERING. */
  get inMaintenance(): boolean {
    return this.maintenance > 0;
  }

  /** False when not in maintenance mode. */
  leaveMaintenance(): boolean {
    if (this.maintenance === 0) return false;
    this.maintenance--;
    if (this.maintenance === 0 && this.state === 3 && !this.sync.tooStale) this.setState(2);
    return true;
  }

  /** A secondary applied entries: write-concern and afterClusterTime waiters re-check. */
  appliedLocally(): void {
    this.wake();
  }

  installConfig(config: Document, persist = true): void {
    this.store.repl.config = config;
    const me = this.self();
    if (!me) this.state = 10;
    else if (me.arbiterOnly) {
      this.state = 7;
      // An arbiter holds no data, no feature compatibility version among it: it replicates
      // nothing and starts on any release (MongoDB: "FCV is only for data bearing nodes").
      this.store.deleteDoc("admin", "system.version", FCV_ID);
    } else if (this.sync.tooStale || this.maintenance > 0) this.state = 3;
    // A resync cut off (a crash mid-rollback or mid-initial-sync, its flag durable) starts
    // again: the data it holds is neither the set's nor readable, so it is no SECONDARY.
    else if (
      this.lastApplied() === undefined || (this.store.repl.resyncing && this.state !== 9)
    ) this.state = 5;
    else if (this.state !== 1 && this.state !== 9) this.state = 2;
    if (this.state === 1 && me?.priority === 0) this.stepDown(0);
    this.election.contact();
    if (persist) this.store.saveConfig();
    this.wake();
    this.server.log.info("REPL", 21392, "ReplCoord", "New replica set config in use", {
      config: { _id: config._id, version: config.version },
    });
  }

  setTerm(term: number): void {
    if (term <= this.term) return;
    this.store.repl.term = term;
    this.store.repl.votedFor = undefined;
    if (this.state === 1) this.stepDown(0);
    this.store.saveElection();
  }

  stepDown(forMs: number): void {
    if (this.state === 1) {
      this.server.log.info("REPL", 21358, "ReplCoord", "Stepping down", {
        until: new Date(Date.now() + forMs),
      });
    }
    if (this.state === 1) this.state = 2;
    this.primaryId = undefined;
    this.electionId = undefined;
    this.stepDownUntil = Date.now() + forMs;
    this.election.contact();
    this.wake();
  }

  electable(m: Document | undefined): boolean {
    return !!m && (m.priority ?? 1) > 0 && isVoter(m) && !m.arbiterOnly && !m.hidden;
  }

  voters(): Document[] {
    return this.members().filter(isVoter);
  }

  // ---- data

  /** Logs an applied change in the oplog with the next optime (local.* is not replicated). */
  logOp(e: Document): Timestamp | undefined {
    if (String(e.ns).startsWith("local.")) return undefined;
    const ts = this.store.oplog.nextTimestamp();
    this.store.oplog.append({ ts, t: this.term, v: 2, wall: new Date(), ...e });
    return ts;
  }

  advanceClock(ts: Timestamp): void {
    this.store.oplog.advanceClock(ts);
  }

  /**
   * A primary that has not applied `ts`, a time a read asks for, writes a no-op at a later
   * optime, so that the read's wait ends once it is majority-committed rather than at the next
   * client write (read_concern_mongod.cpp makeNoopWriteIfNeeded). Others wait as they are.
   */
  advanceTo(ts: Timestamp): void {
    if (this.state !== 1 || tsGte(this.lastApplied(), ts)) return;
    this.store.oplog.advanceClock(ts);
    this.noop("advance to a read's cluster time");
  }

  /** Writes a no-op oplog entry (new primary, initiation) in its own transaction. */
  noop(msg: string): Timestamp | undefined {
    return this.store.transaction(() => this.logOp({ op: "n", ns: "", o: { msg } }));
  }

  lastOpTime(): Timestamp | undefined {
    return this.lastApplied();
  }

  awaitWriteConcern(wc: Document | undefined, ts: Timestamp | undefined) {
    // The primary's own write may be all a majority needs (a one-member set): count it now.
    this.updateCommitPoint();
    return awaitWriteConcern(this, resolveWriteConcern(this.server, this.config, wc), ts);
  }

  // ---- read concern (sim/read_concern.ts)

  majoritySnapshot(): Timestamp | undefined {
    return majoritySnapshot(this);
  }

  waitForMajorityRead(timeoutMs: number): Promise<void> {
    return waitForMajorityRead(this, timeoutMs);
  }

  confirmLinearizable(timeoutMs: number): Promise<void> {
    return confirmLinearizable(this, timeoutMs);
  }

  waitForOpTime(ts: Timestamp, timeoutMs: number, majority = false): Promise<void> {
    return waitForOpTime(this, ts, timeoutMs, majority);
  }

  checkLinearizable(): void {
    checkLinearizable(this);
  }

  checkReadable(body: Document): void {
    checkReadable(this, body);
  }

  /**
   * A term from a member's request (an oplog fetcher's find): a newer one is taken (a primary
   * steps down) and the request refused with StaleTerm, as mongod's
   * ReplicationCoordinatorImpl::updateTerm answers ("retry query"); the same or an older one
   * changes nothing.
   */
  updateTerm(term: number): void {
    if (term <= this.term) return;
    this.setTerm(term);
    throw new CommandError(
      "Replication term of this node was stale; retry query",
      145,
      "StaleTerm",
    );
  }

  /** replSetUpdatePosition from a secondary (sim/commit_point.ts). */
  onUpdatePosition(req: Document): Document {
    return onUpdatePosition(this, req);
  }

  /** The newest optime a majority of voting data-bearing members have applied (primary only). */
  updateCommitPoint(): void {
    updateCommitPoint(this);
  }

  /** Re-checks every waiter (write concerns, awaited hellos) after a change of state. */
  wake(): void {
    this.updateCommitPoint();
    this.server.noteTopology();
    for (const w of [...this.waiters]) w();
  }

  /**
   * Resolves when `pred` holds, re-checked on every member update; false on timeout (none when
   * `timeoutMs` is Infinity).
   */
  waitFor(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (pred()) done(true);
      };
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => done(false), timeoutMs)
        : undefined;
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(v);
      };
      this.waiters.add(check);
    });
  }

  // ---- RoleHooks

  /** hello's replica-set fields (replset_hello.ts). */
  helloFields(): Document {
    return replSetHelloFields(this);
  }

  /**
   * Holds writes back for the length of `during` (a step-down's catch-up wait), as
   * replSetStepDown "blocks all writes to the primary while it runs" (MongoDB manual,
   * replSetStepDown, Behavior): a write taken meanwhile would be on no secondary, and the
   * stepped-down primary would have to roll it back.
   */
  async blockingWrites<T>(during: () => Promise<T>): Promise<T> {
    let open = () => {};
    const gate = new Promise<void>((r) => open = r);
    this.writeGate = gate;
    try {
      return await during();
    } finally {
      if (this.writeGate === gate) this.writeGate = undefined;
      open();
    }
  }

  writeHold(): Promise<void> | undefined {
    return this.writeGate;
  }

  checkWritable(db: string): void {
    if (db === "local") return;
    if (this.state !== 1) throw errors.notPrimary();
  }

  /** shutdown: a primary hands off to a caught-up secondary first (handoff.ts). */
  beforeShutdown(force: boolean, timeoutSecs: number): Promise<void> {
    return handOffBeforeShutdown(this, force, timeoutSecs);
  }
}
