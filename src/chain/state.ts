/**
 * The confirmed and pending state of a chain (FORMAT.md section 8).
 *
 * Blocks are applied to a copy-on-write overlay and committed only when every
 * rule holds, so a rejected block leaves the state exactly as it was and a
 * block costs in proportion to its own size, never to the chain's.
 *
 * @module
 */
import type { Account } from "./account.ts";
import { blockHash, blockRoot, type SigBlock, verifyBlock } from "./block.ts";
import { genesisHash, type SigGenesis } from "./genesis.ts";
import { compareTime, type Time, timeNow, U64_MAX } from "./json.ts";
import { merkleRoot, ZERO_HASH } from "./merkle.ts";
import { type SigTx, txHash, verifyTx } from "./tx.ts";

/** A transaction or block that breaks a state rule; the message says which. */
export class StateError extends Error {
  /** Creates a state error with a one-line reason. */
  constructor(message: string) {
    super(message);
    this.name = "StateError";
  }
}

/** A map read through to `base`, with writes kept aside until committed. */
class Overlay {
  readonly #base: ReadonlyMap<string, bigint>;
  readonly writes = new Map<string, bigint>();

  constructor(base: ReadonlyMap<string, bigint>) {
    this.#base = base;
  }

  get(k: string): bigint | undefined {
    return this.writes.get(k) ?? this.#base.get(k);
  }

  has(k: string): boolean {
    return this.writes.has(k) || this.#base.has(k);
  }

  set(k: string, v: bigint): void {
    this.writes.set(k, v);
  }

  commitInto(target: Map<string, bigint>): void {
    for (const [k, v] of this.writes) target.set(k, v);
  }

