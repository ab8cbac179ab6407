/**
 * Read concern on a replica-set member, as MongoDB's manual and read_concern_mongod.cpp
 * (waitForReadConcern) describe it: "majority" reads the majority-committed snapshot,
 * "linearizable" is the primary's and answers once a majority has a no-op it wrote after reading,
 * afterClusterTime waits for the member to reach that time (a majority read: its snapshot), and
 * a read on a member that is neither primary nor (with a secondary read preference) secondary is
 * refused.
 * https://www.mongodb.com/docs/v7.0/reference/read-concern/
 */
import type { Document, Timestamp } from "bson";
import { CommandError, errors } from "./errors.ts";
import { type ReplSet, tsGte } from "./replset.ts";

/**
 * The optime of this member's majority-committed snapshot (readConcern "majority"): the commit
 * point, or what it applied when that is older; undefined before any commit point.
 * https://www.mongodb.com/docs/v7.0/reference/read-concern-majority/
 */
export function majoritySnapshot(rs: ReplSet): Timestamp | undefined {
  if (!rs.config) return undefined;
  rs.updateCommitPoint();
  const applied = rs.lastApplied();
  if (!rs.commitPoint || !applied) return undefined;
  return tsGte(applied, rs.commitPoint) ? rs.commitPoint : applied;
}

/**
 * readConcern "majority" when no snapshot can be built: answers only once what this member has
 * applied is majority-committed; MaxTimeMSExpired (50) after `timeoutMs`.
 */
export async function waitForMajorityRead(rs: ReplSet, timeoutMs: number): Promise<void> {
  if (!rs.config) return;
  rs.updateCommitPoint();
  const at = rs.lastApplied();
  const ok = await rs.waitFor(() => tsGte(rs.commitPoint, at), timeoutMs);
  if (!ok) {
    throw new CommandError(
      "operation exceeded time limit waiting for majority-committed data",
      50,
      "MaxTimeMSExpired",
    );
  }
}

/**
 * readConcern afterClusterTime: waits until this member has applied `ts`, or, `majority`, until
 * its majority-committed snapshot holds it (causal consistency: a majority read after a majority
 * write reads it on any member); MaxTimeMSExpired (50) after `timeoutMs`.
 */
export async function waitForOpTime(
  rs: ReplSet,
  ts: Timestamp,
  timeoutMs: number,
  majority: boolean,
): Promise<void> {
  if (!rs.config) return;
  const ok = await rs.waitFor(
    () => tsGte(majority ? majoritySnapshot(rs) : rs.lastApplied(), ts),
    timeoutMs,
  );
  if (!ok) throw new CommandError("operation exceeded time limit", 50, "MaxTimeMSExpired");
}

/**
 * readConcern "linearizable" (read_concern_mongod.cpp, waitForLinearizableReadConcern): the
 * primary writes a no-op ("linearizable read") and answers once a majority has it, which proves
 * it was still the primary when it read. One cut off from a majority never gets there:
 * MaxTimeMSExpired (50) after `timeoutMs`; stepping down meanwhile fails the read,
 * PrimarySteppedDown (189), as the replication wait does.
 * https://www.mongodb.com/docs/v7.0/reference/read-concern-linearizable/
 */
export async function confirmLinearizable(rs: ReplSet, timeoutMs: number): Promise<void> {
  checkLinearizable(rs);
  const ts = rs.noop("linearizable read");
  rs.updateCommitPoint();
  const ok = await rs.waitFor(() => rs.state !== 1 || tsGte(rs.commitPoint, ts), timeoutMs);
  if (rs.state !== 1) {
    throw new CommandError(
      "Primary stepped down while waiting for replication",
      189,
      "PrimarySteppedDown",
    );
  }
  if (!ok) {
    throw new CommandError(
      "operation exceeded time limit waiting to confirm the read was linearizable",
      50,
      "MaxTimeMSExpired",
    );
  }
}

/** readConcern linearizable: the primary's only (NotWritablePrimary, 10107). */
export function checkLinearizable(rs: ReplSet): void {
  if (rs.state === 1) return;
  throw new CommandError(
    "cannot satisfy linearizable read concern on non-primary node",
    10107,
    "NotWritablePrimary",
  );
}

/** A read on this member: the primary's, a secondary's with a secondary read preference. */
export function checkReadable(rs: ReplSet, body: Document): void {
  if (body.$db === "local" || rs.state === 1) return;
  if (rs.state === 2) {
    const mode = body.$readPreference?.mode;
    if (mode && mode !== "primary") return;
    throw errors.notPrimaryNoSecondaryOk();
  }
  throw new CommandError(
    "node is not in primary or recovering state",
    13436,
    "NotPrimaryOrSecondary",
  );
}
