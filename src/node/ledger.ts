/**
 * The node's single writer of chain data: every transaction and block that
 * reaches the node (from a client, a relay, the proposer or a catch-up sync)
 * goes through here, so the state and the block store change in one order.
 *
 * Blocks of a catch-up are appended in groups, with one flush per group
 * (bounded by count, bytes and time); a block is relayed, published and
 * reported as confirmed only once it is durable.
 *
 * @module
 */
import type { Account } from "../chain/account.ts";
import { blockEvent, type Event, txEvent } from "../chain/event.ts";
import {
  blockBytes,
  blockFacts,
  primeBlock,
  type SigBlock,
} from "../chain/block.ts";
import type { State } from "../chain/state.ts";
import { primeTx, type SigTx, txBytes, txHash, txSigner } from "../chain/tx.ts";
import type { AccountLedger } from "../rpc/account_service.ts";
import type { BlockLedger } from "../rpc/block_service.ts";
import { messageOf } from "../util/errors.ts";
import type { TxLedger } from "../rpc/tx_service.ts";
import type { BlockStore } from "../store/block_store.ts";
import { SyncError } from "./sync_error.ts";
import { writeSnapshot } from "./snapshot.ts";
import type { VerifyPool } from "./verify/pool.ts";

/** What happened to a block offered to {@link Ledger.receiveBlock}. */
export type BlockOutcome = "applied" | "known" | "ahead" | "rejected";

/** Hooks through which the ledger tells the rest of the node what changed. */
export interface LedgerHooks {
  /**
   * A new transaction entered the pending set: relay it, but not back to
   * `origin`, the peer it came from (`undefined` when unknown or local).
   */
  onTx?: (tx: SigTx, origin?: string) => void;
  /**
   * A transaction was accepted, pending or queued (its sender's earlier
   * nonces missing): keep it, e.g. on disk. Called before it is relayed.
   * {@link Ledger.submitTx} and {@link Ledger.offerTx} resolve only once
   * the promise it returns, if any, settles (so a client is answered with
   * the hash once the transaction is kept); later transactions are not
   * held up meanwhile.
   */
  onAccepted?: (tx: SigTx) => void | Promise<void>;
  /**
   * A new block was confirmed here: relay it, but not back to `origin`, the
   * peer it came from (`undefined` when unknown or proposed here).
   */
  onBlock?: (block: SigBlock, origin?: string) => void;
  /**
   * `block` was applied to the state in `seconds` (for metrics); the state
   * is at that block during the call (for checkpoints).
   */
  onApplied?: (seconds: number, block: SigBlock) => void;
  /** An event for subscribers. */
  onEvent?: (event: Event) => void;
  /** A block beyond the next one arrived: this node is behind. */
  onBehind?: (number: bigint) => void;
  /** Progress and problems. */
  log?: (message: string) => void;
  /**
   * The store could not take a block the state already holds: the node must
   * stop (a restart replays the store and syncs the rest from peers).
   */
  onFatal?: (error: Error) => void;
}

/** The hooks, group-commit bounds, snapshots and verification pool. */
export interface LedgerOptions extends LedgerHooks {
  /** The most blocks appended with one flush; 256 by default. */
  maxBlocks?: number;
  /** The most bytes appended with one flush; 8 MiB by default. */
  maxBytes?: number;
  /** The longest a block waits for its flush, in ms; 200 by default. */
  maxDelayMs?: number;
  /**
   * Write a snapshot of the confirmed state after this many new durable
   * blocks; 0 (the default) only when {@link Ledger.snapshot} is called.
   */
  snapshotEvery?: number;
  /**
   * Verifies transactions ({@link Ledger.submitTx}, {@link Ledger.offerTx})
   * off the main thread; without it they are verified in place.
   */
  pool?: VerifyPool;
}

/** Options of {@link Ledger.commitBlock}. */
export interface CommitOptions {
  /**
   * More blocks follow at once (a catch-up): the block may wait, within the
   * group-commit bounds, to be appended with the next ones; call
   * {@link Ledger.flush} after the last. By default it is durable (and
   * announced) before the call resolves.
   */
  group?: boolean;
  /** The peer it was synced from: it is not relayed back there. */
  origin?: string;
}

/**
 * Appends blocks the state already holds; a failure is fatal (retrying
 * would leave a gap in the store), so it is never taken for a peer's fault.
 */
