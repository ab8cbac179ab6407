/**
 * CRUD commands. Every write is expressed as oplog-style entries applied through applyEntry,
 * so a primary and its secondaries change data by the same code.
 */
import { type Document, Long, ObjectId } from "bson";
import { CommandError, errors } from "../errors.ts";
import { applyUpdate, matches, project, QueryError, sortDocs } from "../query.ts";
import type { CommandContext, Handler } from "../server.ts";
import type { DataStore } from "../store.ts";
import { equals } from "../query.ts";

export function applyEntry(store: DataStore, e: Document): void {
  const [db, ...rest] = String(e.ns).split(".");
  const coll = rest.join(".");
  if (e.op === "i") {
    store.collection(db, coll, true)!.push(e.o);
  } else if (e.op === "d") {
    const c = store.collection(db, coll);
    const i = c?.findIndex((d) => equals(d._id, e.o._id)) ?? -1;
    if (i >= 0) c!.splice(i, 1);
  } else if (e.op === "u") {
    const c = store.collection(db, coll, true)!;
    const i = c.findIndex((d) => equals(d._id, e.o2._id));
    if (i >= 0) c[i] = e.o;
    else c.push(e.o);
  } else if (e.op === "c") {
    if (e.o.drop) store.dropCollection(db, e.o.drop);
    else if (e.o.dropDatabase) store.dbs.delete(db);
    else if (e.o.create) store.collection(db, e.o.create, true);
  }
  store.markDirty();
}

async function write(ctx: CommandContext, entries: Document[]): Promise<void> {
  for (const e of entries) applyEntry(ctx.server.store, e);
  await ctx.server.role?.afterWrite(entries, ctx.body.writeConcern);
}

function collName(ctx: CommandContext, key: string): string {
  const c = ctx.body[key];
  if (typeof c !== "string" || !c) {
    throw errors.badValue(`collection name has invalid type ${typeof c}`);
  }
  return c;
}

function docsOf(ctx: CommandContext, coll: string): Document[] {
  return ctx.server.store.collection(ctx.db, coll) ?? [];
}

function wrapQuery<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof QueryError) throw new CommandError(e.message, e.code, e.codeName);
    throw e;
  }
}

const insert: Handler = async (ctx) => {
  const coll = collName(ctx, "insert");
  ctx.server.role?.checkWritable(ctx.db);
  const docs = (ctx.body.documents ?? []) as Document[];
  const existing = docsOf(ctx, coll);
  const entries: Document[] = [];
  const writeErrors: Document[] = [];
  for (const [index, d] of docs.entries()) {
    const doc = "_id" in d ? d : { _id: new ObjectId(), ...d };
    if (
      existing.some((x) => equals(x._id, doc._id)) || entries.some((x) => equals(x.o._id, doc._id))
    ) {
      writeErrors.push({
        index,
        code: 11000,
        errmsg:
          `E11000 duplicate key error collection: ${ctx.db}.${coll} index: _id_ dup key: { _id: ${
            JSON.stringify(doc._id)
          } }`,
      });
      if (ctx.body.ordered !== false) break;
      continue;
    }
    entries.push({ op: "i", ns: `${ctx.db}.${coll}`, o: doc });
  }
  await write(ctx, entries);
  return { n: entries.length, ...(writeErrors.length ? { writeErrors } : {}) };
};

const find: Handler = (ctx) => {
  const coll = collName(ctx, "find");
  ctx.server.role?.checkReadable(ctx.body);
  return wrapQuery(() => {
    let docs = docsOf(ctx, coll).filter((d) => matches(d, ctx.body.filter));
    docs = sortDocs(docs, ctx.body.sort);
    const skip = Number(ctx.body.skip ?? 0);
    const limit = Math.abs(Number(ctx.body.limit ?? 0));
    docs = docs.slice(skip, limit ? skip + limit : undefined).map((d) =>
      project(d, ctx.body.projection)
    );
    const batch = ctx.body.singleBatch ? docs.length : Number(ctx.body.batchSize ?? 101);
    return ctx.server.newCursor(`${ctx.db}.${coll}`, docs, batch || docs.length);
  });
};

