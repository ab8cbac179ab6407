/**
 * Lets the CLI stop an apply at once (the second Ctrl-C): `stopNow()` aborts the running
 * operations and records the apply as paused (journal, fsync'd), so that the process may exit
 * right after and `plan resume` continues it. Resolves at once when no apply is attached.
 */
export class ApplyControl {
  #stop?: () => Promise<void>;

  /** Called by apply() once its state is open. */
  attach(stop: () => Promise<void>): void {
    this.#stop = stop;
  }

  stopNow(): Promise<void> {
    return this.#stop?.() ?? Promise.resolve();
  }
}
