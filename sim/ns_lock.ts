/** A namespace lock: chunk migrations exclusive, routed operations shared (one mongos). */
export class NsLock {
  private readers = new Map<string, number>();
  private writer = new Set<string>();
  private waiters: (() => void)[] = [];
  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  async shared<T>(ns: string, f: () => Promise<T>): Promise<T> {
    while (this.writer.has(ns)) await new Promise<void>((r) => this.waiters.push(r));
    this.readers.set(ns, (this.readers.get(ns) ?? 0) + 1);
    try {
      return await f();
    } finally {
      this.readers.set(ns, this.readers.get(ns)! - 1);
      this.wake();
    }
  }
  /** Exclusive on several namespaces at once (taken in sorted order, so callers never deadlock). */
  exclusiveAll<T>(nss: string[], f: () => Promise<T>): Promise<T> {
    const [first, ...rest] = [...new Set(nss)].sort();
    if (first === undefined) return f();
    return this.exclusive(first, () => this.exclusiveAll(rest, f));
  }
  async exclusive<T>(ns: string, f: () => Promise<T>): Promise<T> {
    while (this.writer.has(ns) || (this.readers.get(ns) ?? 0) > 0) {
      await new Promise<void>((r) => this.waiters.push(r));
    }
    this.writer.add(ns);
    try {
      return await f();
    } finally {
      this.writer.delete(ns);
      this.wake();
    }
  }
}
