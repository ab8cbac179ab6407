/**
 * When a secondary gives its sync source up for another (sim/sync.ts `reconsider`), by MongoDB's
 * rules in repl/topology_coordinator.cpp.
 */
import type { Document } from "bson";
import type { ReplSet } from "./replset.ts";

/** maxSyncSourceLagSecs, mongod's default (repl/topology_coordinator.cpp). */
const MAX_SYNC_SOURCE_LAG_SECS = 30;

/**
 * Why the running round should give its source up, from what heartbeats say (undefined:
 * keep it). MongoDB's rules (repl/topology_coordinator.cpp): a source that is not up is no
 * eligible source (`_isEligibleSyncSource`; on the fetch's network timeout
 * `shouldChangeSyncSourceOnError` then picks another); a member no longer in the config
 * (`_shouldChangeSyncSourceInitialChecks`, 21831); with chaining disabled, a source that is
 * not the known primary (`_shouldChangeSyncSourceDueToNewPrimary`, 3962100); a source that
 * is not primary and not ahead of us (`_shouldChangeSyncSourceDueToSourceNotAhead`, 21832;
 * MongoDB also requires that it has no source of its own, which heartbeats here do not
 * carry, so a primary elsewhere stands for the way forward); one whose newest entry is more
 * than maxSyncSourceLagSecs behind an eligible member's (`_shouldChangeSyncSourceDueToLag`,
 * 21834). Only the first two apply while a member resyncs or rolls back.
 */
export function changeReason(
  rs: ReplSet,
  host: string,
  chooseSource: () => Document | undefined,
): { id: number; msg: string } | undefined {
  const m = rs.members().find((x) => x.host === host);
  if (!m) {
    return {
      id: 21831,
      msg: "Choosing new sync source because current sync source is not in our config",
    };
  }
  const v = rs.views.get(m._id);
  if (v?.health !== 1) {
    // What follows the fetch's timeout in MongoDB: another eligible member, or none yet.
    return chooseSource()
      ? {
        id: 5929000,
        msg:
          "Choosing new sync source because our current sync source does not satisfy our strict criteria for candidates, but there is another member which does satisfy these criteria",
      }
      : { id: 21798, msg: "Could not find member to sync from" };
  }
  if (rs.state !== 2) return undefined;
  const mine = rs.lastApplied();
  const isPrimary = rs.primaryId === m._id && v.state === 1;
  const otherPrimary = rs.primaryId !== undefined && rs.primaryId !== m._id &&
    rs.primaryId !== rs.self()?._id;
  if (rs.config?.settings?.chainingAllowed === false && otherPrimary) {
    return {
      id: 3962100,
      msg:
        "Choosing new sync source because chaining is disabled and we are aware of a new primary",
    };
  }
  if (otherPrimary && !isPrimary && !(mine && v.optime && v.optime.compare(mine) > 0)) {
    return {
      id: 21832,
      msg:
        "Choosing new sync source. Our current sync source is not primary and does not have a sync source, so we require that it is ahead of us",
    };
  }
  const threshold = (v.optime?.high ?? 0) + MAX_SYNC_SOURCE_LAG_SECS;
  for (const o of rs.members()) {
    const ov = rs.views.get(o._id);
    if (
      o._id === m._id || o._id === rs.self()?._id || o.arbiterOnly || o.hidden ||
      ov?.health !== 1 || (ov.state !== 1 && ov.state !== 2) || !ov.optime
    ) continue;
    if (ov.optime.high > threshold && (!mine || ov.optime.compare(mine) > 0)) {
      return {
        id: 21834,
        msg:
          "Choosing new sync source because the most recent OpTime of our sync source is more than maxSyncSourceLagSecs behind another member",
      };
    }
  }
  return undefined;
}
