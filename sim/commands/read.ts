/** Read commands: find (and the oplog for syncing members), getMore, count, distinct, aggregate, listings. */
import { type Document, Long, type Timestamp } from "bson";
import { checkCollStats, collStatsDoc, dbStatsDoc, startsWithCollStats } from "../coll_stats.ts";
import { CommandError } from "../errors.ts";
import { findDocs, runPipeline } from "../query.ts";
import { checkHint } from "../hint.ts";
import type { CommandContext, Handler } from "../server.ts";
import { checkReadConcern, checkSessionFields } from "../writes.ts";
import { atClusterTime, checkClusterTime, snapshotReadTime } from "../read_snapshot.ts";
import { collField } from "./write_checks.ts";
import { batchCount } from "../batch.ts";
import { cursorKey } from "../cursors.ts";
import { oplogEntries, oplogFind } from "./oplog_read.ts";
import { refuseAggregateOptions, refuseFindOptions } from "../read_options.ts";

/** Checks shared by reads: session fields, read concern, readability, causal consistency. */
async function beginRead(ctx: CommandContext, command: string): Promise<void> {
  // A read writes nothing to wait for: a write concern is a mistake the server names
  // (service_entry_point_common.cpp, uassertCommandDoesNotSpecifyWriteConcern). aggregate
  // takes one whatever its stages, for $out and $merge (aggregation_accepts_write_concern.js).
  if (ctx.body.writeConcern !== undefined && command !== "aggregate") {
    throw new CommandError("Command does not support writeConcern", 72, "InvalidOptions");
  }
  checkSessionFields(ctx);
  checkReadConcern(ctx.body);
  ctx.server.role?.checkReadable(ctx.body);
  const level = ctx.body.readConcern?.level;
  const role = ctx.server.role;
  const maxTimeMS = Number(ctx.body.maxTimeMS ?? 0);
  checkClusterTime(ctx);
  if (level === "snapshot") {
    ctx.readAt = await snapshotReadTime(ctx, command, maxTimeMS || 60_000);
    return;
  }
  // linearizable: a replica set's primary only (read_concern_mongod.cpp, waitForReadConcern).
  if (level === "linearizable") {
    if (!role?.checkLinearizable) {
      throw new CommandError(
        "node needs to be a replica set member to use read concern",
        76,
        "NotAReplicaSet",
      );
    }
    role.checkLinearizable();
  }
  // afterClusterTime first: a majority read waits until its majority-committed snapshot holds
  // that time (causal consistency: read your own majority writes on any member), a local read
  // until it applied it. Pinning the snapshot before waiting read data older than asked.
  const after = ctx.body.readConcern?.afterClusterTime as Timestamp | undefined;
  if (after && role?.waitForOpTime) {
    role.advanceTo?.(after);
    await role.waitForOpTime(after, maxTimeMS || 60_000, level === "majority");
  }
  // linearizable: a no-op a majority has proves this member still the primary; the read follows
  // in the same turn, so no write comes between (mongod reads, then writes the no-op: the same
  // promise). majority: the majority-committed snapshot, at once (rebuilt from the store's
  // history), or, before any commit point, a wait until the newest data is committed.
  if (level === "linearizable" && role?.confirmLinearizable) {
    await role.confirmLinearizable(maxTimeMS || 10_000);
    return;
  }
  const at = level === "majority" ? role?.majoritySnapshot?.() : undefined;
  if (at && ctx.server.store.hasSnapshot(at)) ctx.readAt = at;
  else if (level === "majority" && role?.waitForMajorityRead) {
    await role.waitForMajorityRead(maxTimeMS || 10_000);
  }
}

/** The documents a read sees: its majority snapshot, or the newest data. */
function readDocs(ctx: CommandContext, coll: string): Document[] {
  const store = ctx.server.store;
  // A member's replica set configuration, as tools read it (rs.conf(), mongosh's helpers).
  if (ctx.db === "local" && coll === "system.replset") {
    return store.repl.config ? [store.repl.config] : [];
  }
  if (ctx.db === "local" && coll === "oplog.rs" && ctx.server.opts.replSet) {
    return oplogEntries(store);
  }
  return (ctx.readAt && store.snapshotDocs(ctx.db, coll, ctx.readAt)) || store.docs(ctx.db, coll);
}

