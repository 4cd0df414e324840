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
import { U64_MAX } from "./json.ts";
import { compareTime, type Time, timeNow } from "./time.ts";
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
interface AccountView {
  balances: Overlay;
  nonces: Overlay;
  /** Transactions whose signature already checked (values are immutable). */
  verified: WeakSet<SigTx>;
}

/** The most transactions the authority puts in one block. */
export const MAX_BLOCK_TXS = 1000;
/** The most transactions a node keeps pending. */
export const MAX_PENDING_TXS = 10_000;
/** The most pending transactions of one sender. */
export const MAX_PENDING_PER_SENDER = 2_000;
/**
 * The most pending transactions, all senders together, from senders without
 * a confirmed balance. A value-0 transfer from a never-seen account is valid
 * (FORMAT.md section 8), so fresh keys cost nothing: they get this small share
 * of the pool (half a block), never the room of funded accounts.
 */
export const MAX_UNFUNDED_PENDING_TXS = 500;
/** The most future-nonce (queued) transactions of one sender. */
export const MAX_QUEUED_PER_SENDER = 64;
/** The most queued transactions, all senders together. */
export const MAX_QUEUED_TXS = 1_024;
/** How long a queued transaction waits for the gap before it is dropped. */
export const QUEUED_TX_TTL_MS = 10 * 60_000;

/** Options of {@link State}. */
export interface StateOptions {
  /**
   * The clock that ages queued transactions, in ms; `performance.now` by
   * default, which a change of the wall clock does not move.
   */
  now?: () => number;
  /** How long a queued transaction is kept; {@link QUEUED_TX_TTL_MS} by default. */
  queuedTtlMs?: number;
}

/** A future-nonce transaction waiting for the nonces before it. */
interface QueuedTx {
  tx: SigTx;
  hash: string;
  /** When it arrived, by the state's clock. */
  at: number;
}

/**
 * Applies `tx` to `ledger` or throws {@link StateError}: the signature must
 * recover `from`, the nonce must be the next one, the balance must cover the
 * value, and the receiver's balance must stay within a u64.
 */
function applyTxTo(ledger: AccountView, tx: SigTx): void {
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
  readonly #pending = new Map<string, SigTx>();
  readonly #verified = new WeakSet<SigTx>();
  #pendingLedger: AccountView;
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

  /** A state holding only the genesis balances. */
  constructor(genesis: SigGenesis, options: StateOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#queuedTtlMs = options.queuedTtlMs ?? QUEUED_TX_TTL_MS;
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

  /** How many transactions are pending (without copying them). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Whether `hash` is a pending transaction. */
  hasPending(hash: string): boolean {
    return this.#pending.has(hash);
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
   * The queued transactions that became pending since the last call (their
   * missing nonces arrived), in nonce order per sender: a node relays them
   * now, as it relays any new pending transaction. At most
   * {@link MAX_QUEUED_TXS} are kept for the taking.
   */
  takePromoted(): SigTx[] {
    const promoted = this.#promoted;
    this.#promoted = [];
    return promoted;
  }

  /**
   * Validates a transaction against the pending state and keeps it pending,
   * or, when its nonce is ahead of the sender's pending nonce + 1 and the
   * sender has a confirmed balance, keeps it queued until the nonces before
   * it arrive ({@link hasQueued} tells which). Returns its hash; throws
   * {@link StateError} when it does not apply, is already known, or the pool
   * or queue has no room for it (see {@link MAX_PENDING_PER_SENDER} and
   * {@link MAX_UNFUNDED_PENDING_TXS}).
   */
  applyTx(tx: SigTx): string {
    const hash = txHash(tx);
    if (this.#pending.has(hash)) {
      throw new StateError(`tx ${hash}: already pending`);
    }
    this.#expireQueued();
    if (this.#queued.has(hash)) {
      throw new StateError(`tx ${hash}: already queued`);
    }
    const next = this.nonce(tx.from, true) + 1n;
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
    applyTxTo(this.#pendingLedger, tx);
    this.#addPending(hash, tx);
    this.#promote(tx.from);
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
    // The block may have filled the gaps of queued transactions.
    this.#expireQueued();
    for (const from of [...this.#queuedBySender.keys()]) this.#promote(from);
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

  #confirmedLedger(): AccountView {
    return {
      balances: new Overlay(this.#balances),
      nonces: new Overlay(this.#nonces),
      verified: this.#verified,
    };
  }

  // After a block the pending view is the new confirmed state plus the
  // pending transactions that still apply; the others are dropped. The
  // counts of the admission policy are taken again, since a block may have
  // funded a sender.
  #rebuildPending(): void {
    const ledger = this.#confirmedLedger();
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
    this.#pendingLedger = ledger;
  }

  /** Whether `address` has a confirmed balance above 0. */
  #funded(address: string): boolean {
    return (this.#balances.get(address) ?? 0n) > 0n;
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
      const next = this.nonce(from, true) + 1n;
      for (const [nonce, entry] of mine) {
        if (nonce < next) this.#unqueue(entry);
      }
      const entry = mine.get(next);
      if (!entry || this.#admission(entry.tx)) break;
      this.#unqueue(entry);
      try {
        applyTxTo(this.#pendingLedger, entry.tx);
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
