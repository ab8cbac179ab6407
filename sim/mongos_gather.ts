/**
 * mongos's reads of a sharded collection: every target shard read (with the read's maxTimeMS and
 * read concern) and merged, each document from the shard that owns it.
 */
import type { Document, Timestamp } from "bson";
import { CommandError } from "./errors.ts";
import type { Mongos } from "./mongos.ts";
import { drain, onShard } from "./mongos_routing.ts";
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
  { partial, maxTimeMS, readConcern, snapshot }: {
    partial?: { returned: boolean };
    maxTimeMS?: unknown;
    readConcern?: Document;
    snapshot?: { at?: Timestamp };
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
    readConcern: level === undefined ? undefined : {
      level,
      ...(atClusterTime !== undefined ? { atClusterTime } : {}),
    },
  };
};