  keys(): Set<string> {
    return new Set([...this.#base.keys(), ...this.writes.keys()]);
  }
}

/** Balances and nonces as seen through overlays. */
interface Ledger {
  balances: Overlay;
  nonces: Overlay;
  /** Transactions whose signature already checked (values are immutable). */
  verified: WeakSet<SigTx>;
}

/** The most transactions the authority puts in one block. */
export const MAX_BLOCK_TXS = 1000;
/** The most transactions a node keeps pending. */
export const MAX_PENDING_TXS = 10_000;

/**
 * Applies `tx` to `ledger` or throws {@link StateError}: the signature must
 * recover `from`, the nonce must be the next one, the balance must cover the
 * value, and the receiver's balance must stay within a u64.
 */
function applyTxTo(ledger: Ledger, tx: SigTx): void {
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
function short(s: string): string {
  return s.slice(0, 7);
}

/** The confirmed state in full: what a snapshot keeps. */
export interface ConfirmedState {
  /** The number of the last confirmed block; 0 before any. */
  readonly lastNumber: bigint;
  /** The identifier of the last confirmed block, or of the genesis. */
  readonly lastHash: string;
  /** The last confirmed block, if any. */
  readonly lastBlock?: SigBlock;
  /** Every confirmed balance. */
  readonly balances: ReadonlyMap<string, bigint>;
  /** Every confirmed nonce. */
  readonly nonces: ReadonlyMap<string, bigint>;
}

/**
 * Confirmed state (genesis plus confirmed blocks) and pending state
 * (confirmed plus pending transactions).
 *
 * Transactions and blocks are values: a state remembers which transaction
 * objects it has verified, so do not mutate one after handing it over.
 *
 * @example
 * ```ts
 * import { Account, newGenesis, State } from "../../mod.ts";
 * const auth = Account.create();
 * const owner = Account.create();
 * const genesis = auth.signGenesis(newGenesis("demo", auth.address, owner.address, 1000n));
 * const state = new State(genesis);
 * state.balance(owner.address); // 1000n
 * ```
 */
export class State {
  /** The genesis this state starts from. */
  readonly genesis: SigGenesis;
  /** The genesis identifier. */
  readonly genesisHash: string;
  readonly #balances: Map<string, bigint>;
  readonly #nonces = new Map<string, bigint>();
  #lastNumber = 0n;
  #lastHash: string;
  #lastBlock: SigBlock | undefined;
  readonly #pending = new Map<string, SigTx>();
  readonly #verified = new WeakSet<SigTx>();
  #pendingLedger: Ledger;

  /** A state holding only the genesis balances. */
  constructor(genesis: SigGenesis) {
    this.genesis = genesis;
    this.genesisHash = genesisHash(genesis);
    this.#balances = new Map(genesis.balances);
    this.#lastHash = this.genesisHash;
    this.#pendingLedger = this.#confirmedLedger();
  }

  /** The authority whose signature every block needs. */
  get authority(): string {
    return this.genesis.authority;
  }

  /** The number of the last confirmed block; 0 before any. */
  get lastNumber(): bigint {
    return this.#lastNumber;
  }

  /** The identifier of the last confirmed block, or of the genesis. */
  get lastHash(): string {
    return this.#lastHash;
  }

  /** The last confirmed block, if any. */
  get lastBlock(): SigBlock | undefined {
    return this.#lastBlock;
  }

  /** A confirmed (or, with `pending`, pending) balance; undefined if none. */
  balance(address: string, pending = false): bigint | undefined {
    return pending
      ? this.#pendingLedger.balances.get(address)
      : this.#balances.get(address);
  }

  /** A confirmed (or, with `pending`, pending) nonce; 0 if none. */
  nonce(address: string, pending = false): bigint {
    return (pending
      ? this.#pendingLedger.nonces.get(address)
      : this.#nonces.get(address)) ?? 0n;
  }

  /**
   * The confirmed state, as live read-only views (not copies): read it
   * before the next change.
   */
  confirmed(): ConfirmedState {
    return {
      lastNumber: this.#lastNumber,
      lastHash: this.#lastHash,
      lastBlock: this.#lastBlock,
      balances: this.#balances,
      nonces: this.#nonces,
    };
  }

  /**
   * Starts a new state (no block, nothing pending) from a confirmed state
   * kept by a snapshot instead of from the genesis alone. The caller has
   * checked the snapshot against its store.
   */
  restore(confirmed: ConfirmedState): void {
    if (this.#lastNumber !== 0n || this.#pending.size > 0) {
      throw new Error("restore() needs a new state");
    }
    this.#balances.clear();
    for (const [k, v] of confirmed.balances) this.#balances.set(k, v);
    this.#nonces.clear();
    for (const [k, v] of confirmed.nonces) this.#nonces.set(k, v);
    this.#lastNumber = confirmed.lastNumber;
    this.#lastHash = confirmed.lastHash;
    this.#lastBlock = confirmed.lastBlock;
    this.#pendingLedger = this.#confirmedLedger();
  }

  /** The pending transactions, in arrival order. */
  pendingTxs(): SigTx[] {
    return [...this.#pending.values()];
  }

  /** Whether `hash` is a pending transaction. */
  hasPending(hash: string): boolean {
    return this.#pending.has(hash);
  }

  /**
   * Validates a transaction against the pending state and keeps it pending.
   * Returns its hash; throws {@link StateError} when it does not apply or is
   * already pending.
   */
  applyTx(tx: SigTx): string {
    const hash = txHash(tx);
    if (this.#pending.has(hash)) {
      throw new StateError(`tx ${hash}: already pending`);
    }
    if (this.#pending.size >= MAX_PENDING_TXS) {
      throw new StateError(
        `tx ${hash}: too many pending transactions (${MAX_PENDING_TXS}); try again later`,
      );
    }
    applyTxTo(this.#pendingLedger, tx);
    this.#pending.set(hash, tx);
    return hash;
  }

  /**
   * Applies a confirmed block: checks the authority's signature, the number,
   * the parent, the Merkle root and every transaction, then commits all of it
   * or, on any failure, nothing. Throws {@link StateError}.
   */
  applyBlock(block: SigBlock): void {
    const n = block.number;
    const fail = (why: string): never => {
      throw new StateError(`block ${n}: ${why}`);
    };
    if (!verifyBlock(block, this.authority)) {
      fail(`invalid signature: not signed by the authority ${this.authority}`);
    }
    if (n !== this.#lastNumber + 1n) {
      fail(`wrong number: expected ${this.#lastNumber + 1n}`);
    }
    if (block.parent !== this.#lastHash) {
      fail(`wrong parent: expected ${this.#lastHash}, got ${block.parent}`);
    }
    if (block.txs.length === 0) fail("no transactions");
    const root = blockRoot(block);
    if (root !== block.merkleRoot) {
      fail(`wrong Merkle root: expected ${root}, got ${block.merkleRoot}`);
    }
    const ledger = this.#confirmedLedger();
    for (const tx of block.txs) {
      try {
        applyTxTo(ledger, tx);
      } catch (e) {
        fail((e as Error).message);
      }
    }
    ledger.balances.commitInto(this.#balances);
    ledger.nonces.commitInto(this.#nonces);
    this.#lastNumber = n;
    this.#lastHash = blockHash(block);
    this.#lastBlock = block;
    for (const tx of block.txs) this.#pending.delete(txHash(tx));
    this.#rebuildPending();
  }

  /**
   * Builds and signs the next block from the pending transactions, earliest
   * first, leaving out those that do not apply. Returns undefined when none
   * applies. The state is not changed: apply the block to confirm it.
   */
  createBlock(
    authority: Account,
    time: Time = timeNow(),
  ): SigBlock | undefined {
    const ledger = this.#confirmedLedger();
    const txs: SigTx[] = [];
    const sorted = [...this.#pending.values()].sort((a, b) =>
      compareTime(a.time, b.time)
    );
    for (const tx of sorted) {
      if (txs.length >= MAX_BLOCK_TXS) break;
      try {
        applyTxTo(ledger, tx);
        txs.push(tx);
      } catch {
        // Left out: it may apply once an earlier transaction arrives.
      }
    }
    if (txs.length === 0) return undefined;
    return authority.signBlock({
      number: this.#lastNumber + 1n,
      parent: this.#lastHash,
      txs,
      merkleRoot: merkleRoot(txs.map(txHash)),
      time,
    });
  }

  /** The state in the reference's text layout, as `bcn node start` prints. */
  toString(): string {
    const lines = ["* Balances and nonces"];
    const accounts = (
      b: Overlay | Map<string, bigint>,
      n: (a: string) => bigint,
    ) =>
      [...b.keys()].sort().map((a) =>
        `acc ${short(a)}: ${String(b.get(a)).padStart(27)} ${
          String(n(a)).padStart(8)
        }`
      );
    lines.push(...accounts(this.#balances, (a) => this.nonce(a)));
    lines.push("* Last block");
    const parent = this.#lastBlock?.parent ?? ZERO_HASH;
    lines.push(
      `blk ${String(this.#lastNumber).padStart(7)}: ${
        short(this.#lastHash)
      } -> ${short(parent)}`,
    );
    lines.push("* Pending balances and nonces");
    lines.push(
      ...accounts(this.#pendingLedger.balances, (a) => this.nonce(a, true)),
    );
    if (this.#pending.size > 0) {
      lines.push("* Pending transactions");
      for (const [h, tx] of this.#pending) {
        lines.push(
          `tx  ${short(h)}: ${short(tx.from)} -> ${short(tx.to)} ${
            String(tx.value).padStart(8)
          } ${String(tx.nonce).padStart(8)}`,
        );
      }
    }
    return lines.join("\n") + "\n";
  }

  #confirmedLedger(): Ledger {
    return {
      balances: new Overlay(this.#balances),
      nonces: new Overlay(this.#nonces),
      verified: this.#verified,
    };
  }

  // After a block the pending view is the new confirmed state plus the
  // pending transactions that still apply; the others are dropped.
  #rebuildPending(): void {
    const ledger = this.#confirmedLedger();
    for (const [h, tx] of this.#pending) {
      try {
        applyTxTo(ledger, tx);
      } catch {
        this.#pending.delete(h);
      }
    }
    this.#pendingLedger = ledger;
  }
}
