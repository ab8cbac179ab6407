/**
 * readConcern "snapshot" outside a transaction (MongoDB 5.0+): find, aggregate and distinct
 * read the data as of one point in time, `atClusterTime` when given, else the member's
 * majority-committed snapshot; a cursor's reply says which (`cursor.atClusterTime`). A time
 * the member's history no longer reaches (store.ts keeps minSnapshotHistoryWindowInSeconds)
 * is SnapshotTooOld (239); one not yet majority-committed is waited for; other commands
 * refuse the level (InvalidOptions, 72), as members outside a replica set do (NotAReplicaSet,
 * 76). https://www.mongodb.com/docs/v7.0/reference/read-concern-snapshot/
 */
import { type Document, Timestamp } from "bson";
import { CommandError } from "./errors.ts";
import type { CommandContext } from "./server.ts";
import { SNAPSHOT_HISTORY_WINDOW_S } from "./store.ts";

/** The commands that take readConcern "snapshot" outside a transaction. */
const SNAPSHOT_COMMANDS = new Set(["find", "aggregate", "distinct"]);

const shown = (t: Timestamp) => `Timestamp(${t.t}, ${t.i})`;

/**
 * An afterClusterTime or atClusterTime later than this member's cluster time is refused at
 * once, InvalidOptions (72), as read_concern_mongod.cpp does: no write will ever make the wait
 * end. Members keep their clocks close by gossip on every message to each other (sim/peer.ts
 * PeerPool.clock), as MongoDB's do; a simulated member may hear of a time a heartbeat later than
 * a real one would, so its time here counts as at least its wall clock's next second (optimes are
 * wall-clock seconds): only a time beyond that is refused.
 */
export function checkClusterTime(ctx: CommandContext): void {
  const rc = ctx.body.readConcern as Document | undefined;
  if (!rc || !ctx.server.opts.replSet) return;
  const clock = new Timestamp({ t: Math.floor(Date.now() / 1000) + 1, i: 0 });
  const seen = [ctx.server.role?.lastOpTime?.(), ctx.server.clusterTime, clock]
    .filter((t): t is Timestamp => t !== undefined);
  const now = seen.reduce((a, t) => t.compare(a) > 0 ? t : a);
  for (const field of ["afterClusterTime", "atClusterTime"]) {
    const asked = rc[field] as Timestamp | undefined;
    if (!asked || asked.compare(now) <= 0) continue;
    throw new CommandError(
      `readConcern ${field} value must not be greater than the current clusterTime. ` +
        `Requested clusterTime: ${shown(asked)}; current clusterTime: ${shown(now)}`,
      72,
      "InvalidOptions",
    );
  }
}

/**
 * The time a snapshot read of `command` reads at: its atClusterTime once the majority-committed
 * snapshot holds it (waiting up to `timeoutMs`: MaxTimeMSExpired, 50), else the majority
 * snapshot. Throws as the module comment says.
 */
export async function snapshotReadTime(
  ctx: CommandContext,
  command: string,
  timeoutMs: number,
): Promise<Timestamp> {
  checkSnapshotCommand(command, ctx.body.readConcern);
  const role = ctx.server.role;
  if (!ctx.server.opts.replSet || !role?.majoritySnapshot || !role.waitForOpTime) {
    throw new CommandError(
      "node needs to be a replica set member to use read concern",
      76,
      "NotAReplicaSet",
    );
  }
  const asked = ctx.body.readConcern?.atClusterTime as Timestamp | undefined;
  const store = ctx.server.store;
  if (!asked) {
    // The newest majority-committed data: when the history cannot rebuild it (uncommitted
    // entries from before a restart), once all this member applied is committed.
    const now = role.majoritySnapshot();
    if (!now || !store.hasSnapshot(now)) await role.waitForMajorityRead?.(timeoutMs);
    const at = role.majoritySnapshot();
    if (at && store.hasSnapshot(at)) return at;
    throw new CommandError(
      "operation exceeded time limit waiting for majority-committed data",
      50,
      "MaxTimeMSExpired",
    );
  }
  role.advanceTo?.(asked);
  await role.waitForOpTime(asked, timeoutMs, true);
  // Older than the window a server keeps, whatever the simulator still has.
  const oldest = Math.floor(Date.now() / 1000) - SNAPSHOT_HISTORY_WINDOW_S;
  if (asked.t < oldest || !store.hasSnapshot(asked)) {
    throw new CommandError(
      `Read timestamp ${shown(asked)} is older than the oldest available timestamp.`,
      239,
      "SnapshotTooOld",
    );
  }
  return asked;
}

/** Refuses readConcern "snapshot" for a command that does not take it (InvalidOptions, 72). */
export function checkSnapshotCommand(command: string, readConcern: Document | undefined): void {
  if (readConcern?.level !== "snapshot" || SNAPSHOT_COMMANDS.has(command)) return;
  throw new CommandError(
    `Command ${command} does not support { readConcern: { level: "snapshot" } } :: caused ` +
      "by :: read concern snapshot not supported",
    72,
    "InvalidOptions",
  );
}

/** A cursor reply of a snapshot read, with the time it read at (`cursor.atClusterTime`). */
export function atClusterTime(ctx: CommandContext, reply: Document): Document {
  if (ctx.body.readConcern?.level !== "snapshot" || !ctx.readAt || !reply.cursor) return reply;
  return { ...reply, cursor: { ...reply.cursor, atClusterTime: ctx.readAt } };
}
