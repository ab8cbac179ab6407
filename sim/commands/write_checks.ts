/**
 * What commands check before they act: the collection a command names (every command's), and for
 * the write commands (sim/commands/crud.ts) collection names they may create, unique index keys
 * (E11000), document sizes, and a statement's error as a writeError.
 */
import { BSON, type Document, ObjectId } from "bson";
import { CommandError } from "../errors.ts";
import { indexKey, QueryError } from "../query.ts";
import type { CommandContext } from "../server.ts";
import { idKey, valueKey } from "../store.ts";
import { unknownField } from "../generic_args.ts";

/** The collection named by the command's field `key`; InvalidNamespace (73) for a non-string. */
export function collField(ctx: CommandContext, key: string): string {
  const c = ctx.body[key];
  if (typeof c !== "string" || !c) {
    throw new CommandError(
      `collection name has invalid type ${Array.isArray(c) ? "array" : typeof c}`,
      73,
      "InvalidNamespace",
    );
  }
  return c;
}

/** collField, for the write commands: also a name MongoDB refuses (73). */
export function collName(ctx: CommandContext, key: string): string {
  const c = collField(ctx, key);
  // Names MongoDB refuses (tester86): "$" and NUL anywhere; a new "system." collection is the
  // server's own (create and insert: the server writes those itself).
  const creating = key === "create" || key === "insert";
  if (/[$\0]/.test(c) || (creating && c.startsWith("system.") && !USER_SYSTEM.has(c))) {
    throw new CommandError(`Invalid namespace specified '${ctx.db}.${c}'`, 73, "InvalidNamespace");
  }
  // What the server writes itself (insert.cpp, userAllowedWriteNS): the profiler's collection,
  // the view catalog (views are made with create), and a replica-set member's oplog.
  if (
    WRITE_COMMANDS.has(key) &&
    (c === "system.profile" || c === "system.views" ||
      (ctx.db === "local" && c === "oplog.rs" && !!ctx.server.opts.replSet))
  ) {
    throw new CommandError(`cannot write to ${ctx.db}.${c}`, 73, "InvalidNamespace");
  }
  return c;
}

/** The commands that write documents (write_ops_exec.cpp checks their namespace). */
const WRITE_COMMANDS = new Set(["insert", "update", "delete", "findAndModify"]);

/** system.* collections a client may create or write (MongoDB 7.0: stored JavaScript, views). */
const USER_SYSTEM = new Set(["system.js", "system.views", "system.profile"]);

/** The index keys of one document's indexed values: one per element of an array value. */
function uniqueKeys(values: unknown[]): string[] {
  let keys = [""];
  for (const v of values) {
    const parts = Array.isArray(v) ? (v.length ? v : [undefined]) : [v];
    keys = keys.flatMap((k) => parts.map((p) => `${k}|${valueKey(p)}`));
  }
  return keys;
}

/** `{ a: 1, b: "x" }` as MongoDB prints a key in E11000 messages. */
export function keyText(fields: string[], values: unknown[]): string {
  const show = (v: unknown): string =>
    v instanceof ObjectId
      ? `ObjectId('${v.toHexString()}')`
      : typeof v === "string"
      ? JSON.stringify(v)
      : v === null
      ? "null"
      : typeof v === "object"
      ? JSON.stringify(v)
      : String(v);
  return `{ ${fields.map((f, i) => `${f}: ${show(values[i])}`).join(", ")} }`;
}

/** An E11000 error when `doc` would duplicate another document's key of a unique index. */
export function duplicateKey(
  ctx: CommandContext,
  coll: string,
  doc: Document,
  inserting: boolean,
):
  | { code: number; codeName: string; errmsg: string; keyPattern: Document; keyValue: Document }
  | undefined {
  const c = ctx.server.store.coll(ctx.db, coll);
  if (!c) return undefined;
  const myId = idKey(doc._id);
  for (const ix of c.indexes) {
    const isId = ix.name === "_id_";
    if (isId ? !inserting : !ix.unique) continue;
    const mine = indexKey(doc, ix.key);
    // A unique index holds a key per element of an array field (multikey), compared as
    // MongoDB compares values (valueKey): a clash is any key another document holds too.
    const keys = new Set(uniqueKeys(mine));
    const clash = isId
      ? c.docs.has(myId)
      : [...c.docs.values()].some((d) =>
        idKey(d._id) !== myId && uniqueKeys(indexKey(d, ix.key)).some((k) => keys.has(k))
      );
    if (!clash) continue;
    const fields = Object.keys(ix.key);
    return {
      code: 11000,
      codeName: "DuplicateKey",
      errmsg:
        `E11000 duplicate key error collection: ${ctx.db}.${coll} index: ${ix.name} dup key: ${
          keyText(fields, mine)
        }`,
      keyPattern: ix.key,
      keyValue: Object.fromEntries(fields.map((f, i) => [f, mine[i]])),
    };
  }
  return undefined;
}

