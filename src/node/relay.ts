/**
 * Relays transactions and blocks to every peer over client streams
 * (`Tx.TxReceive`, `Block.BlockReceive`): a worker per peer with a bounded
 * queue, so a slow or dead peer neither grows memory nor delays the others.
 * Each batch goes in its own short stream because a client stream's sender
 * learns nothing until the response: only a response confirms its items, so
 * a broken connection costs a resend, never a silent loss.
 *
 * @module
 */
import { describePeerError } from "../rpc/peer_errors.ts";
import type { PeerRegistry } from "../rpc/registry.ts";
import { RELAY_ORIGIN_HEADER } from "../rpc/relay_origin.ts";
import { messageOf } from "../util/errors.ts";
import { sleep } from "../util/sleep.ts";
import type { RelayStats } from "./observe/metrics.ts";

/** Options of {@link openTxStream} and {@link openBlockStream}. */
export interface RelayStreamOptions {
  /**
   * This node's advertised address, sent in {@link RELAY_ORIGIN_HEADER} so
   * the receiver does not relay the items back; nothing is sent without it.
   */
  origin?: string;
}

/**
 * How long one relay stream (a batch) may take: a peer that accepts a stream
 * and never answers cannot hold its worker forever.
 */
export const RELAY_STREAM_TIMEOUT_MS = 30_000;
/** Default of {@link RelayOptions.capacity}. */
export const DEFAULT_RELAY_CAPACITY = 1000;
/** Default of {@link RelayOptions.retryMs}. */
export const DEFAULT_RELAY_RETRY_MS = 200;
/** Default of {@link RelayOptions.maxRetryMs}. */
export const DEFAULT_RELAY_MAX_RETRY_MS = 5000;
/** Default of {@link RelayOptions.batchSize}. */
export const DEFAULT_RELAY_BATCH_SIZE = 100;
/** Default of {@link RelayOptions.closeGraceMs}. */
export const DEFAULT_RELAY_CLOSE_GRACE_MS = 1000;

/**
 * Opens a client stream to `peer`, sends `items` until they end and resolves
 * with the response; rejects when the stream fails. Must stop when `signal`
 * aborts.
 */
export type RelayOpen<T> = (
  peer: string,
  items: AsyncIterable<T>,
  signal: AbortSignal,
) => Promise<unknown>;

/** Options of {@link Relay}. */
export interface RelayOptions<T> {
  /** What is relayed, for logs: `"tx"` or `"block"`. */
  name: string;
  /** Opens one client stream, e.g. {@link openTxStream}. */
  open: RelayOpen<T>;
  /** Items queued per peer at most; default 1000. */
  capacity?: number;
  /** Items sent in one stream at most; default 100. */
  batchSize?: number;
  /** The first pause before re-opening a failed stream; default 200 ms. */
  retryMs?: number;
  /** The longest pause before re-opening a failed stream; default 5000 ms. */
  maxRetryMs?: number;
  /**
   * How long {@link Relay.close} (or dropping a peer) lets the stream in
   * flight finish before it is cancelled; default 1000 ms.
   */
  closeGraceMs?: number;
  /** Where failures and recoveries are reported; nowhere by default. */
  log?: (message: string) => void;
  /**
   * What a peer may have missed while it was not a peer, oldest first:
   * queued for that peer alone when its worker starts (it joined, or came
   * back after it was dropped with its queue). At most `capacity` items are
   * taken, so a large pool costs one queue, not the whole pool; nothing by
   * default. The transaction relay passes the pending pool, so what was
   * accepted while the authority was away still reaches it.
   */
  backlog?: (peer: string) => Iterable<T>;
}

/** Options of {@link Relay.push}. */
export interface RelayPushOptions {
  /**
   * A peer not to send the item to, such as the one it came from (a bcn
   * sender names itself in {@link RELAY_ORIGIN_HEADER}; a reference node
   * does not, so its items go to every peer).
   */
  except?: string;
  /**
   * The only peer to send the item to (such as the authority, offered a
   * transaction again); nothing is queued when it is not a peer now.
   */
  to?: string;
}

