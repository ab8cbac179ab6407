/**
 * The frame around every write command: writability, retryable writes (a session's
 * `txnNumber` recorded in `config.transactions` with the write's reply, in the same oplog batch,
 * so a retry on this or a later primary gets the first reply back), one store transaction for
 * the command's changes, then the write concern.
 */
import { journalOff } from "./options.ts";
import { type Document, Long, type Timestamp } from "bson";
import { applyEntry } from "./apply.ts";
import { CommandError } from "./errors.ts";
import type { CommandContext } from "./server.ts";
import { checkWriteConcern, isTrue, resolveWriteConcern } from "./write_concern.ts";

/** Records a change: applies it to the store and logs it in the oplog (replica sets). */
export type Apply = (entry: Document) => void;

/**
 * A write command's statements, for retryable writes (write_ops_exec.cpp): each statement's
 * changes are logged with the session, its txnNumber and the statement's stmtId (`stmtIds[i]`,
 * else the command's `stmtId` plus i), and a retry on a primary that holds some of them (a
 * failover mid-replication) runs only the others.
 */
export interface Statements {
  /** Whether statement `index` already ran for this txnNumber (its entries are here). */
  done(index: number): boolean;
  /** The changes applied from now on are statement `index`'s. */
  begin(index: number): void;
}

const TXN_NS = "config.transactions";

/**
 * Refuses what MongoDB refuses of a read's or write's read concern and collation before running
 * it (txnNumber and transactions: dispatch.ts, for every command).
 */
export function checkSessionFields(ctx: CommandContext): void {
  const b = ctx.body;
  checkReadConcern(b);
  // Collation is not simulated: refused rather than compared in binary order (tester62).
  const statements = [...(b.updates ?? []), ...(b.deletes ?? [])] as Document[];
  if (b.collation !== undefined || statements.some((st) => st?.collation !== undefined)) {
    throw new CommandError("collation is not supported by this server", 115, "CommandNotSupported");
  }
}

const LEVELS = new Set(["local", "majority", "linearizable", "available", "snapshot"]);
const FIELDS = new Set([
  "level",
  "afterClusterTime",
  "afterOpTime",
  "atClusterTime",
  "provenance",
  "allowTransactionTableSnapshot",
]);

/**
 * The readConcern document as ReadConcernArgs::parse (read_concern_args.cpp) takes it: a known
 * level, no unknown option, afterClusterTime only with majority, local or snapshot, and
 * atClusterTime only with snapshot, never with afterClusterTime (InvalidOptions, 72).
 */
export function checkReadConcern(body: Document): void {
  const rc = body.readConcern as Document | undefined;
  if (!rc || typeof rc !== "object") return;
  const unknown = Object.keys(rc).find((k) => !FIELDS.has(k));
  if (unknown) {
    throw new CommandError(`Unrecognized option in readConcern: ${unknown}`, 72, "InvalidOptions");
  }
  const level = rc.level;
  if (level !== undefined && !LEVELS.has(String(level))) {
    throw new CommandError(
      "readConcern.level must be either 'local', 'majority', 'linearizable', 'available', or 'snapshot'",
      9,
      "FailedToParse",
    );
  }
  if (rc.afterClusterTime !== undefined && (level === "linearizable" || level === "available")) {
    throw new CommandError(
      "afterClusterTime field can be set only if level is equal to majority, local, or snapshot",
      72,
      "InvalidOptions",
    );
  }
  if (rc.atClusterTime !== undefined && rc.afterClusterTime !== undefined) {
    throw new CommandError(
      "Can not specify both afterClusterTime and atClusterTime",
      72,
      "InvalidOptions",
    );
  }
  if (rc.atClusterTime !== undefined && level !== "snapshot") {
    throw new CommandError(
      "atClusterTime field can be set only if level is snapshot",
      72,
      "InvalidOptions",
    );
  }
}

function txnKey(ctx: CommandContext): Document | undefined {
  const { lsid, txnNumber } = ctx.body;
  if (txnNumber === undefined || !lsid?.id) return undefined;
  return { id: lsid.id };
}

/**
 * Runs a write command: `compute(apply)` makes the changes through `apply` and returns the
 * reply. All of it is one store transaction; the reply gets the write concern's outcome.
 */
