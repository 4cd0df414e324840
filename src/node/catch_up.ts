/**
 * Catch-up polling: a regular node that missed blocks (paused, cut off or
 * overloaded while they were relayed) learns from its peers that it is
 * behind, without waiting for the next relayed block, which on a quiet
 * chain may never come. Each period a few peers are asked, with BlockSync
 * from the node's next block (reference peers answer it too), whether they
 * hold it; the node's catch-up sync then fetches and applies the rest.
 *
 * @module
 */
import { blockHash, decodeSigBlock } from "../chain/block.ts";
import { sleep } from "../util/sleep.ts";
import { HeldCopies } from "./held_copies.ts";
import type { PeerReader, SyncSource } from "./state_sync.ts";

/** Default of {@link CatchUpPollerOptions.fanout}. */
export const DEFAULT_CATCH_UP_FANOUT = 2;
/** The least {@link CatchUpPollerOptions.timeoutMs} defaults to. */
export const MIN_PROBE_TIMEOUT_MS = 2000;

/** Options of {@link runCatchUpPoller}. */
export interface CatchUpPollerOptions {
  /** The pause between two rounds, in milliseconds. */
  periodMs: number;
  /** The peers that may be asked (our own address is skipped). */
  peers: PeerReader;
  /** Our own advertised address, never asked. */
  self: string;
  /** BlockSync of a peer. */
  source: SyncSource;
  /** The number of the node's last confirmed block. */
  lastNumber: () => bigint;
  /**
   * A peer holds a block after our last one: start catching up. Called at
   * most once a round; a catch-up already under way should ignore it.
   */
  onBehind: (peer: string, number: bigint) => void;
  /** When the poller stops. */
  signal: AbortSignal;
  /** Peers asked per round, in turn through the list; 2 by default. */
  fanout?: number;
  /** Bound of one question; the period, but at least 2 s, by default. */
  timeoutMs?: number;
  /** See {@link PeerHasBlockOptions.heldHash}. */
  heldHash?: (number: bigint) => string | undefined;
}

/**
 * Options of {@link peerHasBlock}.
 *
 * @example
 * ```ts
 * import type { PeerHasBlockOptions } from "./catch_up.ts";
 *
 * const last = { number: 4n, hash: "ab".repeat(32) };
 * const options: PeerHasBlockOptions = {
 *   signal: new AbortController().signal,
 *   heldHash: (n) => n === last.number ? last.hash : undefined,
 * };
 * ```
 */
export interface PeerHasBlockOptions {
  /** Cancels the question. */
  signal: AbortSignal;
  /** Bound of the question; {@link MIN_PROBE_TIMEOUT_MS} by default. */
  timeoutMs?: number;
  /**
   * The hash of the block of a number the node holds, when it is at hand
   * (its last block's, say), else undefined. A held block the peer resends
   * with another hash makes the answer an error; without it, resent held
   * blocks are skipped on their number, and the sync the answer starts
   * checks them.
   */
  heldHash?: (number: bigint) => string | undefined;
}

/**
 * Whether `peer` holds block `number`: opens its BlockSync from `number`
 * and looks at the first block after those the node holds (a reference peer
 * whose store repeats lines sends some first); the stream is then
 * cancelled. Resolves false when the stream brings no such block;
 * rejects when the peer cannot be asked within `timeoutMs`, answers with
 * something that is not that block, or resends held blocks beyond
 * the {@link HeldCopies} bound of copies each.
 *
 * @example
 * ```ts
 * import { peerHasBlock } from "./catch_up.ts";
 * import type { SyncSource } from "./state_sync.ts";
 *
 * // A peer with no block at all.
 * const source: SyncSource = {
 *   genesis: () => Promise.reject(new Error("unused")),
 *   blocks: async function* () {},
 * };
 * const signal = new AbortController().signal;
 * console.log(await peerHasBlock(source, "127.0.0.1:1122", 1n, { signal })); // false
 * ```
 */
