/**
 * Fetching checkpoints from peers: the Checkpoint service's client side.
 *
 * - {@link runCheckpointPoller}: a regular node asks its bcn peers, every
 *   period, for the authority's checkpoints at the blocks whose state hash
 *   it worked out, and hands them to its {@link CheckpointKeeper}.
 * - {@link fetchCheckpointState}: a joining node fetches a peer's newest
 *   checkpoint, its block and the state at it, and verifies all of it
 *   (authority's signature, chain, block N's signature and hash, the state
 *   hash) within bounds of size and time a hostile peer cannot stretch.
 *
 * A reference peer has no Checkpoint service: it answers Unimplemented
 * once, and is not asked again.
 *
 * @module
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  blockHash,
  decodeSigBlock,
  type SigBlock,
  verifyBlock,
} from "../chain/block.ts";
import {
  decodeSigCheckpoint,
  encodeSigCheckpoint,
  type SigCheckpoint,
  verifyCheckpoint,
} from "../chain/checkpoint.ts";
import type { CheckpointStore } from "../store/checkpoint_store.ts";
import { genesisHash, type SigGenesis } from "../chain/genesis.ts";
import type { ConfirmedState } from "../chain/state.ts";
import { decodeStateChunk, StateHasher } from "../chain/state_hash.ts";
import { Checkpoint as CheckpointService } from "../rpc/gen/checkpoint_pb.ts";
import type { PeerRegistry } from "../rpc/registry.ts";
import { describePeerError } from "../rpc/peer_errors.ts";
import { MAX_MESSAGE_BYTES } from "../rpc/message_limit.ts";
import { messageOf } from "../util/errors.ts";
import type { CheckpointKeeper } from "./checkpoints.ts";
import { sleep } from "../util/sleep.ts";
import type { PeerReader } from "./state_sync.ts";
import { encodeUtf8 } from "../util/utf8.ts";

/** One message of a peer's CheckpointSync stream. */
export interface CheckpointMessage {
  /** The SigCheckpoint (first message). */
  checkpoint: Uint8Array;
  /** The SigBlock it names (first message). */
  block: Uint8Array;
  /** A chunk of the state (later messages). */
  accounts: Uint8Array;
}

/** The network side of checkpoints; tests substitute their own. */
export interface CheckpointSource {
  /**
   * The CheckpointSync stream of `peer` for block `number` (0: newest),
   * with the state when `state`.
   */
  checkpoint(
    peer: string,
    number: bigint,
    state: boolean,
    signal: AbortSignal,
  ): AsyncIterable<CheckpointMessage>;
}

/**
 * The Checkpoint service of each peer through the node's registry.
 *
 * @example
 * ```ts ignore
 * import { peerCheckpointSource } from "./checkpoint_sync.ts";
 * const source = peerCheckpointSource(registry);
 * ```
 */
export function peerCheckpointSource(registry: PeerRegistry): CheckpointSource {
  return {
    async *checkpoint(peer, number, state, signal) {
      const client = createClient(
        CheckpointService,
        registry.transport(peer),
      );
      for await (
        const res of client.checkpointSync({ Number: number, State: state }, {
          signal,
        })
      ) {
        yield {
          checkpoint: res.Checkpoint,
          block: res.Block,
          accounts: res.Accounts,
        };
      }
    },
  };
}

/** Whether `e` says the peer has no such RPC (a reference node). */
export function isUnimplemented(e: unknown): boolean {
  return e instanceof ConnectError && e.code === Code.Unimplemented;
}

/** Whether `e` says the peer holds no such checkpoint (yet). */
export function isNotFound(e: unknown): boolean {
  return e instanceof ConnectError && e.code === Code.NotFound;
}

/** Bound of one question of the checkpoint poller, in ms. */
const POLL_TIMEOUT_MS = 5_000;

