/**
 * What a node tells its operators: its phase, the highest block it heard of,
 * how long it has had no peer, whether its chain is stalled and whether it
 * reaches the authority, its metrics, and the `GET /status`, `/healthz` and
 * `/metrics` answers built from them (docs/operating.md). The node reports
 * events here and lends read access through {@link MonitoredNode}; nothing
 * here changes the node. Heights come only from verified blocks.
 *
 * @module
 */
import denoJson from "../../../deno.json" with { type: "json" };
import type { HttpRoutes } from "../../http/http_routes.ts";
import type { State } from "../../chain/state.ts";
import { Metrics, type MetricsSnapshot, type RelayStats } from "./metrics.ts";
import { EXPOSITION_CONTENT_TYPE } from "../../util/prometheus.ts";
import {
  type Backfilling,
  encodeStatus,
  type Health,
  type HealthInput,
  healthOf,
  type NodePhase,
  type NodeStatus,
} from "./status.ts";

/** How long pending transactions have waited (see {@link healthOf}). */
type PendingWait = NonNullable<HealthInput["waiting"]>;
/** A regular node that cannot reach the authority. */
type AuthorityUnreachable = NonNullable<HealthInput["authorityUnreachable"]>;

/** The version of bcn, from deno.json. */
const VERSION: string = denoJson.version;

/**
 * How many periods a node may have no peer before `/healthz` says so: 30 s
 * at the default period. Discovery itself takes 3 failed rounds to forget a
 * peer, so this is about 9 periods after the last answer.
 */
export const NO_PEERS_GRACE_PERIODS = 6;

/**
 * How many periods pending transactions may wait with no new block before
 * the chain is stalled. The authority proposes at a random interval of 1 to
 * 3 periods, so a healthy chain confirms a transaction within 3 periods of
 * its reaching the authority; 2 more cover its relay there and the block's
 * way back (a relay retries after a period, the catch-up poller asks every
 * period).
 */
export const STALL_PERIODS = 5;

/**
 * How many periods a block number heard of from a relayed block from the
 * future counts, unless the node gets there or is catching up. A catch-up
 * starts as soon as such a block is heard of, and a regular node's poller
 * asks its peers every period: 3 periods later, with no catch-up running
 * and the node still below it, no peer had the block to give (a block that
 * was never verified, or a forged one), and the node is no longer behind.
 */
export const HEARD_BLOCK_PERIODS = 3;

/** What a {@link NodeMonitor} reads of its node's state. */
export type MonitoredState = Pick<
  State,
  | "lastBlock"
  | "lastNumber"
  | "lastHash"
  | "genesis"
  | "genesisHash"
  | "pendingCount"
  | "authority"
>;

/** What a {@link NodeMonitor} reads of its node. */
export interface MonitoredNode {
  /** The node's chain, role, address and seed, as configured. */
  readonly config: {
    readonly chain: string;
    readonly bootstrap: boolean;
    readonly node: string;
    readonly seed?: string;
  };
  /** The node's event subscribers. */
  readonly events: {
    readonly subscriberCount: number;
    readonly slowDisconnects: number;
  };
  /**
   * Peer discovery's call timeout and the failed rounds after which it
   * drops a peer: a regular node gives its seed as many rounds to answer
   * for the first time before the authority is unreachable.
   */
  readonly discovery: {
    readonly timeoutMs: number;
    readonly maxFailures: number;
  };
  /** The address the node serves on. */
  addr(): string;
  /** The ledger, once the state is ready. */
  ledger(): { readonly state: MonitoredState } | undefined;
  /** Peers that answered discovery. */
  peers(): string[];
  /** Whether a catch-up sync is running. */
  catchingUp(): boolean;
  /** The counters of the `tx` and `block` relays. */
  relays(): Record<string, RelayStats>;
  /** The node's base period in ms. */
  periodMs: number;
  /** The backfill under way, if the node joined from a checkpoint. */
  backfill?(): Backfilling | undefined;
}

/**
 * Options of {@link NodeMonitor}.
 *
 * @example
 * ```ts
 * import type { NodeMonitorOptions } from "./monitor.ts";
 *
 * // A clock a test moves by hand.
 * let t = 0;
 * const options: NodeMonitorOptions = { now: () => t };
 * t += 5_000;
 * console.log(options.now?.()); // 5000
 * ```
 */
export interface NodeMonitorOptions {
  /** A monotonic clock in ms; `performance.now` by default. */
  now?: () => number;
}

/**
 * The operator's view of one node (see the module documentation).
 *
 * @example
 * ```ts ignore
 * const monitor = new NodeMonitor(view);
 * startServer({ ..., httpRoutes: monitor.httpRoutes() });
 * ```
 */
