/**
 * Write commands (insert, update, delete, findAndModify, create, drop, dropDatabase). Every
 * change is an oplog-style entry applied through sim/apply.ts, so a primary and its secondaries
 * change data by the same code; sim/writes.ts frames each command (retryable writes, one store
 * transaction, write concern).
 */
import { BSON, type Document, ObjectId } from "bson";
import { CommandError } from "../errors.ts";
import { checkHint } from "../hint.ts";
import { findDocs, QueryError } from "../query.ts";
import { applyUpdate, upsertSeed } from "../update.ts";
import { checkArrayFilters, UpdateError } from "../update_checks.ts";
import type { CommandContext, Handler } from "../server.ts";
import { type Apply, runWrite } from "../writes.ts";
import { readCommands } from "./read.ts";
import { indexCommands } from "./indexes.ts";
import {
  checkCreateOptions,
  checkStatements,
  collName,
  duplicateKey,
  MAX_BSON_SIZE,
  tooLarge,
  writeError,
} from "./write_checks.ts";

const insert: Handler = (ctx) => {
  const coll = collName(ctx, "insert");
  const docs = (ctx.body.documents ?? []) as Document[];
  return runWrite(ctx, (apply, statements) => {
    let n = 0;
    const writeErrors: Document[] = [];
    for (const [index, d] of docs.entries()) {
      // Run before a failover, its entries replicated here: counted, not inserted twice.
      if (statements.done(index)) {
        n++;
        continue;
      }
      statements.begin(index);
      // `_id` first, as mongod stores it (fixDocumentForInsert), wherever the client put it.
      const doc = { _id: "_id" in d ? d._id : new ObjectId(), ...d };
      // An _id may be of any type but an array or a regular expression (insert refuses them).
      const badId = Array.isArray(doc._id)
        ? "array"
        : (doc._id as { _bsontype?: string })?._bsontype === "BSONRegExp" ||
            doc._id instanceof RegExp
        ? "regex"
        : undefined;
      if (badId) {
        writeErrors.push({
          index,
          code: 53,
          codeName: "InvalidIdField",
          errmsg: `The '_id' value cannot be of type ${badId}`,
        });
        if (ctx.body.ordered !== false) break;
        continue;
      }
      // maxBsonObjectSize, as hello advertises it: a larger document is refused, not stored.
      const size = BSON.calculateObjectSize(doc);
      if (size > MAX_BSON_SIZE) {
        writeErrors.push({
          index,
          code: 2,
          codeName: "BadValue",
          errmsg: `object to insert too large. size in bytes: ${size}, max size: ${MAX_BSON_SIZE}`,
        });
        if (ctx.body.ordered !== false) break;
        continue;
      }
      const dup = duplicateKey(ctx, coll, doc, true);
      if (dup) {
        writeErrors.push({ index, ...dup });
        if (ctx.body.ordered !== false) break;
        continue;
      }
      apply({ op: "i", ns: `${ctx.db}.${coll}`, o: doc });
      n++;
    }
    return { n, ...(writeErrors.length ? { writeErrors } : {}) };
  });
};

