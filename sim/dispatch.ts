/**
 * Command dispatch: a command's name (and its aliases) to its handler, with what every command
 * goes through — authorization, the shard version check, $clusterTime and operationTime on the
 * reply, and MongoDB's RetryableWriteError label on errors a retryable write may be sent again
 * after.
 */
import { failCommand } from "./fail_command.ts";
import type { Document } from "bson";
import { CommandError, errors } from "./errors.ts";
import { cursorKey } from "./cursors.ts";
import { checkCommandFields } from "./command_fields.ts";
import { evaluateLet, loadQueryEngine } from "./query.ts";
import { isNumeric } from "./update_checks.ts";
import type { ConnState, Server } from "./server.ts";

const RETRYABLE_WRITE_CODES = new Set([
  6,
  7,
  89,
  91,
  189,
  262,
  9001,
  10107,
  11600,
  11602,
  13435,
  13436,
]);

/**
 * Commands that never query documents: members that only answer these (secondaries that only
 * replicate, arbiters, a member before its set is initiated) never load the query engine.
 */
/** ErrorCategory NotPrimaryError and ShutdownError (error_codes.yml). */
const NOT_PRIMARY_CODES = new Set([10107, 13435, 13436, 11602, 189, 10058]);
const SHUTDOWN_CODES = new Set([91, 11600]);

/**
 * The topologyVersion a replica set member's error reply carries (appendErrorLabelsAndTopologyVersion,
 * service_entry_point_common.cpp, 4.4+): on a "not primary" error, and on a shutdown error while
 * it quiesces. Drivers compare it with their last hello's and ignore an error older than that,
 * rather than mark the server unknown again.
 */
function errorTopologyVersion(server: Server, code: number): Document {
  if (!server.opts.replSet) return {};
  const quiescing = server.quiesce.left() !== undefined;
  return NOT_PRIMARY_CODES.has(code) || (SHUTDOWN_CODES.has(code) && quiescing)
    ? { topologyVersion: server.topologyVersion() }
    : {};
}

const NO_QUERY_ENGINE = new Set([
  "hello",
  "ping",
  "buildInfo",
  "saslStart",
  "saslContinue",
  "replSetHeartbeat",
  "replSetUpdatePosition",
  "replSetRequestVotes",
  "replSetGetStatus",
  "replSetGetConfig",
  "getParameter",
  "getCmdLineOpts",
  "hostInfo",
  "serverStatus",
  "endSessions",
  "whatsmyuri",
  "connectionStatus",
]);

/**
 * The commands a txnNumber may come with outside a transaction: retryable writes (and a
 * transaction's own commit and abort), lower-cased (service_entry_point_common.cpp).
 */
const TXN_NUMBER_COMMANDS = new Set([
  "insert",
  "update",
  "delete",
  "findandmodify",
  "committransaction",
  "aborttransaction",
  "bulkwrite",
]);

/**
 * A txnNumber where mongod refuses it: on a standalone (20), or, outside a transaction, with a
 * command that is not a retryable write (50768), rather than recorded as if it were one.
 */
function checkTxnNumber(server: Server, name: string, body: Document): void {
  if (body.txnNumber === undefined) return;
  if (!server.opts.replSet && server.opts.role === "mongod") {
    throw new CommandError(
      "Transaction numbers are only allowed on a replica set member or mongos",
      20,
      "IllegalOperation",
    );
  }
  if (body.autocommit === undefined && !TXN_NUMBER_COMMANDS.has(name.toLowerCase())) {
    throw new CommandError(
      "txnNumber may only be provided for multi-document transactions and retryable write " +
        `commands. autocommit:false was not provided, and ${name} is not a retryable write command.`,
      50768,
      "NotARetryableWriteCommand",
    );
  }
}

/** The commands that end a transaction: the simulator never has one open. */
const TRANSACTION_ENDS = new Set(["commitTransaction", "abortTransaction"]);

/**
 * Multi-document transactions are not simulated: every command of one is refused before it
 * runs (263, what a server answers for operations it cannot run inside a transaction), rather
 * than run outside it (tester88: listCollections ran, then commit failed with 59); a commit or
 * abort finds no transaction (251 NoSuchTransaction, as mongod answers for an unknown one).
 */
function checkTransaction(name: string, body: Document): void {
  if (TRANSACTION_ENDS.has(name)) {
    throw new CommandError(
      `Given transaction number ${
        Number(body.txnNumber ?? -1)
      } does not match any in-progress transactions. The active transaction number is -1`,
      251,
      "NoSuchTransaction",
    );
  }
  if (body.autocommit !== undefined || body.startTransaction !== undefined) {
    throw new CommandError(
      "Multi-document transactions are not supported by this server",
      263,
      "OperationNotSupportedInTransaction",
    );
  }
}

/**
 * A command's maxTimeMS is a number from 0 to 2^31-1, or the command is refused before it runs
 * (2 BadValue; parseMaxTimeMS in service_entry_point_common.cpp). getMore parses its own: there
 * it bounds an awaitData cursor's wait (commands/read.ts).
 */