export class NodeMonitor {
  /** The node's metrics, served on `GET /metrics`. */
  readonly metrics: Metrics;
  /** Whether this node holds the authority key and proposes blocks. */
  proposes = false;
  readonly #node: MonitoredNode;
  readonly #now: () => number;
  readonly #startedAt: number;
  #phase: NodePhase = "starting";
  /** The highest block heard of from a relayed block, and when. */
  #heard: { number: bigint; at: number } | undefined;
  /** The last block the start's sync applied, before the ledger exists. */
  #syncedTo = 0n;
  /** Since when (`#now`) the node has had no peer. */
  #noPeersSince: number | undefined;
  /** The height the stall watch last saw. */
  #seenHeight: bigint | undefined;
  /** Since when transactions have waited with no new block. */
  #waitingSince: number | undefined;
  /** Since when a regular node's seed has not been a live peer. */
  #seedLostSince: number | undefined;
  /** Whether its seed has answered discovery since the node served. */
  #seedAnswered = false;

  /** Watches `node`; the phase is `starting` until {@link serving}. */
  constructor(node: MonitoredNode, options: NodeMonitorOptions = {}) {
    this.#node = node;
    this.#now = options.now ?? (() => performance.now());
    this.#startedAt = this.#now();
    this.metrics = new Metrics({ version: VERSION, chain: node.config.chain });
    this.metrics.collect(() => this.#snapshot());
  }

  /**
   * The state is ready and every service answers. From now on a regular
   * node counts the time without a peer (it is alone until discovery finds
   * its seed); the bootstrap only once it had peers and lost them all
   * (alone, it is a whole chain). Call `peersChanged` on every change.
   */
  serving(): void {
    this.#phase = "serving";
    const now = this.#now();
    if (!this.#node.config.bootstrap) this.#noPeersSince = now;
    // Not listed yet: discovery asks its seed in its first round.
    if (this.#seed() !== undefined) this.#seedLostSince = now;
  }

  /** The node is stopping. */
  stopping(): void {
    this.#phase = "stopping";
  }

  /**
   * The peers that answered discovery changed. A regular node's seed in or
   * out of the list is the authority reached or lost.
   */
  peersChanged(peers: readonly string[]): void {
    const now = this.#now();
    if (peers.length > 0) this.#noPeersSince = undefined;
    else this.#noPeersSince ??= now;
    const seed = this.#seed();
    if (seed === undefined) return;
    if (peers.includes(seed)) {
      this.#seedLostSince = undefined;
      this.#seedAnswered = true;
    } else {
      this.#seedLostSince ??= now;
    }
  }

  /**
   * A peer relayed block `number`, beyond the node's next one: a claim
   * that the chain is there, until the node gets there or
   * {@link HEARD_BLOCK_PERIODS} pass with no catch-up running.
   */
  heard(number: bigint): void {
    const claim = this.#heard;
    if (claim === undefined || number >= claim.number) {
      this.#heard = { number, at: this.#now() };
    }
  }

  /**
   * A sync stream from block `from` started: the first ends the start's
   * replay (phase `syncing`). A stream starts after the last applied
   * block, which is as far as the start's sync is known to be: the blocks
   * a stream brings are verified and applied behind it, or rejected.
   */
  syncStream(from: bigint): void {
    if (this.#phase === "starting") this.#phase = "syncing";
    if (from - 1n > this.#syncedTo) this.#syncedTo = from - 1n;
  }

  /**
   * What `GET /status` answers: the chain, the last block, the pool, the
   * peers, how far behind the node believes it is, and its health. Throws
   * before the state is ready.
   */
  status(): NodeStatus {
    const ledger = this.#node.ledger();
    if (!ledger) throw new Error("the node has not started");
    const state = ledger.state;
    const last = state.lastBlock;
    const highest = this.#highest(state.lastNumber);
    const waiting = this.#waiting();
    return {
      version: VERSION,
      node: this.#node.addr(),
      chain: state.genesis.chain,
      genesis: state.genesisHash,
      lastBlock: {
        number: state.lastNumber,
        hash: state.lastHash,
        time: last ? last.time : state.genesis.time,
      },
      pending: BigInt(state.pendingCount),
      noNewBlockPeriods: BigInt(
        waiting ? Math.floor(waiting.forMs / waiting.periodMs) : 0,
      ),
      stalled: this.#stalled(waiting),
      peers: this.#node.peers(),
      catchingUp: this.#node.catchingUp(),
      highestKnownBlock: highest,
      behind: highest - state.lastNumber,
      authority: state.authority,
      isAuthority: this.proposes,
      authorityReachable: this.#authorityUnreachable() === undefined,
      uptimeSeconds: BigInt(
        Math.floor((this.#now() - this.#startedAt) / 1000),
      ),
      backfill: this.#node.backfill?.(),
      health: this.health(),
    };
  }

  /** What `GET /healthz` answers (see docs/operating.md, "GET /healthz"). */
  health(): Health {
    const height = this.#node.ledger()?.state.lastNumber ?? this.#syncedTo;
    const since = this.#noPeersSince;
    const periodMs = this.#node.periodMs;
    return healthOf({
      phase: this.#phase,
      catchingUp: this.#node.catchingUp(),
      height,
      highestKnown: this.#highest(height),
      noPeersForMs: since === undefined ? undefined : this.#now() - since,
      noPeersGraceMs: NO_PEERS_GRACE_PERIODS * periodMs,
      waiting: this.#waiting(),
      stallGraceMs: STALL_PERIODS * periodMs,
      authorityUnreachable: this.#authorityUnreachable(),
      backfill: this.#node.backfill?.(),
    });
  }

  /** The operators' GET endpoints, for the node's server. */
  httpRoutes(): HttpRoutes {
    const json = "application/json";
    const text = "text/plain; charset=utf-8";
    return {
      "/status": () =>
        this.#node.ledger()
          ? {
            status: 200,
            contentType: json,
            body: encodeStatus(this.status()) + "\n",
          }
          // No state yet: nothing to report but that.
          : {
            status: 503,
            contentType: text,
            body: this.health().reason + "\n",
          },
      "/healthz": () => {
        const h = this.health();
        return {
          status: h.ok ? 200 : 503,
          contentType: text,
          body: h.reason + "\n",
        };
      },
      "/metrics": () => ({
        status: 200,
        contentType: EXPOSITION_CONTENT_TYPE,
        body: this.metrics.render(),
      }),
    };
  }

  /** `height`, or the block heard of beyond it while that claim holds. */
  #highest(height: bigint): bigint {
    const claim = this.#heard;
    if (claim === undefined) return height;
    const expired = !this.#node.catchingUp() &&
      this.#now() - claim.at >= HEARD_BLOCK_PERIODS * this.#node.periodMs;
    if (claim.number <= height || expired) {
      this.#heard = undefined;
      return height;
    }
    return claim.number;
  }

  /** A regular node's seed, where it reaches the authority. */
  #seed(): string | undefined {
    const { bootstrap, seed, node } = this.#node.config;
    return bootstrap || seed === undefined || seed === node ? undefined : seed;
  }

  /**
   * Set while a serving regular node does not reach the authority at its
   * seed: from when discovery drops the seed until it answers again, or,
   * if it never answered since the node served, after as many discovery
   * rounds as discovery takes to drop a peer (each up to a period plus a
   * call's timeout).
   */
  #authorityUnreachable(): AuthorityUnreachable | undefined {
    const seed = this.#seed();
    const since = this.#seedLostSince;
    if (seed === undefined || since === undefined) return undefined;
    if (this.#phase !== "serving") return undefined;
    const forMs = this.#now() - since;
    const { maxFailures, timeoutMs } = this.#node.discovery;
    const firstContactMs = maxFailures * (this.#node.periodMs + timeoutMs);
    if (!this.#seedAnswered && forMs < firstContactMs) return undefined;
    return { node: seed, forMs };
  }

  /**
   * Looks at the height and the pool and says how long pending transactions
   * have waited with no new block; undefined when none is pending or the
   * node is not serving. The wait is measured between looks (each
   * `/healthz`, `/status` and `/metrics` read), so it may start late, never
   * early.
   */
  #waiting(): PendingWait | undefined {
    const ledger = this.#node.ledger();
    if (!ledger || this.#phase !== "serving") return undefined;
    const { lastNumber, pendingCount } = ledger.state;
    const now = this.#now();
    if (lastNumber !== this.#seenHeight) {
      // A new block: the wait starts again.
      this.#seenHeight = lastNumber;
      this.#waitingSince = pendingCount > 0 ? now : undefined;
    } else if (pendingCount === 0) {
      this.#waitingSince = undefined;
    } else {
      this.#waitingSince ??= now;
    }
    const since = this.#waitingSince;
    if (since === undefined) return undefined;
    return {
      pending: pendingCount,
      forMs: now - since,
      periodMs: this.#node.periodMs,
    };
  }

  #stalled(waiting: PendingWait | undefined): boolean {
    return waiting !== undefined &&
      waiting.forMs >= STALL_PERIODS * waiting.periodMs;
  }

  #snapshot(): MetricsSnapshot | undefined {
    const ledger = this.#node.ledger();
    if (!ledger) return undefined;
    const state = ledger.state;
    const events = this.#node.events;
    const waiting = this.#waiting();
    return {
      height: state.lastNumber,
      highestKnown: this.#highest(state.lastNumber),
      syncing: this.#node.catchingUp(),
      pending: state.pendingCount,
      peers: this.#node.peers().length,
      relays: this.#node.relays(),
      subscribers: events.subscriberCount,
      slowSubscribers: events.slowDisconnects,
      pendingWaitSeconds: waiting ? waiting.forMs / 1000 : 0,
      stalled: this.#stalled(waiting),
      authorityReachable: this.#authorityUnreachable() === undefined,
      backfillRemaining: backfillRemaining(this.#node.backfill?.()),
    };
  }
}

function backfillRemaining(b: Backfilling | undefined): number {
  return b ? Number(b.checkpoint - b.held) : 0;
}