/** One update statement; returns what it matched, modified and upserted. */
function updateOne(
  ctx: CommandContext,
  coll: string,
  u: Document,
  apply: Apply,
): { n: number; nModified: number; upserted?: unknown; value?: Document; before?: Document } {
  const ns = `${ctx.db}.${coll}`;
  // A retryable write is one statement's effect, recorded once (write_ops_exec.cpp).
  if (u.multi && ctx.body.txnNumber !== undefined) {
    throw new CommandError(
      "Cannot use (or request) retryable writes with multi=true",
      72,
      "InvalidOptions",
    );
  }
  checkHint(ctx.server.store, ctx.db, coll, u.hint);
  try {
    checkArrayFilters(u.u, u.arrayFilters);
  } catch (e) {
    if (e instanceof UpdateError) throw new QueryError(e.message, e.code, e.codeName);
    throw e;
  }
  const replacement = !Array.isArray(u.u) &&
    Object.keys(u.u ?? {}).every((k) => !k.startsWith("$"));
  if (u.multi && replacement && Object.keys(u.u ?? {}).length) {
    throw new CommandError(
      "multi update is not supported for replacement-style update",
      9,
      "FailedToParse",
    );
  }
  // The command's `let` and the statement's constants `c` (5.0+): variables of its filter and
  // of a pipeline update.
  const vars = ctx.body.let || u.c ? { ...ctx.body.let, ...u.c } : undefined;
  const hits = findDocs(ctx.server.store.docs(ctx.db, coll), {
    filter: u.q,
    sort: u.sort,
    let: vars,
  });
  const targets = u.multi ? hits : hits.slice(0, 1);
  let nModified = 0;
  let value: Document | undefined;
  for (const t of targets) {
    const next = applyUpdate(t, u.u, { arrayFilters: u.arrayFilters, query: u.q, vars });
    tooLarge(next);
    value = next;
    if (JSON.stringify(next) === JSON.stringify(t)) continue;
    const dup = duplicateKey(ctx, coll, next, false);
    if (dup) throw Object.assign(new CommandError(dup.errmsg, 11000, "DuplicateKey"), dup);
    apply({ op: "u", ns, o: next, o2: { _id: t._id } });
    nModified++;
  }
  if (targets.length > 0) return { n: targets.length, nModified, value, before: targets[0] };
  if (!u.upsert) return { n: 0, nModified: 0 };
  // The _id comes from the query, else the update ($set, $setOnInsert, a replacement's), else a
  // new ObjectId; it is the document's first field, as mongod stores it.
  const seed = upsertSeed(u.q);
  const updated = applyUpdate(seed, u.u, {
    inserting: true,
    arrayFilters: u.arrayFilters,
    vars,
  });
  const { _id, ...fields } = updated;
  const doc = { _id: _id ?? new ObjectId(), ...fields };
  tooLarge(doc);
  const dup = duplicateKey(ctx, coll, doc, true);
  if (dup) throw Object.assign(new CommandError(dup.errmsg, 11000, "DuplicateKey"), dup);
  apply({ op: "i", ns, o: doc });
  return { n: 1, nModified: 0, upserted: doc._id, value: doc };
}

const update: Handler = (ctx) => {
  const coll = collName(ctx, "update");
  checkStatements("updates", ctx.body.updates);
  return runWrite(ctx, (apply, statements) => {
    let n = 0, nModified = 0;
    const upserted: Document[] = [];
    const writeErrors: Document[] = [];
    for (const [index, u] of ((ctx.body.updates ?? []) as Document[]).entries()) {
      // Run before a failover: one document matched and changed, as its entry says.
      if (statements.done(index)) {
        n++;
        nModified++;
        continue;
      }
      statements.begin(index);
      try {
        const r = updateOne(ctx, coll, u, apply);
        n += r.n;
        nModified += r.nModified;
        if (r.upserted !== undefined) upserted.push({ index, _id: r.upserted });
      } catch (e) {
        writeErrors.push(writeError(index, e));
        if (ctx.body.ordered !== false) break;
      }
    }
    return {
      n,
      nModified,
      ...(upserted.length ? { upserted } : {}),
      ...(writeErrors.length ? { writeErrors } : {}),
    };
  });
};

const del: Handler = (ctx) => {
  const coll = collName(ctx, "delete");
  checkStatements("deletes", ctx.body.deletes);
  return runWrite(ctx, (apply, statements) => {
    let n = 0;
    const writeErrors: Document[] = [];
    for (const [index, d] of ((ctx.body.deletes ?? []) as Document[]).entries()) {
      if (statements.done(index)) {
        n++;
        continue;
      }
      statements.begin(index);
      try {
        if (Number(d.limit) !== 1 && ctx.body.txnNumber !== undefined) {
          throw new CommandError(
            "Cannot use (or request) retryable writes with limit=0",
            72,
            "InvalidOptions",
          );
        }
        checkHint(ctx.server.store, ctx.db, coll, d.hint);
        const hits = findDocs(ctx.server.store.docs(ctx.db, coll), {
          filter: d.q,
          let: ctx.body.let,
        });
        for (const h of Number(d.limit) === 1 ? hits.slice(0, 1) : hits) {
          apply({ op: "d", ns: `${ctx.db}.${coll}`, o: { _id: h._id } });
          n++;
        }
      } catch (e) {
        writeErrors.push(writeError(index, e));
        if (ctx.body.ordered !== false) break;
      }
    }
    return { n, ...(writeErrors.length ? { writeErrors } : {}) };
  });
};