/** A fixed-capacity FIFO of items. */
class Ring<T> {
  readonly #items: (T | undefined)[];
  #head = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#items = new Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  get full(): boolean {
    return this.#size === this.#items.length;
  }

  /** Adds at the tail; the caller makes room first. */
  push(item: T): void {
    this.#items[(this.#head + this.#size) % this.#items.length] = item;
    this.#size++;
  }

  /** Adds at the head; the caller makes room first. */
  unshift(item: T): void {
    this.#head = (this.#head - 1 + this.#items.length) % this.#items.length;
    this.#items[this.#head] = item;
    this.#size++;
  }

  /** Removes and returns the head. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#size--;
    return item;
  }

  clear(): void {
    this.#items.fill(undefined);
    this.#head = 0;
    this.#size = 0;
  }
}

/** What a worker needs from its relay. */
interface WorkerParams<T> {
  name: string;
  peer: string;
  open: RelayOpen<T>;
  capacity: number;
  batchSize: number;
  retryMs: number;
  maxRetryMs: number;
  closeGraceMs: number;
  log: (message: string) => void;
}

/** The queue and the streams of one peer. */
class PeerWorker<T> {
  readonly peer: string;
  readonly stats = { sent: 0, dropped: 0, reconnects: 0 };
  readonly done: Promise<void>;
  readonly #p: WorkerParams<T>;
  readonly #queue: Ring<T>;
  readonly #stop = new AbortController();
  /** Whether a failure was logged and no stream succeeded since. */
  #failing = false;
  #wake: (() => void) | undefined;

  constructor(params: WorkerParams<T>) {
    this.#p = params;
    this.peer = params.peer;
    this.#queue = new Ring(params.capacity);
    this.done = this.#run();
  }

  get queued(): number {
    return this.#queue.size;
  }

  push(item: T): void {
    if (this.#stop.signal.aborted) return;
    if (this.#queue.full) {
      this.#queue.shift();
      this.stats.dropped++;
    }
    this.#queue.push(item);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Lets the stream in flight finish (within the grace), then stops. */
  stop(): void {
    this.#stop.abort();
  }

  /** Resolves when an item is queued or on stop. */
  #waitForItem(): Promise<void> {
    const stop = this.#stop.signal;
    if (this.#queue.size > 0 || stop.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        stop.removeEventListener("abort", done);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      this.#wake = done;
      stop.addEventListener("abort", done, { once: true });
    });
  }

  /** The worker: a stream per batch, with backoff after a failure. */
  async #run(): Promise<void> {
    const stop = this.#stop.signal;
    let failures = 0;
    while (!stop.aborted) {
      await this.#waitForItem();
      if (stop.aborted) break;
      if (failures > 0) this.stats.reconnects++;
      const error = await this.#stream();
      if (error === undefined) {
        failures = 0;
        continue;
      }
      failures++;
      if (stop.aborted) break;
      if (failures === 1) {
        this.#failing = true;
        this.#p.log(
          `${this.#p.name} relay: ${
            describePeerError(this.peer, error.err)
          }; retrying`,
        );
      }
      await sleep(
        Math.min(this.#p.maxRetryMs, this.#p.retryMs * 2 ** (failures - 1)),
        stop,
      );
    }
    this.stats.dropped += this.#queue.size;
    this.#queue.clear();
  }

  /**
   * One stream of at most `batchSize` items. Resolves with `undefined` when
   * the response confirmed them, or with the error after putting them back
   * at the head of the queue. After a stop the stream has `closeGraceMs`
   * to finish, then it is cancelled.
   */
  async #stream(): Promise<{ err: unknown } | undefined> {
    const call = new AbortController();
    const batch: T[] = [];
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const onStop = (): void => {
      graceTimer = setTimeout(() => call.abort(), this.#p.closeGraceMs);
    };
    const stop = this.#stop.signal;
    if (stop.aborted) onStop();
    else stop.addEventListener("abort", onStop, { once: true });
    try {
      await this.#p.open(this.peer, this.#feed(batch), call.signal);
      this.stats.sent += batch.length;
      if (this.#failing && batch.length > 0) {
        this.#failing = false;
        this.#p.log(`${this.#p.name} relay: peer ${this.peer}: relaying again`);
      }
      return undefined;
    } catch (err) {
      this.#requeue(batch);
      return { err };
    } finally {
      stop.removeEventListener("abort", onStop);
      clearTimeout(graceTimer);
      call.abort(); // nothing is left to cancel; frees the signal's listeners
    }
  }

  /**
   * The items of one stream, taken from the queue as the transport asks for
   * them (so items pushed meanwhile join), recorded in `batch`. Ends when
   * the queue is empty or the batch is full.
   */
  async *#feed(batch: T[]): AsyncGenerator<T> {
    while (batch.length < this.#p.batchSize && this.#queue.size > 0) {
      const item = this.#queue.shift() as T;
      batch.push(item);
      yield item;
    }
  }

  /** Puts a failed batch back at the head of the queue, in order. */
  #requeue(batch: T[]): void {
    for (let i = batch.length - 1; i >= 0; i--) {
      if (this.#queue.full) {
        this.stats.dropped += i + 1; // the oldest ones
        return;
      }
      this.#queue.unshift(batch[i]);
    }
  }
}

