/**
 * replSetGetStatus, shaped as MongoDB answers it
 * (https://www.mongodb.com/docs/v7.0/reference/command/replSetGetStatus/): the set, this
 * member's view of each member, and the optimes (applied, durable, the commit point).
 */
import { type Document, Timestamp } from "bson";
import { errors } from "../errors.ts";
import { STATE_NAMES } from "../replset.ts";
import type { Handler } from "../server.ts";
import { repl, requireConfig } from "./replset.ts";

export const replSetGetStatus: Handler = (ctx) => {
  const r = repl(ctx);
  const cfg = requireConfig(r);
  if (!r.self()) {
    throw errors.invalidConfig("Our replica set config is invalid or we are not a member of it");
  }
  const now = new Date();
  const me = r.self();
  // An optime is (ts, t): the term its entry was written in, as this member's oplog says.
  const termAt = (ts: Timestamp) => {
    const e = r.store.oplog.from(ts, 1)[0];
    return e && (e.ts as Timestamp).equals(ts) ? Number(e.t) : undefined;
  };
  const optime = (ts?: Timestamp, t?: number) => ({
    ts: ts ?? new Timestamp({ t: 0, i: 0 }),
    t: ts ? t ?? termAt(ts) ?? r.term : -1,
  });
  const wall = (ts?: Timestamp) => new Date((ts?.high ?? 0) * 1000);
  const idOf = (host?: string) =>
    host ? (cfg.members as Document[]).find((m) => m.host === host)?._id ?? -1 : -1;
  const source = r.state === 2 ? r.sync.syncSource ?? "" : "";
  const members = (cfg.members as Document[]).map((m) => {
    if (m._id === me?._id) {
      return {
        _id: m._id,
        name: m.host,
        health: 1,
        state: r.state,
        stateStr: STATE_NAMES[r.state],
        uptime: Math.floor((Date.now() - ctx.server.startedAt) / 1000),
        optime: optime(r.lastApplied()),
        optimeDate: wall(r.lastApplied()),
        lastAppliedWallTime: wall(r.lastApplied()),
        lastDurableWallTime: wall(r.lastApplied()),
        syncSourceHost: source,
        syncSourceId: idOf(source),
        infoMessage: "",
        configVersion: cfg.version,
        configTerm: cfg.term === -1 ? -1 : r.term,
        self: true,
        ...(r.state === 1
          ? {
            electionTime: new Timestamp({
              t: Math.floor((r.electionDate?.getTime() ?? 0) / 1000),
              i: 1,
            }),
            electionDate: r.electionDate,
          }
          : {}),
      };
    }
    const v = r.views.get(m._id);
    const state = v?.health === 1 ? v.state : v ? 8 : 6;
    return {
      _id: m._id,
      name: m.host,
      health: v?.health ?? 0,
      state,
      // As MongoDB shows a member it cannot reach: the state it last heard is from the past.
      stateStr: v?.health === 1 ? STATE_NAMES[state] ?? "UNKNOWN" : "(not reachable/healthy)",
      uptime: v?.health === 1 ? Math.floor((Date.now() - v.since) / 1000) : 0,
      optime: optime(v?.optime, v?.optimeTerm),
      // A member reports a position once it is journaled (sim/sync.ts): durable as applied.
      optimeDurable: optime(v?.optime, v?.optimeTerm),
      optimeDate: wall(v?.optime),
      optimeDurableDate: wall(v?.optime),
      lastAppliedWallTime: wall(v?.optime),
      lastDurableWallTime: wall(v?.optime),
      lastHeartbeat: v?.lastHeartbeat ?? new Date(0),
      lastHeartbeatRecv: v?.lastHeartbeatRecv ?? new Date(0),
      pingMs: v?.pingMs ?? 0,
      lastHeartbeatMessage: v?.health === 1 ? "" : v?.message ?? "",
      syncSourceHost: v?.health === 1 ? v.syncingTo ?? "" : "",
      syncSourceId: v?.health === 1 ? idOf(v.syncingTo) : -1,
      infoMessage: "",
      configVersion: v?.configVersion ?? -1,
      configTerm: v?.term ?? -1,
    };
  });
  const last = optime(r.lastApplied());
  // The commit point (a majority has applied it) and the majority snapshot reads are served
  // at: never ahead of what this member has applied.
  const majority = r.majoritySnapshot();
  const committed = optime(majority);
  return {
    set: cfg._id,
    date: now,
    myState: r.state,
    term: r.term,
    heartbeatIntervalMillis: r.heartbeatMs,
    majorityVoteCount: Math.floor(r.voters().length / 2) + 1,
    // ReplSetConfig::_calculateMajorities: no more than the voting data-bearing members.
    writeMajorityCount: Math.min(
      Math.floor(r.voters().length / 2) + 1,
      r.voters().filter((m) => !m.arbiterOnly).length,
    ),
    votingMembersCount: r.voters().length,
    writableVotingMembersCount: r.voters().filter((m) => !m.arbiterOnly).length,
    syncSourceHost: source,
    syncSourceId: idOf(source),
    optimes: {
      lastCommittedOpTime: committed,
      lastCommittedWallTime: wall(majority),
      readConcernMajorityOpTime: committed,
      readConcernMajorityWallTime: wall(majority),
      appliedOpTime: last,
      durableOpTime: last,
      lastAppliedWallTime: wall(r.lastApplied()),
      lastDurableWallTime: wall(r.lastApplied()),
    },
    ...(majority ? { lastStableRecoveryTimestamp: majority } : {}),
    // A primary's own election, and the last vote this member cast (MongoDB 4.2.1+).
    ...(r.state === 1 && r.candidateMetrics
      ? { electionCandidateMetrics: r.candidateMetrics }
      : {}),
    ...(r.participantMetrics ? { electionParticipantMetrics: r.participantMetrics } : {}),
    members,
  };
};
