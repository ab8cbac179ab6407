/**
 * mongos's reads of a sharded collection: every target shard read (with the read's maxTimeMS and
 * read concern) and merged, each document from the shard that owns it.
 */
import type { Document, Timestamp } from "bson";
import { CommandError } from "./errors.ts";
import { refuseAggregateOptions, refuseFindOptions } from "./read_options.ts";
import type { Mongos } from "./mongos.ts";
import { check, drain, onShard } from "./mongos_shard_call.ts";
import { type CollMeta, collVersion, owns, targetShards } from "./sharding.ts";

/**
 * Documents matching `filter` on each target shard, orphans left out. `partial` (a find's
 * allowPartialResults) leaves out a shard that cannot answer, noting it in `partial.returned`,
 * instead of failing the read; `maxTimeMS` and `readConcern` (the read's) are sent on. A
 * snapshot read reads every shard at one time, as mongos picks one atClusterTime for all
 * (https://www.mongodb.com/docs/v7.0/reference/read-concern-snapshot/): the given one, else the
 * newest of the shards' majority snapshots (the others read again at it); `snapshot.at` gets it.
 */
export async function gather(
  m: Mongos,
  db: string,
  coll: string,
  meta: CollMeta,
  filter: Document | undefined,
  { partial, maxTimeMS, readConcern, snapshot, hint, variables }: {
    partial?: { returned: boolean };
    maxTimeMS?: unknown;
    readConcern?: Document;
    snapshot?: { at?: Timestamp };
    /** The read's hint, which each shard checks against its indexes. */
    hint?: unknown;
    /** The read's `let`, which its filter may use. */
    variables?: Document;
  } = {},
): Promise<Document[]> {
  const read = async (s: string, rc: Document | undefined) => {
    const r = await onShard(m, s, db, {
      find: coll,
      filter: filter ?? {},
      batchSize: 1_000_000,
      shardVersion: collVersion(meta),
      ...(maxTimeMS !== undefined ? { maxTimeMS } : {}),
      ...(rc ? { readConcern: rc } : {}),
      ...(hint !== undefined ? { hint } : {}),
      ...(variables ? { let: variables } : {}),
    });
    return { docs: await drain(m, s, db, r), at: r.cursor?.atClusterTime as Timestamp | undefined };
  };
  const targets = targetShards(meta, filter);
  let parts = await Promise.all(targets.map(async (s) => {
    const got = await read(s, readConcern).catch((e) => {
      if (!partial || !(e instanceof CommandError)) throw e;
      partial.returned = true;
      return { docs: [] as Document[], at: undefined };
    });
    return { ...got, docs: got.docs.filter((d) => owns(meta, s, d)) };
  }));
  if (readConcern?.level === "snapshot") {
    // The newest: every shard has committed what it holds by then (an idle one writes a no-op
    // to reach it: replset.ts advanceTo); an older one would miss a shard's newer writes.
    const times = parts.map((p) => p.at).filter((t): t is Timestamp => t !== undefined);
    const at = times.reduce<Timestamp | undefined>(
      (a, t) => !a || t.greaterThan(a) ? t : a,
      undefined,
    );
    parts = await Promise.all(parts.map(async (p, i) =>
      !at || !p.at || p.at.equals(at) ? p : {
        at,
        docs: (await read(targets[i], { level: "snapshot", atClusterTime: at })).docs.filter((d) =>
          owns(meta, targets[i], d)
        ),
      }
    ));
    if (snapshot) snapshot.at = at;
  }
  return parts.flatMap((p) => p.docs);
}

/**
 * What a read of a sharded collection sends on to its shards: its time limit, and its read
 * concern's level and a snapshot's atClusterTime. Not afterClusterTime: causal consistency
 * through mongos is not simulated for sharded collections (README).
 */
export const readOptions = (cmd: Document) => {
  const { level, atClusterTime } = (cmd.readConcern ?? {}) as Document;
  return {
    // Its time limit too, so that a shard that cannot answer fails the read within it.
    maxTimeMS: cmd.maxTimeMS,
    hint: cmd.hint,
    variables: cmd.let as Document | undefined,
    readConcern: level === undefined ? undefined : {
      level,
      ...(atClusterTime !== undefined ? { atClusterTime } : {}),
    },
  };
};

/**
 * What mongos refuses of a read of a sharded collection before asking any shard, as mongod
 * refuses it of its own (sim/read_options.ts), rather than answer without it (tester97): a
 * collation (not simulated: 115), and a find's or an aggregate's options mongod refuses.
 */
export function checkShardedRead(name: string, cmd: Document): void {
  if (cmd.collation !== undefined) {
    throw new CommandError("collation is not supported by this server", 115, "CommandNotSupported");
  }
  if (name === "aggregate") refuseAggregateOptions(cmd);
  if (name === "find") refuseFindOptions(cmd);
}

/**
 * A dropIndexes of a sharded collection as the shards are sent it: refused, 384
 * CannotDropShardKeyIndex, when it names every index its shard key can use (an index whose key
 * starts with the shard key's); `"*"` drops every other index and keeps those, as MongoDB 7.0
 * does. `shard`: one that owns chunks, whose indexes are read. Gives the command to send to
 * the shards, or the reply when there is nothing to drop.
 */
export async function keepShardKeyIndex(
  m: Mongos,
  shard: string,
  db: string,
  coll: string,
  cmd: Document,
  key: Document,
): Promise<{ send: Document } | { reply: Document }> {
  const listed = check(await onShard(m, shard, db, { listIndexes: coll }));
  const indexes = (listed.cursor?.firstBatch ?? []) as Document[];
  const prefix = Object.entries(key);
  const compatible = indexes.filter((ix) => {
    const own = Object.entries(ix.key as Document);
    return prefix.every(([f, v], i) => own[i]?.[0] === f && String(own[i]?.[1]) === String(v));
  }).map((ix) => String(ix.name));
  const spec = cmd.index;
  if (spec === "*") {
    const others = indexes.map((ix) => String(ix.name))
      .filter((n) => n !== "_id_" && !compatible.includes(n));
    // Nothing but _id and the shard key's: nothing to drop.
    if (!others.length) return { reply: { nIndexesWas: indexes.length } };
    return { send: { ...cmd, index: others } };
  }
  const named = (Array.isArray(spec) ? spec : [spec]).map((x) =>
    typeof x === "string"
      ? x
      : String(indexes.find((ix) => JSON.stringify(ix.key) === JSON.stringify(x))?.name)
  );
  if (compatible.length && compatible.every((n) => named.includes(n))) {
    throw new CommandError(
      "Cannot drop the only compatible index for this collection's shard key",
      384,
      "CannotDropShardKeyIndex",
    );
  }
  return { send: cmd };
}
