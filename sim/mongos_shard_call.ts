/**
 * mongos's calls to a shard: a command sent to the shard's primary (waiting out a step-down, as
 * mongos's replica-set monitor does), its reply checked, a cursor drained.
 */
import { type Document, Long } from "bson";
import { CommandError } from "./errors.ts";
import type { Mongos } from "./mongos.ts";
import { UNSIGNED } from "./server.ts";

/** The wait before a command is sent again. */
export const pause = () => new Promise((r) => setTimeout(r, 50));

/** Runs a command on a shard's primary by shard name; the raw reply (ok may be 0). */
export async function onShard(
  m: Mongos,
  shard: string,
  db: string,
  cmd: Document,
): Promise<Document> {
  const s = (await m.shards()).find((x) => x._id === shard);
  if (!s) throw new CommandError(`Shard ${shard} not found`, 70, "ShardNotFound");
  // As a real mongos does, a primary that steps down or goes away under the command is waited
  // out (up to 15 s, like its replica-set monitor) and the command sent to the new primary when
  // that is safe: a refusal before running, a read, or a retryable write (lsid + txnNumber: the
  // shard answers a repeat with the first outcome). Otherwise every election reaches the client
  // as a "not primary" error from mongos itself, and the driver drops mongos until its next check.
  const name = Object.keys(cmd)[0];
  const repeatable = READS.has(name) || cmd.txnNumber !== undefined;
  // A command's maxTimeMS bounds that wait too (the replica-set monitor waits up to its deadline).
  const end = Date.now() + Math.min(15_000, Number(cmd.maxTimeMS ?? 0) || 15_000);
  for (;;) {
    let primary: string;
    try {
      primary = await m.shardPrimary(s);
    } catch (e) {
      if (Date.now() > end) throw e;
      await pause();
      continue;
    }
    let r: Document;
    try {
      // Gossip both ways, as mongos does: the shard's later writes come after what this mongos
      // has seen, and its answer's time moves this mongos's clock on.
      r = await m.server.peers.get(primary).command(db, withClusterTime(m, cmd), 30_000);
      m.server.observeClusterTime(r.$clusterTime?.clusterTime);
    } catch (e) {
      if (!repeatable || Date.now() > end || m.server.shuttingDown) throw e;
      await pause();
      continue;
    }
    const code = Number(r.code);
    const again = !r.ok && (NOT_PRIMARY.has(code) || (repeatable && STATE_CHANGE.has(code)));
    if (!again || Date.now() > end || m.server.shuttingDown) return r;
    await pause();
  }
}

/** `cmd` with this mongos's cluster time gossiped (unsigned: no keyFile signing here). */
function withClusterTime(m: Mongos, cmd: Document): Document {
  const t = m.server.clusterTime;
  return t ? { ...cmd, $clusterTime: { clusterTime: t, signature: UNSIGNED } } : cmd;
}

/** Refusals a shard makes before running anything: always safe to send again. */
const NOT_PRIMARY = new Set([10107, 13435]);
/** Replication state changes that may interrupt a command half-way. */
const STATE_CHANGE = new Set([189, 11602, 91, 11600]);
/** Reads: sent again after a state change, since they change nothing. */
export const READS = new Set(["find", "count", "aggregate", "listCollections", "listIndexes"]);

/** The reply, or its error thrown as a CommandError. */
export function check(r: Document): Document {
  if (!r.ok) throw new CommandError(String(r.errmsg), Number(r.code), String(r.codeName));
  return r;
}

/** Every document of a cursor reply, following getMore to the end. */
export async function drain(
  m: Mongos,
  shard: string,
  db: string,
  r: Document,
): Promise<Document[]> {
  check(r);
  const out = [...(r.cursor.firstBatch as Document[])];
  let id = r.cursor.id as Long;
  const coll = String(r.cursor.ns).split(".").slice(1).join(".");
  while (id && !Long.ZERO.equals(id)) {
    const g = check(await onShard(m, shard, db, { getMore: id, collection: coll }));
    out.push(...g.cursor.nextBatch);
    id = g.cursor.id;
  }
  return out;
}
