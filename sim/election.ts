/**
 * Elections of a simulated replica-set member, as MongoDB runs them (protocol version 1): terms,
 * one vote per term, the freshest data wins votes, higher priority stands first, priority
 * takeover, and a primary that cannot see a majority steps down.
 */
import { isVoter } from "./newly_added.ts";
import { type Document, Long, ObjectId, Timestamp } from "bson";
import type { ReplSet } from "./replset.ts";
import { tsGte } from "./replset.ts";

export class Election {
  /** Last time a primary was heard from (or an election was held). */
  lastPrimaryContact = Date.now();
  /** Whether this member has seen any primary since its config was installed. */
  everHadPrimary = false;
  private noPrimaryJitter = Math.random() * 100;
  private standing = false;

  constructor(private readonly rs: ReplSet) {}

  contact(): void {
    this.lastPrimaryContact = Date.now();
  }

  /**
   * A primary that has not heard from a majority of voters for electionTimeoutMillis steps down
   * ("Can't see a majority of the set, relinquishing primary"). The window is never shorter
   * than two heartbeat timeouts (4 s): the simulator's default election timeout is 600 ms, and
   * a loaded test machine delays answers; a longer one is MongoDB's (tester88 M5: it was about
   * twice the timeout).
   */
  checkMajority(): void {
    if (this.rs.state !== 1) return;
    const now = Date.now();
    const window = Math.max(this.rs.electionTimeoutMs, 2 * this.rs.heartbeats.timeoutMs());
    const me = this.rs.self();
    let votes = 0;
    for (const m of this.rs.voters()) {
      if (m._id === me?._id) votes++;
      else {
        const v = this.rs.views.get(m._id);
        const heard = v?.heardAt ?? (v?.health === 1 ? v.since : undefined);
        if (heard !== undefined && now - heard < window) votes++;
      }
    }
    if (votes * 2 <= this.rs.voters().length) {
      this.rs.server.log.info(
        "REPL",
        21809,
        "ReplCoord",
        "Can't see a majority of the set, relinquishing primary",
      );
      this.rs.stepDown(0);
    }
  }

  async check(): Promise<void> {
    const me = this.rs.self();
    if (
      this.rs.state !== 2 || !this.rs.electable(me) || this.standing ||
      Date.now() < this.rs.stepDownUntil
    ) return;
    const now = Date.now();
    const primary = this.rs.primaryId !== undefined
      ? this.rs.views.get(this.rs.primaryId)
      : undefined;
    const primaryAlive = primary?.health === 1 &&
      now - this.lastPrimaryContact < this.rs.electionTimeoutMs;
    if (primaryAlive) {
      // Priority takeover: a caught-up member of higher priority replaces the primary.
      const pm = this.rs.member(this.rs.primaryId!);
      if (
        (me!.priority ?? 1) > (pm?.priority ?? 1) &&
        tsGte(this.rs.lastApplied(), primary!.optime) &&
        now - this.lastPrimaryContact < this.rs.electionTimeoutMs
      ) {
        if (now - (primary!.since ?? now) > this.rs.electionTimeoutMs) {
          await this.stand("priority takeover");
        }
      }
      return;
    }
    // Members of higher priority that are up and as fresh as us go first.
    const higher = this.rs.members().filter((m) =>
      m._id !== me!._id && this.rs.electable(m) && (m.priority ?? 1) > (me!.priority ?? 1) &&
      this.rs.views.get(m._id)?.health === 1 &&
      tsGte(this.rs.views.get(m._id)?.optime, this.rs.lastApplied())
    );
    const waited = now - this.lastPrimaryContact;
    const rank = higher.length;
    // A new set's top-priority member stands as soon as it hears from a majority; later
    // elections wait out the election timeout first, as a missing primary may only be slow.
    const heard =
      this.rs.voters().filter((m) => m._id === me!._id || this.rs.views.get(m._id)?.health === 1)
        .length;
    const fresh = !this.everHadPrimary && rank === 0 && heard * 2 > this.rs.voters().length;
    const threshold = fresh
      ? this.rs.electionDelayMs
      : this.rs.electionTimeoutMs * (rank === 0 ? 0.5 : 2 + rank) +
        this.noPrimaryJitter + this.rs.electionDelayMs;
    if (waited < threshold) return;
    await this.stand("no primary");
  }

