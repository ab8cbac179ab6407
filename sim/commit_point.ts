/**
 * A primary's commit point: the newest optime a majority of the set's voting data-bearing
 * members have applied, which write concern "majority" waits for and majority reads read at.
 * Secondaries report their positions with replSetUpdatePosition (sim/oplog_fetch.ts `reportPosition`).
 * https://www.mongodb.com/docs/v7.0/reference/write-concern/#acknowledgment-behavior
 */
import { type Document, Timestamp } from "bson";
import { type ReplSet, tsGte } from "./replset.ts";

/**
 * replSetUpdatePosition from a secondary. Its term is taken first, as MongoDB's
 * CmdReplSetUpdatePosition processes `$replData` before the positions: a member that voted in a
 * newer election steps this primary down before its position can count towards a write concern
 * of the old term (which the new primary may not hold).
 */
export function onUpdatePosition(rs: ReplSet, req: Document): Document {
  const term = req.$replData?.term;
  if (term !== undefined) rs.setTerm(Number(term));
  for (const u of (req.optimes ?? []) as Document[]) {
    const v = rs.views.get(Number(u.memberId));
    const applied = u.appliedOpTime as Document | undefined;
    if (v && applied?.ts) {
      v.optime = applied.ts as Timestamp;
      v.optimeTerm = applied.t === undefined ? undefined : Number(applied.t);
    }
  }
  rs.wake();
  return {};
}

/**
 * Moves the commit point to the newest optime a majority of voting data-bearing members have
 * applied (primary only; a secondary learns it from the primary's heartbeats), and keeps the
 * oplog and the store's history from there.
 */
export function updateCommitPoint(rs: ReplSet): void {
  const store = rs.store;
  if (rs.state !== 1) {
    store.oplog.protectFrom = undefined;
    return;
  }
  const me = rs.self();
  // Only members whose newest entry is of this primary's term count (see memberHas): a
  // restarted former primary's unreplicated entries may carry higher timestamps.
  const times = rs.voters().filter((m) => !m.arbiterOnly).map((m) =>
    m._id === me?._id
      ? rs.lastApplied()
      : rs.views.get(m._id)?.optimeTerm === rs.term
      ? rs.views.get(m._id)?.optime
      : undefined
  ).filter((t): t is Timestamp => t !== undefined).sort((a, b) => b.compare(a));
  const need = Math.min(
    Math.floor(rs.voters().length / 2) + 1,
    rs.voters().filter((m) => !m.arbiterOnly).length,
  );
  store.oplog.protectFrom = times[need - 1] ?? new Timestamp({ t: 0, i: 0 });
  if (!tsGte(rs.commitPoint, store.oplog.protectFrom)) {
    rs.commitPoint = store.oplog.protectFrom;
  }
  store.forgetHistory(rs.commitPoint!);
}
