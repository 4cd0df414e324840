/**
 * State sync: a bootstrap node creates or reads its
 * genesis; a regular node fetches and verifies it from its seed. Either then
 * replays its own block store (from its snapshot, when one matches) and
 * streams newer blocks from every known peer. Blocks are decoded and
 * verified by the verification pool ahead of the ledger, which applies them
 * in order and appends them in groups.
 *
 * @module
 */
import { join } from "node:path";
import {
  blockBytes,
  blockHash,
  decodeSigBlock,
  type SigBlock,
  verifyBlock,
} from "../chain/block.ts";
import type { SigGenesis } from "../chain/genesis.ts";
import { State } from "../chain/state.ts";
import { messageOf } from "../util/errors.ts";
import { PeerRegistry } from "../rpc/registry.ts";
import { BlockStore, BlockStoreError } from "../store/block_store.ts";
import { checkStartInputs, setUpGenesis } from "./genesis_setup.ts";
import type { NodeConfig } from "./config.ts";
import { sleep } from "../util/sleep.ts";
import { waitForSeed } from "./seed_wait.ts";
import { SyncError } from "./sync_error.ts";
import { HeldCopies, MAX_HELD_COPIES } from "./held_copies.ts";
import { Ledger } from "./ledger.ts";
import { verifiedBlocks, VerifyPool } from "./verify/pool.ts";
import { readSnapshot, SNAPSHOT_EVERY, SNAPSHOT_FILE } from "./snapshot.ts";
import { Progress } from "./observe/progress.ts";

/** Gives the addresses of the peers a node currently knows. */
export interface PeerReader {
  /** The known peers, `host:port` each. */
  peers(): string[];
}

/**
 * What state sync needs from the network. The node's implementation speaks
 * the Block service's GenesisSync and BlockSync; tests can substitute their
 * own.
 */
export interface SyncSource {
  /** The peer's stored genesis bytes. */
  genesis(peer: string, signal: AbortSignal): Promise<Uint8Array>;
  /** The peer's stored blocks with number >= `from`, as raw JSON bytes. */
  blocks(
    peer: string,
    from: bigint,
    signal: AbortSignal,
  ): AsyncIterable<Uint8Array>;
}

/** What {@link countedSource} reports of the streams it passes on. */
export interface SourceCounter {
  /** A block stream from block `from` starts. */
  onStream(from: bigint): void;
  /** A stream brought a block (received, not yet verified). */
  onBlock(): void;
}

/**
 * `source` with each block stream's start and every block it brings
 * reported to `counter` (for the node's phase and its sync metrics).
 *
 * @example
 * ```ts
 * import { countedSource, type SyncSource } from "./state_sync.ts";
 *
 * declare const source: SyncSource;
 * let blocks = 0;
 * const counted = countedSource(source, {
 *   onStream: (from) => console.log(`stream from block ${from}`),
 *   onBlock: () => blocks++,
 * });
 * ```
 */
export function countedSource(
  source: SyncSource,
  counter: SourceCounter,
): SyncSource {
  return {
    genesis: (peer, signal) => source.genesis(peer, signal),
    async *blocks(peer, from, signal) {
      counter.onStream(from);
      for await (const bytes of source.blocks(peer, from, signal)) {
        counter.onBlock();
        yield bytes;
      }
    },
  };
}

export { SyncError };
export type { SyncErrorKind, SyncErrorOptions } from "./sync_error.ts";

export { MAX_HELD_COPIES };

/** Options of {@link StateSync.syncBlocks}. */
export interface SyncBlocksOptions {
  /**
   * The ledger to commit each block through (a running node's, so blocks
   * are relayed and published once durable). By default the sync commits
   * to its own state and store.
   */
  ledger?: Ledger;
  /**
   * Log every peer's bad stream and go on, instead of failing when no peer
   * could serve. Either way a peer whose stream is rejected is dropped for
   * this call and the next peer is tried.
   */
  tolerant?: boolean;
}

/**
 * The peers to sync from, `host:port` each: a list, a function returning
 * the current list (asked each time blocks are synced), or a
 * {@link PeerReader}.
 */