function checkMaxTimeMS(name: string, body: Document): void {
  const v = body.maxTimeMS;
  if (v === undefined || name === "getMore") return;
  if (!isNumeric(v)) throw new CommandError("maxTimeMS must be a number", 2, "BadValue");
  // A BSON number object (Long, Int32, Double, Decimal128) prints as its value.
  const n = Number(typeof v === "object" ? String(v) : v);
  if (Math.trunc(n) < 0 || Math.trunc(n) > 2 ** 31 - 1) {
    throw new CommandError("maxTimeMS is out of range", 2, "BadValue");
  }
}

/** Reads whose whole work is done before they answer: maxTimeMS bounds it. */
const TIMED_READS = new Set(["find", "aggregate", "count", "distinct"]);

/**
 * A read that took longer than its maxTimeMS fails as mongod's does when the limit interrupts it
 * (MaxTimeMSExpired, 50), its cursor closed, instead of answering late (tester88). Reads have
 * nothing to undo; writes run to their end, as the simulator cannot interrupt them.
 * https://www.mongodb.com/docs/v7.0/tutorial/terminate-running-operations/#maxtimems
 */
function overTime(server: Server, name: string, body: Document, res: Document, ms: number): void {
  const limit = Number(body.maxTimeMS ?? 0);
  // mongos sends maxTimeMS on to the shards, which enforce it on their reads; its own waits for
  // a shard are the gather's (allowPartialResults leaves a shard out instead).
  if (server.opts.role === "mongos") return;
  if (!TIMED_READS.has(name) || !(limit > 0) || ms <= limit) return;
  const id = res.cursor?.id;
  if (id !== undefined) {
    server.cursors.delete(cursorKey(id));
  }
  throw new CommandError("operation exceeded time limit", 50, "MaxTimeMSExpired");
}

const ALIASES: Record<string, string> = {
  ismaster: "hello",
  isMaster: "hello",
  buildinfo: "buildInfo",
};

/** Runs one command on `server`; null means "close the connection without a reply" (shutdown). */
export async function dispatch(
  server: Server,
  db: string,
  body: Document,
  conn: ConnState,
): Promise<Document | null> {
  const first = Object.keys(body)[0] ?? "";
  const name = ALIASES[first] ?? first;
  const handler = server.commands.get(name);
  try {
    server.counters.command(name, body);
    if (!handler && !TRANSACTION_ENDS.has(name)) throw errors.commandNotFound(first);
    if (!NO_QUERY_ENGINE.has(name)) await loadQueryEngine();
    // A mongod evaluates `let` once; a mongos passes it on to the shards as it came.
    if (
      server.opts.role === "mongod" && body.let && typeof body.let === "object" &&
      !Array.isArray(body.let)
    ) {
      body = { ...body, let: evaluateLet(body.let) };
    }
    // mongod parses a command before it checks the user may run it.
    checkCommandFields(name, db, body);
    await server.auth?.authorize(name, db, body, conn);
    checkTxnNumber(server, first, body);
    checkTransaction(name, body);
    checkMaxTimeMS(name, body);
    if (body.shardVersion !== undefined && server.shardVersions) {
      server.shardVersions.check(db, name, body);
      const { shardVersion: _v, ...rest } = body;
      body = rest;
    }
    if (body.databaseVersion !== undefined && server.shardVersions) {
      server.shardVersions.checkDatabase(db, name, body);
      const { databaseVersion: _v, ...rest } = body;
      body = rest;
    }
    server.observeClusterTime(body.$clusterTime?.clusterTime);
    const ctx = { server, db, body, conn };
    if (server.failPoints.size && await failCommand(server, name, conn) === "close") return null;
    const started = performance.now();
    const res = await handler!(ctx);
    overTime(server, name, body, res, performance.now() - started);
    if (server.auth) Object.assign(res, await server.auth.afterCommand(name, ctx, res));
    if (res.__closeConnection) return null;
    // A retryable write whose write concern failed by a state change is labelled too.
    const wceLabel = body.txnNumber !== undefined &&
        RETRYABLE_WRITE_CODES.has(Number(res.writeConcernError?.code))
      ? { errorLabels: ["RetryableWriteError"] }
      : {};
    return { ...res, ok: res.ok ?? 1, ...wceLabel, ...server.clusterTimeFields() };
  } catch (e) {
    const err = e as Error & { code?: number; codeName?: string; info?: Document };
    const code = err.code ?? 8000;
    // 4.4+ servers label retryable write errors themselves; drivers retry only with the label.
    const labels = body.txnNumber !== undefined && RETRYABLE_WRITE_CODES.has(code)
      ? { errorLabels: ["RetryableWriteError"] }
      : {};
    return {
      ok: 0,
      errmsg: err.message,
      code,
      codeName: err.codeName ?? "UnknownError",
      ...err.info,
      ...errorTopologyVersion(server, code),
      ...labels,
      ...server.clusterTimeFields(),
    };
  }
}
