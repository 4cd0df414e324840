/**
 * The confirmed state of a chain (`docs/FORMAT.md`, section 8), with the
 * pool of transactions waiting on top of it (`tx_pool.ts`).
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
import { type Time, timeNow } from "./time.ts";
import { merkleRoot, ZERO_HASH } from "./merkle.ts";
import { type SigTx, txHash } from "./tx.ts";
import {
  type AccountView,
  accountView,
  applyTxTo,
  short,
  StateError,
} from "./tx_apply.ts";
import { TxPool, type TxPoolOptions } from "./tx_pool.ts";
import { messageOf } from "../util/errors.ts";

export { StateError } from "./tx_apply.ts";

/** Options of {@link State}: those of its transaction pool. */
export type StateOptions = TxPoolOptions;

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
 * import { Account, newGenesis, State } from "@bcn/bcn/chain";
 * const auth = Account.create();
 * const owner = Account.create();
 * const genesis = auth.signGenesis(newGenesis("demo", { authority: auth.address, balances: [[owner.address, 1000n]] }));
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
  readonly #verified = new WeakSet<SigTx>();
  readonly #pool: TxPool;

  /** A state holding only the genesis balances. */
  constructor(genesis: SigGenesis, options: StateOptions = {}) {
    this.genesis = genesis;
    this.genesisHash = genesisHash(genesis);
    this.#balances = new Map(genesis.balances);
    this.#lastHash = this.genesisHash;
    this.#pool = new TxPool(
      { balances: this.#balances, nonces: this.#nonces },
      this.#verified,
      options,
    );
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
    return pending ? this.#pool.balance(address) : this.#balances.get(address);
  }

  /** A confirmed (or, with `pending`, pending) nonce; 0 if none. */
  nonce(address: string, pending = false): bigint {
    return pending
      ? this.#pool.nonce(address)
      : this.#nonces.get(address) ?? 0n;
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
    if (this.#lastNumber !== 0n || this.#pool.pendingCount > 0) {
      throw new Error("restore() needs a new state");
    }
    this.#balances.clear();
    for (const [k, v] of confirmed.balances) this.#balances.set(k, v);
    this.#nonces.clear();
    for (const [k, v] of confirmed.nonces) this.#nonces.set(k, v);
    this.#lastNumber = confirmed.lastNumber;
    this.#lastHash = confirmed.lastHash;
    this.#lastBlock = confirmed.lastBlock;
    this.#pool.rebase();
  }

  /** The pending transactions, in arrival order. */
  pendingTxs(): SigTx[] {
    return [...this.#pool.pending().values()];
  }

  /** How many transactions are pending (without copying them). */
  get pendingCount(): number {
    return this.#pool.pendingCount;
  }

  /** Whether `hash` is a pending transaction. */
  hasPending(hash: string): boolean {
    return this.#pool.pending().has(hash);
  }

  /** The queued (future-nonce) transactions, oldest first. */
  queuedTxs(): SigTx[] {
    return this.#pool.queuedTxs();
  }

  /** Whether `hash` is a queued (future-nonce) transaction. */
  hasQueued(hash: string): boolean {
    return this.#pool.hasQueued(hash);
  }

  /**
   * The queued transactions that became pending since the last call (their
   * missing nonces arrived), in nonce order per sender: a node relays them
   * now, as it relays any new pending transaction. At most
   * `MAX_QUEUED_TXS` are kept for the taking.
   */
  takePromoted(): SigTx[] {
    return this.#pool.takePromoted();
  }

  /**
   * Validates a transaction against the pending state and keeps it pending,
   * or, when its nonce is ahead of the sender's pending nonce + 1 and the
   * sender has a confirmed balance, keeps it queued until the nonces before
   * it arrive ({@link hasQueued} tells which). Returns its hash; throws
   * {@link StateError} when it does not apply, is already known, or the pool
   * or queue has no room for it (see `tx_pool.ts`).
   */
  applyTx(tx: SigTx): string {
    return this.#pool.add(tx);
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
        fail(messageOf(e));
      }
    }
    ledger.balances.commitInto(this.#balances);
    ledger.nonces.commitInto(this.#nonces);
    this.#lastNumber = n;
    this.#lastHash = blockHash(block);
    this.#lastBlock = block;
    this.#pool.confirm(block.txs);
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
    const txs = this.#pool.blockTxs();
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
      addresses: Iterable<string>,
      b: { balance(a: string): bigint | undefined },
      n: (a: string) => bigint,
    ) =>
      [...addresses].sort().map((a) =>
        `acc ${short(a)}: ${String(b.balance(a)).padStart(27)} ${
          String(n(a)).padStart(8)
        }`
      );
    lines.push(
      ...accounts(this.#balances.keys(), this, (a) => this.nonce(a)),
    );
    lines.push("* Last block");
    const parent = this.#lastBlock?.parent ?? ZERO_HASH;
    lines.push(
      `blk ${String(this.#lastNumber).padStart(7)}: ${
        short(this.#lastHash)
      } -> ${short(parent)}`,
    );
    lines.push("* Pending balances and nonces");
    lines.push(
      ...accounts(
        this.#pool.addresses(),
        this.#pool,
        (a) => this.nonce(a, true),
      ),
    );
    if (this.#pool.pendingCount > 0) {
      lines.push("* Pending transactions");
      for (const [h, tx] of this.#pool.pending()) {
        lines.push(
          `tx  ${short(h)}: ${short(tx.from)} -> ${short(tx.to)} ${
            String(tx.value).padStart(8)
          } ${String(tx.nonce).padStart(8)}`,
        );
      }
    }
    return lines.join("\n") + "\n";
  }

  #confirmedLedger(): AccountView {
    return accountView(this.#balances, this.#nonces, this.#verified);
  }
}