export type SyncPeers =
  | readonly string[]
  | (() => readonly string[])
  | PeerReader;

/**
 * What a {@link StateSync} syncs: a node's configuration, where `node` (the
 * address it serves on, skipped among the peers) may be left out when the
 * sync serves nothing.
 */
export type StateSyncConfig = Omit<NodeConfig, "node"> & { node?: string };

/** Options of {@link StateSync}. */
export interface StateSyncOptions {
  /**
   * The peers to sync blocks from; by default the seed alone (none for a
   * bootstrap node).
   */
  peers?: SyncPeers;
  /** Stops the sync (and whatever it waits for); never by default. */
  signal?: AbortSignal;
  /**
   * The network access. By default each sync reaches its peers over
   * Connect (gRPC for reference peers, per `peerProtocol`) and closes the
   * connections when it ends.
   */
  source?: SyncSource;
  /** An already opened block store for `cfg.blockStoreDir`. */
  store?: BlockStore;
  /** Where progress and warnings go; `console.error` by default. */
  log?: (message: string) => void;
  /** Streams tried per peer before it is given up; 5 by default. */
  maxAttempts?: number;
  /** The first pause between attempts, doubled each time; 200 ms by default. */
  retryDelayMs?: number;
  /**
   * The verification pool (its owner closes it). By default each call that
   * verifies blocks starts a pool of `workers` workers and closes it.
   */
  pool?: VerifyPool;
  /** Workers of a pool the sync starts itself; one per core by default. */
  workers?: number;
  /**
   * On a regular node's first start, wait for an unreachable seed, trying
   * again with a growing pause and a line each time ({@link waitForSeed}),
   * until it answers or `signal` aborts; by default the start fails after
   * `maxAttempts` tries.
   */
  waitForSeed?: boolean;
  /**
   * Called right after each block is applied, the state at that block:
   * `durable` when the block was read from the store (for checkpoints).
   */
  onApplied?: (block: SigBlock, state: State, durable: boolean) => void;
  /** Called once a block synced from a peer is durable. */
  onDurable?: (block: SigBlock) => void;
  /**
   * Finds block `hash` at a peer (the seed's BlockSearch), for
   * `cfg.assumeValid`: its raw JSON, or undefined when no peer has it.
   */
  findBlock?: (hash: string, signal: AbortSignal) => Promise<
    Uint8Array | undefined
  >;
  /**
   * Whether a snapshot at block `number` may be used (an authority that
   * still has checkpoints to make below it replays instead); yes by
   * default.
   */
  useSnapshot?: (number: bigint) => boolean;
  /**
   * How progress is shown: `terminal` redraws one line on stderr when it is
   * a terminal (else plain lines on stderr); `log` sends plain lines to
   * `log`. By default `log` when `log` is given, else `terminal`.
   */
  progress?: "terminal" | "log";
}

/**
 * Syncs a node's state: genesis, local replay, then newer blocks from peers.
 *
 * @example
 * ```ts
 * import { StateSync } from "@bcn/bcn";
 * const controller = new AbortController();
 * const sync = new StateSync({
 *   bootstrap: false,
 *   seed: "127.0.0.1:1122",
 *   keyStoreDir: ".keystore-sync",
 *   blockStoreDir: ".blockstore-sync",
 *   chain: "blockchain",
 * }, {
 *   peers: ["127.0.0.1:1122"],
 *   signal: controller.signal,
 * });
 * // const state = await sync.syncState();
 * ```
 */
export class StateSync {
  readonly #cfg: NodeConfig;
  readonly #peerReader: PeerReader;
  #ownSource: { registry: PeerRegistry; source: SyncSource } | undefined;
  readonly #signal: AbortSignal;
  readonly #options: StateSyncOptions;
  #store: BlockStore | undefined;
  #state: State | undefined;
  #created: { authority: string; owner: string } | undefined;
  #genesis: SigGenesis | undefined;
  /** The assume-valid block, once found: blocks up to it skip tx checks. */
  #assumed: { number: bigint; hash: string } | undefined;