const find: Handler = async (ctx) => {
  const coll = collField(ctx, "find");
  // An oplog fetcher's find carries its term: a sync source of an older term (a primary that
  // has not heard of an election) takes it, steps down and refuses, as mongod's find does.
  if (ctx.body.term !== undefined) ctx.server.role?.updateTerm?.(Number(ctx.body.term));
  await beginRead(ctx, "find");
  if (ctx.db === "local" && coll === "oplog.rs" && ctx.server.opts.replSet) {
    return await oplogFind(ctx);
  }
  const b = ctx.body;
  // What mongod's IDL parser refuses, rather than read as "everything" (tester86).
  for (const field of ["filter", "sort", "projection", "hint", "min", "max", "let"]) {
    const v = b[field];
    if (v !== undefined && (typeof v !== "object" || v === null || Array.isArray(v))) {
      if (field === "hint" && typeof v === "string") continue;
      throw new CommandError(
        `BSON field 'FindCommandRequest.${field}' is the wrong type '${
          Array.isArray(v) ? "array" : typeof v === "number" ? "int" : typeof v
        }', expected type 'object'`,
        14,
        "TypeMismatch",
      );
    }
  }
  for (const field of ["batchSize", "limit", "skip"]) nonNegative(b, field, "FindCommandRequest");
  refuseFindOptions(b);
  // $natural order is insertion order; -1 (a sort or a hint) reads it backwards (tester62).
  checkHint(ctx.server.store, ctx.db, coll, b.hint);
  const { $natural: natural, ...sort } = (b.sort ?? {}) as Document;
  const backwards = (natural ?? b.hint?.$natural) === -1;
  const stored = readDocs(ctx, coll);
  const docs = findDocs(backwards ? [...stored].reverse() : stored, {
    filter: b.filter,
    sort: Object.keys(sort).length ? sort : undefined,
    projection: b.projection,
    skip: Number(b.skip ?? 0),
    limit: Number(b.limit ?? 0),
    let: b.let,
  });
  // singleBatch: one batch (of batchSize when given), the cursor closed after it.
  const batch = b.batchSize !== undefined ? Number(b.batchSize) : b.singleBatch ? docs.length : 101;
  return atClusterTime(
    ctx,
    ctx.server.newCursor(
      `${ctx.db}.${coll}`,
      docs,
      batch,
      "firstBatch",
      !!b.singleBatch,
      !!b.noCursorTimeout,
    ),
  );
};

/** A count mongod's IDL bounds at 0 (51024), such as find's batchSize, limit and skip. */
function nonNegative(body: Document, field: string, request: string): void {
  const v = body[field];
  if (v !== undefined && Number(v) < 0) {
    throw new CommandError(
      `BSON field '${request}.${field}' value must be >= 0, actual value '${Number(v)}'`,
      51024,
      "Location51024",
    );
  }
}

const getMore: Handler = (ctx) => {
  const key = cursorKey(ctx.body.getMore);
  const c = ctx.server.cursors.get(key);
  if (!c) throw new CommandError(`cursor id ${key} not found`, 43, "CursorNotFound");
  c.usedAt = Date.now();
  // getmore_cmd.cpp: a cursor is read through its own namespace only.
  const ns = `${ctx.db}.${ctx.body.collection}`;
  if (ns !== c.ns) {
    throw new CommandError(
      `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${c.ns}`,
      13,
      "Unauthorized",
    );
  }
  nonNegative(ctx.body, "batchSize", "GetMoreCommandRequest");
  // Only an awaitData cursor's getMore takes a maxTimeMS (its wait for new data): the simulator
  // opens none (tester92).
  if (ctx.body.maxTimeMS !== undefined) {
    throw new CommandError(
      "cannot set maxTimeMS on getMore command for a non-awaitData cursor",
      2,
      "BadValue",
    );
  }
  // No batchSize (or 0): as many as 16 MiB holds.
  const n = Number(ctx.body.batchSize ?? 0) || c.docs.length;
  const batch = c.docs.slice(c.pos, c.pos + batchCount(c.docs, c.pos, n));
  c.pos += batch.length;
  const done = c.pos >= c.docs.length;
  if (done) ctx.server.cursors.delete(key);
  return {
    cursor: { nextBatch: batch, id: done ? Long.ZERO : Long.fromBigInt(BigInt(key)), ns: c.ns },
  };
};

const killCursors: Handler = (ctx) => {
  const ids = (ctx.body.cursors ?? []) as unknown[];
  const killed: unknown[] = [];
  const notFound: unknown[] = [];
  for (const id of ids) (ctx.server.cursors.delete(cursorKey(id)) ? killed : notFound).push(id);
  return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [] };
};

const count: Handler = async (ctx) => {
  const coll = collField(ctx, "count");
  await beginRead(ctx, "count");
  checkHint(ctx.server.store, ctx.db, coll, ctx.body.hint);
  const n = findDocs(readDocs(ctx, coll), {
    filter: ctx.body.query,
    skip: Number(ctx.body.skip ?? 0),
    limit: Number(ctx.body.limit ?? 0),
  }).length;
  return { n };
};

const distinct: Handler = async (ctx) => {
  const coll = collField(ctx, "distinct");
  await beginRead(ctx, "distinct");
  const key = String(ctx.body.key ?? "");
  const out = runPipeline(
    findDocs(readDocs(ctx, coll), { filter: ctx.body.query }),
    [{ $unwind: { path: `$${key}`, preserveNullAndEmptyArrays: false } }, {
      $group: { _id: `$${key}` },
    }, { $sort: { _id: 1 } }],
    () => [],
  );
  return { values: out.map((d) => d._id).filter((v) => v !== undefined && v !== null) };
};