async function appendOrFail(
  store: BlockStore,
  blocks: readonly SigBlock[],
): Promise<void> {
  try {
    await store.appendLines(blocks.map(blockBytes));
  } catch (e) {
    const first = blocks[0].number;
    const last = blocks[blocks.length - 1].number;
    throw new SyncError(
      `cannot append block ${first}${
        last === first ? "" : `-${last}`
      } to the block store: ${messageOf(e)}`,
      { fatal: true },
    );
  }
}

/**
 * The state and block store of a running node, with one lock around every
 * change so blocks are applied and appended strictly in order.
 *
 * @example
 * ```ts
 * import { Ledger } from "./ledger.ts";
 * import { State } from "../chain/state.ts";
 * import { BlockStore } from "../store/block_store.ts";
 * import type { SigGenesis } from "../chain/genesis.ts";
 * async function open(genesis: SigGenesis, dir: string): Promise<Ledger> {
 *   return new Ledger(new State(genesis), await BlockStore.open(dir));
 * }
 * ```
 */
export class Ledger implements TxLedger, BlockLedger, AccountLedger {
  /** The confirmed and pending state. */
  readonly state: State;
  #store: BlockStore;
  readonly #hooks: LedgerHooks;
  readonly #group: {
    maxBlocks: number;
    maxBytes: number;
    maxDelayMs: number;
    snapshotEvery: number;
  };
  readonly #pool: VerifyPool | undefined;
  // Transactions are applied in arrival order, whatever order their
  // verifications finish in, so a sender's nonces stay in order.
  #txOrder: Promise<unknown> = Promise.resolve();
  #lock: Promise<unknown> = Promise.resolve();
  #failed: Error | undefined;
  // Applied, not yet durable, each with the peer it came from.
  #unflushed: { block: SigBlock; origin: string | undefined }[] = [];
  #unflushedBytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  // The block of the last snapshot written here, if any; periodic
  // snapshots count from it (or from where the ledger started).
  #snapshotAt: bigint | undefined;
  #snapshotBase: bigint;

  /** Wraps a synced state and its store. */
  constructor(state: State, store: BlockStore, options: LedgerOptions = {}) {
    this.state = state;
    this.#store = store;
    this.#hooks = options;
    this.#group = {
      maxBlocks: options.maxBlocks ?? 256,
      maxBytes: options.maxBytes ?? 8 * 1024 * 1024,
      maxDelayMs: options.maxDelayMs ?? 200,
      snapshotEvery: options.snapshotEvery ?? 0,
    };
    this.#pool = options.pool;
    this.#snapshotBase = state.lastNumber;
  }

  /** The block store new blocks are appended to. */
  get store(): BlockStore {
    return this.#store;
  }

  /**
   * Runs `move` once every applied block is durable, with no other change
   * under way, then appends to `store` from then on: a node that joined
   * from a checkpoint swaps its head store for its completed block store.
   */
  switchStore(store: BlockStore, move: () => Promise<void>): Promise<void> {
    return this.#locked(async () => {
      await this.#flush();
      await move();
      this.#store = store;
    });
  }

  /**
   * A transaction from a client of this node: its signature is recovered in
   * the verification pool while earlier ones are applied (many clients'
   * transactions are verified on every core, still applied in arrival
   * order); then it is validated against the pending state, kept (pending,
   * or queued when its nonce is ahead) and relayed once pending. Resolves
   * to its hash once {@link LedgerHooks.onAccepted} kept it; rejects with a
   * `StateError` when it does not apply or is already known.
   */
  submitTx(tx: SigTx, origin?: string): Promise<string> {
    const checked = this.#verifyTx(tx);
    const run = this.#txOrder.then(async () => {
      await checked;
      return this.#addTx(tx, origin);
    });
    this.#txOrder = run.catch(() => {});
    // Waiting for it to be kept does not hold up the next transaction.
    return run.then(async ({ hash, kept }) => {
      await kept;
      return hash;
    });
  }

  /**
   * A transaction relayed by a peer: like {@link submitTx}, but one that is
   * invalid or already known is dropped (and not relayed again). `origin`
   * is the peer that sent it, if known: it is not relayed back there.
   * Resolves to whether it was new.
   */
  offerTx(tx: SigTx, origin?: string): Promise<boolean> {
    return this.submitTx(tx, origin).then(() => true, () => false);
  }

  /**
   * Transactions a previous run kept (its pending pool, oldest first),
   * offered again as if relayed: each is verified (signature, nonce against
   * the confirmed state, funds) and kept only if it still applies. Those
   * whose nonce a block already confirmed are dropped before their
   * signature is checked. Resolves to how many were `kept` (pending or
   * queued) and `dropped` (confirmed, repeated or no longer valid); never
   * rejects.
   *
   * @example
   * ```ts
   * import type { Ledger } from "./ledger.ts";
   * import type { SigTx } from "../chain/tx.ts";
   *
   * async function restore(ledger: Ledger, txs: SigTx[]): Promise<void> {
   *   const { kept, dropped } = await ledger.restoreTxs(txs);
   *   console.log(`restored ${kept}, dropped ${dropped}`);
   * }
   * ```
   */
  async restoreTxs(
    txs: readonly SigTx[],
  ): Promise<{ kept: number; dropped: number }> {
    const fresh = txs.filter((tx) => tx.nonce > this.state.nonce(tx.from));
    const results = await Promise.all(fresh.map((tx) => this.offerTx(tx)));
    const kept = results.filter((r) => r).length;
    return { kept, dropped: txs.length - kept };
  }

  // Records the pool's hash and signer of `tx`; without a pool, or if it
  // fails (it closes as the node stops), the transaction is verified in place.
  async #verifyTx(tx: SigTx): Promise<void> {
    if (!this.#pool) return;
    try {
      const [r] = await this.#pool.verifyTxs([
        txBytes(tx),
      ]);
      if ("value" in r) {
        primeTx(tx, { hash: txHash(r.value), signer: txSigner(r.value) });
      }
    } catch {
      // Verified in place instead.
    }
  }

  // Records the pool's facts of `block` (hashes, root, signers); without a
  // pool, or if it fails, applying it works them out in place.
  async #verifyBlock(block: SigBlock): Promise<void> {
    if (!this.#pool) return;
    try {
      const [r] = await this.#pool.verifyBlocks([blockBytes(block)]);
      if ("value" in r) primeBlock(block, blockFacts(r.value));
    } catch {
      // Verified in place instead.
    }
  }

  /**
   * A relayed block: applied, appended, published and relayed when it is
   * the next one; ignored when already known; reported when it is ahead.
   * `origin` is the peer that sent it, if known: it is not relayed back.
   */
  async receiveBlock(block: SigBlock, origin?: string): Promise<BlockOutcome> {
    // Verified off the main thread before it waits for its turn.
    if (block.number > this.state.lastNumber) await this.#verifyBlock(block);
    return this.#locked(async () => {
      const next = this.state.lastNumber + 1n;
      if (block.number < next) return "known";
      if (block.number > next) {
        this.#hooks.onBehind?.(block.number);
        return "ahead";
      }
      try {
        this.#apply(block);
      } catch (e) {
        this.#hooks.log?.(
          `dropped block ${block.number}: ${messageOf(e)}`,
        );
        return "rejected";
      }
      this.#unflushed.push({ block, origin });
      await this.#flush();
      return "applied";
    });
  }

  /**
   * A block from a catch-up sync: applied, appended, published and relayed
   * when it is the next one, `known` when the node already has it. Throws
   * a `StateError` for an invalid block, so the sync can name the peer.
   */
  commitBlock(
    block: SigBlock,
    options: CommitOptions = {},
  ): Promise<"applied" | "known"> {
    return this.#locked(async () => {
      if (block.number <= this.state.lastNumber) return "known";
      this.#apply(block);
      this.#unflushed.push({ block, origin: options.origin });
      this.#unflushedBytes += blockBytes(block).length;
      const g = this.#group;
      if (
        !options.group || this.#unflushed.length >= g.maxBlocks ||
        this.#unflushedBytes >= g.maxBytes
      ) {
        await this.#flush();
      } else {
        this.#timer ??= setTimeout(() => {
          this.#timer = undefined;
          // A failure stops the node through onFatal.
          this.flush().catch(() => {});
        }, g.maxDelayMs);
      }
      return "applied";
    });
  }

  /**
   * Makes every applied block durable (one append, one flush), then
   * relays, publishes and reports each. Rejects with a fatal
   * {@link SyncError} when the store fails.
   */
  flush(): Promise<void> {
    return this.#locked(() => this.#flush());
  }

  /**
   * The authority's turn: builds a block from the pending transactions,
   * applies, appends, publishes and relays it. Resolves to the block, or to
   * undefined when no pending transaction applies (no empty blocks).
   */
  proposeBlock(authority: Account): Promise<SigBlock | undefined> {
    return this.#locked(async () => {
      const block = this.state.createBlock(authority);
      if (!block) return undefined;
      this.#apply(block);
      this.#unflushed.push({ block, origin: undefined });
      await this.#flush();
      return block;
    });
  }

  /**
   * Resolves once every change under way has finished and every applied
   * block is durable, so a stopping node exits with no block half-written.
   */
  idle(): Promise<void> {
    return this.flush().then(() => {}, () => {});
  }

  // Applies `tx`; `kept` settles once onAccepted kept it (never rejects).
  #addTx(
    tx: SigTx,
    origin: string | undefined,
  ): { hash: string; kept: Promise<void> | undefined } {
    const hash = this.state.applyTx(tx);
    const kept = this.#keep(tx);
    // A queued transaction is relayed once its gap fills, not now.
    if (this.state.hasPending(hash)) this.#hooks.onTx?.(tx, origin);
    this.#relayPromoted();
    return { hash, kept };
  }

  #keep(tx: SigTx): Promise<void> | undefined {
    try {
      const kept = this.#hooks.onAccepted?.(tx);
      return kept instanceof Promise ? kept.catch(() => {}) : undefined;
    } catch {
      // A failing keeper costs the transaction its copy, not its place.
      return undefined;
    }
  }

  #apply(block: SigBlock): void {
    const start = performance.now();
    this.state.applyBlock(block);
    this.#hooks.onApplied?.((performance.now() - start) / 1000, block);
  }

  #confirmed(block: SigBlock, origin: string | undefined): void {
    this.#hooks.onBlock?.(block, origin);
    this.#publish(block);
    this.#relayPromoted();
  }

  // Queued transactions whose gap just filled are new pending ones.
  #relayPromoted(): void {
    for (const tx of this.state.takePromoted()) this.#hooks.onTx?.(tx);
  }

  async #flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const entries = this.#unflushed;
    if (entries.length === 0) return;
    this.#unflushed = [];
    this.#unflushedBytes = 0;
    try {
      await appendOrFail(this.store, entries.map((e) => e.block));
    } catch (e) {
      // The state holds blocks the store lacks: refuse every later change
      // so nothing is stored out of order, and let the node stop.
      this.#failed = e as Error;
      this.#hooks.onFatal?.(this.#failed);
      throw e;
    }
    for (const { block, origin } of entries) this.#confirmed(block, origin);
    const every = this.#group.snapshotEvery;
    const since = this.#snapshotAt ?? this.#snapshotBase;
    if (every > 0 && this.state.lastNumber - since >= BigInt(every)) {
      await this.#snapshot();
    }
  }

  /**
   * Writes a snapshot of the confirmed state (all of it durable) beside the
   * store, unless one of this very state was written already or there is
   * no block yet. A failure is only a warning: the store stays the truth.
   */
  snapshot(): Promise<void> {
    return this.#locked(async () => {
      await this.#flush();
      await this.#snapshot();
    });
  }

  async #snapshot(): Promise<void> {
    const n = this.state.lastNumber;
    if (n === 0n || n === this.#snapshotAt) return;
    try {
      const length = await this.store.blocksSize();
      await writeSnapshot(this.store, this.state, length);
      this.#snapshotAt = n;
    } catch (e) {
      this.#hooks.log?.(`warning: cannot write a snapshot: ${messageOf(e)}`);
    }
  }

  #publish(block: SigBlock): void {
    const onEvent = this.#hooks.onEvent;
    if (!onEvent) return;
    onEvent(blockEvent(block));
    for (const tx of block.txs) onEvent(txEvent(tx));
  }

  #locked<T>(fn: () => Promise<T>): Promise<T> {
    const guarded = () => {
      if (this.#failed) throw this.#failed;
      return fn();
    };
    const run = this.#lock.then(guarded, guarded);
    this.#lock = run.catch(() => {});
    return run;
  }
}