const getMore: Handler = (ctx) => {
  const id = ctx.body.getMore as Long;
  const key = String(typeof id === "object" ? id.toBigInt() : id);
  const c = ctx.server.cursors.get(key);
  if (!c) throw new CommandError(`cursor id ${key} not found`, 43, "CursorNotFound");
  const n = Number(ctx.body.batchSize ?? c.docs.length);
  const batch = c.docs.slice(c.pos, c.pos + n);
  c.pos += batch.length;
  const done = c.pos >= c.docs.length;
  if (done) ctx.server.cursors.delete(key);
  return {
    cursor: { nextBatch: batch, id: done ? Long.ZERO : Long.fromBigInt(BigInt(key)), ns: c.ns },
  };
};

const killCursors: Handler = (ctx) => {
  const ids = (ctx.body.cursors ?? []) as Long[];
  for (const id of ids) ctx.server.cursors.delete(String(id.toBigInt()));
  return { cursorsKilled: ids, cursorsNotFound: [], cursorsAlive: [], cursorsUnknown: [] };
};

const count: Handler = (ctx) => {
  const coll = collName(ctx, "count");
  ctx.server.role?.checkReadable(ctx.body);
  return wrapQuery(() => {
    let n = docsOf(ctx, coll).filter((d) => matches(d, ctx.body.query)).length;
    n = Math.max(0, n - Number(ctx.body.skip ?? 0));
    if (ctx.body.limit) n = Math.min(n, Math.abs(Number(ctx.body.limit)));
    return { n };
  });
};

const del: Handler = async (ctx) => {
  const coll = collName(ctx, "delete");
  ctx.server.role?.checkWritable(ctx.db);
  const entries: Document[] = [];
  const gone = new Set<unknown>();
  wrapQuery(() => {
    for (const d of (ctx.body.deletes ?? []) as Document[]) {
      const hits = docsOf(ctx, coll).filter((x) => !gone.has(x) && matches(x, d.q));
      for (const h of Number(d.limit) === 1 ? hits.slice(0, 1) : hits) {
        gone.add(h);
        entries.push({ op: "d", ns: `${ctx.db}.${coll}`, o: { _id: h._id } });
      }
    }
  });
  await write(ctx, entries);
  return { n: entries.length };
};

const update: Handler = async (ctx) => {
  const coll = collName(ctx, "update");
  ctx.server.role?.checkWritable(ctx.db);
  const entries: Document[] = [];
  let n = 0, nModified = 0;
  const upserted: Document[] = [];
  wrapQuery(() => {
    for (const [index, u] of ((ctx.body.updates ?? []) as Document[]).entries()) {
      const hits = docsOf(ctx, coll).filter((x) => matches(x, u.q));
      const targets = u.multi ? hits : hits.slice(0, 1);
      for (const t of targets) {
        const next = applyUpdate(t, u.u);
        n++;
        if (JSON.stringify(next) !== JSON.stringify(t)) {
          nModified++;
          entries.push({ op: "u", ns: `${ctx.db}.${coll}`, o: next, o2: { _id: t._id } });
        }
      }
      if (targets.length === 0 && u.upsert) {
        const base: Document = {};
        for (const [k, v] of Object.entries(u.q ?? {})) {
          if (!k.startsWith("$") && (typeof v !== "object" || v instanceof ObjectId)) base[k] = v;
        }
        const doc = applyUpdate({ _id: base._id ?? new ObjectId(), ...base }, u.u);
        n++;
        upserted.push({ index, _id: doc._id });
        entries.push({ op: "i", ns: `${ctx.db}.${coll}`, o: doc });
      }
    }
  });
  await write(ctx, entries);
  return { n, nModified, ...(upserted.length ? { upserted } : {}) };
};

