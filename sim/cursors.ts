/**
 * A server's open cursors and their idle timeout, as mongod's ClientCursorMonitor keeps them:
 * every 4 s (clientCursorMonitorFrequencySecs) it kills the cursors idle longer than
 * cursorTimeoutMillis (default 10 minutes; a startup or runtime setParameter), except those
 * opened with noCursorTimeout. A getMore on a killed cursor then gets CursorNotFound (43).
 * https://www.mongodb.com/docs/v7.0/reference/parameters/#mongodb-parameter-param.cursorTimeoutMillis
 */
import { type Document, Long } from "bson";
import { batchCount } from "./batch.ts";

/** An open cursor: its namespace, the documents of its result, and how far it was read. */
export interface OpenCursor {
  ns: string;
  docs: Document[];
  pos: number;
  /** When it was opened or last read (ms since the epoch). */
  usedAt: number;
  /** noCursorTimeout: never killed for being idle. */
  noTimeout: boolean;
  /** With access control: the users it belongs to (sim/auth.ts), who alone may read or kill it. */
  owner?: string;
}

/** A cursor id as the table keys it: a Long, or a number when the driver promotes it. */
export function cursorKey(id: unknown): string {
  return String(typeof id === "object" && id !== null ? (id as Long).toBigInt() : id);
}

/** cursorTimeoutMillis's default: 10 minutes. */
export const DEFAULT_CURSOR_TIMEOUT_MS = 600_000;

/** How often idle cursors are looked for (clientCursorMonitorFrequencySecs: 4 s). */
export const CURSOR_MONITOR_MS = 4_000;

export class CursorTable extends Map<string, OpenCursor> {
  /** cursorTimeoutMillis now (a setParameter may change it at runtime). */
  timeoutMs = DEFAULT_CURSOR_TIMEOUT_MS;

  /**
   * A cursor's first reply: at most `batchSize` of `docs` (0: none yet) within 16 MiB
   * (batch.ts); the rest stays in a cursor for getMore unless `single` (find's singleBatch)
   * closes it. `noTimeout`: noCursorTimeout.
   */
  open(
    ns: string,
    docs: Document[],
    batchSize: number,
    first: "firstBatch" | "nextBatch" = "firstBatch",
    single = false,
    noTimeout = false,
  ): Document {
    const batch = docs.slice(0, batchCount(docs, 0, batchSize));
    let id = Long.ZERO;
    if (docs.length > batch.length && !single) {
      const n = this.newId();
      this.set(String(n), { ns, docs, pos: batch.length, usedAt: Date.now(), noTimeout });
      id = Long.fromBigInt(n);
    }
    return { cursor: { [first]: batch, id, ns } };
  }

  /** A cursor id as mongod makes them: random, positive, 63 bits, so that none is guessed. */
  private newId(): bigint {
    for (;;) {
      const [n] = crypto.getRandomValues(new BigUint64Array(1));
      const id = n & 0x7fff_ffff_ffff_ffffn;
      if (id !== 0n && !this.has(String(id))) return id;
    }
  }

  /** Kills the cursors idle longer than the timeout; returns how many. */
  sweep(now = Date.now()): number {
    let killed = 0;
    for (const [id, c] of this) {
      if (!c.noTimeout && now - c.usedAt > this.timeoutMs) {
        this.delete(id);
        killed++;
      }
    }
    return killed;
  }
}
