/**
 * Catch-up polling: a regular node that missed blocks (it was paused,
 * partitioned or overloaded while they were relayed, and its peers may have
 * forgotten it meanwhile) learns that it is behind from its peers, without
 * waiting for the next relayed block, which on a quiet chain may never come.
 *
 * Every period a few known peers are asked, with the Block service's
 * BlockSync from the node's next block number, whether they hold that block;
 * a reference peer answers it as well as a bcn one. The first block of the
 * answer is enough: when a peer has it, the node's catch-up (the same sync a
 * relayed block from the future starts) fetches, verifies and applies the
 * rest through the one block path.
 *
 * @module
 */
import { decodeSigBlock } from "../chain/block.ts";
import { sleep } from "./sleep.ts";
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
}

/**
 * Whether `peer` holds block `number`: opens its BlockSync from `number`
 * and looks at the first block only (the stream is then cancelled). Resolves
 * false when the stream is empty; rejects when the peer cannot be asked
 * within `timeoutMs` or answers with something that is not that block.
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
  options: { signal: AbortSignal; timeoutMs?: number },
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
    for await (const bytes of source.blocks(peer, number, signal)) {
      const block = decodeSigBlock(bytes);
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
        peerHasBlock(source, peer, from, { signal, timeoutMs }).catch(() =>
          false
        )
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