const drop: Handler = async (ctx) => {
  const coll = collName(ctx, "drop");
  ctx.server.role?.checkWritable(ctx.db);
  if (!ctx.server.store.collection(ctx.db, coll)) {
    throw new CommandError("ns not found", 26, "NamespaceNotFound");
  }
  await write(ctx, [{ op: "c", ns: `${ctx.db}.$cmd`, o: { drop: coll } }]);
  return { ns: `${ctx.db}.${coll}`, nIndexesWas: 1 };
};

const create: Handler = async (ctx) => {
  const coll = collName(ctx, "create");
  ctx.server.role?.checkWritable(ctx.db);
  if (ctx.server.store.collection(ctx.db, coll)) {
    throw new CommandError(`Collection ${ctx.db}.${coll} already exists.`, 48, "NamespaceExists");
  }
  await write(ctx, [{ op: "c", ns: `${ctx.db}.$cmd`, o: { create: coll } }]);
  return {};
};

const dropDatabase: Handler = async (ctx) => {
  ctx.server.role?.checkWritable(ctx.db);
  await write(ctx, [{ op: "c", ns: `${ctx.db}.$cmd`, o: { dropDatabase: 1 } }]);
  return { dropped: ctx.db };
};

const listDatabases: Handler = (ctx) => {
  const databases = [...ctx.server.store.dbs.entries()].map(([name, colls]) => {
    const size = [...colls.values()].reduce((n, c) => n + JSON.stringify(c).length, 0);
    return { name, sizeOnDisk: Math.max(8192, size), empty: size === 0 };
  });
  const filtered = ctx.body.nameOnly ? databases.map((d) => ({ name: d.name })) : databases;
  return { databases: filtered, totalSize: databases.reduce((n, d) => n + d.sizeOnDisk, 0) };
};

const listCollections: Handler = (ctx) => {
  const colls = [...(ctx.server.store.dbs.get(ctx.db)?.keys() ?? [])]
    .map((name) => ({
      name,
      type: "collection",
      options: {},
      info: { readOnly: false },
      idIndex: { v: 2, key: { _id: 1 }, name: "_id_" },
    }))
    .filter((c) => matches(c, ctx.body.filter));
  return ctx.server.newCursor(
    `${ctx.db}.$cmd.listCollections`,
    ctx.body.nameOnly ? colls.map((c) => ({ name: c.name, type: c.type })) : colls,
    101,
  );
};

/** $match, $sort, $skip, $limit, $project and a constant-key $group: what countDocuments needs. */
const aggregate: Handler = (ctx) => {
  const coll = collName(ctx, "aggregate");
  ctx.server.role?.checkReadable(ctx.body);
  return wrapQuery(() => {
    let docs = docsOf(ctx, coll);
    for (const stage of (ctx.body.pipeline ?? []) as Document[]) {
      const [op, arg] = Object.entries(stage)[0];
      if (op === "$match") docs = docs.filter((d) => matches(d, arg));
      else if (op === "$sort") docs = sortDocs(docs, arg);
      else if (op === "$skip") docs = docs.slice(Number(arg));
      else if (op === "$limit") docs = docs.slice(0, Number(arg));
      else if (op === "$project") docs = docs.map((d) => project(d, arg));
      else if (op === "$group") {
        const out: Document = { _id: arg._id };
        for (const [k, acc] of Object.entries(arg)) {
          if (k === "_id") continue;
          const sum = (acc as Document).$sum;
          out[k] = typeof sum === "number"
            ? docs.length * sum
            : docs.reduce((n, d) => n + Number(d[String(sum).slice(1)] ?? 0), 0);
        }
        docs = docs.length ? [out] : [];
      } else {
        throw new CommandError(`Unrecognized pipeline stage name: '${op}'`, 40324, "Location40324");
      }
    }
    return ctx.server.newCursor(
      `${ctx.db}.${coll}`,
      docs,
      Number(ctx.body.cursor?.batchSize ?? 101),
    );
  });
};

export const crudCommands: Record<string, Handler> = {
  insert,
  find,
  getMore,
  killCursors,
  count,
  delete: del,
  update,
  drop,
  create,
  dropDatabase,
  listDatabases,
  listCollections,
  aggregate,
};