/**
 * Relays items to a changing set of peers, one worker with a bounded queue
 * per peer. {@link Relay.push} never waits: a full queue drops its oldest
 * item. A worker sends at most `batchSize` queued items a stream and awaits
 * the response; a failed batch goes back to the head of its queue and is
 * sent again after a backoff. So delivery is at least once (receivers drop
 * what they know), and items are lost only to a full queue, a peer that
 * leaves, or {@link Relay.close}.
 *
 * @example
 * ```ts
 * import { PeerRegistry } from "../rpc/registry.ts";
 * import { openTxStream, Relay } from "./relay.ts";
 *
 * const registry = new PeerRegistry();
 * const relay = new Relay<Uint8Array>({
 *   name: "tx",
 *   open: openTxStream(registry),
 * });
 * relay.setPeers(["127.0.0.1:1123"]);
 * relay.push(new TextEncoder().encode("{}"));
 * await relay.close();
 * registry.close();
 * ```
 */
export class Relay<T> {
  readonly #options: RelayOptions<T>;
  readonly #workers = new Map<string, PeerWorker<T>>();
  /** Workers being stopped, until their promise settles. */
  readonly #stopping = new Set<PeerWorker<T>>();
  /** Counters of workers that are gone. */
  readonly #past = { sent: 0, dropped: 0, reconnects: 0 };
  #closing: Promise<void> | undefined;

