/**
 * How many HTTP/2 streams the node has open, in all and per remote
 * address: a stream may hold a handler, a store file and its buffers, so
 * the node bounds them across connections, not only per connection.
 *
 * @module
 */

/**
 * Counts of open streams with a bound for the node and one per address.
 *
 * @example
 * ```ts
 * import { StreamBudget } from "./stream_budget.ts";
 * const budget = new StreamBudget(3, 2);
 * console.log(budget.take("a"), budget.take("a"), budget.take("a")); // true true false
 * budget.give("a");
 * console.log(budget.take("b"), budget.take("b")); // true false (node full)
 * ```
 */
export class StreamBudget {
  readonly #perNode: number;
  readonly #perAddress: number;
  readonly #byAddress = new Map<string, number>();
  #open = 0;

  /** Bounds for the node and for each address. */
  constructor(perNode: number, perAddress: number) {
    this.#perNode = perNode;
    this.#perAddress = perAddress;
  }

  /** Streams open now on the whole node. */
  get open(): number {
    return this.#open;
  }

  /** Counts a new stream from `key`; false (nothing counted) when full. */
  take(key: string): boolean {
    const mine = this.#byAddress.get(key) ?? 0;
    if (this.#open >= this.#perNode || mine >= this.#perAddress) return false;
    this.#open++;
    this.#byAddress.set(key, mine + 1);
    return true;
  }

  /** A stream from `key` counted by {@link StreamBudget.take} ended. */
  give(key: string): void {
    const mine = this.#byAddress.get(key) ?? 0;
    if (mine === 0) return;
    this.#open--;
    if (mine === 1) this.#byAddress.delete(key);
    else this.#byAddress.set(key, mine - 1);
  }
}
