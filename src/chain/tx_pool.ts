/**
 * The transaction pool: pending transactions (applied on top of the
 * confirmed state), queued ones (future nonces waiting for a gap), the
 * admission policy that bounds both, and the choice of a block's
 * transactions. The confirmed state (`state.ts`) owns one and tells it of
 * each confirmed block.
 *
 * @module
 */
import { compareTime, type Time } from "./time.ts";
import { type SigTx, txHash, verifyTx } from "./tx.ts";
import {
  type AccountView,
  accountView,
  applyTxTo,
  short,
  StateError,
} from "./tx_apply.ts";

/** The most transactions the authority puts in one block. */
export const MAX_BLOCK_TXS = 1000;
/** The most transactions a node keeps pending. */
export const MAX_PENDING_TXS = 10_000;
/** The most pending transactions of one sender. */
export const MAX_PENDING_PER_SENDER = 2_000;
/**
 * The most pending transactions, all senders together, from senders without
 * a confirmed balance. A value-0 transfer from a never-seen account is valid
 * (`docs/FORMAT.md`, section 8), so fresh keys cost nothing: they get this
 * small share of the pool (half a block), never the room of funded accounts.
 */
export const MAX_UNFUNDED_PENDING_TXS = 500;
/** The most future-nonce (queued) transactions of one sender. */
export const MAX_QUEUED_PER_SENDER = 64;
/** The most queued transactions, all senders together. */
export const MAX_QUEUED_TXS = 1_024;
/** How long a queued transaction waits for the gap before it is dropped. */
export const QUEUED_TX_TTL_MS = 10 * 60_000;

/** Options of {@link TxPool}. */
export interface TxPoolOptions {
  /**
   * The clock that ages queued transactions, in ms; `performance.now` by
   * default, which a change of the wall clock does not move.
   */
  now?: () => number;
  /** How long a queued transaction is kept; {@link QUEUED_TX_TTL_MS} by default. */
  queuedTtlMs?: number;
}

/** The confirmed balances and nonces a pool builds on (live, read-only). */
export interface ConfirmedAccounts {
  /** Every confirmed balance. */
  readonly balances: ReadonlyMap<string, bigint>;
  /** Every confirmed nonce. */
  readonly nonces: ReadonlyMap<string, bigint>;
}

/** A future-nonce transaction waiting for the nonces before it. */
interface QueuedTx {
  tx: SigTx;
  hash: string;
  /** When it arrived, by the pool's clock. */
  at: number;
}

/**
 * Pending and queued transactions over a confirmed state.
 *
 * @example
 * ```ts
 * import { Account, timeNow } from "@bcn/bcn/chain";
 * import { TxPool } from "./tx_pool.ts";
 *
 * const owner = Account.create();
 * const confirmed = {
 *   balances: new Map([[owner.address, 10n]]),
 *   nonces: new Map<string, bigint>(),
 * };
 * const pool = new TxPool(confirmed, new WeakSet());
 * pool.add(owner.signTx({ from: owner.address, to: owner.address, value: 1n, nonce: 1n, time: timeNow() }));
 * console.log(pool.pendingCount, pool.nonce(owner.address)); // 1 1n
 * ```
 */
export class TxPool {
  readonly #confirmed: ConfirmedAccounts;
  readonly #verified: WeakSet<SigTx>;
  readonly #pending = new Map<string, SigTx>();
  /** The confirmed state plus the pending transactions. */
  #view: AccountView;
  /** Pending transactions per sender. */
  #pendingBySender = new Map<string, number>();
  /** Pending transactions whose sender has no confirmed balance. */
  #unfundedPending = 0;
  /** Queued transactions by hash, in arrival order (so oldest first). */
  readonly #queued = new Map<string, QueuedTx>();
  /** Queued transactions per sender, by nonce. */
  readonly #queuedBySender = new Map<string, Map<bigint, QueuedTx>>();
  /** Queued transactions that became pending and are not yet taken. */
  #promoted: SigTx[] = [];
  readonly #now: () => number;
  readonly #queuedTtlMs: number;