  /**
   * Creates a relay without peers.
   *
   * @example
   * ```ts
   * import { Relay } from "./relay.ts";
   *
   * const relay = new Relay<string>({
   *   name: "test",
   *   open: async (_peer, items) => {
   *     for await (const item of items) console.log(item);
   *   },
   *   capacity: 10,
   * });
   * await relay.close();
   * ```
   */
  constructor(options: RelayOptions<T>) {
    const capacity = options.capacity ?? DEFAULT_RELAY_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer: ${capacity}`);
    }
    const batchSize = options.batchSize ?? DEFAULT_RELAY_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(
        `batchSize must be a positive integer: ${batchSize}`,
      );
    }
    this.#options = options;
  }

  /**
   * Sets the peers to relay to: starts a worker for each new peer, with
   * the {@link RelayOptions.backlog} queued, and stops the workers of the
   * peers that are no longer listed (a stream in flight gets `closeGraceMs`
   * to finish; the queue is dropped). Ignored after {@link close}.
   *
   * @example
   * ```ts
   * import { Relay } from "./relay.ts";
   *
   * const relay = new Relay<string>({ name: "test", open: async () => {} });
   * relay.setPeers(["127.0.0.1:1123", "127.0.0.1:1124"]);
   * relay.setPeers(["127.0.0.1:1124"]);
   * console.log(relay.peers()); // ["127.0.0.1:1124"]
   * await relay.close();
   * ```
   */
  setPeers(peers: readonly string[]): void {
    if (this.#closing !== undefined) return;
    const wanted = new Set(peers);
    for (const [peer, worker] of this.#workers) {
      if (!wanted.has(peer)) this.#retire(worker);
    }
    const o = this.#options;
    for (const peer of wanted) {
      if (this.#workers.has(peer)) continue;
      const worker = new PeerWorker<T>({
        name: o.name,
        peer,
        open: o.open,
        capacity: o.capacity ?? DEFAULT_RELAY_CAPACITY,
        batchSize: o.batchSize ?? DEFAULT_RELAY_BATCH_SIZE,
        retryMs: o.retryMs ?? DEFAULT_RELAY_RETRY_MS,
        maxRetryMs: o.maxRetryMs ?? DEFAULT_RELAY_MAX_RETRY_MS,
        closeGraceMs: o.closeGraceMs ?? DEFAULT_RELAY_CLOSE_GRACE_MS,
        log: (message) => {
          try {
            o.log?.(message);
          } catch {
            // a failing logger must not stop the relay
          }
        },
      });
      this.#workers.set(peer, worker);
      this.#queueBacklog(worker);
    }
  }

  /** Queues what a (re)joining peer may have missed, up to its capacity. */
  #queueBacklog(worker: PeerWorker<T>): void {
    const o = this.#options;
    if (o.backlog === undefined) return;
    const capacity = o.capacity ?? DEFAULT_RELAY_CAPACITY;
    let taken = 0;
    try {
      for (const item of o.backlog(worker.peer)) {
        if (taken >= capacity) break;
        worker.push(item);
        taken++;
      }
    } catch (err) {
      // A failing backlog costs the peer its backlog, not its worker.
      try {
        o.log?.(
          `${o.name} relay: no backlog for ${worker.peer}: ${messageOf(err)}`,
        );
      } catch {
        // a failing logger must not stop the relay
      }
    }
  }

  /**
   * The peers relayed to.
   *
   * @example
   * ```ts
   * import { Relay } from "./relay.ts";
   *
   * const relay = new Relay<string>({ name: "test", open: async () => {} });
   * console.log(relay.peers()); // []
   * await relay.close();
   * ```
   */
  peers(): string[] {
    return [...this.#workers.keys()];
  }

  /**
   * Queues `item` for every peer but `options.except`, or for
   * `options.to` alone. Never waits and never throws; a full queue drops
   * its oldest item. Ignored after {@link close}.
   *
   * @example
   * ```ts
   * import { Relay } from "./relay.ts";
   *
   * const relay = new Relay<string>({ name: "test", open: async () => {} });
   * relay.setPeers(["127.0.0.1:1123", "127.0.0.1:1124"]);
   * relay.push("hello", { except: "127.0.0.1:1123" });
   * relay.push("again", { to: "127.0.0.1:1124" });
   * await relay.close();
   * ```
   */
  push(item: T, options: RelayPushOptions = {}): void {
    if (this.#closing !== undefined) return;
    if (options.to !== undefined) {
      if (options.to !== options.except) {
        this.#workers.get(options.to)?.push(item);
      }
      return;
    }
    for (const [peer, worker] of this.#workers) {
      if (peer !== options.except) worker.push(item);
    }
  }

  /**
   * Counters summed over every peer, or of one peer when `peer` is given
   * (zeros for an unknown peer).
   *
   * @example
   * ```ts
   * import { Relay } from "./relay.ts";
   *
   * const relay = new Relay<string>({ name: "test", open: async () => {} });
   * console.log(relay.stats()); // { sent: 0, dropped: 0, reconnects: 0, queued: 0 }
   * await relay.close();
   * ```
   */
  stats(peer?: string): RelayStats {
    if (peer !== undefined) {
      const w = this.#workers.get(peer);
      return w === undefined
        ? { sent: 0, dropped: 0, reconnects: 0, queued: 0 }
        : { ...w.stats, queued: w.queued };
    }
    const total = { ...this.#past, queued: 0 };
    for (const w of [...this.#workers.values(), ...this.#stopping]) {
      total.sent += w.stats.sent;
      total.dropped += w.stats.dropped;
      total.reconnects += w.stats.reconnects;
      total.queued += w.queued;
    }
    return total;
  }

  /**
   * Stops every worker: a stream in flight gets `closeGraceMs` to finish,
   * then it is cancelled; no new stream is opened and what is left in the
   * queues is dropped (and counted). Resolves when every worker ended;
   * calling it again returns the same promise.
   *
   * @example
   * ```ts
   * import { Relay } from "./relay.ts";
   *
   * const relay = new Relay<string>({ name: "test", open: async () => {} });
   * await relay.close();
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const worker of this.#workers.values()) this.#retire(worker);
      while (this.#stopping.size > 0) {
        await Promise.all([...this.#stopping].map((w) => w.done));
      }
    })();
    return this.#closing;
  }