/** Options of {@link runCheckpointPoller}. */
export interface CheckpointPollerOptions {
  /** The pause between rounds, in ms. */
  periodMs: number;
  /** The peers that may be asked. */
  peers: PeerReader;
  /** Our own address, never asked. */
  self: string;
  /** CheckpointSync of a peer. */
  source: CheckpointSource;
  /** The keeper the checkpoints go to. */
  keeper: CheckpointKeeper;
  /** Peers known to lack the service (shared with the checkpoint sync). */
  noService?: Set<string>;
  /** When the poller stops. */
  signal: AbortSignal;
}

/**
 * Every period, asks a bcn peer for the authority's checkpoints at the
 * blocks whose state hash the keeper waits to check (or for the newest,
 * which tells the interval, when none waits), and offers each to the
 * keeper. Resolves soon after `signal` aborts; never rejects.
 *
 * @example
 * ```ts ignore
 * import { runCheckpointPoller } from "./checkpoint_sync.ts";
 * await runCheckpointPoller({ periodMs: 5000, peers, self, source, keeper, signal });
 * ```
 */
export async function runCheckpointPoller(
  options: CheckpointPollerOptions,
): Promise<void> {
  const { signal, keeper } = options;
  const noService = options.noService ?? new Set<string>();
  let turn = 0;
  while (await sleep(options.periodMs, signal)) {
    const peers = options.peers.peers().filter((p) =>
      p !== options.self && !noService.has(p)
    );
    if (peers.length === 0) continue;
    const peer = peers[turn++ % peers.length];
    const wanted = keeper.unchecked();
    for (const number of wanted.length > 0 ? wanted : [0n]) {
      const ask = AbortSignal.any([
        signal,
        AbortSignal.timeout(POLL_TIMEOUT_MS),
      ]);
      try {
        for await (
          const m of options.source.checkpoint(peer, number, false, ask)
        ) {
          const c = decodeSigCheckpoint(
            m.checkpoint,
            `checkpoint from ${peer}`,
          );
          if (number === 0n || c.number === number) await keeper.offer(c, peer);
          break;
        }
      } catch (e) {
        if (signal.aborted) return;
        if (isUnimplemented(e)) {
          noService.add(peer);
          break;
        }
        // Not signed yet, or the peer is away: asked again next round.
        if (!isNotFound(e)) break;
      }
    }
  }
}

/** Bounds of {@link fetchCheckpointState}. */
export interface CheckpointBounds {
  /**
   * The most accounts a state may hold; 1 million by default (the state
   * is held in memory while it is checked: a chain with more joins by a
   * full sync).
   */
  maxAccounts?: number;
  /** The most bytes the whole answer may carry; 128 MiB by default. */
  maxTotalBytes?: number;
  /** The longest the whole answer may take, in ms; 10 minutes by default. */
  timeoutMs?: number;
  /** The longest pause between two messages, in ms; 30 s by default. */
  idleMs?: number;
}

/** A verified checkpoint with its block and the state at it. */
export interface CheckpointState {
  /** The checkpoint, signed by the authority. */
  readonly checkpoint: SigCheckpoint;
  /** Block `checkpoint.number`, signed by the authority, of that hash. */
  readonly block: SigBlock;
  /** The state after that block, hashing to `checkpoint.state`. */
  readonly state: ConfirmedState;
  /** That state's chunks, canonical text each (what the node keeps). */
  readonly chunks: readonly string[];
}

/** A peer's checkpoint that was refused; the message names peer and reason. */
export class CheckpointRefused extends Error {
  /** The peer that sent it. */
  readonly peer: string;
  /** Creates the error: `peer PEER: checkpoint refused: REASON`. */
  constructor(peer: string, reason: string) {
    super(`peer ${peer}: checkpoint refused: ${reason}`);
    this.name = "CheckpointRefused";
    this.peer = peer;
  }
}

