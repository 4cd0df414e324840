/**
 * Shares of a node-wide resource (open HTTP/2 streams, bytes of request
 * bodies being received) with a bound for the node and one per remote
 * address: a stream or a body may hold a handler, a store file and
 * buffers, so the node bounds them across connections, not only per
 * connection, and one address cannot take the whole node's share.
 *
 * @module
 */

/** Which bound refused a {@link SharedBudget.take}: the address's or the node's. */
export type BudgetRefusal = "address" | "node";

/**
 * Amounts taken per key, bounded in all and per key, with part of the
 * node's bound kept for preferred keys.
 *
 * @example
 * ```ts
 * import { SharedBudget } from "./shared_budget.ts";
 * const budget = new SharedBudget(3, 2);
 * console.log(budget.take("a"), budget.take("a"), budget.take("a")); // undefined undefined "address"
 * budget.give("a");
 * console.log(budget.take("b"), budget.take("b")); // undefined "node"
 * ```
 */
export class SharedBudget {
  readonly #perNode: number;
  readonly #perAddress: number;
  readonly #reserved: number;
  readonly #byAddress = new Map<string, number>();
  #used = 0;

  /**
   * Bounds for the node and for each address; `reserved` of the node's
   * bound is taken by preferred keys only.
   */
  constructor(perNode: number, perAddress: number, reserved = 0) {
    this.#perNode = perNode;
    this.#perAddress = perAddress;
    this.#reserved = Math.min(reserved, perNode);
  }

  /** What is taken now on the whole node. */
  get used(): number {
    return this.#used;
  }

  /**
   * Takes `amount` for `key` (`preferred` may use the reserved part):
   * undefined when taken, else which bound refused it (and nothing is
   * taken).
   */
  take(key: string, amount = 1, preferred = false): BudgetRefusal | undefined {
    const mine = this.#byAddress.get(key) ?? 0;
    if (mine + amount > this.#perAddress) return "address";
    const bound = preferred ? this.#perNode : this.#perNode - this.#reserved;
    if (this.#used + amount > bound) return "node";
    this.#used += amount;
    this.#byAddress.set(key, mine + amount);
    return undefined;
  }

  /** Gives back `amount` taken by `key` (never more than it holds). */
  give(key: string, amount = 1): void {
    const mine = this.#byAddress.get(key) ?? 0;
    const back = Math.min(mine, amount);
    this.#used -= back;
    if (mine - back === 0) this.#byAddress.delete(key);
    else this.#byAddress.set(key, mine - back);
  }
}
