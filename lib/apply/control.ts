/**
 * Lets the CLI stop an apply at once (the second Ctrl-C): `stopNow()` aborts the running
 * operations and records the apply as paused (journal, fsync'd), so that the process may exit
 * right after and `plan resume` continues it. Resolves to the processes the apply leaves down
 * (`down`), those whose start it cut off (`starting`) and those whose stop it cut off before
 * their start (`stopping`; `host:port`, lib/apply/left_down.ts), at once and empty when no apply
 * is attached.
 */
/** What a stop at once left: members down, members whose start or stop it cut off. */
export interface StoppedAtOnce {
  down: string[];
  starting: string[];
  stopping: string[];
}

export class ApplyControl {
  #stop?: () => Promise<StoppedAtOnce>;
  #settled = Promise.withResolvers<boolean>();

  /** Called by apply() once its state is open. */
  attach(stop: () => Promise<StoppedAtOnce>): void {
    this.#stop = stop;
    this.#settled.resolve(true);
  }

  /**
   * Called by the CLI when no apply will begin (cancelled or refused after the lock was taken),
   * once it has said so and released the lock; after attach() it changes nothing.
   */
  noApply(): void {
    this.#settled.resolve(false);
  }

  /** Resolves to true once an apply is attached (its state recorded), false after noApply(). */
  get settled(): Promise<boolean> {
    return this.#settled.promise;
  }

  stopNow(): Promise<StoppedAtOnce> {
    return this.#stop?.() ?? Promise.resolve({ down: [], starting: [], stopping: [] });
  }
}