const aggregate: Handler = async (ctx) => {
  const b = ctx.body;
  const coll = typeof b.aggregate === "string" ? b.aggregate : undefined;
  if (!coll && b.aggregate !== 1) collField(ctx, "aggregate");
  if (!Array.isArray(b.pipeline)) {
    throw new CommandError("'pipeline' option must be specified as an array", 14, "TypeMismatch");
  }
  refuseAggregateOptions(b);
  // mongod's refusal on a standalone (40573); a replica set member would open a change stream,
  // which the simulator cannot: it says so rather than answer with an unknown stage.
  if (b.pipeline.some((st: Document) => st && typeof st === "object" && "$changeStream" in st)) {
    if (!ctx.server.opts.replSet) {
      throw new CommandError(
        "The $changeStream stage is only supported on replica sets",
        40573,
        "Location40573",
      );
    }
    throw new CommandError(
      "$changeStream is not supported by this server (the simulator has no change streams)",
      115,
      "CommandNotSupported",
    );
  }
  await beginRead(ctx, "aggregate");
  const store = ctx.server.store;
  if (coll) checkHint(store, ctx.db, coll, b.hint);
  const pipeline = b.pipeline as Document[];
  // $collStats replaces the collection's documents with one describing the collection.
  const stats = coll && startsWithCollStats(pipeline);
  const docs = runPipeline(
    stats
      ? [
        collStatsDoc(
          store,
          ctx.server.address(),
          ctx.db,
          coll,
          checkCollStats(pipeline),
          !!ctx.server.opts.replSet,
        ),
      ]
      : coll
      ? readDocs(ctx, coll)
      : [],
    stats ? pipeline.slice(1) : pipeline,
    (other) => readDocs(ctx, other),
    b.let,
  );
  return atClusterTime(
    ctx,
    ctx.server.newCursor(
      `${ctx.db}.${coll ?? "$cmd.aggregate"}`,
      docs,
      Number(b.cursor?.batchSize ?? 101),
    ),
  );
};

const listDatabases: Handler = (ctx) => {
  ctx.server.role?.checkReadable(ctx.body);
  const databases = [...ctx.server.store.dbs.entries()].map(([name, colls]) => {
    let size = 0;
    for (const c of colls.values()) size += c.docs.size * 64;
    return { name, sizeOnDisk: Math.max(8192, size), empty: size === 0 };
  });
  const filtered = ctx.body.filter ? findDocs(databases, { filter: ctx.body.filter }) : databases;
  const out = ctx.body.nameOnly ? filtered.map((d) => ({ name: d.name })) : filtered;
  return { databases: out, totalSize: databases.reduce((n, d) => n + d.sizeOnDisk, 0) };
};

/** A replica-set member's local collections that live outside the document store. */
function replicationCollections(ctx: CommandContext): Document[] {
  const store = ctx.server.store;
  if (ctx.db !== "local" || !ctx.server.opts.replSet) return [];
  const info = { readOnly: false };
  return [
    {
      name: "oplog.rs",
      type: "collection",
      options: { capped: true, size: store.oplog.capBytes, autoIndexId: false },
      info,
    },
    ...(store.repl.config
      ? [{
        name: "system.replset",
        type: "collection",
        options: {},
        info,
        idIndex: { v: 2, key: { _id: 1 }, name: "_id_" },
      }]
      : []),
  ];
}

/** listCollections and listDatabases are opt-in on a secondary, like find (13435 without). */
const listCollections: Handler = (ctx) => {
  ctx.server.role?.checkReadable(ctx.body);
  const colls = [...(ctx.server.store.dbs.get(ctx.db)?.keys() ?? [])].map((name) => ({
    name,
    type: "collection",
    options: {},
    info: { readOnly: false },
    idIndex: { v: 2, key: { _id: 1 }, name: "_id_" },
  }));
  const filtered = findDocs([...colls, ...replicationCollections(ctx)], {
    filter: ctx.body.filter,
  });
  return ctx.server.newCursor(
    `${ctx.db}.$cmd.listCollections`,
    ctx.body.nameOnly ? filtered.map((c) => ({ name: c.name, type: c.type })) : filtered,
    Number(ctx.body.cursor?.batchSize ?? 101),
  );
};

const dbStats: Handler = (ctx) => dbStatsDoc(ctx.server.store, ctx.db, Number(ctx.body.scale ?? 1));

export const readCommands: Record<string, Handler> = {
  dbStats,
  find,
  getMore,
  killCursors,
  count,
  distinct,
  aggregate,
  listDatabases,
  listCollections,
};
