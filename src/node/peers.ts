/**
 * Peer discovery: every node asks the peers it knows, and its seed, for the
 * peers they know (`Node.PeerDiscover`), and lists only those that answer,
 * so a dead or mistyped address is never listed nor passed on. Every node
 * answers `PeerDiscover` (`rpc/node_service.ts`, with this discovery as its
 * `PeerBook`) with its live peers and its own advertised address (so a
 * caller learns the name it goes by), never the caller's.
 *
 * @module
 */
import { describePeerError } from "../rpc/peer_errors.ts";
import type { PeerRegistry } from "../rpc/registry.ts";
import type { PeerBook } from "../rpc/node_service.ts";
import type { PeerReader } from "./state_sync.ts";
import { isPeerAddress } from "../rpc/peer_address.ts";
import { sleep } from "../util/sleep.ts";
import { messageOf } from "../util/errors.ts";

/** How many peers of one PeerDiscover answer are taken. */
export const MAX_PEERS_PER_ANSWER = 100;
/** Default of {@link PeerDiscoveryOptions.maxFailures}. */
export const DEFAULT_MAX_FAILURES = 3;
/** Default of {@link PeerDiscoveryOptions.timeoutMs}. */
export const DEFAULT_DISCOVER_TIMEOUT_MS = 2000;
/** At most this many live and candidate peers are kept; more are ignored. */
export const MAX_KNOWN_PEERS = 1000;

/** Options of {@link PeerDiscovery}. */
export interface PeerDiscoveryOptions {
  /** Our own advertised address, `host:port`: never listed as a peer. */
  self: string;
  /** The bootstrap node to ask, `host:port`; never forgotten. */
  seed?: string;
  /** Where the clients of every peer come from. */
  registry: PeerRegistry;
  /** The pause between two discovery rounds, in milliseconds. */
  periodMs: number;
  /** Failed rounds in a row after which a live peer is forgotten; default 3. */
  maxFailures?: number;
  /** Timeout of one `PeerDiscover` call; default 2000 ms. */
  timeoutMs?: number;
  /** Where peers that come and go are reported; nowhere by default. */
  log?: (message: string) => void;
}

/** A listener of {@link PeerDiscovery.onChange}: gets the live peers. */
export type PeersListener = (peers: string[]) => void;

/** What is known of one peer. */
interface PeerEntry {
  /** Whether it answered (listed by `peers()`), or was only heard of. */
  live: boolean;
  /** Failed calls in a row. */
  failures: number;
}

/**
 * Finds and tracks the live peers of a node. A peer is live once it answered
 * a call; one only heard of (from another peer, or
 * {@link PeerDiscovery.add}) is a candidate, asked in the next round. A live
 * peer that fails `maxFailures` rounds in a row is forgotten, a candidate
 * that fails once; either comes back when reported again. The seed is asked
 * every round and never forgotten; our own address is never listed. Run
 * {@link PeerDiscovery.start} once and await it on shutdown.
 *
 * @example
 * ```ts
 * import { PeerRegistry } from "../rpc/registry.ts";
 * import { PeerDiscovery } from "./peers.ts";
 *
 * const registry = new PeerRegistry();
 * const discovery = new PeerDiscovery({
 *   self: "127.0.0.1:1123",
 *   seed: "127.0.0.1:1122",
 *   registry,
 *   periodMs: 10_000,
 * });
 * const stop = discovery.onChange((peers) => console.log(peers));
 * const controller = new AbortController();
 * const running = discovery.start(controller.signal);
 * // ... later, on shutdown:
 * controller.abort();
 * await running;
 * stop();
 * registry.close();
 * ```
 */
export class PeerDiscovery implements PeerReader, PeerBook {
  readonly #self: string;
  readonly #seed: string | undefined;
  readonly #registry: PeerRegistry;
  readonly #periodMs: number;
  readonly #maxFailures: number;
  readonly #timeoutMs: number;
  readonly #log: (message: string) => void;
  readonly #known = new Map<string, PeerEntry>();
  readonly #listeners = new Set<PeersListener>();
  #running = false;

