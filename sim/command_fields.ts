/**
 * The fields of the CRUD commands, which mongod parses strictly (their IDL has `strict: true`:
 * find_command.idl, write_ops.idl, find_and_modify.idl, aggregate_command.idl, count_command.idl,
 * distinct_command.idl): a field a command does not know is refused with 40415 before it runs,
 * so a misspelt `filter` or `ordered` is never ignored and answered as done (tester99). The
 * generic arguments any command takes are generic_args.ts's.
 */
import { CommandError } from "./errors.ts";
import { unknownField } from "./generic_args.ts";

/** Fields every write command takes (write_ops.idl WriteCommandRequestBase). */
const WRITE_BASE = [
  "bypassDocumentValidation",
  "ordered",
  "stmtIds",
  "collectionUUID",
  "encryptionInformation",
  "isTimeseriesNamespace",
  "bypassEmptyTsReplacement",
  "originalQuery",
  "originalCollation",
  "rawData",
];

const FIELDS: Record<string, string[]> = {
  find: [
    "filter",
    "projection",
    "sort",
    "hint",
    "collation",
    "skip",
    "limit",
    "batchSize",
    "ntoreturn",
    "singleBatch",
    "allowDiskUse",
    "min",
    "max",
    "returnKey",
    "showRecordId",
    "tailable",
    "oplogReplay",
    "noCursorTimeout",
    "awaitData",
    "allowPartialResults",
    "let",
    "options",
    "term",
    "readOnce",
    "allowSpeculativeMajorityRead",
    "runtimeConstants",
    "collectionUUID",
    "encryptionInformation",
    "includeQueryStatsMetrics",
    "querySettings",
    "rawData",
  ],
  insert: ["documents", ...WRITE_BASE],
  update: ["updates", "let", "runtimeConstants", ...WRITE_BASE],
  delete: ["deletes", "let", "runtimeConstants", ...WRITE_BASE],
  findAndModify: [
    "query",
    "fields",
    "sort",
    "batchSize",
    "singleBatch",
    "hint",
    "collation",
    "arrayFilters",
    "remove",
    "update",
    "new",
    "upsert",
    "bypassDocumentValidation",
    "let",
    "runtimeConstants",
    "encryptionInformation",
    "sampleId",
    "isTimeseriesNamespace",
    "bypassEmptyTsReplacement",
    "collectionUUID",
    "rawData",
  ],
  aggregate: [
    "pipeline",
    "explain",
    "allowDiskUse",
    "cursor",
    "bypassDocumentValidation",
    "collation",
    "hint",
    "let",
    "needsMerge",
    "fromMongos",
    "fromRouter",
    "isMapReduceCommand",
    "collectionUUID",
    "exchange",
    "runtimeConstants",
    "isClusterQueryWithoutShardKeyCmd",
    "passthroughToShard",
    "encryptionInformation",
    "includeQueryStatsMetrics",
    "querySettings",
    "rawData",
  ],
  count: [
    "query",
    "limit",
    "skip",
    "hint",
    "collation",
    "fields",
    "sampleId",
    "mirrored",
    "encryptionInformation",
    "querySettings",
    "includeQueryStatsMetrics",
    "rawData",
  ],
  distinct: [
    "key",
    "query",
    "collation",
    "hint",
    "sampleId",
    "mirrored",
    "querySettings",
    "includeQueryStatsMetrics",
    "rawData",
  ],
};

const KNOWN = new Map(
  Object.entries(FIELDS).map(([name, fields]) => [name, new Set([name, ...fields])]),
);

/**
 * Refuses command `name` (as its first field spells it: mongod's message names it so) when
 * `body` has a field the command does not know: 40415, "BSON field '<command>.<field>' is an
 * unknown field." Commands other than the CRUD ones are not checked here.
 */
export function checkCommandFields(name: string, db: string, body: Record<string, unknown>): void {
  const known = KNOWN.get(name);
  if (!known) return;
  const unknown = unknownField(body, known);
  if (unknown === undefined) return;
  // The members' own oplog reads long-poll in the find itself (commands/oplog_read.ts).
  if (unknown === "maxAwaitTimeMS" && name === "find" && db === "local") {
    const rest = { ...body };
    delete rest.maxAwaitTimeMS;
    return checkCommandFields(name, db, rest);
  }
  throw new CommandError(
    `BSON field '${name}.${unknown}' is an unknown field.`,
    40415,
    "Location40415",
  );
}