  /**
   * Stands for election. `skipDryRun`: a primary handing over (replSetStepUp with skipDryRun,
   * MongoDB's kStepUpRequestSkipDryRun) has stepped down for this member, so it goes straight
   * to the real election.
   */
  async stand(reason: string, skipDryRun = false): Promise<boolean> {
    if (this.standing || this.rs.state !== 2) return false;
    this.standing = true;
    try {
      const me = this.rs.self()!;
      // What electionCandidateMetrics reports of this election, as it began.
      const atStart = {
        lastElectionReason: reason === "priority takeover"
          ? "priorityTakeover"
          : skipDryRun
          ? "stepUpRequestSkipDryRun"
          : "electionTimeout",
        lastCommittedOpTimeAtElection: this.opTime(this.rs.commitPoint),
        lastSeenOpTimeAtElection: this.opTime(this.rs.lastApplied()),
      };
      // A dry run first, at the current term, which no voter records (MongoDB's
      // _startElectSelfV1 and VoteRequester, since 3.4): a member that could not win does
      // not raise the term, so one cut off from its set does not push every term up and
      // depose a healthy primary when it comes back.
      const current = this.rs.term;
      const log = this.rs.server.log;
      if (skipDryRun) {
        log.info("ELECTION", 21437, "ReplCoord", "Skipping dry run and running for election", {
          newTerm: current + 1,
        });
      } else {
        log.info(
          "ELECTION",
          21438,
          "ReplCoord",
          "Conducting a dry run election to see if we could be elected",
          { currentTerm: current, reason },
        );
      }
      if (!skipDryRun && !(await this.collectVotes(me, current, true))) {
        this.rs.server.log.info(
          "ELECTION",
          21440,
          "ReplCoord",
          "Not running for primary, we received insufficient votes",
          { reason, dryRun: true, term: current },
        );
        this.lastPrimaryContact = Date.now();
        this.noPrimaryJitter = Math.random() * 200;
        return false;
      }
      if (this.rs.term !== current || this.rs.state !== 2) return false;
      const term = current + 1;
      this.rs.store.repl.term = term;
      this.rs.store.repl.votedFor = { term, candidate: me._id };
      this.rs.store.saveElection();
      if (!skipDryRun) {
        log.info(
          "ELECTION",
          21444,
          "ReplCoord",
          "Dry election run succeeded, running for election",
          {
            newTerm: term,
          },
        );
      }
      if (
        (await this.collectVotes(me, term, false)) && this.rs.term === term &&
        this.rs.state === 2
      ) {
        log.info("ELECTION", 21450, "ReplCoord", "Election succeeded, assuming primary role", {
          term,
        });
        this.becomePrimary(atStart);
        return true;
      }
      this.lastPrimaryContact = Date.now();
      this.noPrimaryJitter = Math.random() * 200;
      return false;
    } finally {
      this.standing = false;
    }
  }

  /**
   * Asks every other voter for its vote in `term` (a dry run: none records it); whether a
   * majority of the set's votes, ours included, said yes. A voter that answers with a newer
   * term moves ours up.
   */
  private async collectVotes(me: Document, term: number, dryRun: boolean): Promise<boolean> {
    let votes = isVoter(me) ? 1 : 0;
    const others = this.rs.voters().filter((m) => m._id !== me._id);
    const request = {
      replSetRequestVotes: 1,
      setName: this.rs.setName,
      dryRun,
      term,
      candidateIndex: me._id,
      configVersion: this.rs.config!.version,
      lastAppliedOpTime: this.rs.lastApplied() ?? new Timestamp({ t: 0, i: 0 }),
      lastAppliedTerm: this.rs.lastAppliedTerm(),
    };
    // The count ends once a majority voted yes, as MongoDB's VoteRequester does: a voter
    // that hangs (SIGSTOP) must not hold the election open until its request times out, or
    // the other members, hearing no primary meanwhile, stand in turn.
    const majority = () => votes * 2 > this.rs.voters().length;
    const ask = async (m: Document) => {
      try {
        const r = await this.rs.server.peers.run(
          m.host,
          "admin",
          request,
          Math.max(500, this.rs.electionTimeoutMs),
        );
        if (r.voteGranted) votes++;
        else if (Number(r.term) > this.rs.term) this.rs.setTerm(Number(r.term));
      } catch {
        // An unreachable voter does not vote.
      }
    };
    let pending = others.length;
    await new Promise<void>((done) => {
      if (majority() || pending === 0) return done();
      for (const m of others) {
        void ask(m).then(() => {
          pending--;
          if (majority() || pending === 0) done();
        });
      }
    });
    return majority();
  }

  onRequestVotes(req: Document): Document {
    const answer = this.vote(req);
    // ReplicationMetrics' electionParticipantMetrics: every vote cast in a real election.
    if (req.dryRun !== true) {
      this.rs.participantMetrics = {
        votedForCandidate: answer.voteGranted === true,
        electionTerm: Long.fromNumber(Number(req.term)),
        lastVoteDate: new Date(),
        electionCandidateMemberId: Number(req.candidateIndex),
        voteReason: answer.reason ?? "",
        lastAppliedOpTimeAtElection: this.opTime(this.rs.lastApplied()),
        maxAppliedOpTimeInSet: this.opTime(this.maxApplied()),
        priorityAtElection: Number(this.rs.self()?.priority ?? 1),
      };
    }
    return answer;
  }