export async function runWrite(
  ctx: CommandContext,
  compute: (apply: Apply, statements: Statements) => Document,
): Promise<Document> {
  const { server } = ctx;
  const role = server.role!;
  // A write reads with level local only (write_commands.cpp, supportsReadConcern; snapshot,
  // inside a transaction, is refused before this: sim/read_snapshot.ts).
  const level = ctx.body.readConcern?.level;
  if (level !== undefined && level !== "local") {
    throw new CommandError(
      `Command ${Object.keys(ctx.body)[0]} does not support { readConcern: { level: ` +
        `"${level}" } } :: caused by :: read concern not supported`,
      72,
      "InvalidOptions",
    );
  }
  checkSessionFields(ctx);
  checkWriteConcern(
    ctx.body.writeConcern,
    !server.opts.replSet && server.opts.role === "mongod",
    Object.keys(ctx.body)[0],
  );
  const wc = ctx.body.writeConcern as Document | undefined;
  // Resolved as the command begins, not after its write (resolveWriteConcern).
  const concern = server.opts.replSet
    ? resolveWriteConcern(server, (role as unknown as { config?: Document }).config, wc)
    : wc;
  // Without a journal no write can be promised journaled (write_concern.cpp).
  if (
    isTrue(ctx.body.writeConcern?.j) && journalOff(server.opts)
  ) {
    throw new CommandError(
      "cannot use 'j' option when a host does not have journaling enabled",
      2,
      "BadValue",
    );
  }
  // Writes to local are this member's own and never wait for a step-down. No await between the
  // last look at the hold and the write: a step-down that begins meanwhile would miss it.
  for (let h = role.writeHold?.(); h && ctx.db !== "local"; h = role.writeHold?.()) await h;
  role.checkWritable(ctx.db);
  const key = txnKey(ctx);
  const txnNumber = key ? Number(ctx.body.txnNumber) : 0;
  let reply: Document | undefined;
  const executed = new Set<number>();
  if (key) {
    const rec = server.store.findById("config", "transactions", key);
    if (rec && Number(rec.txnNum) > txnNumber) {
      throw new CommandError(
        `Retryable write with txnNumber ${txnNumber} is prohibited on session ${
          sessionText(key)
        } because a newer retryable write with txnNumber ${
          Number(rec.txnNum)
        } has already started on this session.`,
        225,
        "TransactionTooOld",
      );
    }
    if (rec && Number(rec.txnNum) === txnNumber && rec.reply) reply = rec.reply as Document;
    // Some statements replicated here before the primary that ran them went away.
    if (rec && Number(rec.txnNum) === txnNumber && !rec.reply) {
      for (const id of (rec.stmts ?? []) as unknown[]) executed.add(Number(id));
    }
  }
  let ts: Timestamp | undefined;
  if (!reply) {
    const done = server.store.transaction(() => {
      let last: Timestamp | undefined;
      let stmtId: number | undefined;
      const apply: Apply = (entry) => {
        const e = key && stmtId !== undefined
          ? { ...entry, lsid: ctx.body.lsid, txnNumber: Long.fromNumber(txnNumber), stmtId }
          : entry;
        // Logged first, so the change is applied under its optime (pre-images for majority reads).
        const ts = role.logOp?.(e);
        applyEntry(server.store, ts ? { ...e, ts } : e);
        last = ts ?? last;
      };
      const ids = ctx.body.stmtIds as unknown[] | undefined;
      const idOf = (index: number) =>
        ids ? Number(ids[index]) : Number(ctx.body.stmtId ?? 0) + index;
      const r = compute(apply, {
        done: (index) => executed.has(idOf(index)),
        begin: (index) => {
          stmtId = idOf(index);
        },
      });
      stmtId = undefined;
      if (key) {
        apply({
          op: "u",
          ns: TXN_NS,
          o: {
            _id: key,
            txnNum: Long.fromNumber(txnNumber),
            lastWriteDate: new Date(),
            reply: r,
          },
          o2: { _id: key },
        });
      }
      return { r, last };
    });
    reply = done.r;
    ts = done.last;
  }
  // j (true or a number but 0, a safeBool), fsync, and w: "majority"
  // (writeConcernMajorityJournalDefault) promise the journal.
  if (
    isTrue(wc?.j) || isTrue(wc?.fsync) ||
    (ctx.server.opts.replSet && (wc?.w ?? "majority") === "majority")
  ) {
    server.store.syncJournal();
  }
  const wce = await role.awaitWriteConcern?.(concern, ts ?? role.lastOpTime?.());
  return wce ? { ...reply, writeConcernError: wce } : reply;
}

function sessionText(key: Document): string {
  const id = key.id as { toHexString?: () => string };
  const hex = id?.toHexString?.() ?? "";
  const uuid = hex.length === 32
    ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
      hex.slice(20)
    }`
    : hex;
  return `${uuid} - 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= -  - `;
}
