/**
 * The metrics of a node, in one place: its parts report what happens (a
 * confirmed or applied block, an RPC call, a block received by sync), and
 * what can be read at any time (height, pending pool, peers, relay queues,
 * subscribers, memory) is read by the collector the node installs, when
 * Prometheus scrapes `GET /metrics`.
 *
 * @module
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeName } from "../../rpc/peer_errors.ts";
import type { SigBlock } from "../../chain/block.ts";
import type { DescService } from "@bufbuild/protobuf";
import { Account } from "../../rpc/gen/account_pb.ts";
import { Block } from "../../rpc/gen/block_pb.ts";
import { Node } from "../../rpc/gen/node_pb.ts";
import { Tx } from "../../rpc/gen/tx_pb.ts";
import { Checkpoint } from "../../rpc/gen/checkpoint_pb.ts";
import {
  type Counter,
  type Gauge,
  type Histogram,
  Registry,
} from "../../util/prometheus.ts";

/** Counters of a relay (a node has a `tx` and a `block` relay). */
export interface RelayStats {
  /** Items confirmed by the response of their stream. */
  sent: number;
  /** Items dropped because a queue was full or its peer left. */
  dropped: number;
  /** Streams opened after a failed one. */
  reconnects: number;
  /** Items waiting in the queues now. */
  queued: number;
}

/** What the node's collector reports just before every scrape. */
export interface MetricsSnapshot {
  /** The last confirmed block number. */
  height: bigint;
  /** The highest block number the node has heard of. */
  highestKnown: bigint;
  /** Whether a catch-up sync is running. */
  syncing: boolean;
  /** Pending transactions. */
  pending: number;
  /** Peers that answered discovery. */
  peers: number;
  /** Relay counters by relay name (`tx`, `block`). */
  relays: Record<string, Pick<RelayStats, "queued" | "dropped" | "sent">>;
  /** Current event subscribers. */
  subscribers: number;
  /** Subscribers disconnected so far for being too slow. */
  slowSubscribers: number;
  /**
   * How long pending transactions have waited with no new block, in
   * seconds (0 when none is pending); not exported when absent.
   */
  pendingWaitSeconds?: number;
  /** Whether that wait makes the chain stalled; not exported when absent. */
  stalled?: boolean;
  /**
   * Whether the node reaches the authority (always on the authority); not
   * exported when absent.
   */
  authorityReachable?: boolean;
  /**
   * Blocks the node still has to backfill below the checkpoint it joined
   * from (0 once `block.store` is complete); not exported when absent.
   */
  backfillRemaining?: number;
}

/** The relays of a node (`relay` label of the relay metrics). */
export const RELAY_NAMES: readonly string[] = ["tx", "block"];

/**
 * The services whose calls' `ok` counts exist at 0 from the start, so the
 * RPC panels show every method before its first call.
 */
const RPC_SERVICES: readonly DescService[] = [
  Block,
  Tx,
  Account,
  Node,
  Checkpoint,
];

/** RPC latency buckets, in seconds (streams can last long). */
export const RPC_BUCKETS: readonly number[] = [
  0.001,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];

/** Block apply time buckets, in seconds. */
const APPLY_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/**
 * The metrics of one node. The node calls the `on...` methods as things
 * happen and installs a collector with {@link Metrics.collect}.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 *
 * const metrics = new Metrics({ version: "0.1.0", chain: "blockchain" });
 * metrics.onBlockApplied(0.002);
 * console.log(metrics.render().includes("bcn_block_apply_seconds_count 1")); // true
 * ```
 */
export class Metrics {
  readonly #registry = new Registry();
  readonly #started = performance.now();
  readonly #blocks: Counter;
  readonly #txs: Counter;
  readonly #syncBlocks: Counter;
  readonly #rpcRequests: Counter;
  readonly #rpcSeconds: Histogram;
  readonly #applySeconds: Histogram;
  readonly #gauges: Record<string, Gauge>;
  readonly #relayDropped: Counter;
  readonly #relaySent: Counter;
  readonly #slow: Counter;
  #snapshot: (() => MetricsSnapshot | undefined) | undefined;

