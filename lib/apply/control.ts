/**
 * Lets the CLI stop an apply at once (the second Ctrl-C): `stopNow()` aborts the running
 * operations and records the apply as paused (journal, fsync'd), so that the process may exit
 * right after and `plan resume` continues it. Resolves to the processes the apply leaves down
 * (`host:port`, lib/apply/left_down.ts), at once and empty when no apply is attached.
 */
export class ApplyControl {
  #stop?: () => Promise<string[]>;

  /** Called by apply() once its state is open. */
  attach(stop: () => Promise<string[]>): void {
    this.#stop = stop;
  }

  stopNow(): Promise<string[]> {
    return this.#stop?.() ?? Promise.resolve([]);
  }
}