/**
 * Fetches `peer`'s newest checkpoint with its block and state and verifies
 * all of it against `genesis`: the chain and genesis, the authority's
 * signature, block N's signature, number and hash, every chunk (size,
 * order, decoding) and the state hash and account count. Resolves to the
 * verified state; rejects with a {@link CheckpointRefused} naming the peer
 * and the reason, or with the peer's RPC error (Unimplemented from a
 * reference node, NotFound from a node with no checkpoint yet). Nothing is
 * written.
 *
 * @example
 * ```ts ignore
 * import { fetchCheckpointState } from "./checkpoint_sync.ts";
 * const { checkpoint, state } = await fetchCheckpointState(source, peer, genesis, { signal });
 * ```
 */
export async function fetchCheckpointState(
  source: CheckpointSource,
  peer: string,
  genesis: SigGenesis,
  options: CheckpointBounds & { signal: AbortSignal },
): Promise<CheckpointState> {
  const maxAccounts = options.maxAccounts ?? 1_000_000;
  // The largest message a node takes: a chunk of one account is as long
  // as its address, any string a transaction named.
  const maxMessage = MAX_MESSAGE_BYTES;
  const maxTotal = options.maxTotalBytes ?? 128 * 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const idleMs = options.idleMs ?? 30_000;
  const refuse = (reason: string): never => {
    throw new CheckpointRefused(peer, reason);
  };
  const done = new AbortController();
  const deadline = setTimeout(
    () =>
      done.abort(new CheckpointRefused(peer, `took more than ${timeoutMs} ms`)),
    timeoutMs,
  );
  let idle: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(
      () =>
        done.abort(
          new CheckpointRefused(peer, `sent nothing for ${idleMs} ms`),
        ),
      idleMs,
    );
  };
  const signal = AbortSignal.any([options.signal, done.signal]);
  try {
    arm();
    let checkpoint: SigCheckpoint | undefined;
    let block: SigBlock | undefined;
    const hasher = new StateHasher();
    const balances = new Map<string, bigint>();
    const nonces = new Map<string, bigint>();
    const chunks: string[] = [];
    let total = 0;
    let chunkNo = 0;
    try {
      for await (
        const m of source.checkpoint(peer, 0n, true, signal)
      ) {
        arm();
        const size = m.checkpoint.length + m.block.length + m.accounts.length;
        if (size > maxMessage) {
          refuse(`a message of ${size} bytes, more than ${maxMessage}`);
        }
        total += size;
        if (total > maxTotal) {
          refuse(`more than ${maxTotal} bytes in all`);
        }
        if (!checkpoint) {
          ({ checkpoint, block } = checkFirst(m, genesis, maxAccounts, refuse));
          continue;
        }
        if (m.checkpoint.length > 0 || m.block.length > 0) {
          refuse("a second checkpoint in one answer");
        }
        chunkNo++;
        let accounts;
        try {
          accounts = decodeStateChunk(m.accounts, `state chunk ${chunkNo}`);
        } catch (e) {
          return refuse(messageOf(e));
        }
        if (hasher.accounts + accounts.length > Number(checkpoint.accounts)) {
          refuse(
            `the state holds more than the ${checkpoint.accounts} accounts the checkpoint says`,
          );
        }
        try {
          chunks.push(hasher.add(accounts));
        } catch (e) {
          return refuse(`state chunk ${chunkNo}: ${messageOf(e)}`);
        }
        for (const a of accounts) {
          balances.set(a.address, a.balance);
          if (a.nonce > 0n) nonces.set(a.address, a.nonce);
        }
      }
    } catch (e) {
      if (e instanceof CheckpointRefused) throw e;
      if (done.signal.aborted) throw done.signal.reason;
      throw e;
    }
    // A source that ends quietly when cut off was cut off all the same.
    if (done.signal.aborted) throw done.signal.reason;
    if (!checkpoint || !block) return refuse("an empty answer");
    const { hash, accounts } = hasher.finish();
    if (BigInt(accounts) !== checkpoint.accounts) {
      refuse(
        `the state stream ended after ${accounts} of ${checkpoint.accounts} accounts (truncated)`,
      );
    }
    if (hash !== checkpoint.state) {
      refuse(
        `the state hashes to ${hash.slice(0, 7)}, not to the signed ${
          checkpoint.state.slice(0, 7)
        }`,
      );
    }
    return {
      checkpoint,
      block,
      state: {
        lastNumber: block.number,
        lastHash: blockHash(block),
        lastBlock: block,
        balances,
        nonces,
      },
      chunks,
    };
  } finally {
    clearTimeout(deadline);
    clearTimeout(idle);
    done.abort();
  }
}

