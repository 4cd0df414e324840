/**
 * A regular node's first start waits for its seed: the genesis comes from
 * it, so a seed not up yet (or a moment away) is tried again with a growing
 * pause, one line each time, until it answers or the node is stopped.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { codeName, withoutAddr } from "../rpc/peer_errors.ts";
import { firstLine, messageOf, networkCause } from "../util/errors.ts";
import { SyncError } from "./sync_error.ts";
import { sleep } from "../util/sleep.ts";

/** The first pause before trying an unreachable seed again: 0.5 s. */
export const SEED_RETRY_FIRST_MS = 500;
/** The longest pause between two tries of a seed: 30 s. */
export const SEED_RETRY_MAX_MS = 30_000;

/** Options of {@link waitForSeed}. */
export interface SeedWaitOptions {
  /** Stops the waiting at once: the call then rejects with its reason. */
  signal: AbortSignal;
  /** Where the line of each failed try goes. */
  log: (message: string) => void;
  /** The first pause, doubled after each try; {@link SEED_RETRY_FIRST_MS}. */
  firstMs?: number;
  /** The longest pause; {@link SEED_RETRY_MAX_MS}. */
  maxMs?: number;
  /** A number in [0, 1) for the jitter of each pause; `Math.random`. */
  random?: () => number;
}

/**
 * The pause after failed try `attempt` (from 1): `firstMs` doubled each
 * try up to `maxMs`, give or take 20% so that nodes started together do not
 * call their seed in step.
 *
 * @example
 * ```ts
 * import { seedRetryDelay } from "./seed_wait.ts";
 *
 * seedRetryDelay(1, () => 0.5); // 500
 * seedRetryDelay(3, () => 0.5); // 2000
 * seedRetryDelay(20, () => 0.5); // 30000
 * ```
 */
export function seedRetryDelay(
  attempt: number,
  random: () => number = Math.random,
  firstMs: number = SEED_RETRY_FIRST_MS,
  maxMs: number = SEED_RETRY_MAX_MS,
): number {
  const base = Math.min(maxMs, firstMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * Why a try of `seed` failed, in a few words: the network failure
 * (`connection refused`), else the status and message the seed answered.
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * import { seedFailure } from "./seed_wait.ts";
 *
 * seedFailure("127.0.0.1:1122", new ConnectError("node starting", Code.Unavailable));
 * // "unavailable: node starting"
 * ```
 */
export function seedFailure(seed: string, err: unknown): string {
  const cause = err instanceof SyncError && err.cause !== undefined
    ? err.cause
    : err;
  const network = networkCause(cause);
  if (network !== undefined) return withoutAddr(network, seed);
  if (cause instanceof ConnectError) {
    const message = firstLine(cause.rawMessage);
    const code = cause.code === Code.DeadlineExceeded
      ? "no answer in time"
      : codeName(cause.code);
    return message === "" ? code : `${code}: ${withoutAddr(message, seed)}`;
  }
  return withoutAddr(messageOf(cause), seed);
}

/** `0.5s`, `2s`, `30s`: a pause in seconds, as the retry lines say it. */
function seconds(ms: number): string {
  const s = ms / 1000;
  return `${s < 10 ? Number(s.toFixed(1)) : Math.round(s)}s`;
}

/**
 * Runs `attempt` (a try at the seed's genesis) until it succeeds. A try
 * that failed with an unreachable seed ({@link SyncError} of kind
 * `unreachable`) is followed by a line such as `seed 127.0.0.1:1122
 * unreachable (connection refused); retrying in 2s` and a pause (see
 * {@link seedRetryDelay}); any other failure (an invalid genesis) rejects
 * at once, and so does an abort of `signal`, with its reason.
 *
 * @example
 * ```ts
 * import { waitForSeed } from "./seed_wait.ts";
 *
 * let tries = 0;
 * const value = await waitForSeed("127.0.0.1:1122", () => {
 *   tries++;
 *   return Promise.resolve("genesis");
 * }, { signal: new AbortController().signal, log: console.error });
 * console.log(value, tries); // genesis 1
 * ```
 */
export async function waitForSeed<T>(
  seed: string,
  attempt: () => Promise<T>,
  options: SeedWaitOptions,
): Promise<T> {
  const { signal } = options;
  for (let n = 1;; n++) {
    signal.throwIfAborted();
    try {
      return await attempt();
    } catch (e) {
      signal.throwIfAborted();
      if (!(e instanceof SyncError) || e.kind !== "unreachable") throw e;
      const ms = seedRetryDelay(
        n,
        options.random,
        options.firstMs,
        options.maxMs,
      );
      options.log(
        `seed ${seed} unreachable (${seedFailure(seed, e)}); retrying in ${
          seconds(ms)
        }`,
      );
      if (!await sleep(ms, signal)) signal.throwIfAborted();
    }
  }
}