  /**
   * An empty pool over `confirmed`, sharing `verified` (the transactions
   * whose signature checked) with whoever applies blocks.
   */
  constructor(
    confirmed: ConfirmedAccounts,
    verified: WeakSet<SigTx>,
    options: TxPoolOptions = {},
  ) {
    this.#confirmed = confirmed;
    this.#verified = verified;
    this.#now = options.now ?? (() => performance.now());
    this.#queuedTtlMs = options.queuedTtlMs ?? QUEUED_TX_TTL_MS;
    this.#view = this.#confirmedView();
  }

  /** A pending balance; undefined if none. */
  balance(address: string): bigint | undefined {
    return this.#view.balances.get(address);
  }

  /** A pending nonce; 0 if none. */
  nonce(address: string): bigint {
    return this.#view.nonces.get(address) ?? 0n;
  }

  /** Every address with a pending balance. */
  addresses(): Set<string> {
    return this.#view.balances.keys();
  }

  /** The pending transactions by hash, in arrival order (a live view). */
  pending(): ReadonlyMap<string, SigTx> {
    return this.#pending;
  }

  /** How many transactions are pending (without copying them). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** The queued (future-nonce) transactions, oldest first. */
  queuedTxs(): SigTx[] {
    this.#expireQueued();
    return [...this.#queued.values()].map((q) => q.tx);
  }

  /** Whether `hash` is a queued (future-nonce) transaction. */
  hasQueued(hash: string): boolean {
    this.#expireQueued();
    return this.#queued.has(hash);
  }

  /**
   * The queued transactions that became pending since the last call, in
   * nonce order per sender; at most {@link MAX_QUEUED_TXS} are kept.
   */
  takePromoted(): SigTx[] {
    const promoted = this.#promoted;
    this.#promoted = [];
    return promoted;
  }

  /**
   * Keeps a transaction pending, or queued when its nonce is ahead and its
   * sender funded; returns its hash or throws {@link StateError}.
   */
  add(tx: SigTx): string {
    const hash = txHash(tx);
    if (this.#pending.has(hash)) {
      throw new StateError(`tx ${hash}: already pending`);
    }
    this.#expireQueued();
    if (this.#queued.has(hash)) {
      throw new StateError(`tx ${hash}: already queued`);
    }
    const next = this.nonce(tx.from) + 1n;
    if (tx.nonce > next) {
      this.#queue(tx, hash, next);
      return hash;
    }
    if (tx.nonce < next) {
      throw new StateError(
        `tx ${hash}: wrong nonce: expected ${next}, got ${tx.nonce}`,
      );
    }
    const full = this.#admission(tx);
    if (full) throw new StateError(`tx ${hash}: ${full}`);
    applyTxTo(this.#view, tx);
    this.#addPending(hash, tx);
    this.#promote(tx.from);
    return hash;
  }

  /**
   * After a confirmed block (already in the confirmed state): its
   * transactions leave the pool, the rest is applied again (those that no
   * longer apply are dropped), and queued transactions whose gap the block
   * filled become pending.
   */
  confirm(txs: readonly SigTx[]): void {
    for (const tx of txs) this.#pending.delete(txHash(tx));
    this.#rebuildPending();
    this.#expireQueued();
    for (const from of [...this.#queuedBySender.keys()]) this.#promote(from);
  }

  /** After the confirmed state was replaced: the pending view starts over. */
  rebase(): void {
    this.#view = this.#confirmedView();
  }

  /**
   * The transactions of the next block: the pending ones in proposal order,
   * leaving out those that do not apply on the confirmed state, at most
   * {@link MAX_BLOCK_TXS}.
   */
  blockTxs(): SigTx[] {
    const ledger = this.#confirmedView();
    const order = proposalOrder(this.#pending.values());
    // When the pool holds more than a block, each sender first gets an equal
    // share, so one sender (who picks its transactions' times) cannot fill
    // every block; the rest of the room then goes in order. A sender's later
    // nonces only ever follow its earlier ones, so the block stays valid.
    const share = order.length > MAX_BLOCK_TXS
      ? Math.max(
        1,
        Math.floor(MAX_BLOCK_TXS / new Set(order.map((t) => t.from)).size),
      )
      : Infinity;
    const txs: SigTx[] = [];
    const taken = new Map<string, number>();
    const deferred: SigTx[] = [];
    const tryAdd = (tx: SigTx): void => {
      try {
        applyTxTo(ledger, tx);
        txs.push(tx);
        taken.set(tx.from, (taken.get(tx.from) ?? 0) + 1);
      } catch {
        // Left out: it may apply once an earlier transaction arrives.
      }
    };
    for (const tx of order) {
      if (txs.length >= MAX_BLOCK_TXS) break;
      if ((taken.get(tx.from) ?? 0) >= share) deferred.push(tx);
      else tryAdd(tx);
    }
    for (const tx of deferred) {
      if (txs.length >= MAX_BLOCK_TXS) break;
      tryAdd(tx);
    }
    return txs;
  }

  #confirmedView(): AccountView {
    return accountView(
      this.#confirmed.balances,
      this.#confirmed.nonces,
      this.#verified,
    );
  }

  // After a block the pending view is the new confirmed state plus the
  // pending transactions that still apply; the others are dropped. The
  // counts of the admission policy are taken again, since a block may have
  // funded a sender.
  #rebuildPending(): void {
    const ledger = this.#confirmedView();
    this.#pendingBySender = new Map();
    this.#unfundedPending = 0;
    for (const [h, tx] of this.#pending) {
      try {
        applyTxTo(ledger, tx);
        this.#count(tx.from, 1);
      } catch {
        this.#pending.delete(h);
      }
    }
    this.#view = ledger;
  }

  /** Whether `address` has a confirmed balance above 0. */
  #funded(address: string): boolean {
    return (this.#confirmed.balances.get(address) ?? 0n) > 0n;
  }

  #count(from: string, delta: number): void {
    this.#pendingBySender.set(
      from,
      (this.#pendingBySender.get(from) ?? 0) + delta,
    );
    if (!this.#funded(from)) this.#unfundedPending += delta;
  }

  #addPending(hash: string, tx: SigTx): void {
    this.#pending.set(hash, tx);
    this.#count(tx.from, 1);
  }

  /**
   * Why the pool has no room for `tx` (the admission policy), or undefined.
   * Checked before the signature, so a flood is turned away cheaply.
   */
  #admission(tx: SigTx): string | undefined {
    if (this.#pending.size >= MAX_PENDING_TXS) {
      return `too many pending transactions (${MAX_PENDING_TXS}); try again later`;
    }
    if ((this.#pendingBySender.get(tx.from) ?? 0) >= MAX_PENDING_PER_SENDER) {
      return `too many pending transactions from ${
        short(tx.from)
      } (${MAX_PENDING_PER_SENDER}); try again later`;
    }
    if (
      !this.#funded(tx.from) &&
      this.#unfundedPending >= MAX_UNFUNDED_PENDING_TXS
    ) {
      return `too many pending transactions from accounts without balance (${MAX_UNFUNDED_PENDING_TXS}); try again later`;
    }
    return undefined;
  }

  // Keeps a future-nonce transaction until the nonces before it arrive.
  // Only senders with a confirmed balance may queue (fresh keys cost
  // nothing), at most MAX_QUEUED_PER_SENDER nonces ahead, and the queue is
  // bounded in total; the signature is checked before anything is kept.
  #queue(tx: SigTx, hash: string, next: bigint): void {
    const wrong = `tx ${hash}: wrong nonce: expected ${next}, got ${tx.nonce}`;
    if (!this.#funded(tx.from)) {
      throw new StateError(
        `${wrong} (future transactions are queued only for accounts with a balance)`,
      );
    }
    // `next` itself goes pending, so next + 1 .. next + MAX are queued.
    const last = next + BigInt(MAX_QUEUED_PER_SENDER);
    if (tx.nonce > last) {
      throw new StateError(
        `${wrong} (at most ${MAX_QUEUED_PER_SENDER} nonces ahead are queued)`,
      );
    }
    const mine = this.#queuedBySender.get(tx.from);
    if (mine?.has(tx.nonce)) {
      throw new StateError(
        `tx ${hash}: nonce ${tx.nonce} of ${short(tx.from)} is already queued`,
      );
    }
    if (this.#queued.size >= MAX_QUEUED_TXS) {
      throw new StateError(
        `${wrong}; the queue of future transactions is full (${MAX_QUEUED_TXS}); try again later`,
      );
    }
    if (!this.#verified.has(tx) && !verifyTx(tx)) {
      throw new StateError(
        `tx ${hash}: invalid signature: not signed by ${tx.from}`,
      );
    }
    this.#verified.add(tx);
    const entry = { tx, hash, at: this.#now() };
    this.#queued.set(hash, entry);
    if (mine) mine.set(tx.nonce, entry);
    else this.#queuedBySender.set(tx.from, new Map([[tx.nonce, entry]]));
  }

  #unqueue(entry: QueuedTx): void {
    this.#queued.delete(entry.hash);
    const mine = this.#queuedBySender.get(entry.tx.from);
    mine?.delete(entry.tx.nonce);
    if (mine?.size === 0) this.#queuedBySender.delete(entry.tx.from);
  }

  // Moves the queued transactions of `from` that are now next into the
  // pending set, in nonce order. Those behind the pending nonce are gone
  // (another transaction took their nonce); one that does not apply (no
  // funds) is dropped; a full pool leaves the rest queued.
  #promote(from: string): void {
    const mine = this.#queuedBySender.get(from);
    if (!mine) return;
    for (;;) {
      const next = this.nonce(from) + 1n;
      for (const [nonce, entry] of mine) {
        if (nonce < next) this.#unqueue(entry);
      }
      const entry = mine.get(next);
      if (!entry || this.#admission(entry.tx)) break;
      this.#unqueue(entry);
      try {
        applyTxTo(this.#view, entry.tx);
      } catch {
        break;
      }
      this.#addPending(entry.hash, entry.tx);
      this.#promoted.push(entry.tx);
      if (this.#promoted.length > MAX_QUEUED_TXS) this.#promoted.shift();
    }
  }

  // Drops the queued transactions older than the time to live, oldest
  // first: the map keeps arrival order.
  #expireQueued(): void {
    const oldest = this.#now() - this.#queuedTtlMs;
    for (const entry of this.#queued.values()) {
      if (entry.at > oldest) break;
      this.#unqueue(entry);
    }
  }
}

/**
 * The pending transactions in the order the authority tries them: earliest
 * time first, but never a sender's nonce before its previous one (a later
 * nonce signed at an earlier time waits for it), so a block holds every
 * transaction that can apply. Ties go by sender and nonce.
 */
function proposalOrder(pending: Iterable<SigTx>): SigTx[] {
  const bySender = new Map<string, SigTx[]>();
  for (const tx of pending) {
    const list = bySender.get(tx.from);
    if (list) list.push(tx);
    else bySender.set(tx.from, [tx]);
  }
  const keyed: { tx: SigTx; at: Time }[] = [];
  for (const list of bySender.values()) {
    list.sort((a, b) => a.nonce < b.nonce ? -1 : a.nonce > b.nonce ? 1 : 0);
    let at = list[0].time;
    for (const tx of list) {
      if (compareTime(tx.time, at) > 0) at = tx.time;
      keyed.push({ tx, at });
    }
  }
  keyed.sort((a, b) =>
    compareTime(a.at, b.at) ||
    (a.tx.from < b.tx.from ? -1 : a.tx.from > b.tx.from ? 1 : 0) ||
    (a.tx.nonce < b.tx.nonce ? -1 : a.tx.nonce > b.tx.nonce ? 1 : 0)
  );
  return keyed.map((k) => k.tx);
}