  /**
   * Prepares a sync for `cfg`, asking `options.peers` for peers.
   *
   * @example
   * ```ts
   * import { StateSync } from "@bcn/bcn";
   *
   * const sync = new StateSync({
   *   bootstrap: false,
   *   seed: "127.0.0.1:1122",
   *   keyStoreDir: ".keystore-sync",
   *   blockStoreDir: ".blockstore-sync",
   *   chain: "blockchain",
   * }, { peers: () => ["127.0.0.1:1122", "127.0.0.1:1123"] });
   * ```
   */
  constructor(cfg: StateSyncConfig, options: StateSyncOptions = {}) {
    // A sync that serves nothing has no address of its own to skip.
    this.#cfg = { ...cfg, node: cfg.node ?? "" };
    this.#peerReader = peerReaderOf(options.peers, cfg);
    this.#signal = options.signal ?? new AbortController().signal;
    this.#options = options;
    this.#store = options.store;
  }

  /** The accounts made for a new chain, when this sync created the genesis. */
  get createdAccounts(): { authority: string; owner: string } | undefined {
    return this.#created;
  }

  /** The block store, once {@link syncState} has opened it. */
  get store(): BlockStore | undefined {
    return this.#store;
  }

  /**
   * Reads, creates (bootstrap) or fetches (regular) the genesis, verifies
   * it, replays the local block store, then applies newer blocks from every
   * known peer. A peer whose stream is rejected is skipped for the next
   * one (with a warning); resolves to the synced state, or rejects with a
   * {@link SyncError} naming what was wrong, the first rejected peer's
   * when no peer could serve.
   */
  async syncState(): Promise<State> {
    try {
      return await this.#syncState();
    } finally {
      this.#closeOwnSource();
    }
  }

