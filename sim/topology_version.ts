/**
 * hello's topologyVersion (MongoDB 4.4+, the SDAM "awaitable hello"): this process's id and a
 * counter bumped whenever hello's answer changes, and the hellos waiting for that change.
 * https://github.com/mongodb/specifications/blob/master/source/server-discovery-and-monitoring/server-monitoring.md#streaming-protocol
 */
import { type Document, Long, ObjectId } from "bson";

export class TopologyVersion {
  private counter = 0;
  private sig = "";
  private readonly waiters = new Set<() => void>();

  constructor(private readonly processId: ObjectId) {}

  /** `{processId, counter}` as hello answers it. */
  current(): Document {
    return { processId: this.processId, counter: Long.fromNumber(this.counter) };
  }

  /** Takes hello's fields now; a change bumps the counter and answers waiting hellos. */
  note(fields: Document): void {
    const sig = JSON.stringify(fields);
    if (sig === this.sig) return;
    this.sig = sig;
    this.counter++;
    this.wakeAll();
  }

  /**
   * Resolves when the topology changes or after `maxAwaitMs` ms, if `clientVersion` is this
   * process's current one; at once otherwise (the client is behind: it gets the answer now).
   */
  async awaitChange(clientVersion: Document | undefined, maxAwaitMs: number): Promise<void> {
    if (!clientVersion || !(maxAwaitMs >= 0)) return;
    const pid = clientVersion.processId as ObjectId | undefined;
    if (!pid || !(pid instanceof ObjectId) || !pid.equals(this.processId)) return;
    if (Number(clientVersion.counter) !== this.counter) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, maxAwaitMs);
      this.waiters.add(done);
    });
  }

  /** A change hello's fields do not show (a quiesce period begun): the counter moves on. */
  bump(): void {
    this.counter++;
    this.wakeAll();
  }

  /** Answers every waiting hello now (a change, or shutdown). */
  wakeAll(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }
}
