/**
 * Seeded random choices for the fuzz tests: the same seed replays the same
 * inputs, so a failure names its seed and round and can be run again.
 */

/** mulberry32: a small deterministic PRNG, uniform in [0, 2^32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * Random choices from one seeded PRNG.
 *
 * @example
 * ```ts
 * import { Dice } from "./dice.ts";
 * const d = new Dice(7);
 * console.log(d.int(10) === new Dice(7).int(10)); // true
 * ```
 */
export class Dice {
  readonly #next: () => number;

  /** Dice that throw the same sequence for the same `seed`. */
  constructor(seed: number) {
    this.#next = prng(seed);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return this.#next() % n;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.#next() / 2 ** 32 < p;
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }

  /** A length: mostly short, sometimes long, rarely up to `max`. */
  size(max: number): number {
    if (this.chance(0.7)) return this.int(Math.min(17, max + 1));
    if (this.chance(0.8)) return this.int(Math.min(300, max + 1));
    return this.int(max + 1);
  }
}
