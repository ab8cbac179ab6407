/**
 * Writes to a sharded collection through mongos: inserts go to the shard owning each document's
 * chunk; updates and deletes to the shards their filter can target, with MongoDB 7.0's refusals
 * (61 for an upsert without the full shard key, 72 for a {multi: false} write without the shard
 * key or _id, 20 for a shard key change). A shard refusing a batch as routed by an old table
 * (13388 StaleConfig, nothing done) gets it again by the reloaded table. A shard that cannot
 * run a batch (no primary, a refusal of the whole batch) fails that batch's writes only, as
 * write errors beside what the other shards did (BatchWriteOp::noteBatchError): an unordered
 * insert partly applied is reported so, never as a failure of the whole command.
 */
import type { Document } from "bson";
import type { Mongos } from "./mongos.ts";
import { CommandError } from "./errors.ts";
import { collMeta } from "./mongos_routing.ts";
import { check, onShard, pause } from "./mongos_shard_call.ts";
import { indexKey } from "./query.ts";
import {
  type CollMeta,
  collVersion,
  compareKeys,
  compareValues,
  docKey,
  equalityKey,
  owningChunk,
  targetShards,
} from "./sharding.ts";

/**
 * A shard's reply to a write batch, or the error its writes fail with when the shard could not
 * run it: no primary within the wait (onShard's), or the whole batch refused.
 */
async function sendBatch(
  m: Mongos,
  shard: string,
  db: string,
  cmd: Document,
): Promise<{ reply: Document } | { error: Document }> {
  try {
    const r = await onShard(m, shard, db, cmd);
    if (r.ok) return { reply: r };
    return { error: { code: r.code, codeName: r.codeName, errmsg: r.errmsg } };
  } catch (e) {
    if (e instanceof CommandError) {
      return { error: { code: e.code, codeName: e.codeName, errmsg: e.message } };
    }
    // The connection failed under the command: whether the shard ran it is not known.
    return {
      error: { code: 6, codeName: "HostUnreachable", errmsg: `shard ${shard}: ${e}` },
    };
  }
}

/** insert of `cmd.documents` into a sharded collection. */
export async function shardedInsert(
  m: Mongos,
  db: string,
  cmd: Document,
  meta: CollMeta,
): Promise<Document> {
  const docs = (cmd.documents ?? []) as Document[];
  let n = 0;
  const writeErrors: Document[] = [];
  let wce: Document | undefined;
  // A shard key value cannot be an array (shard_key_pattern.cpp): refused per document, 61;
  // ordered, the documents after the first refused are not inserted.
  const arrayKey = docs.findIndex((d) => indexKey(d, meta.key).some((v) => Array.isArray(v)));
  const upTo = arrayKey < 0 ? docs.length : arrayKey;
  const refused = arrayKey < 0
    ? []
    : cmd.ordered !== false
    ? [arrayKey]
    : docs.flatMap((d, i) => indexKey(d, meta.key).some((v) => Array.isArray(v)) ? [i] : []);
  for (const i of refused) {
    writeErrors.push({
      index: i,
      code: 61,
      codeName: "ShardKeyNotFound",
      errmsg: "Shard key cannot contain array values or array descendants.",
    });
  }
  let pending = docs.map((_, i) => i).filter((i) =>
    !refused.includes(i) && (cmd.ordered === false || i < upTo)
  );
  // Documents a shard refused as routed by an old table (StaleConfig, nothing inserted) are
  // routed again by the reloaded table.
  for (const end = Date.now() + 15_000; pending.length;) {
    const byShard = new Map<string, number[]>();
    for (const i of pending) {
      const s = owningChunk(meta, docKey(docs[i], meta.key)).shard;
      byShard.set(s, [...(byShard.get(s) ?? []), i]);
    }
    const again: number[] = [];
    for (const [s, idx] of byShard) {
      const sent = await sendBatch(m, s, db, {
        ...cmd,
        documents: idx.map((i) => docs[i]),
        shardVersion: collVersion(meta),
      });
      if ("error" in sent) {
        if (Number(sent.error.code) === 13388 && Date.now() < end) {
          again.push(...idx);
          continue;
        }
        // Ordered, the first of the batch fails and the rest are not tried; unordered, each.
        for (const i of cmd.ordered !== false ? idx.slice(0, 1) : idx) {
          writeErrors.push({ ...sent.error, index: i });
        }
        if (cmd.ordered !== false) break;
        continue;
      }
      const r = sent.reply;
      n += Number(r.n ?? 0);
      for (const e of (r.writeErrors ?? []) as Document[]) {
        writeErrors.push({ ...e, index: idx[e.index as number] });
      }
      wce ??= r.writeConcernError;
      if (r.writeErrors?.length && cmd.ordered !== false) break;
    }
    if (writeErrors.length && cmd.ordered !== false) break;
    pending = again.sort((a, b) => a - b);
    if (pending.length) {
      await pause();
      meta = (await collMeta(m, `${db}.${cmd.insert}`)) ?? meta;
    }
  }
  return {
    n,
    ...(writeErrors.length ? { writeErrors: writeErrors.sort((a, b) => a.index - b.index) } : {}),
    ...(wce ? { writeConcernError: wce } : {}),
  };
}