// The first message: the checkpoint and its block, checked in full.
function checkFirst(
  m: CheckpointMessage,
  genesis: SigGenesis,
  maxAccounts: number,
  refuse: (reason: string) => never,
): { checkpoint: SigCheckpoint; block: SigBlock } {
  let checkpoint: SigCheckpoint;
  try {
    checkpoint = decodeSigCheckpoint(m.checkpoint);
  } catch (e) {
    return refuse(messageOf(e));
  }
  if (
    checkpoint.genesis !== genesisHash(genesis) ||
    checkpoint.chain !== genesis.chain
  ) {
    refuse(
      `it is of another chain (${JSON.stringify(checkpoint.chain)}, genesis ${
        checkpoint.genesis.slice(0, 7)
      })`,
    );
  }
  if (!verifyCheckpoint(checkpoint, genesis.authority)) {
    refuse(
      `it is not signed by the authority ${genesis.authority.slice(0, 7)}`,
    );
  }
  if (checkpoint.accounts > BigInt(maxAccounts)) {
    refuse(`${checkpoint.accounts} accounts, more than ${maxAccounts}`);
  }
  if (m.accounts.length > 0) refuse("state before its checkpoint");
  let block: SigBlock;
  try {
    block = decodeSigBlock(m.block, `block ${checkpoint.number}`);
  } catch (e) {
    return refuse(messageOf(e));
  }
  if (block.number !== checkpoint.number) {
    refuse(`sent block ${block.number} for checkpoint ${checkpoint.number}`);
  }
  if (!verifyBlock(block, genesis.authority)) {
    refuse(`block ${block.number} is not signed by the authority`);
  }
  if (blockHash(block) !== checkpoint.block) {
    refuse(
      `block ${block.number} has hash ${
        blockHash(block).slice(0, 7)
      }, the checkpoint says ${checkpoint.block.slice(0, 7)}`,
    );
  }
  return { checkpoint, block };
}

/**
 * The state kept in `checkpoint_state.jsonl` for checkpoint `c`, as a
 * {@link CheckpointSource} (any peer and number), so a restart verifies it
 * exactly as it verified the peer's answer.
 *
 * @example
 * ```ts ignore
 * import { fetchCheckpointState, keptStateSource } from "./checkpoint_sync.ts";
 * const kept = await fetchCheckpointState(keptStateSource(store, c), "kept state", genesis, { signal });
 * ```
 */
export function keptStateSource(
  store: CheckpointStore,
  c: SigCheckpoint,
): CheckpointSource {
  return {
    async *checkpoint(_peer, _number, _state, signal) {
      const kept = await store.readState(c, signal);
      if (!kept) throw new Error(`${store.statePath} holds no state for it`);
      const empty = new Uint8Array(0);
      yield {
        checkpoint: encodeUtf8(encodeSigCheckpoint(c)),
        block: kept.block,
        accounts: empty,
      };
      for await (const accounts of kept.chunks) {
        yield { checkpoint: empty, block: empty, accounts };
      }
    },
  };
}

/**
 * One line for a peer that could not give a checkpoint: its refusal, or
 * its RPC error.
 *
 * @example
 * ```ts
 * import { describeCheckpointFailure } from "./checkpoint_sync.ts";
 * console.log(describeCheckpointFailure("127.0.0.1:1122", new Error("boom")));
 * ```
 */
export function describeCheckpointFailure(peer: string, e: unknown): string {
  if (e instanceof CheckpointRefused) return e.message;
  return describePeerError(peer, e);
}
