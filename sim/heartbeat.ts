/**
 * Replica-set heartbeats, as MongoDB's members exchange them: every heartbeat interval each
 * member asks every other for its state, term, newest optime and config version; answers and
 * requests alike update this member's view of the set (sim/replset.ts `views`), hand newer
 * configs over, carry the primary's commit point, and drive elections (sim/election.ts).
 */
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

  /** One heartbeat to every other member (in parallel), then the election checks. */
  async round(): Promise<void> {
    if (!this.rs.config || this.rs.server.shuttingDown) return;
    const me = this.rs.self();
    await Promise.all(
      this.rs.members().filter((m) => m._id !== me?._id).map(async (m) => {
        const t0 = performance.now();
        const prev = this.rs.views.get(m._id);
        try {
          const r = await this.rs.server.peers.run(
            m.host,
            "admin",
            this.request(m._id),
            Math.max(2000, this.rs.heartbeatMs * 4),
          );
          this.noteMember(m._id, r, Math.round(performance.now() - t0));
        } catch (e) {
          // A busy member that answered recently is slow, not down (a refused connection is).
          if (
            /timed out/.test((e as Error).message) && prev?.health === 1 &&
            Date.now() - (prev.lastHeartbeat?.getTime() ?? 0) < this.rs.electionTimeoutMs
          ) return;
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
          };
          this.rs.views.set(m._id, v);
          if (this.rs.primaryId === m._id) this.rs.primaryId = undefined;
        }
      }),
    );
    this.rs.election.checkMajority();
    await this.rs.election.check();
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
    this.rs.wake();
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
    }
    return {
      set: this.rs.setName,
      state: this.rs.state,
      term: this.rs.term,
      configVersion: this.rs.config?.version ?? -2,
      optime: this.rs.lastApplied() ?? new Timestamp({ t: 0, i: 0 }),
      optimeTerm: this.rs.lastAppliedTerm(),
      ...(this.rs.state === 1 && this.rs.commitPoint ? { lastCommitted: this.rs.commitPoint } : {}),
      ...(this.rs.primaryId !== undefined ? { primaryId: this.rs.primaryId } : {}),
      ...(this.rs.config && (req.configVersion ?? -2) < this.rs.config.version
        ? { config: this.rs.config }
        : {}),
    };
  }
}