  /** An optime as replSetGetStatus shows one: `{ts, t}`, the term from this member's oplog. */
  private opTime(ts: Timestamp | undefined): Document {
    if (!ts) return { ts: new Timestamp({ t: 0, i: 0 }), t: Long.fromNumber(-1) };
    const e = this.rs.store.oplog.from(ts, 1)[0];
    const t = e && (e.ts as Timestamp).equals(ts) ? Number(e.t) : this.rs.term;
    return { ts, t: Long.fromNumber(t) };
  }

  /** The newest optime this member knows any member of its set to have applied. */
  private maxApplied(): Timestamp | undefined {
    let max = this.rs.lastApplied();
    for (const v of this.rs.views.values()) {
      if (v.optime && (!max || v.optime.compare(max) > 0)) max = v.optime;
    }
    return max;
  }

  private vote(req: Document): Document {
    const term = Number(req.term);
    if (term < this.rs.term) {
      return {
        term: this.rs.term,
        voteGranted: false,
        reason: `candidate's term (${term}) is lower than mine (${this.rs.term})`,
      };
    }
    // A dry run (its term the candidate's current one) changes nothing here: no term, no vote.
    const dry = req.dryRun === true;
    if (!dry && term > this.rs.term) this.rs.setTerm(term);
    const voted = this.rs.store.repl.votedFor;
    if (!dry && voted && voted.term === term && voted.candidate !== req.candidateIndex) {
      return {
        term: this.rs.term,
        voteGranted: false,
        reason: `already voted for another candidate (${voted.candidate}) this term (${term})`,
      };
    }
    if ((req.configVersion ?? 0) < (this.rs.config?.version ?? 0)) {
      return {
        term: this.rs.term,
        voteGranted: false,
        reason: "candidate's config version is older than mine",
      };
    }
    // Optimes compare by term first, then timestamp, as MongoDB's do: a member whose newest
    // entries are a former primary's unreplicated ones is staler, however high their ts.
    const theirT = req.lastAppliedTerm === undefined ? undefined : Number(req.lastAppliedTerm);
    const myT = this.rs.lastAppliedTerm();
    const staler = theirT === undefined || theirT === myT
      ? !tsGte(req.lastAppliedOpTime, this.rs.lastApplied())
      : theirT < myT;
    if (staler) {
      return {
        term: this.rs.term,
        voteGranted: false,
        reason: "candidate's data is staler than mine",
      };
    }
    if (dry) return { term: this.rs.term, voteGranted: true, reason: "" };
    this.rs.store.repl.votedFor = { term, candidate: req.candidateIndex };
    this.rs.store.saveElection();
    this.lastPrimaryContact = Date.now();
    return { term: this.rs.term, voteGranted: true, reason: "" };
  }

  private becomePrimary(atStart: Document): void {
    this.everHadPrimary = true;
    this.rs.state = 1;
    this.rs.primaryId = this.rs.self()!._id;
    // As mongod does: the term inside a max-timestamp ObjectId, so drivers see it grow per election.
    this.rs.electionId = new ObjectId("7fffffff" + this.rs.term.toString(16).padStart(16, "0"));
    this.rs.electionDate = new Date();
    // ReplicationMetrics' electionCandidateMetrics, in MongoDB's field order. A primary here
    // takes writes at once (no catch-up phase): no operations caught up. Majority writes are
    // available from when its first entry of the term commits, which is not recorded, so that
    // date is left out rather than guessed.
    this.rs.candidateMetrics = {
      lastElectionReason: atStart.lastElectionReason,
      lastElectionDate: this.rs.electionDate,
      electionTerm: Long.fromNumber(this.rs.term),
      lastCommittedOpTimeAtElection: atStart.lastCommittedOpTimeAtElection,
      lastSeenOpTimeAtElection: atStart.lastSeenOpTimeAtElection,
      numVotesNeeded: Math.floor(this.rs.voters().length / 2) + 1,
      priorityAtElection: Number(this.rs.self()?.priority ?? 1),
      electionTimeoutMillis: Long.fromNumber(this.rs.electionTimeoutMs),
      numCatchUpOps: Long.fromNumber(0),
      newTermStartDate: this.rs.electionDate,
    };
    this.rs.stepDownUntil = 0;
    this.rs.noop("new primary");
    this.rs.server.log.info(
      "REPL",
      21331,
      "ReplCoord",
      "Transition to primary complete; database writes are now permitted",
      { term: this.rs.term },
    );
    this.rs.setState(1);
    this.rs.heartbeats.tick(true);
  }
}
