/**
 * A secondary's two conversations with other members about the oplog: its finds on a sync
 * source's oplog (local.oplog.rs), and the position it reports to the primary.
 */
import { type Document, Long } from "bson";
import type { PeerPool } from "./peer.ts";
import type { ReplSet } from "./replset.ts";

/** The batch size of an oplog find without a limit (a rollback's reads): 16 MiB bounds it. */
const FETCH_BATCH = 100_000;

/**
 * The entries a find (`cmd`: filter, sort, limit…) on `host`'s oplog returns: its first batch
 * (as large as the limit asks) and, past 16 MiB, its getMores up to the limit. A long poll
 * (awaitData) is tailable, as MongoDB's OplogFetcher's is.
 * @param timeoutMs each command's network timeout (ms)
 * @throws PeerError when the source refuses or cannot be reached
 */
export async function fetchOplog(
  peers: PeerPool,
  host: string,
  cmd: Document,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Document[]> {
  const run = (c: Document) => peers.run(host, "local", c, timeoutMs, "sync", signal);
  const limit = Number(cmd.limit ?? 0);
  const batchSize = limit || FETCH_BATCH;
  let r = await run({
    find: "oplog.rs",
    batchSize,
    ...(cmd.awaitData ? { tailable: true } : {}),
    ...cmd,
  });
  const docs = [...(r.cursor?.firstBatch ?? [])] as Document[];
  while (Number(r.cursor?.id ?? 0) !== 0) {
    if (limit && docs.length >= limit) {
      await run({ killCursors: "oplog.rs", cursors: [r.cursor.id] }).catch(() => {});
      break;
    }
    r = await run({ getMore: r.cursor.id, collection: "oplog.rs", batchSize });
    docs.push(...(r.cursor?.nextBatch ?? []));
  }
  return docs;
}

/**
 * Tells the primary how far this member got, so write concerns are met without waiting. The
 * shape is MongoDB's (repl/update_position_args.cpp): one entry per member with its applied
 * and durable optimes, and `$replData` carrying this member's term, which tells a primary
 * that an election it has not heard of yet took place (repl_set_commands.cpp,
 * CmdReplSetUpdatePosition: "may inform the upstream of a higher term").
 */
export function reportPosition(rs: ReplSet): void {
  const primary = rs.primaryId !== undefined ? rs.member(rs.primaryId) : undefined;
  if (!primary || primary._id === rs.self()?._id) return;
  const opTime = { ts: rs.lastApplied(), t: Long.fromNumber(rs.lastAppliedTerm()) };
  rs.server.peers.run(primary.host, "admin", {
    replSetUpdatePosition: 1,
    optimes: [{
      appliedOpTime: opTime,
      durableOpTime: opTime,
      memberId: rs.self()?._id,
      cfgver: rs.config?.version,
    }],
    $replData: { term: Long.fromNumber(rs.term), configVersion: rs.config?.version },
  }, 2000).catch(() => {});
}
