/**
 * A regular node's way in from a checkpoint, and its way out of the
 * backfill: what the node does with `checkpoint_sync.ts` (fetching and
 * verifying a peer's checkpoint and state) and `backfill.ts` (blocks
 * 1..N), wired to its peers, stores and ledger. The node's start asks
 * {@link CheckpointJoiner.join} for a state before it syncs in full, and
 * runs {@link CheckpointJoiner.runBackfill} once it serves.
 *
 * @module
 */
import { join } from "node:path";
import { blockBytes, decodeSigBlock } from "../chain/block.ts";
import {
  decodeSigCheckpoint,
  type SigCheckpoint,
} from "../chain/checkpoint.ts";
import { genesisHash } from "../chain/genesis.ts";
import { State } from "../chain/state.ts";
import type { PeerRegistry } from "../rpc/registry.ts";
import { BlockStore } from "../store/block_store.ts";
import {
  CHECKPOINT_STATE_FILE,
  type CheckpointStore,
} from "../store/checkpoint_store.ts";
import { messageOf } from "../util/errors.ts";
import {
  appendHead,
  Backfill,
  BACKFILL_FILE,
  BackfillMismatch,
  finishBackfill,
  HEAD_DIR,
  readBackfillMarker,
  writeBackfillMarker,
} from "./backfill.ts";
import {
  type CheckpointState,
  describeCheckpointFailure,
  fetchCheckpointState,
  isNotFound,
  isUnimplemented,
  keptStateSource,
  peerCheckpointSource,
} from "./checkpoint_sync.ts";
import { advertisedAddress, type NodeConfig } from "./config.ts";
import { SyncError } from "./sync_error.ts";
import type { Ledger } from "./ledger.ts";
import { peerSyncSource, type StateSync } from "./state_sync.ts";
import { verifiedBlocks, type VerifyPool } from "./verify/pool.ts";

/** The most peers a joining node asks for a checkpoint. */
const MAX_CHECKPOINT_PEERS = 8;
/**
 * How long a join may take over all the peers it asks before the node
 * syncs in full: one peer's bound, so peers that trickle their answers
 * cannot hold a new node for MAX_CHECKPOINT_PEERS times as long.
 */
export const JOIN_TIMEOUT_MS = 600_000;

/** A node that joined from a checkpoint. */
export interface Joined {
  /** The state at the checkpoint, with the head store's blocks applied. */
  state: State;
  /** Where blocks after the checkpoint go until the backfill is done. */
  head: BlockStore;
  /** The checkpoint. */
  checkpoint: SigCheckpoint;
}

/** What a {@link CheckpointJoiner} uses of its node. */
export interface CheckpointJoinerOptions {
  /** The node's configuration. */
  config: NodeConfig;
  /** The node's peers' clients. */
  registry: PeerRegistry;
  /** The peers discovery found. */
  discovery: { peers(): string[] };
  /** Verifies blocks ahead of their replay. */
  pool: VerifyPool;
  /** The node's stop. */
  signal: AbortSignal;
  /** Where the node tells what happens. */
  log: (message: string) => void;
  /** The join's bound over all peers; {@link JOIN_TIMEOUT_MS} by default. */
  joinTimeoutMs?: number;
}

/**
 * Joins a node from a peer's checkpoint (or resumes a backfill under way)
 * and runs the backfill to its end.
 *
 * @example
 * ```ts ignore
 * import { CheckpointJoiner } from "./checkpoint_join.ts";
 * const joiner = new CheckpointJoiner({ config, registry, discovery, pool, signal, log });
 * const joined = await joiner.join(sync, store, checkpointStore);
 * ```
 */
export class CheckpointJoiner {
  /** Peers that answered Unimplemented to the Checkpoint service. */
  readonly noService: Set<string> = new Set<string>();
  readonly #o: CheckpointJoinerOptions;
  #backfill: Backfill | undefined;

  /** Prepares the joiner of a node; nothing runs until asked. */
  constructor(options: CheckpointJoinerOptions) {
    this.#o = options;
  }

