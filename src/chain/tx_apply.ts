/**
 * The rules a transaction must pass against balances and nonces, and the
 * copy-on-write view it is applied to: shared by the confirmed state (a
 * block) and the transaction pool (a pending transaction), so both apply
 * a transaction the same way and a rejection leaves the view untouched.
 *
 * @module
 */
import { U64_MAX } from "./json.ts";
import { type SigTx, txHash, verifyTx } from "./tx.ts";

/**
 * A transaction or block that breaks a state rule; the message says which.
 *
 * @example
 * ```ts
 * import { StateError } from "./tx_apply.ts";
 *
 * const err = new StateError("block 2: no transactions");
 * console.log(err.name, err.message); // StateError block 2: no transactions
 * ```
 */
export class StateError extends Error {
  /** Creates a state error with a one-line reason. */
  constructor(message: string) {
    super(message);
    this.name = "StateError";
  }
}

/** A map read through to `base`, with writes kept aside until committed. */
export class Overlay {
  readonly #base: ReadonlyMap<string, bigint>;
  /** The values written over the base. */
  readonly writes: Map<string, bigint> = new Map();

  /** A view of `base` with no writes yet. */
  constructor(base: ReadonlyMap<string, bigint>) {
    this.#base = base;
  }

  /** The written value, else the base's. */
  get(k: string): bigint | undefined {
    return this.writes.get(k) ?? this.#base.get(k);
  }

  /** Whether the key has a value here or in the base. */
  has(k: string): boolean {
    return this.writes.has(k) || this.#base.has(k);
  }

  /** Writes a value over the base. */
  set(k: string, v: bigint): void {
    this.writes.set(k, v);
  }

  /** Copies the writes into `target`. */
  commitInto(target: Map<string, bigint>): void {
    for (const [k, v] of this.writes) target.set(k, v);
  }

  /** Every key, of the base and the writes. */
  keys(): Set<string> {
    return new Set([...this.#base.keys(), ...this.writes.keys()]);
  }
}

/** Balances and nonces as seen through overlays. */
export interface AccountView {
  /** Balances by address. */
  balances: Overlay;
  /** Nonces by address. */
  nonces: Overlay;
  /** Transactions whose signature already checked (values are immutable). */
  verified: WeakSet<SigTx>;
}

/**
 * A fresh view of confirmed balances and nonces, with the set of
 * transactions already verified.
 */
export function accountView(
  balances: ReadonlyMap<string, bigint>,
  nonces: ReadonlyMap<string, bigint>,
  verified: WeakSet<SigTx>,
): AccountView {
  return {
    balances: new Overlay(balances),
    nonces: new Overlay(nonces),
    verified,
  };
}

/**
 * Applies `tx` to `ledger` or throws {@link StateError}: the signature must
 * recover `from`, the nonce must be the next one, the balance must cover the
 * value, and the receiver's balance must stay within a u64.
 */
export function applyTxTo(ledger: AccountView, tx: SigTx): void {
  // Recovering a signer is the costly part: a pending transaction is
  // checked once, not again when it is proposed, confirmed or re-applied.
  if (!ledger.verified.has(tx) && !verifyTx(tx)) {
    throw new StateError(
      `tx ${txHash(tx)}: invalid signature: not signed by ${tx.from}`,
    );
  }
  const nonce = ledger.nonces.get(tx.from) ?? 0n;
  if (tx.nonce !== nonce + 1n) {
    throw new StateError(
      `tx ${txHash(tx)}: wrong nonce: expected ${nonce + 1n}, got ${tx.nonce}`,
    );
  }
  const from = ledger.balances.get(tx.from) ?? 0n;
  if (from < tx.value) {
    throw new StateError(
      `tx ${
        txHash(tx)
      }: insufficient funds: balance ${from} < value ${tx.value}`,
    );
  }
  // Check everything before writing, so a rejected transaction leaves the
  // ledger untouched.
  const to = tx.to === tx.from
    ? from - tx.value
    : ledger.balances.get(tx.to) ?? 0n;
  if (to + tx.value > U64_MAX) {
    throw new StateError(
      `tx ${txHash(tx)}: balance of ${tx.to} would overflow`,
    );
  }
  ledger.verified.add(tx);
  ledger.balances.set(tx.from, from - tx.value);
  ledger.balances.set(tx.to, to + tx.value);
  ledger.nonces.set(tx.from, tx.nonce);
}

/** Shortens a hash or address to 7 characters for display. */
export function short(s: string): string {
  return s.slice(0, 7);
}
