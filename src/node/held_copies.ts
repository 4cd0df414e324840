/**
 * The bound on blocks a node already holds that one BlockSync stream
 * sends again: shared by the full sync, the backfill and the catch-up
 * probe, so a peer that repeats itself is refused the same way in each.
 *
 * @module
 */

/**
 * How many copies of each block a node holds one stream may bring, on
 * average, before the peer is taken for one that repeats itself forever
 * (and refused, naming it). The reference node's store holds a block once
 * per stream that delivered it, and its BlockSync counts lines, so an
 * honest reference peer resends blocks the node holds: a few copies each,
 * about one per peer that relayed it.
 *
 * @example
 * ```ts
 * import { MAX_HELD_COPIES } from "./held_copies.ts";
 * // A stream that resends 3 held blocks may bring this many copies of them.
 * console.log(MAX_HELD_COPIES * 3n);
 * ```
 */
export const MAX_HELD_COPIES = 64n;

/**
 * Counts, for one stream, the held blocks it resends: every copy, and how
 * many different blocks (counted as new highs, so a peer cycling through
 * a few is caught too).
 *
 * @example
 * ```ts
 * import { HeldCopies } from "./held_copies.ts";
 * const copies = new HeldCopies();
 * console.log(copies.add(1n)); // true: within MAX_HELD_COPIES each
 * ```
 */
export class HeldCopies {
  #repeats = 0n;
  #high = 0n;
  #distinct = 0n;

  /** Copies counted so far. */
  get repeats(): bigint {
    return this.#repeats;
  }

  /**
   * Counts one more copy of held block `number`; false once the stream
   * has brought more than {@link MAX_HELD_COPIES} copies per block.
   */
  add(number: bigint): boolean {
    if (number > this.#high) {
      this.#high = number;
      this.#distinct++;
    }
    return ++this.#repeats <= MAX_HELD_COPIES * this.#distinct;
  }
}