  // This node, by the address it serves on or the one it names itself by
  // (peers list the latter).
  #isSelf(peer: string): boolean {
    const cfg = this.#o.config;
    return peer === cfg.node || peer === advertisedAddress(cfg);
  }

  /** The backfill under way, if any. */
  get backfill(): Backfill | undefined {
    return this.#backfill;
  }

  /**
   * Joins from a checkpoint: resumes a backfill under way, or (a new node
   * in `checkpoint` mode) fetches and verifies a bcn peer's newest
   * checkpoint and its state. Resolves to the state at the checkpoint
   * (plus the head store replayed on it), or undefined for a full sync:
   * no bcn peer offered a checkpoint (each refusal is one line), or the
   * mode is `full`.
   */
  async join(
    sync: StateSync,
    store: BlockStore,
    checkpointStore: CheckpointStore,
  ): Promise<Joined | undefined> {
    const cfg = this.#o.config;
    const dir = cfg.blockStoreDir;
    let marker: SigCheckpoint | undefined;
    try {
      marker = await readBackfillMarker(dir);
    } catch (e) {
      this.#o.log(
        `warning: ${BACKFILL_FILE} is damaged (${
          messageOf(e)
        }): syncing in full from what block.store holds`,
      );
      await finishBackfill(dir);
    }
    if (marker) {
      const genesis = await sync.setUpGenesis();
      try {
        const kept = await fetchCheckpointState(
          keptStateSource(checkpointStore, marker),
          "(this node's kept state)",
          genesis,
          { signal: this.#o.signal },
        );
        this.#o.log(
          `resuming the backfill to checkpoint ${marker.number}: block.store holds ${await store
            .blocksSize()} bytes`,
        );
        return await this.#fromCheckpoint(sync, store, kept, undefined);
      } catch (e) {
        this.#o.signal.throwIfAborted();
        this.#o.log(
          `warning: cannot resume from checkpoint ${marker.number}: ${
            messageOf(e)
          }; syncing in full from what block.store holds`,
        );
        await finishBackfill(dir);
        return undefined;
      }
    }
    // Leftovers of a backfill that completed (or never started).
    await Deno.remove(join(dir, HEAD_DIR), { recursive: true }).catch(() => {});
    const empty = await store.blocksSize() === 0;
    const mode = cfg.sync ?? (empty ? "checkpoint" : "full");
    if (mode !== "checkpoint") return undefined;
    if (!empty) {
      this.#o.log(
        "--sync checkpoint: block.store already holds blocks; syncing in full from them",
      );
      return undefined;
    }
    const genesis = await sync.setUpGenesis();
    // Another chain's checkpoints left in the directory stand aside.
    checkpointStore.keepChain(genesisHash(genesis));
    const source = peerCheckpointSource(this.#o.registry);
    const seed = cfg.seed === undefined ? [] : [cfg.seed];
    const asked = new Set<string>();
    const deadline = performance.now() +
      (this.#o.joinTimeoutMs ?? JOIN_TIMEOUT_MS);
    for await (
      const peer of this.#checkpointPeers([
        ...seed,
        ...this.#o.discovery.peers(),
      ])
    ) {
      if (asked.has(peer) || asked.size >= MAX_CHECKPOINT_PEERS) continue;
      asked.add(peer);
      if (this.#isSelf(peer) || this.noService.has(peer)) continue;
      const left = deadline - performance.now();
      if (left <= 0) {
        const bound = (this.#o.joinTimeoutMs ?? JOIN_TIMEOUT_MS) / 1000;
        this.#o.log(`no checkpoint joined within ${bound}s: syncing in full`);
        return undefined;
      }
      try {
        const got = await fetchCheckpointState(source, peer, genesis, {
          signal: this.#o.signal,
          timeoutMs: Math.ceil(left),
        });
        // The state first, then the checkpoint, then the marker: a crash
        // before the marker leaves an empty block.store, joined again.
        await checkpointStore.writeState(
          got.checkpoint,
          blockBytes(got.block),
          got.chunks,
        );
        await checkpointStore.append(got.checkpoint);
        await writeBackfillMarker(dir, got.checkpoint);
        this.#o.log(
          `joined from checkpoint ${got.checkpoint.number} of peer ${peer} (${got.checkpoint.accounts} accounts); backfilling blocks 1 to ${got.checkpoint.number}`,
        );
        return await this.#fromCheckpoint(sync, store, got, peer);
      } catch (e) {
        this.#o.signal.throwIfAborted();
        if (isUnimplemented(e)) {
          // A reference node: asked nothing more.
          this.noService.add(peer);
          continue;
        }
        if (isNotFound(e)) continue;
        this.#o.log(`warning: ${describeCheckpointFailure(peer, e)}`);
      }
    }
    this.#o.log("no bcn peer offers a checkpoint: syncing in full");
    return undefined;
  }

  /**
   * The peers to ask for a checkpoint: `first`, then (when none of them
   * gave one) the peers the seed knows, asked once with PeerDiscover as
   * discovery would (the seed may be a reference node, its peers not).
   */
  async *#checkpointPeers(first: string[]): AsyncGenerator<string> {
    yield* first;
    const seed = this.#o.config.seed;
    if (seed === undefined) return;
    let known: string[];
    try {
      const res = await this.#o.registry.clients(seed).node.peerDiscover(
        { Peer: advertisedAddress(this.#o.config) },
        {
          signal: AbortSignal.any([this.#o.signal, AbortSignal.timeout(2000)]),
        },
      );
      known = res.Peers;
    } catch {
      return;
    }
    yield* known.slice(0, MAX_CHECKPOINT_PEERS);
  }

  // The state at a verified checkpoint, with the head store (blocks
  // confirmed since) replayed on it.
  async #fromCheckpoint(
    sync: StateSync,
    store: BlockStore,
    got: CheckpointState,
    peer: string | undefined,
  ): Promise<Joined> {
    const genesis = await sync.setUpGenesis();
    const state = new State(genesis);
    state.restore(got.state);
    const head = await BlockStore.open(
      join(this.#o.config.blockStoreDir, HEAD_DIR),
      { onWarning: this.#o.log },
    );
    for await (
      const r of verifiedBlocks(
        this.#o.pool,
        head.blockLines({
          signal: this.#o.signal,
        }),
      )
    ) {
      const next = state.lastNumber + 1n;
      if ("error" in r) {
        throw new SyncError(`${head.blocksPath}: block ${next}: ${r.error}`);
      }
      try {
        state.applyBlock(r.value);
      } catch (e) {
        throw new SyncError(`${head.blocksPath}: ${messageOf(e)}`);
      }
    }
    // A node that ran on this directory meanwhile (a reference node, which
    // knows nothing of the backfill) may have synced block.store past the
    // head store: blocks the state here lacks would be appended again.
    const mainLast = await lastNumberOf(store);
    if (mainLast > state.lastNumber) {
      throw new Error(
        `block.store holds blocks up to ${mainLast}, past block ${state.lastNumber} of the checkpoint and head store (another node ran on this directory)`,
      );
    }
    sync.adopt(state, head);
    this.#backfill = new Backfill({
      genesis,
      checkpoint: got.checkpoint,
      checkpointPeer: peer,
      store,
      pool: this.#o.pool,
      source: peerSyncSource(this.#o.registry),
      peers: {
        peers: () => [
          ...new Set([
            ...(this.#o.config.seed ? [this.#o.config.seed] : []),
            ...this.#o.discovery.peers(),
          ]),
        ],
      },
      self: advertisedAddress(this.#o.config),
      signal: this.#o.signal,
      log: this.#o.log,
    });
    return { state, head, checkpoint: got.checkpoint };
  }

  /**
   * Backfills block.store, then makes it the node's store: the head
   * store's blocks are appended to it under the ledger's lock, the marker
   * goes (the moment block.store is complete), then the head store. A
   * backfill that does not reproduce the checkpoint is handed to `fail`,
   * which stops the node: its state came from that checkpoint. The next
   * start syncs in full from the blocks block.store holds.
   */
  async runBackfill(
    joined: Joined,
    ledger: Ledger,
    store: BlockStore,
    fail: (e: Error) => void,
  ): Promise<void> {
    const backfill = this.#backfill!;
    const dir = this.#o.config.blockStoreDir;
    try {
      await backfill.run();
      await ledger.switchStore(store, async () => {
        await appendHead(store, joined.head, await lastNumberOf(store));
        await finishBackfill(dir);
      });
      this.#backfill = undefined;
      this.#o.log(
        `backfill done: block.store holds every block, 1 to ${ledger.state.lastNumber}`,
      );
    } catch (e) {
      if (this.#o.signal.aborted) return;
      this.#o.log(`error: ${messageOf(e)}`);
      if (!(e instanceof BackfillMismatch)) return;
      // The state this node serves came from a checkpoint its chain does
      // not reproduce: it must not go on serving it.
      await finishBackfill(dir).catch(() => {});
      await Deno.remove(join(dir, CHECKPOINT_STATE_FILE)).catch(() => {});
      fail(new SyncError(`${messageOf(e)}; restart to sync in full`));
    }
  }

  /**
   * The seed's newest checkpoint record (not verified: the keeper checks
   * it once the genesis is known), or undefined when it has none, has no
   * Checkpoint service or does not answer within 2 s.
   */
  async probe(): Promise<SigCheckpoint | undefined> {
    const seed = this.#o.config.seed;
    if (seed === undefined || this.#isSelf(seed)) return undefined;
    const signal = AbortSignal.any([this.#o.signal, AbortSignal.timeout(2000)]);
    try {
      const source = peerCheckpointSource(this.#o.registry);
      for await (const m of source.checkpoint(seed, 0n, false, signal)) {
        return decodeSigCheckpoint(m.checkpoint);
      }
    } catch (e) {
      if (isUnimplemented(e)) this.noService.add(seed);
    }
    return undefined;
  }
}

/** The number of the last block `store` holds; 0 when it holds none. */
async function lastNumberOf(store: BlockStore): Promise<bigint> {
  const last = await store.lineEndingAt(await store.blocksSize());
  return typeof last === "string" ? 0n : decodeSigBlock(last).number;
}