export function writeError(index: number, e: unknown): Document {
  const err = e as { code?: number; codeName?: string; message?: string; errmsg?: string };
  if (!(e instanceof QueryError) && !(e instanceof CommandError) && !err.errmsg) throw e;
  return {
    index,
    code: err.code ?? 2,
    ...(err.codeName ? { codeName: err.codeName } : {}),
    errmsg: err.errmsg ?? err.message,
    ...(e && typeof e === "object" && "keyPattern" in e
      ? { keyPattern: (e as Document).keyPattern, keyValue: (e as Document).keyValue }
      : {}),
  };
}

/** MongoDB's largest document (maxBsonObjectSize, 16 MiB). */
export const MAX_BSON_SIZE = 16 * 1024 * 1024;

/** Refuses an updated document over 16 MiB, as mongod's update does (17419). */
export function tooLarge(doc: Document): void {
  if (BSON.calculateObjectSize(doc) > MAX_BSON_SIZE) {
    throw new CommandError(
      `Resulting document after update is larger than ${MAX_BSON_SIZE}`,
      17419,
      "Location17419",
    );
  }
}

/** The fields an update statement may have (write_ops.idl UpdateOpEntry), `sort` as 8.0 has. */
const UPDATE_FIELDS = new Set([
  "q",
  "u",
  "c",
  "upsert",
  "multi",
  "arrayFilters",
  "collation",
  "hint",
  "upsertSupplied",
  "sampleId",
  "sort",
]);
/** The fields a delete statement may have (write_ops.idl DeleteOpEntry). */
const DELETE_FIELDS = new Set(["q", "limit", "collation", "hint", "sampleId"]);

/**
 * Refuses the whole command when one of its update or delete statements has a field MongoDB
 * does not know (40415: a typo such as `upsret` would otherwise be ignored) or a delete's limit
 * is not 0 or 1 (9), as the command's parser does before any statement runs.
 */
export function checkStatements(kind: "updates" | "deletes", statements: unknown): void {
  if (!Array.isArray(statements)) return;
  const known = kind === "updates" ? UPDATE_FIELDS : DELETE_FIELDS;
  const command = kind === "updates" ? "update" : "delete";
  for (const s of statements) {
    if (typeof s !== "object" || s === null) continue;
    for (const f of Object.keys(s)) {
      if (!known.has(f) && !f.startsWith("$_")) {
        throw new CommandError(
          `BSON field '${command}.${kind}.${f}' is an unknown field.`,
          40415,
          "Location40415",
        );
      }
    }
    const limit = (s as Document).limit;
    if (kind === "deletes" && limit !== undefined && Number(limit) !== 0 && Number(limit) !== 1) {
      throw new CommandError(
        `The limit field in delete objects must be 0 or 1. Got ${Number(limit)}`,
        9,
        "FailedToParse",
      );
    }
  }
}

/** create's options (create.idl): the simulator makes only plain collections. */
const CREATE_OPTIONS = [
  "capped",
  "autoIndexId",
  "idIndex",
  "size",
  "max",
  "storageEngine",
  "validator",
  "validationLevel",
  "validationAction",
  "indexOptionDefaults",
  "viewOn",
  "pipeline",
  "collation",
  "changeStreamPreAndPostImages",
  "timeseries",
  "clusteredIndex",
  "expireAfterSeconds",
  "encryptedFields",
  "temp",
  "flags",
];

/**
 * Refuses a create with a field MongoDB does not know (40415), or with any of its options
 * (115): none would be kept, and a plain collection is not made in place of the one asked for
 * (tester99).
 */
export function checkCreateOptions(body: Document): void {
  const unknown = unknownField(body, new Set(["create", ...CREATE_OPTIONS]));
  if (unknown) {
    throw new CommandError(
      `BSON field 'create.${unknown}' is an unknown field.`,
      40415,
      "Location40415",
    );
  }
  for (const opt of CREATE_OPTIONS) {
    if (body[opt] !== undefined) {
      throw new CommandError(
        `create option '${opt}' is not supported by this server`,
        115,
        "CommandNotSupported",
      );
    }
  }
}