/** update or delete statements on a sharded collection. */
export async function shardedModify(
  m: Mongos,
  db: string,
  cmd: Document,
  meta: CollMeta,
  name: "update" | "delete",
): Promise<Document> {
  const stmts = (cmd[name === "update" ? "updates" : "deletes"] ?? []) as Document[];
  let n = 0, nModified = 0;
  const upserted: Document[] = [];
  const writeErrors: Document[] = [];
  // The first shard's write concern failure is the client's, as for inserts (tester97).
  let wce: Document | undefined;
  for (let i = 0; i < stmts.length; i++) {
    const st = stmts[i];
    const many = name === "update" ? !!st.multi : st.limit === 0;
    const targets = targetShards(meta, st.q);
    if (name === "update" && st.upsert && targets.length > 1) {
      // The new document's shard cannot be known without the full shard key (7.0).
      writeErrors.push({
        index: i,
        code: 61,
        codeName: "ShardKeyNotFound",
        errmsg: `Failed to target upsert by query :: could not extract exact shard key from ` +
          `query ${JSON.stringify(st.q)}`,
      });
      if (cmd.ordered !== false) break;
      continue;
    }
    if (name === "update" && await changesShardKeyNow(m, db, cmd.update, meta, st, targets)) {
      // The document would have to move to another shard, which this mongos cannot do.
      writeErrors.push({ index: i, ...keyChangeRefusal(cmd) });
      if (cmd.ordered !== false) break;
      continue;
    }
    if (!many && targets.length > 1 && !(st.q && "_id" in st.q)) {
      writeErrors.push({
        index: i,
        code: 72,
        codeName: "InvalidOptions",
        errmsg:
          `A {multi:false} ${name} on a sharded collection must contain an exact match on _id ` +
          `(and have the collection default collation) or target a single shard`,
      });
      if (cmd.ordered !== false) break;
      continue;
    }
    // A shard refusing the statement as routed by an old table (StaleConfig, nothing done):
    // reload the table and send it to the shards it now targets that have not run it.
    const done = new Set<string>();
    let todo = targets;
    for (const end = Date.now() + 15_000; todo.length;) {
      const s = todo[0];
      const sent = await sendBatch(m, s, db, {
        ...cmd,
        [name === "update" ? "updates" : "deletes"]: [st],
        shardVersion: collVersion(meta),
      });
      if ("error" in sent && Number(sent.error.code) === 13388 && Date.now() < end) {
        await pause();
        meta = (await collMeta(m, `${db}.${cmd[name]}`)) ?? meta;
        todo = targetShards(meta, st.q).filter((x) => !done.has(x));
        continue;
      }
      todo = todo.slice(1);
      done.add(s);
      if ("error" in sent) {
        writeErrors.push({ ...sent.error, index: i });
        break;
      }
      const r = sent.reply;
      wce ??= r.writeConcernError;
      if (r.writeErrors?.length) {
        writeErrors.push({ ...r.writeErrors[0], index: i });
        break;
      }
      n += Number(r.n ?? 0);
      nModified += Number(r.nModified ?? 0);
      for (const u of (r.upserted ?? []) as Document[]) upserted.push({ ...u, index: i });
      if (!many && Number(r.n ?? 0) > 0) break;
    }
    if (writeErrors.length && cmd.ordered !== false) break;
  }
  return {
    n,
    ...(name === "update" ? { nModified } : {}),
    ...(upserted.length ? { upserted } : {}),
    ...(writeErrors.length ? { writeErrors } : {}),
    ...(wce ? { writeConcernError: wce } : {}),
  };
}

/**
 * findAndModify on a sharded collection: sent, with the collection's version, to the one shard
 * its query's shard key targets. A query that could match on several shards is refused,
 * ShardKeyNotFound (61), as before MongoDB 7.0's findAndModify without a shard key; an update
 * that would move the document to another shard is refused (20), as shardedModify does. The
 * shard's answer (a retry's too, lsid and txnNumber passed on) is the client's.
 */