  async #syncState(): Promise<State> {
    // Refuse bad genesis inputs before the store directory is created.
    if (!this.#store) await checkStartInputs(this.#cfg);
    const store = this.#store ??= await BlockStore.open(
      this.#cfg.blockStoreDir,
      {
        onWarning: this.#log,
      },
    );
    const genesis = await this.setUpGenesis();
    this.#assumed = await this.#findAssumed(genesis);
    const state = this.#state = new State(genesis);
    await this.#withPool(async (pool) => {
      await this.#readBlocks(store, state, pool);
      await this.#syncBlocks(pool, {});
    });
    return state;
  }

  /**
   * Reads, creates (bootstrap) or fetches (regular) the genesis and
   * verifies it, once; {@link syncState} starts with it.
   */
  async setUpGenesis(): Promise<SigGenesis> {
    if (this.#genesis) return this.#genesis;
    if (!this.#store) await checkStartInputs(this.#cfg);
    const store = this.#store ??= await BlockStore.open(
      this.#cfg.blockStoreDir,
      { onWarning: this.#log },
    );
    const { genesis, created } = await setUpGenesis(this.#cfg, store, {
      fetch: (seed) =>
        this.#retry(() => this.#source().genesis(seed, this.#signal)),
      fetchOnce: (seed) => this.#source().genesis(seed, this.#signal),
      seedWait: this.#options.waitForSeed
        ? (seed, attempt) =>
          waitForSeed(seed, attempt, { signal: this.#signal, log: this.#log })
        : undefined,
      signal: this.#signal,
      log: this.#log,
    });
    this.#created = created;
    return this.#genesis = genesis;
  }

  /**
   * Starts from a state restored elsewhere (a checkpoint) instead of
   * {@link syncState}: later {@link syncBlocks} calls go on from it,
   * appending to `store`.
   */
  adopt(state: State, store: BlockStore): void {
    this.#state = state;
    this.#store = store;
  }

  /**
   * Streams newer blocks from every known peer into the state and the
   * store. Safe to call again later, for example after the node fell
   * behind: then pass the node's `ledger` (so each block is relayed and
   * published) and `tolerant` (so bad peers are only logged).
   */
  async syncBlocks(options: SyncBlocksOptions = {}): Promise<void> {
    try {
      await this.#withPool((pool) => this.#syncBlocks(pool, options));
    } finally {
      this.#closeOwnSource();
    }
  }

  async #syncBlocks(
    pool: VerifyPool,
    options: SyncBlocksOptions,
  ): Promise<void> {
    const state = this.#state;
    const store = this.#store;
    if (!state || !store) throw new Error("syncState() has not run");
    const ledger = options.ledger ??
      new Ledger(state, store, {
        log: this.#log,
        snapshotEvery: SNAPSHOT_EVERY,
        onApplied: (_, block) => this.#options.onApplied?.(block, state, false),
        onBlock: (block) => this.#options.onDurable?.(block),
      });
    // A rejected peer is dropped for this call and the next one tried;
    // failing is only for when none served (a lone bad seed at start-up).
    const rejected: SyncError[] = [];
    let served = false;
    for (const peer of this.#peerReader.peers()) {
      if (peer === this.#cfg.node) continue;
      this.#signal.throwIfAborted();
      try {
        if (await this.#syncFromPeer(peer, ledger, pool)) served = true;
      } catch (e) {
        if (!(e instanceof SyncError) || e.fatal) throw e;
        if (options.tolerant) this.#log(`warning: ${e.message}`);
        else rejected.push(e);
      }
    }
    const [first, ...others] = rejected;
    if (!first) return;
    for (const e of served ? rejected : others) {
      this.#log(`warning: ${e.message}`);
    }
    if (!served) throw first;
  }

  async #withPool<T>(fn: (pool: VerifyPool) => Promise<T>): Promise<T> {
    if (this.#options.pool) return await fn(this.#options.pool);
    const pool = new VerifyPool({
      workers: this.#options.workers,
      log: this.#log,
    });
    try {
      return await fn(pool);
    } finally {
      pool.close();
    }
  }

  #log = (message: string): void => {
    (this.#options.log ?? console.error)(message);
  };

  #source(): SyncSource {
    if (this.#options.source) return this.#options.source;
    if (this.#ownSource === undefined) {
      const registry = new PeerRegistry({
        protocol: this.#cfg.peerProtocol ?? "auto",
      });
      this.#ownSource = { registry, source: peerSyncSource(registry) };
    }
    return this.#ownSource.source;
  }

  #closeOwnSource(): void {
    this.#ownSource?.registry.close();
    this.#ownSource = undefined;
  }

  async #readBlocks(
    store: BlockStore,
    state: State,
    pool: VerifyPool,
  ): Promise<void> {
    const start = await this.#restore(store, state);
    const size = await store.blocksSize();
    const progress = this.#progress("replay", size - start);
    try {
      let lineNo = Number(state.lastNumber) + 1;
      const lines = store.blockLines({ signal: this.#signal, offset: start });
      // Worked out only on error: the loop runs once per stored block.
      const where = () => `${store.blocksPath} line ${lineNo}`;
      const assumeValidTo = this.#assumed?.number;
      for await (const r of verifiedBlocks(pool, lines, { assumeValidTo })) {
        if ("error" in r) throw new BlockStoreError(`${where()}: ${r.error}`);
        if (r.value.number !== BigInt(lineNo)) {
          throw new BlockStoreError(
            `${where()}: holds block ${r.value.number}, expected block ${lineNo}`,
          );
        }
        state.applyBlock(r.value);
        this.#checkAssumed(r.value);
        this.#options.onApplied?.(r.value, state, true);
        progress.advance({
          blocks: 1,
          txs: r.value.txs.length,
          bytes: blockBytes(r.value).length + 1,
        });
        lineNo++;
      }
      progress.done();
    } catch (e) {
      this.#signal.throwIfAborted();
      throw new SyncError(
        `cannot replay block store ${this.#cfg.blockStoreDir}: ${messageOf(e)}`,
      );
    }
  }

  #progress(label: string, totalBytes?: number): Progress {
    const { log, progress } = this.#options;
    if (log && progress !== "terminal") {
      return new Progress({ label, totalBytes, terminal: false, write: log });
    }
    return new Progress({ label, totalBytes });
  }

  // Starts the state from the snapshot when it matches the store; resolves
  // to the offset in block.store where the replay goes on (0 for all of it).
  async #restore(store: BlockStore, state: State): Promise<number> {
    if (this.#cfg.reverify) return 0;
    const read = await readSnapshot(store, state.genesisHash);
    const use = this.#options.useSnapshot;
    if (
      "snapshot" in read &&
      (!use || use(read.snapshot.state.lastNumber))
    ) {
      state.restore(read.snapshot.state);
      return read.snapshot.length;
    }
    // No snapshot is normal (a new store, one the reference node wrote);
    // one that cannot be used is worth a line.
    if ("unusable" in read) {
      this.#log(
        `warning: snapshot ${
          join(store.dir, SNAPSHOT_FILE)
        } not used: ${read.unusable}; replaying the whole block store`,
      );
    }
    return 0;
  }

  // Streams from `peer` until a stream brings nothing new (resolves true)
  // or the peer cannot be reached (false, after a warning). A stream that
  // breaks part-way keeps what it applied and resumes from the next block;
  // a bad block stops the peer's sync with an error naming the peer and the
  // block. A block the node holds, sent again, is skipped once its hash
  // matches the one held. Blocks are verified by the pool ahead of the
  // ledger, which applies them in order and appends them in groups; each
  // stream ends with a flush, so what was applied is durable before the
  // next step.
  async #syncFromPeer(
    peer: string,
    ledger: Ledger,
    pool: VerifyPool,
  ): Promise<boolean> {
    const progress = this.#progress(`sync from ${peer}`);
    const held = new HeldBlocks(ledger);
    try {
      return await this.#streamFromPeer(peer, ledger, pool, progress, held);
    } finally {
      await held.close();
      progress.done();
    }
  }

  async #streamFromPeer(
    peer: string,
    ledger: Ledger,
    pool: VerifyPool,
    progress: Progress,
    held: HeldBlocks,
  ): Promise<boolean> {
    const state = ledger.state;
    const maxAttempts = this.#options.maxAttempts ?? 5;
    let failures = 0;
    for (;;) {
      const from = state.lastNumber + 1n;
      // The stream must bring from, from + 1, ... in order; counting what it
      // brought (not the state, which relayed blocks may also move) tells
      // progress from a peer that repeats itself.
      let next = from;
      // Blocks the node held already, sent again: bounded per stream.
      const copies = new HeldCopies();
      // Leaving the stream early (a bad block) stops it at once.
      const stream = new AbortController();
      const signal = AbortSignal.any([this.#signal, stream.signal]);
      try {
        try {
          const source = this.#source().blocks(peer, from, signal);
          const assumeValidTo = this.#assumed?.number;
          for await (
            const r of verifiedBlocks(pool, source, { assumeValidTo })
          ) {
            try {
              if ("error" in r) throw new Error(r.error);
              const block = r.value;
              if (block.number >= 1n && block.number < next) {
                // Every block before `next` is held: skip it if it is the
                // one held (a reference peer resends some, see
                // MAX_HELD_COPIES), without counting it as progress.
                await held.check(block);
                if (!copies.add(block.number)) {
                  throw new Error(
                    `resent blocks this node holds ${copies.repeats} times (block ${block.number} last), more than ${MAX_HELD_COPIES} copies each`,
                  );
                }
                continue;
              }
              if (block.number !== next) {
                throw new Error(
                  `sent block ${block.number}, expected ${next}`,
                );
              }
              // Not relayed back to the peer it came from.
              const outcome = await ledger.commitBlock(block, {
                group: true,
                origin: peer,
              });
              if (outcome === "applied") this.#checkAssumed(block);
              // A relayed block got there first: it must be the same one.
              if (outcome === "known") await held.check(block);
              else progress.advance({ blocks: 1, txs: block.txs.length });
            } catch (e) {
              stream.abort();
              if (e instanceof SyncError) throw e;
              throw new SyncError(
                `peer ${peer}: rejected block ${next}: ${messageOf(e)}`,
              );
            }
            next++;
          }
        } finally {
          stream.abort();
          await ledger.flush();
        }
        if (next === from) return true;
        failures = 0;
      } catch (e) {
        if (e instanceof SyncError) throw e;
        this.#signal.throwIfAborted();
        // Progress resets the budget: only consecutive failures count.
        if (next !== from) failures = 0;
        if (++failures >= maxAttempts) {
          this.#log(
            `warning: block sync from ${peer} stopped at block ${state.lastNumber}: ${
              messageOf(e)
            }`,
          );
          return false;
        }
        await this.#pause(failures);
      }
    }
  }

  // The block of `cfg.assumeValid`: found at a peer, signed by the
  // authority, of that very hash. Without it every signature is checked
  // (and a warning says why).
  async #findAssumed(
    genesis: SigGenesis,
  ): Promise<{ number: bigint; hash: string } | undefined> {
    const hash = this.#cfg.assumeValid;
    if (hash === undefined || this.#cfg.bootstrap) return undefined;
    const unused = (why: string) => {
      this.#log(
        `warning: --assume-valid ${
          hash.slice(0, 7)
        } not used: ${why}; every transaction signature is checked`,
      );
      return undefined;
    };
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.#options.findBlock?.(hash, this.#signal);
    } catch (e) {
      this.#signal.throwIfAborted();
      return unused(`cannot ask for the block: ${messageOf(e)}`);
    }
    if (!bytes) return unused("no peer holds a block of that hash");
    let block: SigBlock;
    try {
      block = decodeSigBlock(bytes);
    } catch (e) {
      return unused(`the block found does not decode: ${messageOf(e)}`);
    }
    if (blockHash(block) !== hash) {
      return unused(`the block found has hash ${blockHash(block)}`);
    }
    if (!verifyBlock(block, genesis.authority)) {
      return unused("the block found is not signed by the authority");
    }
    this.#log(
      `assume-valid: transaction signatures of blocks 1 to ${block.number} are not recovered`,
    );
    return { number: block.number, hash };
  }

  // The block at the assume-valid number must be the assumed one: else the
  // authority signed two blocks of that number, and the blocks before it,
  // whose transactions were taken on trust, cannot be kept as verified.
  #checkAssumed(block: SigBlock): void {
    const assumed = this.#assumed;
    if (!assumed || block.number !== assumed.number) return;
    if (blockHash(block) === assumed.hash) return;
    throw new SyncError(
      `block ${block.number} is ${
        blockHash(block).slice(0, 7)
      }, not the assume-valid block ${
        assumed.hash.slice(0, 7)
      }: the transaction signatures of blocks 1 to ${block.number} were not checked; restart with --reverify --assume-valid none`,
      { fatal: true },
    );
  }

  async #retry<T>(fn: () => Promise<T>): Promise<T> {
    const maxAttempts = this.#options.maxAttempts ?? 5;
    for (let attempt = 1;; attempt++) {
      try {
        return await fn();
      } catch (e) {
        this.#signal.throwIfAborted();
        if (attempt >= maxAttempts) throw e;
        await this.#pause(attempt);
      }
    }
  }

  async #pause(attempt: number): Promise<void> {
    const ms = (this.#options.retryDelayMs ?? 200) * 2 ** (attempt - 1);
    if (!await sleep(ms, this.#signal)) this.#signal.throwIfAborted();
  }
}

/**
 * Store cursors the resent blocks of one peer's sync may open: a peer
 * resends in order (going up), which takes one; a few more allow a store
 * whose repeated lines go back a little, or a retried stream, but not a
 * peer cycling through old blocks, each cycle a read of the whole store.
 */
const MAX_HELD_CURSORS = 8;

/**
 * The hashes of the blocks a node holds, for telling a block sent again
 * (skipped) from another block under a held number (refused): the last
 * from the state, older ones from the store, read forward through one
 * cursor since a resending peer goes up in order.
 */
class HeldBlocks {
  readonly #ledger: Ledger;
  #cursor: AsyncIterator<SigBlock> | undefined;
  // The number the cursor yields next.
  #cursorAt = 0n;
  #found: { number: bigint; hash: string } | undefined;
  #cursors = 0;

  constructor(ledger: Ledger) {
    this.#ledger = ledger;
  }

  // Resolves when `block` is the block of its number the node holds;
  // throws a one-line reason otherwise.
  async check(block: SigBlock): Promise<void> {
    const hash = blockHash(block);
    const heldHash = await this.#hashOf(block.number);
    if (heldHash === hash) return;
    throw new Error(
      heldHash === undefined
        ? `sent block ${block.number}, which this node cannot read back from its store`
        : `sent block ${block.number} with hash ${
          hash.slice(0, 7)
        }, but this node holds block ${block.number} with hash ${
          heldHash.slice(0, 7)
        }`,
    );
  }

  async #hashOf(number: bigint): Promise<string | undefined> {
    const state = this.#ledger.state;
    if (number === state.lastNumber) return state.lastHash;
    if (this.#found?.number === number) return this.#found.hash;
    // A held block may still wait in the ledger's group: make it durable.
    await this.#ledger.flush();
    if (!this.#cursor || number < this.#cursorAt) {
      // Each new cursor reads the store from its start up to `number`: a
      // peer resending old blocks out of order must not make the node read
      // its whole store again and again.
      if (++this.#cursors > MAX_HELD_CURSORS) {
        throw new Error(
          `resent blocks this node holds out of order (block ${number} after ${
            this.#cursorAt - 1n
          })`,
        );
      }
      await this.close();
      // No abort signal: the read is bounded by the local file, and an
      // abort here would read as the peer's fault.
      this.#cursor = this.#ledger.store.blocks({ from: number });
      this.#cursorAt = number;
    }
    while (this.#cursorAt <= number) {
      const r = await this.#cursor.next();
      if (r.done) {
        await this.close();
        return undefined;
      }
      // The store holds block n on line n (its reader checks it).
      this.#cursorAt = r.value.number + 1n;
      if (r.value.number === number) {
        this.#found = { number, hash: blockHash(r.value) };
        return this.#found.hash;
      }
    }
    return undefined;
  }

  // Closes the store file the cursor holds open.
  async close(): Promise<void> {
    const cursor = this.#cursor;
    this.#cursor = undefined;
    await cursor?.return?.();
  }
}

/**
 * How long a peer may take to answer GenesisSync (a few KB from its disk).
 */
export const GENESIS_TIMEOUT_MS = 5_000;

/** The {@link PeerReader} of the `peers` option: by default the seed. */
function peerReaderOf(
  peers: SyncPeers | undefined,
  cfg: StateSyncConfig,
): PeerReader {
  if (peers === undefined) {
    const list = cfg.seed === undefined ? [] : [cfg.seed];
    return { peers: () => [...list] };
  }
  if (typeof peers === "function") return { peers: () => [...peers()] };
  if ("peers" in peers && typeof peers.peers === "function") {
    return peers as PeerReader;
  }
  const list = [...peers as readonly string[]];
  return { peers: () => [...list] };
}

/**
 * The network {@link SyncSource}: the Block service's GenesisSync and
 * BlockSync of each peer, through the node's peer registry.
 */
export function peerSyncSource(
  registry: PeerRegistry,
  options: { idleMs?: number } = {},
): SyncSource {
  const idleMs = options.idleMs ?? 30_000;
  return {
    async genesis(peer, signal) {
      // A seed that accepts the call and never answers (paused, cut off
      // mid-way) must not hold a start for good.
      const res = await registry.clients(peer).block.genesisSync({}, {
        signal,
        timeoutMs: GENESIS_TIMEOUT_MS,
      });
      return res.Genesis;
    },
    async *blocks(peer, from, signal) {
      // A peer that accepts the call and then says nothing would hold the
      // sync forever: give up after a quiet spell between messages.
      const idle = new AbortController();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(
          () => idle.abort(new Error(`no block from ${peer} for ${idleMs} ms`)),
          idleMs,
        );
      };
      arm();
      try {
        const stream = registry.clients(peer).block.blockSync(
          { Number: from },
          {
            signal: AbortSignal.any([signal, idle.signal]),
          },
        );
        for await (const res of stream) {
          clearTimeout(timer);
          yield res.Block;
          arm();
        }
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
