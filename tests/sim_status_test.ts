/**
 * replSetGetStatus as MongoDB shapes it (https://www.mongodb.com/docs/v7.0/reference/command/replSetGetStatus/):
 * the commit point (optimes.lastCommittedOpTime, readConcernMajorityOpTime) is what a majority
 * has applied, not this member's newest entry; optimes carry the term they were written in;
 * a secondary names its sync source by host and member _id; the fields monitoring tools read
 * (wall times, durable optimes) are there.
 */
import assert from "node:assert/strict";
import type { Document, Timestamp } from "mongodb";
import { waitFor, withFreezableSet } from "./sim_helpers.ts";
import { installFixture } from "./fixture.ts";

installFixture();

const ts = (o: Document | undefined) => (o?.ts as Timestamp).toString();

Deno.test("simulator: replSetGetStatus reports the commit point apart from the applied optime, optimes with their term, and each secondary's sync source", async () => {
  await withFreezableSet(3, async (set) => {
    const [p0, p1, p2] = set.ports;
    const primary = set.clients.get(p0)!;
    const status = (port: number) =>
      set.clients.get(port)!.db("admin").command({ replSetGetStatus: 1 });
    await primary.db("app").collection("s").insertOne({ _id: 1 } as never, {
      writeConcern: { w: 3 },
    });
    const s = await waitFor(async () => {
      const s = await status(p0);
      return ts(s.optimes.lastCommittedOpTime) === ts(s.optimes.appliedOpTime) ? s : undefined;
    }, 30_000);
    for (
      const f of [
        "lastCommittedOpTime",
        "lastCommittedWallTime",
        "readConcernMajorityOpTime",
        "readConcernMajorityWallTime",
        "appliedOpTime",
        "durableOpTime",
        "lastAppliedWallTime",
        "lastDurableWallTime",
      ]
    ) assert.ok(s.optimes[f] !== undefined, `optimes.${f}`);
    assert.equal(Number(s.optimes.appliedOpTime.t), Number(s.term));
    assert.ok(s.lastStableRecoveryTimestamp, "lastStableRecoveryTimestamp");
    for (const m of s.members as Document[]) {
      if (m.self) continue;
      for (
        const f of ["optimeDurable", "optimeDurableDate", "lastAppliedWallTime", "syncSourceId"]
      ) {
        assert.ok(m[f] !== undefined, `${m.name}: ${f}`);
      }
    }
    // A secondary names its source, by host and by member _id.
    const sec = await waitFor(async () => {
      const s = await status(p1);
      return s.syncSourceHost ? s : undefined;
    }, 30_000);
    const src = (sec.members as Document[]).find((m) => m.name === sec.syncSourceHost);
    assert.ok(src, `${sec.syncSourceHost} is a member`);
    assert.equal(sec.syncSourceId, src._id);
    // The primary shows each secondary's source too, as its heartbeats say (tester81).
    const seen = await waitFor(async () => {
      const s = await status(p0);
      const row = (s.members as Document[]).find((m) => m.name.endsWith(`:${p1}`))!;
      return row.syncSourceHost ? row : undefined;
    }, 30_000);
    const rowSource = (sec.members as Document[]).find((m) => m.name === seen.syncSourceHost);
    assert.ok(rowSource, `${seen.syncSourceHost} is a member`);
    assert.equal(seen.syncSourceId, rowSource._id);
    // With both secondaries frozen, a w: 1 write is applied on the primary but not committed.
    const frozen = [p1, p2].map((p) => set.freeze(p));
    await primary.db("app").collection("s").insertOne({ _id: 2 } as never, {
      writeConcern: { w: 1 },
    });
    const ahead = await status(p0);
    assert.ok(
      (ahead.optimes.appliedOpTime.ts as Timestamp).compare(
        ahead.optimes.lastCommittedOpTime.ts as Timestamp,
      ) > 0,
      `applied ${ts(ahead.optimes.appliedOpTime)} is past the commit point ${
        ts(ahead.optimes.lastCommittedOpTime)
      }`,
    );
    assert.equal(
      ts(ahead.optimes.readConcernMajorityOpTime),
      ts(ahead.optimes.lastCommittedOpTime),
    );
    for (const pid of frozen) set.thaw(pid);
  }, { electionTimeoutMillis: 60_000 });
});

Deno.test("simulator: replSetGetStatus carries the primary's electionCandidateMetrics, each voter's electionParticipantMetrics and each member's lastHeartbeatRecv (tester105 #2)", async () => {
  await withFreezableSet(3, async (set) => {
    const [p0, p1] = set.ports;
    const status = (port: number) =>
      set.clients.get(port)!.db("admin").command({ replSetGetStatus: 1 });
    const s = await status(p0);
    const m = s.electionCandidateMetrics as Document;
    assert.ok(m, JSON.stringify(Object.keys(s)));
    assert.ok(
      ["electionTimeout", "stepUpRequestSkipDryRun", "priorityTakeover"].includes(
        m.lastElectionReason,
      ),
      m.lastElectionReason,
    );
    assert.equal(Number(m.electionTerm), Number(s.term));
    assert.equal(m.numVotesNeeded, 2);
    assert.ok(m.lastElectionDate instanceof Date && m.newTermStartDate instanceof Date);
    for (const f of ["lastCommittedOpTimeAtElection", "lastSeenOpTimeAtElection"]) {
      assert.ok(m[f]?.ts !== undefined && m[f]?.t !== undefined, f);
    }
    assert.equal(Number(m.numCatchUpOps), 0);
    // A secondary voted for it in that term, and shows no candidate metrics of its own.
    const sec = await status(p1);
    assert.equal(sec.electionCandidateMetrics, undefined);
    const own = (s.members as Document[]).find((x) => x.self)!;
    const voted = await waitFor(async () => {
      for (const port of set.ports.slice(1)) {
        const v = (await status(port)).electionParticipantMetrics as Document | undefined;
        if (v && Number(v.electionTerm) === Number(s.term)) return v;
      }
      return undefined;
    }, 10_000);
    assert.equal(voted.votedForCandidate, true);
    assert.equal(voted.electionCandidateMemberId, own._id);
    assert.equal(voted.voteReason, "");
    // Heartbeats arrive from each other member.
    const recv = await waitFor(async () => {
      const rows = ((await status(p0)).members as Document[]).filter((x) => !x.self);
      return rows.every((r) => (r.lastHeartbeatRecv as Date).getTime() > 0) ? rows : undefined;
    }, 10_000);
    assert.equal(recv.length, 2);
  });
});