export async function shardedFindAndModify(
  m: Mongos,
  db: string,
  cmd: Document,
  meta: CollMeta,
): Promise<Document> {
  const targets = targetShards(meta, cmd.query ?? {});
  if (targets.length !== 1) {
    throw new CommandError(
      `Query for sharded findAndModify must contain the shard key`,
      61,
      "ShardKeyNotFound",
    );
  }
  if (!cmd.remove && changesShardKey(meta, { q: cmd.query ?? {}, u: cmd.update })) {
    const r = keyChangeRefusal(cmd);
    throw new CommandError(r.errmsg, r.code, r.codeName);
  }
  return check(await onShard(m, targets[0], db, { ...cmd, shardVersion: collVersion(meta) }));
}

/**
 * The refusal of an update that changes a document's shard key. Without a retryable write,
 * mongod's own (20). With one, MongoDB moves the document to its new shard, which this mongos
 * cannot: CommandNotSupported (115), since the driver rewrites a 20 of a retryable write into
 * "this deployment does not support retryable writes" (tester86, tester90).
 */
function keyChangeRefusal(cmd: Document): { code: number; codeName: string; errmsg: string } {
  return cmd.txnNumber === undefined
    ? {
      code: 20,
      codeName: "IllegalOperation",
      errmsg: "Must run update to shard key field in a multi-statement transaction or with " +
        "retryWrites: true. (the simulator does not move documents between shards on update)",
    }
    : {
      code: 115,
      codeName: "CommandNotSupported",
      errmsg: "an update that changes a document's shard key is not supported by this server " +
        "(the simulator does not move documents between shards)",
    };
}

/**
 * Whether an update changes a document's shard key, where changesShardKey cannot tell from the
 * statement alone: a replacement whose query does not pin the key (by _id) changes it only if
 * the document it matches has another key, which the targeted shards are asked (tester90: a
 * replacement by _id keeping the key was refused). A write between the two reads is not
 * guarded: only tests and demos route through this mongos.
 */
async function changesShardKeyNow(
  m: Mongos,
  db: string,
  coll: string,
  meta: CollMeta,
  st: Document,
  targets: string[],
): Promise<boolean> {
  if (!changesShardKey(meta, st)) return false;
  if (Array.isArray(st.u)) return true;
  const u = st.u as Document;
  const pattern = Object.fromEntries(Object.keys(meta.key).map((f) => [f, 1]));
  const replacement = !Object.keys(u).some((k) => k.startsWith("$"));
  if (!replacement || equalityKey(st.q, pattern)) return true;
  for (const shard of targets) {
    const r = check(
      await onShard(m, shard, db, {
        find: coll,
        filter: st.q ?? {},
        limit: 1,
        shardVersion: collVersion(meta),
      }),
    );
    const doc = (r.cursor?.firstBatch as Document[] | undefined)?.[0];
    if (doc) return compareKeys(docKey(doc, pattern), docKey(u, pattern)) !== 0;
  }
  // Nothing matched: nothing changes (an upsert without the key is refused before this).
  return false;
}

/**
 * Whether an update may change a document's shard key: an operator touching a shard-key field
 * (other than `$set` to the value the query pins), or a replacement whose key differs from it.
 */
function changesShardKey(meta: CollMeta, st: Document): boolean {
  const u = st.u;
  if (!u) return false;
  const fields = Object.keys(meta.key);
  const touches = (path: string) =>
    fields.some((f) => f === path || f.startsWith(path + ".") || path.startsWith(f + "."));
  // A pipeline update may set any field: one whose stages name a shard-key field, or replace
  // or reshape the whole document, is taken as changing it (its result is not known here).
  if (Array.isArray(u)) {
    return (u as Document[]).some((stage) =>
      Object.entries(stage ?? {}).some(([op, spec]) =>
        ["$replaceRoot", "$replaceWith", "$project"].includes(op) ||
        (op === "$unset"
          ? [spec].flat().some((p) => touches(String(p)))
          : Object.keys((spec ?? {}) as Document).some(touches))
      )
    );
  }
  const pinned = equalityKey(st.q, Object.fromEntries(fields.map((f) => [f, 1])));
  const ops = Object.keys(u).filter((k) => k.startsWith("$"));
  if (ops.length === 0) {
    const k = docKey(u, Object.fromEntries(fields.map((f) => [f, 1])));
    return !pinned || compareKeys(k, pinned) !== 0;
  }
  for (const op of ops) {
    for (const path of Object.keys(u[op] ?? {})) {
      // $rename writes its target too: renaming a field onto the shard key changes the key.
      if (op === "$rename" && touches(String(u[op][path]))) return true;
      const i = fields.findIndex((f) =>
        f === path || f.startsWith(path + ".") || path.startsWith(f + ".")
      );
      if (i < 0) continue;
      if (
        op === "$set" && path === fields[i] && pinned && compareValues(u[op][path], pinned[i]) === 0
      ) {
        continue;
      }
      return true;
    }
  }
  return false;
}