  /** Stops a worker and keeps its promise until it settles. */
  #retire(worker: PeerWorker<T>): void {
    this.#workers.delete(worker.peer);
    this.#stopping.add(worker);
    worker.stop();
    worker.done.finally(() => {
      this.#stopping.delete(worker);
      this.#past.sent += worker.stats.sent;
      this.#past.dropped += worker.stats.dropped;
      this.#past.reconnects += worker.stats.reconnects;
    });
  }
}

/**
 * The {@link RelayOpen} of the transaction relay: one `Tx.TxReceive` client
 * stream of canonical JSON transactions, naming `options.origin` as the
 * sender (see {@link RELAY_ORIGIN_HEADER}).
 *
 * @example
 * ```ts
 * import { PeerRegistry } from "../rpc/registry.ts";
 * import { openTxStream, Relay } from "./relay.ts";
 *
 * const registry = new PeerRegistry();
 * const txRelay = new Relay({
 *   name: "tx",
 *   open: openTxStream(registry, { origin: "127.0.0.1:1122" }),
 * });
 * await txRelay.close();
 * registry.close();
 * ```
 */
export function openTxStream(
  registry: PeerRegistry,
  options: RelayStreamOptions = {},
): RelayOpen<Uint8Array> {
  const headers = originHeaders(options);
  return (peer, items, signal) =>
    registry.clients(peer).tx.txReceive(
      mapItems(items, (tx) => ({ Tx: tx })),
      { signal, timeoutMs: RELAY_STREAM_TIMEOUT_MS, headers },
    );
}

/**
 * The {@link RelayOpen} of the block relay: one `Block.BlockReceive` client
 * stream of canonical JSON blocks, naming `options.origin` as the sender
 * (see {@link RELAY_ORIGIN_HEADER}).
 *
 * @example
 * ```ts
 * import { PeerRegistry } from "../rpc/registry.ts";
 * import { openBlockStream, Relay } from "./relay.ts";
 *
 * const registry = new PeerRegistry();
 * const blockRelay = new Relay({
 *   name: "block",
 *   open: openBlockStream(registry, { origin: "127.0.0.1:1122" }),
 * });
 * await blockRelay.close();
 * registry.close();
 * ```
 */
export function openBlockStream(
  registry: PeerRegistry,
  options: RelayStreamOptions = {},
): RelayOpen<Uint8Array> {
  const headers = originHeaders(options);
  return (peer, items, signal) =>
    registry.clients(peer).block.blockReceive(
      mapItems(items, (block) => ({ Block: block })),
      { signal, timeoutMs: RELAY_STREAM_TIMEOUT_MS, headers },
    );
}

/** The request headers that name the sender, if it is given. */
function originHeaders(
  options: RelayStreamOptions,
): Record<string, string> | undefined {
  return options.origin === undefined
    ? undefined
    : { [RELAY_ORIGIN_HEADER]: options.origin };
}

/** Maps every item of an async iterable, pulling one at a time. */
async function* mapItems<T, U>(
  items: AsyncIterable<T>,
  fn: (item: T) => U,
): AsyncGenerator<U> {
  for await (const item of items) yield fn(item);
}
