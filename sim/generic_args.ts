/**
 * The fields any command may carry besides its own (generic_argument.idl: sessions, concerns,
 * gossip, API version, and the servers' internal ones), which a command's strict parser accepts.
 */
const GENERIC_ARGS = new Set([
  "$db",
  "maxTimeMS",
  "readConcern",
  "writeConcern",
  "lsid",
  "txnNumber",
  "txnRetryCounter",
  "autocommit",
  "startTransaction",
  "stmtId",
  "comment",
  "$readPreference",
  "$clusterTime",
  "$audit",
  "$client",
  "$configServerState",
  "$configTime",
  "$topologyTime",
  "$replData",
  "$oplogQueryData",
  "$queryOptions",
  "allowImplicitCollectionCreation",
  "databaseVersion",
  "shardVersion",
  "clientOperationKey",
  "maxTimeMSOpOnly",
  "usesDefaultMaxTimeMS",
  "mayBypassWriteBlocking",
  "apiVersion",
  "apiStrict",
  "apiDeprecationErrors",
]);

/**
 * The first field of `body` that command `name` does not know (`own`: its own fields, the
 * command's name included), or undefined. Internal `$_` fields pass.
 */
export function unknownField(body: Record<string, unknown>, own: Set<string>): string | undefined {
  return Object.keys(body).find((f) => !own.has(f) && !GENERIC_ARGS.has(f) && !f.startsWith("$_"));
}
