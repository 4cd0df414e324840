/**
 * Backfill: a node that joined from a checkpoint at block N serves from N
 * at once, while in the background it downloads blocks 1..N, verifies
 * each (the authority's signature, the hash chain, the Merkle root, nonces
 * and balances; transaction signatures are assumed valid below the
 * authority-signed checkpoint) and replays them to confirm that they end
 * in the checkpoint's block and reproduce its state hash. Only then is
 * `block.store` complete: the blocks the node confirmed meanwhile (kept in
 * its head store, `head/block.store`) are appended to it, and the node
 * appends there from then on.
 *
 * Until then `backfill.json` in the block-store directory names the
 * checkpoint, and `block.store` holds blocks 1..k (k <= N), in order, with
 * no gap: BlockSync answers from it. A crash at any point resumes: the
 * state at N comes back from `checkpoint_state.jsonl` (verified again),
 * the head store is replayed on it, and the backfill replays what
 * `block.store` holds and goes on from there.
 *
 * @module
 */
import { join } from "node:path";
import { blockBytes, blockHash, type SigBlock } from "../chain/block.ts";
import {
  decodeSigCheckpoint,
  encodeSigCheckpoint,
  type SigCheckpoint,
} from "../chain/checkpoint.ts";
import type { SigGenesis } from "../chain/genesis.ts";
import { State } from "../chain/state.ts";
import { stateHash } from "../chain/state_hash.ts";
import { syncDir, writeFileAtomic } from "../store/atomic_write.ts";
import type { BlockStore } from "../store/block_store.ts";
import { messageOf } from "../util/errors.ts";
import { sleep } from "../util/sleep.ts";
import { HeldCopies, MAX_HELD_COPIES } from "./held_copies.ts";
import type { PeerReader, SyncSource } from "./state_sync.ts";
import { verifiedBlocks, type VerifyPool } from "./verify/pool.ts";
import { decodeUtf8, encodeUtf8 } from "../util/utf8.ts";

/** The backfill marker's name inside the block-store directory. */
export const BACKFILL_FILE = "backfill.json";
/** The head store's directory inside the block-store directory. */
export const HEAD_DIR = "head";

/**
 * Writes the marker that says `block.store` is being backfilled up to
 * checkpoint `c` (atomically).
 *
 * @example
 * ```ts ignore
 * import { writeBackfillMarker } from "./backfill.ts";
 * await writeBackfillMarker(".blockstore1123", checkpoint);
 * ```
 */
export async function writeBackfillMarker(
  dir: string,
  c: SigCheckpoint,
): Promise<void> {
  await writeFileAtomic(
    join(dir, BACKFILL_FILE),
    encodeUtf8(encodeSigCheckpoint(c) + "\n"),
    { mode: 0o600 },
  );
}

/**
 * The checkpoint a backfill under way is heading for; undefined when none
 * is (no marker); throws a one-line Error when the marker is damaged.
 *
 * @example
 * ```ts ignore
 * import { readBackfillMarker } from "./backfill.ts";
 * const c = await readBackfillMarker(".blockstore1123");
 * ```
 */
export async function readBackfillMarker(
  dir: string,
): Promise<SigCheckpoint | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, BACKFILL_FILE));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  return decodeSigCheckpoint(text.trimEnd(), BACKFILL_FILE);
}

/**
 * Removes the marker (durably): `block.store` is complete. Also removes
 * the head store, whose blocks are in `block.store` by then.
 *
 * @example
 * ```ts ignore
 * import { finishBackfill } from "./backfill.ts";
 * await finishBackfill(".blockstore1123");
 * ```
 */
export async function finishBackfill(dir: string): Promise<void> {
  await Deno.remove(join(dir, BACKFILL_FILE)).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  await syncDir(dir);
  await Deno.remove(join(dir, HEAD_DIR), { recursive: true }).catch(() => {});
}

/**
 * Appends the blocks of `head` (the blocks confirmed since the checkpoint)
 * that `main` lacks to `main`, in order: the move that completes
 * `block.store`. Safe to run again after a crash part-way: blocks `main`
 * already holds are skipped.
 *
 * @example
 * ```ts ignore
 * import { appendHead } from "./backfill.ts";
 * await appendHead(mainStore, headStore, 1000n);
 * ```
 */
