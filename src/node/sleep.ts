/**
 * An abortable pause for the node's background loops.
 *
 * @module
 */

/**
 * Waits `ms` milliseconds; resolves true when the time passed, false as soon
 * as `signal` aborts (never rejects, leaves no timer behind).
 */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