export async function peerHasBlock(
  source: SyncSource,
  peer: string,
  number: bigint,
  options: PeerHasBlockOptions,
): Promise<boolean> {
  const done = new AbortController();
  const timeoutMs = options.timeoutMs ?? MIN_PROBE_TIMEOUT_MS;
  const timer = setTimeout(
    () =>
      done.abort(
        new Error(`no answer from ${peer} within ${timeoutMs} ms`),
      ),
    timeoutMs,
  );
  try {
    const signal = AbortSignal.any([options.signal, done.signal]);
    // Resent held blocks, bounded as the state sync bounds them.
    const copies = new HeldCopies();
    for await (const bytes of source.blocks(peer, number, signal)) {
      const block = decodeSigBlock(bytes);
      if (block.number >= 1n && block.number < number) {
        const held = options.heldHash?.(block.number);
        if (held !== undefined && blockHash(block) !== held) {
          throw new Error(
            `peer ${peer} sent block ${block.number} with hash ${
              blockHash(block).slice(0, 7)
            }, but this node holds block ${block.number} with hash ${
              held.slice(0, 7)
            }`,
          );
        }
        if (!copies.add(block.number)) {
          throw new Error(
            `peer ${peer} resent blocks this node holds ${copies.repeats} times before block ${number}`,
          );
        }
        continue;
      }
      if (block.number !== number) {
        throw new Error(
          `peer ${peer} sent block ${block.number} for block ${number}`,
        );
      }
      return true;
    }
    return false;
  } finally {
    clearTimeout(timer);
    // Cancels the rest of a stream that brought a block.
    done.abort();
  }
}

/**
 * Asks, every `periodMs`, up to `fanout` known peers in turn whether they
 * hold the block after the node's last one, and calls `onBehind` when one
 * does (see the module documentation). A peer that cannot be asked is
 * skipped this round (discovery reports peers that go away). Resolves
 * (never rejects) soon after `signal` aborts.
 *
 * @example
 * ```ts
 * import { runCatchUpPoller } from "./catch_up.ts";
 *
 * const controller = new AbortController();
 * const running = runCatchUpPoller({
 *   periodMs: 1000,
 *   peers: { peers: () => [] },
 *   self: "127.0.0.1:1123",
 *   source: {
 *     genesis: () => Promise.reject(new Error("unused")),
 *     blocks: async function* () {},
 *   },
 *   lastNumber: () => 0n,
 *   onBehind: (peer, n) => console.log(`${peer} has block ${n}`),
 *   signal: controller.signal,
 * });
 * controller.abort();
 * await running;
 * ```
 */
export async function runCatchUpPoller(
  options: CatchUpPollerOptions,
): Promise<void> {
  const { signal, source } = options;
  const fanout = Math.max(1, options.fanout ?? DEFAULT_CATCH_UP_FANOUT);
  const timeoutMs = options.timeoutMs ??
    Math.max(options.periodMs, MIN_PROBE_TIMEOUT_MS);
  let turn = 0;
  while (await sleep(options.periodMs, signal)) {
    const known = options.peers.peers().filter((p) => p !== options.self);
    if (known.length === 0) continue;
    const asked: string[] = [];
    for (let i = 0; i < Math.min(fanout, known.length); i++) {
      asked.push(known[(turn + i) % known.length]);
    }
    turn = (turn + asked.length) % known.length;
    const from = options.lastNumber() + 1n;
    const answers = await Promise.all(
      asked.map((peer) =>
        peerHasBlock(source, peer, from, {
          signal,
          timeoutMs,
          heldHash: options.heldHash,
        }).catch(() => false)
      ),
    );
    if (signal.aborted) break;
    const ahead = asked.find((_, i) => answers[i]);
    // A relayed block may have brought the node there meanwhile.
    if (ahead !== undefined && options.lastNumber() < from) {
      options.onBehind(ahead, from);
    }
  }
}
