/**
 * Replica-set heartbeats, as MongoDB's members exchange them: every heartbeat interval each
 * member asks every other (each on its own, so one that hangs holds up no other) for its state,
 * term, newest optime and config version; answers and requests alike update this member's view
 * of the set (sim/replset.ts `views`), hand newer configs over, carry the primary's commit
 * point, and drive elections (sim/election.ts).
 */
import { noteNewMember } from "./newly_added.ts";
import { type Document, Timestamp } from "bson";
import { errors } from "./errors.ts";
import { type MemberView, type ReplSet, tsGte } from "./replset.ts";

export class Heartbeats {
  constructor(private readonly rs: ReplSet) {}

  /**
   * A heartbeat to member `to`. The config travels only to a member not known to hold it yet
   * (a new member, an older version), as MongoDB's heartbeats hand configs over; sending it every
   * time would cost every idle member CPU for nothing.
   */
  request(to?: number): Document {
    const me = this.rs.self();
    const theirs = to === undefined ? undefined : this.rs.views.get(to);
    const sendConfig = this.rs.config &&
      (theirs?.health !== 1 || theirs.configVersion !== this.rs.config.version);
    return {
      replSetHeartbeat: this.rs.setName,
      configVersion: this.rs.config?.version ?? -2,
      term: this.rs.term,
      from: me?.host ?? this.rs.server.address(),
      fromId: me?._id ?? -1,
      state: this.rs.state,
      optime: this.rs.lastApplied() ?? new Timestamp({ t: 0, i: 0 }),
      optimeTerm: this.rs.lastAppliedTerm(),
      ...(this.rs.state === 1 && this.rs.commitPoint ? { lastCommitted: this.rs.commitPoint } : {}),
      ...(sendConfig ? { config: this.rs.config } : {}),
    };
  }

  /** Hosts with a heartbeat of ours in flight: a member gets its next only after its answer. */
  private readonly inFlight = new Set<string>();
  /** Hosts owed a heartbeat as soon as the one in flight ends, which was sent before news. */
  private readonly owed = new Set<string>();

  /**
   * One heartbeat tick (ReplSet.start runs one every heartbeat interval): a heartbeat to each
   * other member that has none in flight, not waited for; each answer (or failure) is followed
   * by the election checks. As in MongoDB (repl/replication_coordinator_impl_heartbeat.cpp,
   * `_scheduleHeartbeatToTarget`, `_handleHeartbeatResponse`), each member's heartbeats follow
   * their own answers or timeouts, so a member that hangs (SIGSTOP: it accepts connections but
   * never answers) delays neither the heartbeats to the others nor the election checks their
   * answers bring, which depend on when the primary was last heard from. The checks wait for
   * answers rather than run on the tick: a member that was itself frozen must hear the primary
   * again before it judges it gone. One timer per member process drives all targets, as
   * before, so an idle set costs no more wake-ups. `news` (this member was just
   * elected): a member whose heartbeat is in flight gets another right after its answer, as the
   * one in flight still says SECONDARY and the others must hear of the new primary before their
   * election timeouts make them stand.
   */
  tick(news = false): void {
    if (!this.rs.config || this.rs.server.shuttingDown) return;
    const me = this.rs.self();
    const others = this.rs.members().filter((m) => m._id !== me?._id);
    for (const m of others) {
      const host = String(m.host);
      if (!this.inFlight.has(host)) this.send(m._id, host);
      else if (news) this.owed.add(host);
    }
    // A set of one has no answers to wait for.
    if (others.length === 0) void this.settle();
  }

  /** How long a heartbeat waits for its answer: 2 s, or 4 intervals when that is longer. */
  timeoutMs(): number {
    return Math.max(2000, this.rs.heartbeatMs * 4);
  }

  /** Sends a heartbeat to member `id` at `host`, and the one owed after it, if any. */
  private send(id: number, host: string): void {
    this.inFlight.add(host);
    void this.beat(id, host).finally(() => {
      this.inFlight.delete(host);
      if (
        this.owed.delete(host) && !this.rs.server.shuttingDown && this.rs.member(id)?.host === host
      ) this.send(id, host);
    });
  }

  /** One heartbeat to member `id` at `host`; its answer (or failure) updates this member's view. */
  private async beat(id: number, host: string): Promise<void> {
    const t0 = performance.now();
    const prev = this.rs.views.get(id);
    try {
      const r = await this.rs.server.peers.run(
        host,
        "admin",
        this.request(id),
        this.timeoutMs(),
      );
      this.noteMember(id, r, Math.round(performance.now() - t0));
    } catch (e) {
      // A busy member that answered recently is slow, not down (a refused connection is).
      const slow = /timed out/.test((e as Error).message) && prev?.health === 1 &&
        Date.now() - (prev.lastHeartbeat?.getTime() ?? 0) < this.rs.electionTimeoutMs;
      if (!slow) this.markDown(id, (e as Error).message);
    }
    await this.settle();
  }