export async function appendHead(
  main: BlockStore,
  head: BlockStore,
  mainLast: bigint,
): Promise<void> {
  let next = mainLast + 1n;
  let group: Uint8Array[] = [];
  for await (const line of head.blockLines()) {
    // Head lines hold blocks N+1, N+2, ... (not block 1 on line 1).
    const number = numberOf(line);
    if (number < next) continue;
    if (number !== next) {
      throw new Error(
        `${head.blocksPath} holds block ${number} where block ${next} was expected`,
      );
    }
    group.push(line);
    next++;
    if (group.length >= 256) {
      await main.appendLines(group);
      group = [];
    }
  }
  if (group.length > 0) await main.appendLines(group);
}

// The number of a canonical block line, read from its first field.
function numberOf(line: Uint8Array): bigint {
  const head = decodeUtf8(line.subarray(0, 40));
  const m = /^\{"number":(\d+),/.exec(head);
  if (!m) throw new Error("a head store line is not a block");
  return BigInt(m[1]);
}

/** Options of {@link Backfill}. */
export interface BackfillOptions {
  /** The chain's genesis. */
  genesis: SigGenesis;
  /** The checkpoint the node joined from. */
  checkpoint: SigCheckpoint;
  /** The peer the checkpoint came from, for the lines that name it. */
  checkpointPeer?: string;
  /** `block.store`, holding blocks 1..k so far. */
  store: BlockStore;
  /** Verifies blocks ahead of the replay. */
  pool: VerifyPool;
  /** BlockSync of the peers. */
  source: SyncSource;
  /** Who to download from. */
  peers: PeerReader;
  /** Our own address, never asked. */
  self: string;
  /** Stops the backfill. */
  signal: AbortSignal;
  /** Where progress and failures are told. */
  log: (message: string) => void;
  /** The first pause after a round with no progress; 500 ms by default. */
  retryMs?: number;
}

/**
 * Downloads, verifies and replays blocks 1..N into `block.store`, then
 * checks that they end in the checkpoint's block and state.
 *
 * @example
 * ```ts ignore
 * import { Backfill } from "./backfill.ts";
 * const backfill = new Backfill({ genesis, checkpoint, store, pool, source, peers, self, signal, log });
 * await backfill.run();
 * ```
 */
export class Backfill {
  readonly #o: BackfillOptions;
  readonly #state: State;
  #held = 0n;

  /** Prepares the backfill of `options.store`. */
  constructor(options: BackfillOptions) {
    this.#o = options;
    this.#state = new State(options.genesis);
  }

  /** The checkpoint's block number: where the backfill ends. */
  get target(): bigint {
    return this.#o.checkpoint.number;
  }

  /** How many blocks `block.store` holds (1..held), as far as verified. */
  get held(): bigint {
    return this.#held;
  }

  /**
   * Replays what `block.store` holds, downloads the rest up to the
   * checkpoint, and checks the result. Resolves once blocks 1..N are in
   * `block.store` and reproduce the checkpoint; rejects with a one-line
   * Error when they do not (the chain the authority signed differs from
   * its checkpoint) or the store is damaged; rejects with the signal's
   * reason when stopped.
   */
  async run(): Promise<void> {
    const o = this.#o;
    await this.#replay();
    let pauses = 0;
    while (this.#state.lastNumber < this.target) {
      o.signal.throwIfAborted();
      const before = this.#state.lastNumber;
      for (const peer of o.peers.peers()) {
        if (peer === o.self) continue;
        if (this.#state.lastNumber >= this.target) break;
        try {
          await this.#fromPeer(peer);
        } catch (e) {
          o.signal.throwIfAborted();
          if (e instanceof StoreFailure) throw e;
          o.log(`warning: backfill from ${peer}: ${messageOf(e)}`);
        }
      }
      if (this.#state.lastNumber === before) {
        pauses = Math.min(pauses + 1, 4);
        const ms = (o.retryMs ?? 500) * 2 ** (pauses - 1);
        if (!await sleep(ms, o.signal)) o.signal.throwIfAborted();
      } else pauses = 0;
    }
    this.#confirm();
  }

  // Replays blocks 1..min(k, N) of block.store (a resumed backfill).
  async #replay(): Promise<void> {
    const o = this.#o;
    const stop = new AbortController();
    const lines = o.store.blockLines({
      signal: AbortSignal.any([o.signal, stop.signal]),
    });
    try {
      for await (
        const r of verifiedBlocks(o.pool, lines, {
          assumeValidTo: this.target,
        })
      ) {
        const at = this.#state.lastNumber + 1n;
        if ("error" in r) {
          throw new Error(`${o.store.blocksPath} line ${at}: ${r.error}`);
        }
        try {
          this.#state.applyBlock(r.value);
        } catch (e) {
          throw new Error(`${o.store.blocksPath} line ${at}: ${messageOf(e)}`);
        }
        this.#held = this.#state.lastNumber;
        if (this.#held >= this.target) break;
      }
    } catch (e) {
      o.signal.throwIfAborted();
      throw new StoreFailure(`backfill cannot replay: ${messageOf(e)}`);
    } finally {
      stop.abort();
    }
  }

  // Streams the next blocks from `peer`, up to the checkpoint, applying and
  // appending them in groups; a bad block ends the peer's turn (thrown).
  async #fromPeer(peer: string): Promise<void> {
    const o = this.#o;
    const state = this.#state;
    const stop = new AbortController();
    const signal = AbortSignal.any([o.signal, stop.signal]);
    let group: SigBlock[] = [];
    let groupBytes = 0;
    let groupStart = 0;
    // Held blocks resent: bounded as in a full sync.
    const copies = new HeldCopies();
    // One group is written (and flushed to disk) while the next is
    // verified and applied: the disk's flush does not stall the pipeline.
    let writing: Promise<void> = Promise.resolve();
    const append = async (blocks: SigBlock[]) => {
      try {
        await o.store.appendLines(blocks.map(blockBytes));
      } catch (e) {
        throw new StoreFailure(
          `backfill cannot append to ${o.store.blocksPath}: ${messageOf(e)}`,
        );
      }
      this.#held = blocks[blocks.length - 1].number;
    };
    const flush = async () => {
      await writing;
      if (group.length === 0) return;
      const blocks = group;
      group = [];
      groupBytes = 0;
      writing = append(blocks);
      // Surfaced by the next flush; never unhandled meanwhile.
      writing.catch(() => {});
    };
    try {
      const source = o.source.blocks(peer, state.lastNumber + 1n, signal);
      for await (
        const r of verifiedBlocks(o.pool, source, {
          assumeValidTo: this.target,
        })
      ) {
        const next = state.lastNumber + 1n;
        if ("error" in r) throw new Error(`block ${next}: ${r.error}`);
        const block = r.value;
        // A reference peer resends some held blocks: skipped, but not
        // without end (each costs a verification and moves nothing).
        if (block.number < next) {
          if (!copies.add(block.number)) {
            throw new Error(
              `resent blocks this node holds ${copies.repeats} times (block ${block.number} last), more than ${MAX_HELD_COPIES} copies each`,
            );
          }
          continue;
        }
        if (block.number !== next) {
          throw new Error(`sent block ${block.number}, expected ${next}`);
        }
        state.applyBlock(block);
        if (group.length === 0) groupStart = performance.now();
        group.push(block);
        groupBytes += blockBytes(block).length;
        // By count, bytes or age: a slow peer's blocks are durable (and
        // counted in the status) within a second.
        if (
          group.length >= 256 || groupBytes >= 8 * 1024 * 1024 ||
          performance.now() - groupStart >= 1000
        ) {
          await flush();
        }
        if (state.lastNumber >= this.target) break;
      }
    } finally {
      stop.abort();
      await flush();
      await writing;
    }
  }

  // Blocks 1..N are held: they must end in the checkpoint's block and
  // reproduce its state.
  #confirm(): void {
    const c = this.#o.checkpoint;
    const from = this.#o.checkpointPeer === undefined
      ? ""
      : ` (from peer ${this.#o.checkpointPeer})`;
    const last = this.#state.lastBlock;
    if (!last || blockHash(last) !== c.block) {
      throw new BackfillMismatch(
        `backfill: block ${c.number} of the chain is ${
          last ? blockHash(last).slice(0, 7) : "missing"
        }, but checkpoint ${c.number}${from} says ${c.block.slice(0, 7)}`,
      );
    }
    const { hash } = stateHash(this.#state.confirmed());
    if (hash !== c.state) {
      throw new BackfillMismatch(
        `backfill: blocks 1 to ${c.number} reproduce state ${
          hash.slice(0, 7)
        }, but checkpoint ${c.number}${from} says ${c.state.slice(0, 7)}`,
      );
    }
  }
}

/**
 * Blocks 1..N do not end in the checkpoint's block or state: the state the
 * node joined from is not its chain's, and it must not go on serving it.
 *
 * @example
 * ```ts
 * import { BackfillMismatch } from "./backfill.ts";
 * const e = new BackfillMismatch("backfill: block 4 of the chain is ...");
 * console.log(e instanceof BackfillMismatch); // true
 * ```
 */
export class BackfillMismatch extends Error {
  /** Creates the error with its one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "BackfillMismatch";
  }
}

/** The local store failed: no peer's fault, the backfill stops. */
class StoreFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreFailure";
  }
}
