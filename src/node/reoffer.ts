/**
 * Offers old pending transactions to the authority again. A transaction
 * reaches the authority by relay once, when accepted; if the authority was
 * unreachable then (paused, restarting, its pool full) and never left the
 * peer set (so the relay's backlog never went to it), the transaction would
 * stay pending for ever, every later nonce of its sender behind it. So each
 * period a regular node offers its seed (the authority, or a node nearer to
 * it that does the same) what has waited too long, a trickle at a time.
 *
 * @module
 */
import { type SigTx, txHash } from "../chain/tx.ts";
import { messageOf } from "../util/errors.ts";
import { sleep } from "../util/sleep.ts";

/**
 * Periods a transaction waits before it is offered again: the authority
 * proposes every period, so one it holds is confirmed within a period or
 * two; one still pending after three most likely never reached it.
 */
export const REOFFER_AFTER_PERIODS = 3;
/**
 * The longest wait between two offers of one transaction, in periods: each
 * offer doubles the wait up to this, so a transaction the authority keeps
 * refusing costs one offer every 64 periods (about 5 minutes at the default
 * period of 5 s), yet is still offered while it is pending.
 */
export const REOFFER_MAX_WAIT_PERIODS = 64;
/**
 * The most transactions offered in one round (one period): the authority
 * takes 1000 a block, and a pool of 10,000 is walked in 50 rounds instead
 * of being sent whole every period.
 */
export const REOFFER_MAX_PER_ROUND = 200;

/** When a pending transaction is offered next. */
interface Due {
  /** The time of the next offer, by the clock of {@link ReofferOptions}. */
  at: number;
  /** The wait after the next offer, in periods. */
  wait: number;
}

/** Options of {@link Reoffer}. */
export interface ReofferOptions {
  /** The node's period, in ms (a positive number). */
  periodMs: number;
  /** The monotonic clock, in ms; `performance.now` by default. */
  now?: () => number;
}

/**
 * Decides which pending transactions are offered again, and when: first
 * after {@link REOFFER_AFTER_PERIODS} periods, then each time after twice
 * the wait before, up to {@link REOFFER_MAX_WAIT_PERIODS}. It remembers only
 * the transactions it was last shown, so its memory is bounded by the
 * pending pool's.
 *
 * @example
 * ```ts
 * import { Reoffer } from "./reoffer.ts";
 * import type { SigTx } from "../chain/tx.ts";
 *
 * const reoffer = new Reoffer({ periodMs: 1000 });
 * const pending: SigTx[] = [];
 * console.log(reoffer.due(pending, 200)); // [] (nothing has waited yet)
 * ```
 */
export class Reoffer {
  readonly #periodMs: number;
  readonly #now: () => number;
  #due = new Map<string, Due>();

  /**
   * Creates a schedule that knows no transaction yet.
   *
   * @example
   * ```ts
   * import { Reoffer } from "./reoffer.ts";
   *
   * const reoffer = new Reoffer({ periodMs: 5000, now: () => 0 });
   * console.log(reoffer.size); // 0
   * ```
   */
  constructor(options: ReofferOptions) {
    if (!(options.periodMs > 0)) {
      throw new RangeError(
        `periodMs must be positive, got ${options.periodMs}`,
      );
    }
    this.#periodMs = options.periodMs;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * How many transactions are remembered (those of the last {@link due}).
   *
   * @example
   * ```ts
   * import { Reoffer } from "./reoffer.ts";
   *
   * console.log(new Reoffer({ periodMs: 1000 }).size); // 0
   * ```
   */
  get size(): number {
    return this.#due.size;
  }

  /**
   * The transactions of `pending` (the pool, oldest first) to offer now, at
   * most `limit`, oldest first; each is scheduled for its next offer.
   * A transaction seen for the first time is due
   * {@link REOFFER_AFTER_PERIODS} periods later; those no longer in
   * `pending` (confirmed or dropped) are forgotten.
   *
   * @example
   * ```ts
   * import { Reoffer } from "./reoffer.ts";
   * import type { SigTx } from "../chain/tx.ts";
   *
   * let now = 0;
   * const reoffer = new Reoffer({ periodMs: 1000, now: () => now });
   * const pending: SigTx[] = [];
   * reoffer.due(pending, 10);
   * now += 3000;
   * for (const tx of reoffer.due(pending, 10)) console.log(tx.nonce);
   * ```
   */
  due(pending: readonly SigTx[], limit: number): SigTx[] {
    const now = this.#now();
    const period = this.#periodMs;
    const next = new Map<string, Due>();
    const out: SigTx[] = [];
    for (const tx of pending) {
      const hash = txHash(tx);
      if (next.has(hash)) continue;
      let due = this.#due.get(hash);
      if (due === undefined) {
        due = {
          at: now + REOFFER_AFTER_PERIODS * period,
          wait: REOFFER_AFTER_PERIODS,
        };
      } else if (due.at <= now && out.length < limit) {
        out.push(tx);
        due.wait = Math.min(due.wait * 2, REOFFER_MAX_WAIT_PERIODS);
        due.at = now + due.wait * period;
      }
      next.set(hash, due);
    }
    this.#due = next;
    return out;
  }
}

/** Options of {@link runReoffer}. */
export interface RunReofferOptions {
  /** The node's period, in ms: one round per period. */
  periodMs: number;
  /** The pending pool, oldest first. */
  pending: () => readonly SigTx[];
  /**
   * How many transactions may be offered now (0 when the authority is not
   * a peer now, fewer when its relay queue is not empty, so the offers of
   * one absence do not pile up in its queue); capped at
   * {@link REOFFER_MAX_PER_ROUND}.
   */
  room: () => number;
  /** Offers the transactions to the authority (queues them on its relay). */
  offer: (txs: readonly SigTx[]) => void;
  /** Stops the rounds. */
  signal: AbortSignal;
  /** The monotonic clock, in ms; `performance.now` by default. */
  now?: () => number;
  /** Where a failed round is reported; nowhere by default. */
  log?: (message: string) => void;
}

/**
 * Runs a round every `periodMs` until `signal` aborts: offers the pending
 * transactions that are due (see {@link Reoffer}). A failed round is
 * logged and the next one runs. Resolves (never rejects) soon after the
 * abort.
 *
 * @example
 * ```ts
 * import { runReoffer } from "./reoffer.ts";
 *
 * const controller = new AbortController();
 * const running = runReoffer({
 *   periodMs: 1000,
 *   pending: () => [],
 *   room: () => 200,
 *   offer: (txs) => console.log(txs.length),
 *   signal: controller.signal,
 * });
 * controller.abort();
 * await running;
 * ```
 */
export async function runReoffer(options: RunReofferOptions): Promise<void> {
  const { periodMs, signal } = options;
  const reoffer = new Reoffer({ periodMs, now: options.now });
  while (!signal.aborted) {
    await sleep(periodMs, signal);
    if (signal.aborted) break;
    try {
      const room = Math.min(
        REOFFER_MAX_PER_ROUND,
        Math.max(0, options.room()),
      );
      const txs = reoffer.due(options.pending(), room);
      if (txs.length > 0) options.offer(txs);
    } catch (err) {
      // One failed round is reported; the next one tries again.
      options.log?.(`re-offer failed: ${messageOf(err)}`);
    }
  }
}