  /**
   * Member `id` did not answer (`message` says why: a refused connection, a refused
   * `__system` login): DOWN in this member's view (and no longer its primary).
   */
  private markDown(id: number, message: string): void {
    const prev = this.rs.views.get(id);
    const v: MemberView = {
      health: 0,
      state: 8,
      term: prev?.term ?? 0,
      optime: prev?.optime,
      optimeTerm: prev?.optimeTerm,
      configVersion: prev?.configVersion ?? 0,
      lastHeartbeat: new Date(),
      pingMs: 0,
      since: prev?.health === 0 ? prev.since : Date.now(),
      heardAt: prev?.heardAt,
      message,
    };
    this.rs.views.set(id, v);
    if (this.rs.primaryId === id) this.rs.primaryId = undefined;
    // A source marked down is given up now, not when its fetch times out.
    this.rs.sync.reconsider();
  }

  /**
   * After an answer (or failure): a primary that cannot see a majority steps down, a secondary
   * that has not heard from a primary for long enough stands, and fetching starts (or moves to
   * another source) once this member knows whom to follow.
   */
  private async settle(): Promise<void> {
    if (!this.rs.config || this.rs.server.shuttingDown) return;
    try {
      this.rs.election.checkMajority();
      await this.rs.election.check();
    } catch {
      // A failed election attempt (say, its state could not be saved) is retried next tick.
    }
    // A secondary's round keeps going while its source stays the one to follow; a timer of its
    // own would wake every idle member for nothing.
    void this.rs.sync.round();
  }

  /** Records what member `id` said of itself (a heartbeat's answer, or its own request). */
  noteMember(id: number, r: Document, pingMs: number): void {
    const prev = this.rs.views.get(id);
    this.rs.views.set(id, {
      health: 1,
      state: Number(r.state),
      term: Number(r.term),
      optime: r.optime as Timestamp,
      optimeTerm: r.optimeTerm === undefined ? undefined : Number(r.optimeTerm),
      configVersion: Number(r.configVersion),
      lastHeartbeat: new Date(),
      pingMs,
      since: prev?.health === 1 ? prev.since : Date.now(),
      heardAt: Date.now(),
      // Only an answer says it: a member's request leaves what its last answer said.
      syncingTo: typeof r.syncingTo === "string" ? r.syncingTo : prev?.syncingTo,
    });
    if (r.config && (r.config.version ?? 0) > (this.rs.config?.version ?? 0)) {
      this.rs.installConfig(r.config);
    }
    if (Number(r.term) > this.rs.term) this.rs.setTerm(Number(r.term));
    if (Number(r.state) === 1 && Number(r.term) >= this.rs.term && this.rs.state !== 1) {
      this.rs.election.everHadPrimary = true;
      this.rs.primaryId = id;
      this.rs.election.contact();
    } else if (this.rs.primaryId === id && Number(r.state) !== 1) this.rs.primaryId = undefined;
    const committed = r.lastCommitted as Timestamp | undefined;
    if (Number(r.state) === 1 && committed && !tsGte(this.rs.commitPoint, committed)) {
      this.rs.commitPoint = committed;
      this.rs.store.forgetHistory(committed);
    }
    noteNewMember(this.rs, id, Number(r.state));
    this.rs.wake();
    // News of a primary (or of the source's progress) may make the sync source the wrong one.
    this.rs.sync.reconsider();
  }

  /** Receiver side of replSetHeartbeat. */
  onHeartbeat(req: Document): Document {
    if (req.replSetHeartbeat !== this.rs.setName) {
      throw errors.invalidConfig(
        `Our replica set name of ${this.rs.setName} does not match the replica set name ${req.replSetHeartbeat} of the remote node`,
      );
    }
    if (req.checkEmpty && this.rs.config) {
      throw errors.invalidConfig(
        `This node, ${this.rs.server.address()}, with _id ${this.rs.self()?._id} is not electable under the new configuration with {version: ${this.rs.config.version}} for replica set ${this.rs.setName}; it already has a configuration`,
      );
    }
    if (
      req.config && (req.config.version ?? 0) > (this.rs.config?.version ?? 0) &&
      (req.config.members as Document[]).some((m) => this.rs.server.isSelf(m.host))
    ) {
      this.rs.installConfig(req.config);
    }
    if (typeof req.fromId === "number" && req.fromId >= 0) {
      this.noteMember(
        req.fromId,
        { ...req, config: undefined, configVersion: req.configVersion },
        0,
      );
      const v = this.rs.views.get(req.fromId);
      if (v) v.lastHeartbeatRecv = new Date();
    }
    return {
      set: this.rs.setName,
      state: this.rs.state,
      term: this.rs.term,
      configVersion: this.rs.config?.version ?? -2,
      optime: this.rs.lastApplied() ?? new Timestamp({ t: 0, i: 0 }),
      optimeTerm: this.rs.lastAppliedTerm(),
      syncingTo: this.rs.state === 2 ? this.rs.sync.syncSource ?? "" : "",
      ...(this.rs.state === 1 && this.rs.commitPoint ? { lastCommitted: this.rs.commitPoint } : {}),
      ...(this.rs.primaryId !== undefined ? { primaryId: this.rs.primaryId } : {}),
      ...(this.rs.config && (req.configVersion ?? -2) < this.rs.config.version
        ? { config: this.rs.config }
        : {}),
    };
  }
}
