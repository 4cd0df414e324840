/**
 * An abortable pause, for background loops and bounded waits.
 *
 * @module
 */

/**
 * Waits `ms` milliseconds; resolves true when the time passed, false as soon
 * as `signal` aborts (never rejects, leaves no timer behind).
 *
 * @example
 * ```ts
 * import { sleep } from "./sleep.ts";
 *
 * const stop = new AbortController();
 * setTimeout(() => stop.abort(), 10);
 * console.log(await sleep(60_000, stop.signal)); // false, after 10 ms
 * console.log(await sleep(1)); // true
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
