/**
 * The node's single writer of chain data: every transaction and block that
 * reaches the node (from a client, a relay, the proposer or a catch-up sync)
 * goes through here, so the state and the block store change in one order.
 *
 * @module
 */
import type { Account } from "../chain/account.ts";
import { blockEvent, type Event, txEvent } from "../chain/event.ts";
import type { SigBlock } from "../chain/block.ts";
import type { State } from "../chain/state.ts";
import type { SigTx } from "../chain/tx.ts";
import type { AccountLedger } from "../rpc/account.ts";
import type { BlockLedger } from "../rpc/block.ts";
import type { TxLedger } from "../rpc/tx.ts";
import type { BlockStore } from "../store/block_store.ts";
import { appendOrFail } from "./state_sync.ts";

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
   * A new block was confirmed here: relay it, but not back to `origin`, the
   * peer it came from (`undefined` when unknown or proposed here).
   */
  onBlock?: (block: SigBlock, origin?: string) => void;
  /** A block was applied to the state in `seconds` (for metrics). */
  onApplied?: (seconds: number) => void;
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

/**
 * The state and block store of a running node, with one lock around every
 * change so blocks are applied and appended strictly in order.
 */
export class Ledger implements TxLedger, BlockLedger, AccountLedger {
  /** The confirmed and pending state. */
  readonly state: State;
  /** The block store. */
  readonly store: BlockStore;
  readonly #hooks: LedgerHooks;
  #lock: Promise<unknown> = Promise.resolve();
  #failed: Error | undefined;

  /** Wraps a synced state and its store. */
  constructor(state: State, store: BlockStore, hooks: LedgerHooks = {}) {
    this.state = state;
    this.store = store;
    this.#hooks = hooks;
  }

  /**
   * Validates a transaction against the pending state, keeps it and relays
   * it. Returns its hash; throws a `StateError` when it does not apply or is
   * already pending. A future-nonce transaction is kept queued instead
   * (`state.hasQueued(hash)`) and relayed only once the nonces before it
   * arrive.
   */
  sendTx(tx: SigTx): string {
    return this.#addTx(tx, undefined);
  }

  /**
   * A relayed transaction: like {@link sendTx}, but one that is invalid or
   * already pending is dropped (and not relayed again). `origin` is the peer
   * that sent it, if known: it is not relayed back there. Returns whether it
   * was new.
   */
  receiveTx(tx: SigTx, origin?: string): boolean {
    try {
      this.#addTx(tx, origin);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A relayed block: applied, appended, published and relayed when it is
   * the next one; ignored when already known; reported when it is ahead.
   * `origin` is the peer that sent it, if known: it is not relayed back.
   */
  receiveBlock(block: SigBlock, origin?: string): Promise<BlockOutcome> {
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
          `dropped block ${block.number}: ${(e as Error).message}`,
        );
        return "rejected";
      }
      await this.#persist(block, origin);
      return "applied";
    });
  }

  /**
   * A block from a catch-up sync: applied, appended, published and relayed
   * when it is the next one, `known` when the node already has it. Throws
   * a `StateError` for an invalid block, so the sync can name the peer.
   * `origin` is the peer it was synced from: it is not relayed back there.
   */
  commitBlock(
    block: SigBlock,
    origin?: string,
  ): Promise<"applied" | "known"> {
    return this.#locked(async () => {
      if (block.number <= this.state.lastNumber) return "known";
      this.#apply(block);
      await this.#persist(block, origin);
      return "applied";
    });
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
      await this.#persist(block);
      return block;
    });
  }

  /**
   * Resolves once every change under way has finished, so a stopping node
   * exits with no block half-written.
   */
  idle(): Promise<void> {
    return this.#lock.then(() => {}, () => {});
  }

  #addTx(tx: SigTx, origin: string | undefined): string {
    const hash = this.state.applyTx(tx);
    // A queued transaction is relayed once its gap fills, not now.
    if (!this.state.hasQueued(hash)) this.#hooks.onTx?.(tx, origin);
    this.#relayPromoted();
    return hash;
  }

  #apply(block: SigBlock): void {
    const start = performance.now();
    this.state.applyBlock(block);
    this.#hooks.onApplied?.((performance.now() - start) / 1000);
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

  async #persist(block: SigBlock, origin?: string): Promise<void> {
    try {
      await appendOrFail(this.store, block);
    } catch (e) {
      // The state holds a block the store lacks: refuse every later change
      // so nothing is stored out of order, and let the node stop.
      this.#failed = e as Error;
      this.#hooks.onFatal?.(this.#failed);
      throw e;
    }
    this.#confirmed(block, origin);
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
