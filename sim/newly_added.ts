/**
 * MongoDB 4.4+'s `newlyAdded` (SERVER-46344): a replSetReconfig (not forced) that adds a member
 * with votes:1 stores it with `newlyAdded: true`, so that it counts as no voter (elections,
 * majorities, the one-voter-change rule) until it has data; the primary, hearing it is
 * SECONDARY, RECOVERING or ROLLBACK, removes the field with a reconfig of its own, one member at
 * a time (replication_coordinator_impl_heartbeat.cpp; `_reconfigToRemoveNewlyAddedField`).
 * replSetGetConfig leaves the field out (SERVER-46353); local.system.replset holds it.
 */
import type { Document } from "bson";
import type { ReplSet } from "./replset.ts";
import { checkImplicitDefaultUnchanged } from "./rw_defaults.ts";

/** Whether member `m` of a config votes: votes > 0 and not newly added (MemberConfig::isVoter). */
export function isVoter(m: Document): boolean {
  return (m.votes ?? 1) > 0 && !m.newlyAdded;
}

/**
 * `next` (a user's reconfig, validated) with `newlyAdded: true` on each data-bearing voting
 * member whose `_id` `cur` does not hold, and kept on those `cur` still marks (a user's reconfig
 * does not clear it: SERVER-46351). A forced reconfig adds none (its voters count at once).
 */
export function markNewlyAdded(cur: Document, next: Document): Document {
  const before = new Map((cur.members as Document[]).map((m) => [m._id, m]));
  return {
    ...next,
    members: (next.members as Document[]).map((m) => {
      const old = before.get(m._id);
      const voting = (m.votes ?? 1) > 0 && !m.arbiterOnly;
      return voting && (!old || old.newlyAdded) ? { ...m, newlyAdded: true } : m;
    }),
  };
}

/** The config as replSetGetConfig shows it: without `newlyAdded`. */
export function shownConfig(config: Document): Document {
  return {
    ...config,
    members: (config.members as Document[]).map(({ newlyAdded: _, ...m }) => m),
  };
}

/**
 * On the primary, after a heartbeat answer from member `id` in `state`: schedules the reconfig
 * that clears its `newlyAdded` once it has data (SECONDARY 2, RECOVERING 3, ROLLBACK 9). The
 * reconfig waits for the current config to reach a majority, and is dropped (tried again at a
 * later heartbeat) when the config changed meanwhile or this member is no longer primary.
 */
export function noteNewMember(rs: ReplSet, id: number, state: number): void {
  if (rs.state !== 1 || ![2, 3, 9].includes(state) || removing.has(rs)) return;
  const config = rs.config;
  if (!config || !(config.members as Document[]).find((m) => m._id === id)?.newlyAdded) return;
  removing.add(rs);
  void removeField(rs, id, Number(config.version)).finally(() => removing.delete(rs));
}

/** Replica sets with a removal under way: one at a time, as the server's executor runs them. */
const removing = new WeakSet<ReplSet>();

async function removeField(rs: ReplSet, id: number, version: number): Promise<void> {
  const committed = () => {
    const me = rs.self();
    const voters = rs.voters();
    const have =
      voters.filter((m) => m._id === me?._id || rs.views.get(m._id)?.configVersion === version)
        .length;
    return have * 2 > voters.length;
  };
  if (!(await rs.waitFor(committed, rs.electionTimeoutMs))) return;
  const cur = rs.config;
  if (rs.state !== 1 || !cur || Number(cur.version) !== version) return;
  const next = {
    ...cur,
    version: version + 1,
    term: rs.term,
    members: (cur.members as Document[]).map((m) => {
      if (m._id !== id) return m;
      const { newlyAdded: _, ...rest } = m;
      return rest;
    }),
  };
  // The server's own reconfig goes through doReplSetReconfig's checks like a user's: one that
  // would change the implicit default write concern fails, and the member stays newlyAdded (no
  // voter) until a CWWC is set (replication_coordinator_impl.cpp, _reconfigToRemoveNewlyAddedField).
  try {
    await checkImplicitDefaultUnchanged(rs.server, cur, next);
  } catch (e) {
    // The server logs each failed try at debug level; one line per config keeps the log readable.
    if (refusedAt.get(rs) !== version) {
      refusedAt.set(rs, version);
      rs.server.log.info(
        "REPL",
        4634503,
        "ReplCoord",
        "Failed to remove 'newlyAdded' config field",
        {
          memberId: id,
          error: (e as Error).message,
        },
      );
    }
    return;
  }
  // A shard's check asks its config servers: the set may have moved on meanwhile.
  if (rs.state !== 1 || Number(rs.config?.version) !== version) return;
  rs.server.log.info("REPL", 4634504, "ReplCoord", "Removing 'newlyAdded' field from member", {
    memberId: id,
  });
  rs.installConfig(next);
}

/** The config version whose removal the implicit-default rule last refused, per set. */
const refusedAt = new WeakMap<ReplSet, number>();
