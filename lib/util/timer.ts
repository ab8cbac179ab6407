/**
 * Timers for any duration. The runtime's setTimeout holds a signed 32-bit count of
 * milliseconds: a longer delay overflows and fires after 1 ms (Node, Deno and browsers all do
 * this). These helpers wait in steps of at most MAX_TIMER_MS, so a 30-day timeout waits 30
 * days. Used by hooks, waits and executors (local and remote alike).
 */

/** The longest delay setTimeout takes in one step: 2^31 - 1 ms (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `fn` once after `ms` milliseconds (any finite non-negative number; larger delays are
 * waited in steps). Returns a function that cancels it.
 */
export function setLongTimeout(fn: () => void, ms: number): () => void {
  const end = performance.now() + Math.max(0, ms);
  let handle: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    const left = end - performance.now();
    if (left <= 0) {
      handle = undefined;
      fn();
      return;
    }
    handle = setTimeout(arm, Math.min(Math.ceil(left), MAX_TIMER_MS));
  };
  handle = setTimeout(arm, Math.min(Math.max(0, Math.ceil(ms)), MAX_TIMER_MS));
  return () => {
    if (handle !== undefined) clearTimeout(handle);
    handle = undefined;
  };
}

/** Resolves after `ms` milliseconds (any length), or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      cancel();
      resolve();
    };
    const cancel = setLongTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Tells when a condition has held, unchanged, for `ms`: call it with the condition's value now
 * (`undefined`: it does not hold). It answers true once the same value has been seen since at
 * least `ms` ago; a different value starts the count again. For waits that give up on what
 * lasts (a set without a majority, a member its set refuses) rather than on a blip.
 */
export function sustained(ms: number): (value: string | undefined) => boolean {
  let since: number | undefined;
  let last: string | undefined;
  return (value) => {
    if (value !== last || since === undefined) {
      last = value;
      since = value === undefined ? undefined : Date.now();
      return false;
    }
    return Date.now() - since >= ms;
  };
}