  /**
   * Creates a discovery that knows no peer yet; its seed is asked from the
   * first round on.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "../rpc/registry.ts";
   * import { PeerDiscovery } from "./peers.ts";
   *
   * const registry = new PeerRegistry();
   * const discovery = new PeerDiscovery({
   *   self: "127.0.0.1:1122",
   *   registry,
   *   periodMs: 10_000,
   * });
   * console.log(discovery.peers()); // []
   * registry.close();
   * ```
   */
  constructor(options: PeerDiscoveryOptions) {
    if (!(options.periodMs > 0)) {
      throw new RangeError(
        `periodMs must be positive, got ${options.periodMs}`,
      );
    }
    this.#self = options.self;
    this.#seed = options.seed !== undefined && options.seed !== options.self
      ? options.seed
      : undefined;
    this.#registry = options.registry;
    this.#periodMs = options.periodMs;
    this.#maxFailures = Math.max(
      1,
      options.maxFailures ?? DEFAULT_MAX_FAILURES,
    );
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_DISCOVER_TIMEOUT_MS;
    this.#log = options.log ?? (() => {});
  }

  /**
   * Our own advertised address.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "../rpc/registry.ts";
   * import { PeerDiscovery } from "./peers.ts";
   *
   * const registry = new PeerRegistry();
   * const d = new PeerDiscovery({ self: "127.0.0.1:1122", registry, periodMs: 1000 });
   * console.log(d.self); // 127.0.0.1:1122
   * registry.close();
   * ```
   */
  get self(): string {
    return this.#self;
  }

  /**
   * The live peers, `host:port` each, in the order they were found; never
   * our own address.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "../rpc/registry.ts";
   * import { PeerDiscovery } from "./peers.ts";
   *
   * const registry = new PeerRegistry();
   * const d = new PeerDiscovery({ self: "127.0.0.1:1122", registry, periodMs: 1000 });
   * for (const peer of d.peers()) console.log(peer);
   * registry.close();
   * ```
   */
  peers(): string[] {
    const live: string[] = [];
    for (const [addr, entry] of this.#known) if (entry.live) live.push(addr);
    return live;
  }

  /**
   * Records a peer we heard of, such as a caller of the bootstrap node's
   * `PeerDiscover`. It becomes live when it answers our next round. Our own
   * address, malformed addresses and already known peers are ignored.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "../rpc/registry.ts";
   * import { PeerDiscovery } from "./peers.ts";
   *
   * const registry = new PeerRegistry();
   * const d = new PeerDiscovery({ self: "127.0.0.1:1122", registry, periodMs: 1000 });
   * d.add("127.0.0.1:1123");
   * console.log(d.peers()); // [] until 127.0.0.1:1123 answers a round
   * registry.close();
   * ```
   */
  add(peer: string): void {
    if (peer === this.#self || !isPeerAddress(peer)) return;
    if (this.#known.has(peer) || this.#known.size >= MAX_KNOWN_PEERS) return;
    this.#known.set(peer, { live: false, failures: 0 });
  }

  /**
   * Calls `listener` with the live peers each time they change (a peer
   * appears or is forgotten). Returns a function that removes the listener.
   * A listener that throws is logged and kept.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "../rpc/registry.ts";
   * import { PeerDiscovery } from "./peers.ts";
   *
   * const registry = new PeerRegistry();
   * const d = new PeerDiscovery({ self: "127.0.0.1:1122", registry, periodMs: 1000 });
   * const off = d.onChange((peers) => console.log("peers:", peers));
   * off();
   * registry.close();
   * ```
   */
  onChange(listener: PeersListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Runs discovery rounds: one at once, then one `periodMs` after the end of
   * the previous one, until `signal` aborts. Each round asks every known peer
   * and its seed concurrently, each call bounded by `timeoutMs`. Resolves
   * (never rejects) soon after `signal` aborts: the calls in flight are
   * cancelled and no timer is left behind. Throws if already running.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "../rpc/registry.ts";
   * import { PeerDiscovery } from "./peers.ts";
   *
   * const registry = new PeerRegistry();
   * const d = new PeerDiscovery({ self: "127.0.0.1:1122", registry, periodMs: 1000 });
   * const controller = new AbortController();
   * const running = d.start(controller.signal);
   * controller.abort();
   * await running;
   * registry.close();
   * ```
   */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error("peer discovery is already running");
    this.#running = true;
    try {
      while (!signal.aborted) {
        await this.#round(signal);
        await sleep(this.#periodMs, signal);
      }
    } finally {
      this.#running = false;
    }
  }

  /** Asks every known peer and its seed once, concurrently. */
  async #round(signal: AbortSignal): Promise<void> {
    const targets = [...this.#known.keys()];
    if (this.#seed !== undefined && !this.#known.has(this.#seed)) {
      targets.push(this.#seed);
    }
    await Promise.all(targets.map((peer) => this.#ask(peer, signal)));
  }

  /** Asks one peer and records the outcome. */
  async #ask(peer: string, signal: AbortSignal): Promise<void> {
    let reported: string[];
    try {
      const res = await this.#registry.clients(peer).node.peerDiscover(
        { Peer: this.#self },
        { signal, timeoutMs: this.#timeoutMs },
      );
      reported = res.Peers;
    } catch (err) {
      if (!signal.aborted) this.#failed(peer, err);
      return;
    }
    if (signal.aborted) return;
    this.#answered(peer);
    // One answer cannot flood the list: take its first entries only.
    for (const other of reported.slice(0, MAX_PEERS_PER_ANSWER)) {
      this.add(other);
    }
  }

  /** A peer answered: it is live. */
  #answered(peer: string): void {
    const entry = this.#known.get(peer);
    if (entry?.live) {
      entry.failures = 0;
      return;
    }
    // A candidate, or our seed (which may be missing from the map).
    this.#known.set(peer, { live: true, failures: 0 });
    this.#log(`peer ${peer} joined`);
    this.#changed();
  }

  /** A call to a peer failed. */
  #failed(peer: string, err: unknown): void {
    const entry = this.#known.get(peer);
    if (entry === undefined) return; // our seed while not live
    entry.failures++;
    if (entry.live && entry.failures < this.#maxFailures) return;
    this.#known.delete(peer);
    // Its connections go too; a peer that comes back gets fresh ones. The
    // seed keeps its transport, since it is asked every round.
    if (peer !== this.#seed) this.#registry.forget(peer);
    if (entry.live) {
      this.#log(
        `peer ${peer} forgotten after ${entry.failures} failed calls: ${
          describePeerError(peer, err)
        }`,
      );
      this.#changed();
    }
  }

  /** Tells the listeners about the new list. */
  #changed(): void {
    const peers = this.peers();
    for (const listener of this.#listeners) {
      try {
        listener([...peers]);
      } catch (err) {
        this.#log(`peer listener failed: ${messageOf(err)}`);
      }
    }
  }
}