  /** Metrics of a node of `version` on `chain` (in `bcn_info`). */
  constructor(info: { version: string; chain: string }) {
    const r = this.#registry;
    const infoGauge = r.gauge(
      "bcn_info",
      "Constant 1, labelled with the version and chain of the node.",
      ["version", "chain"],
    );
    infoGauge.set(1, { version: info.version, chain: info.chain });
    this.#gauges = {
      height: r.gauge(
        "bcn_block_height",
        "Number of the last confirmed block.",
      ),
      highest: r.gauge(
        "bcn_sync_highest_known_block",
        "Highest block number this node has applied, or heard of from a relayed block.",
      ),
      behind: r.gauge(
        "bcn_sync_behind_blocks",
        "How many blocks this node believes it is behind.",
      ),
      syncing: r.gauge(
        "bcn_sync_active",
        "1 while the node catches up from its peers, else 0.",
      ),
      pending: r.gauge("bcn_pending_txs", "Transactions in the pending pool."),
      pendingWait: r.gauge(
        "bcn_pending_wait_seconds",
        "Seconds pending transactions have waited with no new block (0 when none is pending).",
      ),
      stalled: r.gauge(
        "bcn_chain_stalled",
        "1 while transactions are pending and no new block came for the stall threshold, else 0.",
      ),
      authority: r.gauge(
        "bcn_authority_reachable",
        "1 while this node reaches the authority (always on the authority), else 0.",
      ),
      peers: r.gauge("bcn_peers", "Peers that answered peer discovery."),
      queued: r.gauge(
        "bcn_relay_queue_items",
        "Items waiting in the relay queues, over all peers.",
        ["relay"],
      ),
      subscribers: r.gauge("bcn_subscribers", "Current event subscribers."),
      memory: r.gauge("bcn_process_memory_bytes", "Process memory by kind.", [
        "kind",
      ]),
      uptime: r.gauge("bcn_uptime_seconds", "Seconds since the node started."),
      backfill: r.gauge(
        "bcn_backfill_remaining_blocks",
        "Blocks still to backfill below the checkpoint the node joined from (0 once block.store is complete).",
      ),
    };
    this.#blocks = r.counter(
      "bcn_blocks_confirmed_total",
      "Blocks confirmed by this node since it started (not replayed ones).",
    );
    this.#txs = r.counter(
      "bcn_txs_confirmed_total",
      "Transactions in the blocks of bcn_blocks_confirmed_total.",
    );
    this.#syncBlocks = r.counter(
      "bcn_sync_blocks_total",
      "Blocks received from peers' BlockSync streams (initial sync, catch-up and its polls), before verification.",
    );
    // Labelled counters start at 0 for every label set known now.
    const relays = RELAY_NAMES.map((relay) => ({ relay }));
    this.#relaySent = r.counter(
      "bcn_relay_sent_total",
      "Relayed items a peer confirmed.",
      ["relay"],
      relays,
    );
    this.#relayDropped = r.counter(
      "bcn_relay_dropped_total",
      "Relayed items dropped: a full queue or a peer that left.",
      ["relay"],
      relays,
    );
    this.#slow = r.counter(
      "bcn_subscribers_slow_disconnected_total",
      "Subscribers disconnected for falling too far behind.",
    );
    this.#rpcRequests = r.counter(
      "bcn_rpc_requests_total",
      "RPC calls served, by service, method and status code.",
      ["service", "method", "code"],
      RPC_SERVICES.flatMap((service) =>
        service.methods.map((method) => ({
          service: service.typeName,
          method: method.name,
          code: "ok",
        }))
      ),
    );
    this.#rpcSeconds = r.histogram(
      "bcn_rpc_duration_seconds",
      "RPC call duration (to the end of the stream for streams).",
      { buckets: RPC_BUCKETS, labelNames: ["service", "method"] },
    );
    this.#applySeconds = r.histogram(
      "bcn_block_apply_seconds",
      "Time to apply a block to the state (relayed, proposed or caught up).",
      { buckets: APPLY_BUCKETS },
    );
    r.onCollect(() => this.#collect());
  }

  /** Installs what the node reports at each scrape. */
  collect(snapshot: () => MetricsSnapshot | undefined): void {
    this.#snapshot = snapshot;
  }

  /** A block was confirmed (applied and stored) by this node. */
  onBlockConfirmed(block: SigBlock): void {
    this.#blocks.inc();
    this.#txs.inc({}, block.txs.length);
  }

  /** A block took `seconds` to apply. */
  onBlockApplied(seconds: number): void {
    this.#applySeconds.observe(seconds);
  }

  /** A block arrived from a peer's BlockSync stream (not yet verified). */
  onSyncBlock(): void {
    this.#syncBlocks.inc();
  }

  /**
   * A server interceptor that counts every call by service, method and
   * code, and times it (a stream until it ends).
   */
  rpcInterceptor(): Interceptor {
    return (next) => async (req) => {
      const start = performance.now();
      const labels = { service: req.service.typeName, method: req.method.name };
      const done = (err: unknown) => {
        const code = err === undefined
          ? "ok"
          : codeName(ConnectError.from(err).code);
        this.#rpcRequests.inc({ ...labels, code });
        this.#rpcSeconds.observe((performance.now() - start) / 1000, labels);
      };
      let res;
      try {
        res = await next(req);
      } catch (e) {
        done(e);
        throw e;
      }
      if (!res.stream) {
        done(undefined);
        return res;
      }
      return { ...res, message: observeEnd(res.message, done) };
    };
  }

  /** The text exposition of every metric. */
  render(): string {
    return this.#registry.render();
  }

  #collect(): void {
    const g = this.#gauges;
    const mem = Deno.memoryUsage();
    for (const [kind, v] of Object.entries(mem)) g.memory.set(v, { kind });
    g.uptime.set(
      Math.round((performance.now() - this.#started) / 1000),
    );
    const s = this.#snapshot?.();
    if (!s) return;
    g.height.set(Number(s.height));
    g.highest.set(Number(s.highestKnown));
    g.behind.set(Number(s.highestKnown - s.height));
    g.syncing.set(s.syncing ? 1 : 0);
    g.pending.set(s.pending);
    if (s.pendingWaitSeconds !== undefined) {
      g.pendingWait.set(s.pendingWaitSeconds);
    }
    if (s.stalled !== undefined) g.stalled.set(s.stalled ? 1 : 0);
    if (s.authorityReachable !== undefined) {
      g.authority.set(s.authorityReachable ? 1 : 0);
    }
    if (s.backfillRemaining !== undefined) {
      g.backfill.set(s.backfillRemaining);
    }
    g.peers.set(s.peers);
    g.subscribers.set(s.subscribers);
    bringTo(this.#slow, {}, s.slowSubscribers);
    for (const [relay, r] of Object.entries(s.relays)) {
      g.queued.set(r.queued, { relay });
      bringTo(this.#relayDropped, { relay }, r.dropped);
      bringTo(this.#relaySent, { relay }, r.sent);
    }
  }
}

/** Raises a counter to a total kept elsewhere (which only goes up). */
function bringTo(
  counter: Counter,
  labels: Record<string, string>,
  total: number,
): void {
  const now = counter.get(labels);
  if (total > now) counter.inc(labels, total - now);
}

async function* observeEnd<T>(
  messages: AsyncIterable<T>,
  done: (err: unknown) => void,
): AsyncGenerator<T> {
  let ended = false;
  try {
    yield* messages;
    ended = true;
    done(undefined);
  } catch (e) {
    ended = true;
    done(e);
    throw e;
  } finally {
    // Left early: the call was cancelled (the client went away).
    if (!ended) done(new ConnectError("stream cancelled", Code.Canceled));
  }
}
