/**
 * Budgets of abuse points that refill with time (leaky buckets): one per
 * HTTP/2 connection and one per remote address over all its connections,
 * so that a client cannot start over by reconnecting.
 *
 * @module
 */

/**
 * A budget of points that refills at a steady rate up to its size.
 *
 * @example
 * ```ts
 * import { AbuseMeter } from "./abuse_meter.ts";
 * const meter = new AbuseMeter(3, 1);
 * console.log(meter.spend(3)); // true: the budget is spent, not exceeded
 * console.log(meter.spend(1)); // false: over budget
 * ```
 */
export class AbuseMeter {
  readonly #budget: number;
  readonly #refillPerMs: number;
  #used = 0;
  #at: number;

  /** A full budget of `budget` points, regaining `refillPerSecond` a second. */
  constructor(
    budget: number,
    refillPerSecond: number,
    now = performance.now(),
  ) {
    this.#budget = budget;
    this.#refillPerMs = refillPerSecond / 1000;
    this.#at = now;
  }

  /** Points spent and not yet regained. */
  used(now = performance.now()): number {
    this.#used = Math.max(0, this.#used - (now - this.#at) * this.#refillPerMs);
    this.#at = now;
    return this.#used;
  }

  /** Spends `points`; false once more than the budget is spent. */
  spend(points: number, now = performance.now()): boolean {
    this.#used = this.used(now) + points;
    return this.#used <= this.#budget;
  }

  /** Whether more than `fraction` of the budget is spent now. */
  above(fraction: number, now = performance.now()): boolean {
    return this.used(now) > this.#budget * fraction;
  }
}

/** Addresses whose meters are remembered at most (oldest forgotten first). */
const MAX_ADDRESSES = 4096;

/**
 * One {@link AbuseMeter} per remote address key. An address that went over
 * its budget stays blocked until its meter is back under half, so a client
 * that reconnects after being cut off is refused meanwhile.
 *
 * @example
 * ```ts
 * import { AddressMeters } from "./abuse_meter.ts";
 * const meters = new AddressMeters(10, 1);
 * meters.spend("10.0.0.7", 11);
 * console.log(meters.blocked("10.0.0.7")); // true
 * console.log(meters.blocked("10.0.0.8")); // false
 * ```
 */
export class AddressMeters {
  readonly #budget: number;
  readonly #refill: number;
  readonly #meters = new Map<string, { meter: AbuseMeter; over: boolean }>();

  /** Meters of `budget` points each, regaining `refillPerSecond` a second. */
  constructor(budget: number, refillPerSecond: number) {
    this.#budget = budget;
    this.#refill = refillPerSecond;
  }

  /** Spends `points` of `key`'s budget; false once it is over. */
  spend(key: string, points: number): boolean {
    let entry = this.#meters.get(key);
    if (!entry) {
      if (this.#meters.size >= MAX_ADDRESSES) this.#forget();
      entry = {
        meter: new AbuseMeter(this.#budget, this.#refill),
        over: false,
      };
      this.#meters.set(key, entry);
    }
    if (!entry.meter.spend(points)) entry.over = true;
    return !entry.over;
  }

  /** Whether `key` went over its budget and has not regained half of it. */
  blocked(key: string): boolean {
    const entry = this.#meters.get(key);
    if (!entry?.over) return false;
    if (entry.meter.above(0.5)) return true;
    entry.over = false;
    return false;
  }

  // Drops meters that are back to zero, or else the oldest one that is
  // not blocked: filling the table with new addresses must not let a
  // blocked one start over.
  #forget(): void {
    for (const [key, entry] of this.#meters) {
      if (entry.meter.used() === 0) this.#meters.delete(key);
    }
    if (this.#meters.size < MAX_ADDRESSES) return;
    for (const [key, entry] of this.#meters) {
      if (!entry.over) {
        this.#meters.delete(key);
        return;
      }
    }
    this.#meters.delete(this.#meters.keys().next().value!);
  }
}
