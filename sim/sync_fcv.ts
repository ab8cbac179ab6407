/**
 * What a member does with a feature compatibility version its binary does not know, however
 * the data reaches it (sim/sync.ts): replicated or met in a rollback, it aborts before applying
 * the entry; read from an initial sync's source, the attempt fails. MongoDB's rule
 * (SERVER-33517, SERVER-31740), and why every member runs the new binary before the FCV is
 * raised.
 */
import type { Document } from "bson";
import { allowedFcvs, FCV_ID } from "./fcv.ts";
import type { Server } from "./server.ts";

/** numInitialSyncAttempts, mongod's default (repl/repl_server_parameters.idl). */
export const INITIAL_SYNC_ATTEMPTS = 10;

/**
 * FeatureCompatibilityVersionParser's BadValue for an FCV document (`{ _id:
 * "featureCompatibilityVersion", version }`) this server's binary cannot run on; undefined when
 * it can, or when there is none.
 */
export function fcvRefusal(server: Server, doc: Document | undefined): string | undefined {
  if (!doc || doc._id !== FCV_ID) return undefined;
  const allowed = allowedFcvs(server.opts.version);
  if (allowed.includes(String(doc.version))) return undefined;
  return `BadValue: Invalid feature compatibility version value '${doc.version}'; ` +
    `expected '${allowed.join("' or '")}'. See https://docs.mongodb.com/master/release-notes/` +
    `${allowed[0]}-compatibility/#feature-compatibility.`;
}

/**
 * A secondary that replicates an FCV it does not know invariants and aborts (fassert 34437),
 * before applying the entry. Returns when `e` is not such an entry.
 */
export function refuseUnknownFcv(server: Server, e: Document): void {
  if (e.ns !== "admin.system.version") return;
  const error = fcvRefusal(server, e.o);
  if (!error) return;
  const log = server.log;
  log.write("F", "REPL", 21238, "ReplWriterWorker-0", "Writer worker caught exception", {
    error,
    oplogEntry: { op: e.op, ns: e.ns, o: e.o },
  });
  log.write("F", "ASSERT", 23095, "OplogApplier-0", "Fatal assertion", {
    msgid: 34437,
    error,
    file: "src/mongo/db/repl/oplog_applier_impl.cpp",
  });
  log.write("F", "ASSERT", 23096, "OplogApplier-0", "\n\n***aborting after fassert() failure\n\n");
  Deno.kill(Deno.pid, "SIGABRT");
}

/**
 * Logs a failed initial sync attempt (21200); with no attempts left, the shutdown MongoDB's
 * ReplicationCoordinator makes (21416, fassert 40088), and aborts.
 */
export function initialSyncAttemptFailed(server: Server, error: string, left: number): void {
  const log = server.log;
  log.write("E", "INITSYNC", 21200, "ReplCoordExtern-0", "Initial sync attempt failed", {
    attemptsLeft: left,
    error,
  });
  if (left > 0) return;
  log.write(
    "F",
    "REPL",
    21416,
    "ReplCoordExtern-0",
    "Initial sync failed, shutting down now. Restart the server to attempt a new initial sync",
  );
  log.write("F", "ASSERT", 23095, "ReplCoordExtern-0", "Fatal assertion", {
    msgid: 40088,
    error,
    file: "src/mongo/db/repl/replication_coordinator_impl.cpp",
  });
  Deno.kill(Deno.pid, "SIGABRT");
}