const findAndModify: Handler = (ctx) => {
  const coll = collName(ctx, "findAndModify");
  const b = ctx.body;
  if (b.remove && b.update !== undefined) {
    throw new CommandError("Cannot specify both an update and remove=true", 9, "FailedToParse");
  }
  // What find_and_modify.cpp refuses with remove (the deleted document is the answer).
  if (b.remove && b.upsert) {
    throw new CommandError("Cannot specify both upsert=true and remove=true", 9, "FailedToParse");
  }
  if (b.remove && b.new) {
    throw new CommandError(
      "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document",
      9,
      "FailedToParse",
    );
  }
  if (b.remove && b.arrayFilters !== undefined) {
    throw new CommandError("Cannot specify arrayFilters and remove=true", 9, "FailedToParse");
  }
  if (!b.remove && b.update === undefined) {
    throw new CommandError("Either an update or remove=true must be specified", 9, "FailedToParse");
  }
  return runWrite(ctx, (apply, statements) => {
    // Run before a failover, without the image MongoDB would answer from (it keeps none here):
    // the server's answer when it cannot rebuild a retried statement's reply.
    if (statements.done(0)) {
      throw new CommandError(
        "Incomplete history detected for transaction",
        217,
        "IncompleteTransactionHistory",
      );
    }
    statements.begin(0);
    // The query goes with the projection: a positional `arr.$` takes the element it matched
    // (one the update moved out of the query's reach is projected without it).
    const project = (d: Document | undefined) =>
      d && b.fields
        ? findDocs([d], { filter: b.query, projection: b.fields, let: b.let })[0] ??
          findDocs([d], { projection: b.fields })[0]
        : d ?? null;
    if (b.remove) {
      checkHint(ctx.server.store, ctx.db, coll, b.hint);
      const hit = findDocs(ctx.server.store.docs(ctx.db, coll), {
        filter: b.query,
        sort: b.sort,
        let: b.let,
      })[0];
      if (hit) apply({ op: "d", ns: `${ctx.db}.${coll}`, o: { _id: hit._id } });
      return { lastErrorObject: { n: hit ? 1 : 0 }, value: project(hit) };
    }
    const r = updateOne(
      ctx,
      coll,
      {
        q: b.query ?? {},
        u: b.update,
        upsert: b.upsert,
        sort: b.sort,
        arrayFilters: b.arrayFilters,
        hint: b.hint,
      },
      apply,
    );
    return {
      lastErrorObject: {
        n: r.n,
        updatedExisting: r.n > 0 && r.upserted === undefined,
        ...(r.upserted !== undefined ? { upserted: r.upserted } : {}),
      },
      value: project(b.new ? r.value : r.before),
    };
  }).catch((e) => {
    if (e instanceof QueryError) throw new CommandError(e.message, e.code, e.codeName);
    throw e;
  });
};

function majorVersion(ctx: CommandContext): number {
  return Number(ctx.server.opts.version.split(".")[0]);
}

const drop: Handler = (ctx) => {
  const coll = collName(ctx, "drop");
  return runWrite(ctx, (apply) => {
    const c = ctx.server.store.coll(ctx.db, coll);
    if (!c) {
      // 7.0 made dropping a missing collection succeed; 6.0 answers NamespaceNotFound.
      if (majorVersion(ctx) < 7) throw new CommandError("ns not found", 26, "NamespaceNotFound");
      return {};
    }
    const nIndexesWas = c.indexes.length;
    apply({ op: "c", ns: `${ctx.db}.$cmd`, o: { drop: coll } });
    return { ns: `${ctx.db}.${coll}`, nIndexesWas };
  });
};

const create: Handler = (ctx) => {
  const coll = collName(ctx, "create");
  return runWrite(ctx, (apply) => {
    if (ctx.server.store.coll(ctx.db, coll)) {
      throw new CommandError(`Collection ${ctx.db}.${coll} already exists.`, 48, "NamespaceExists");
    }
    checkCreateOptions(ctx.body);
    apply({ op: "c", ns: `${ctx.db}.$cmd`, o: { create: coll } });
    return {};
  });
};

const dropDatabase: Handler = (ctx) =>
  runWrite(ctx, (apply) => {
    apply({ op: "c", ns: `${ctx.db}.$cmd`, o: { dropDatabase: 1 } });
    return { dropped: ctx.db };
  });

function wrapQueryErrors(h: Handler): Handler {
  return async (ctx) => {
    try {
      return await h(ctx);
    } catch (e) {
      if (e instanceof QueryError) throw new CommandError(e.message, e.code, e.codeName);
      throw e;
    }
  };
}

export const crudCommands: Record<string, Handler> = Object.fromEntries(
  Object.entries({
    insert,
    update,
    delete: del,
    findAndModify,
    drop,
    create,
    dropDatabase,
    ...readCommands,
    ...indexCommands,
  }).map(([k, h]) => [k, wrapQueryErrors(h)]),
);
