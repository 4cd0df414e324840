/**
 * What a node tells its operators, in one place: its phase, the highest
 * block it has heard of, since when it has had no peer, its metrics, and
 * the answers of `GET /status`, `/healthz` and `/metrics` built from them.
 * The node reports a few events here and lends read access to its parts
 * through {@link MonitoredNode}; nothing here changes the node.
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };
import type { HttpRoutes } from "../http/http_routes.ts";
import type { NodeConfig } from "./config.ts";
import type { EventBus } from "./events.ts";
import type { Ledger } from "./ledger.ts";
import { Metrics, type MetricsSnapshot } from "./metrics.ts";
import { EXPOSITION_CONTENT_TYPE } from "./prometheus.ts";
import type { RelayStats } from "./relay.ts";
import type { SyncSource } from "./state_sync.ts";
import {
  encodeStatus,
  type Health,
  healthOf,
  type NodePhase,
  type NodeStatus,
} from "./status.ts";

/** The version of bcn, from deno.json. */
const VERSION: string = denoJson.version;

/**
 * How many periods a node may have no peer before `/healthz` says so: 30 s
 * at the default period. Discovery itself takes 3 failed rounds to forget a
 * peer, so this is about 9 periods after the last answer.
 */
export const NO_PEERS_GRACE_PERIODS = 6;

/** What a {@link NodeMonitor} reads of its node. */
export interface MonitoredNode {
  /** The node's configuration. */
  readonly config: NodeConfig;
  /** The node's event bus (for subscriber counts). */
  readonly events: EventBus;
  /** The address the node serves on. */
  addr(): string;
  /** The ledger, once the state is ready. */
  ledger(): Ledger | undefined;
  /** Peers that answered discovery. */
  peers(): string[];
  /** Whether a catch-up sync is running. */
  catchingUp(): boolean;
  /** The counters of the `tx` and `block` relays. */
  relays(): Record<string, RelayStats>;
  /** The node's base period in ms. */
  periodMs: number;
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
  readonly #startedAt = performance.now();
  #phase: NodePhase = "starting";
  #highestKnown = 0n;
  /** The last block the start's sync applied, before the ledger exists. */
  #syncedTo = 0n;
  /** Since when (performance.now()) the node has had no peer. */
  #noPeersSince: number | undefined;

  /** Watches `node`; the phase is `starting` until {@link serving}. */
  constructor(node: MonitoredNode) {
    this.#node = node;
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
    if (!this.#node.config.bootstrap) this.#noPeersSince = performance.now();
  }

  /** The node is stopping. */
  stopping(): void {
    this.#phase = "stopping";
  }

  /** The peers that answered discovery changed. */
  peersChanged(peers: readonly string[]): void {
    if (peers.length > 0) this.#noPeersSince = undefined;
    else this.#noPeersSince ??= performance.now();
  }

  /** A peer has block `number` (a relayed block from the future). */
  heard(number: bigint): void {
    if (number > this.#highestKnown) this.#highestKnown = number;
  }

  /**
   * `source` with every block it brings counted (`bcn_sync_blocks_total`)
   * and, once applied, heard of; its first block stream ends the start's
   * replay (phase `syncing`).
   */
  countingSource(source: SyncSource): SyncSource {
    const syncing = () => {
      if (this.#phase === "starting") this.#phase = "syncing";
    };
    const counted = () => this.metrics.onSyncBlock();
    const applied = (n: bigint) => {
      if (n > this.#syncedTo) this.#syncedTo = n;
      this.heard(n);
    };
    return {
      genesis: (peer, signal) => source.genesis(peer, signal),
      async *blocks(peer, from, signal) {
        syncing();
        // A stream starts after the last applied block.
        applied(from - 1n);
        let next = from;
        for await (const bytes of source.blocks(peer, from, signal)) {
          counted();
          yield bytes;
          // Asked for the next one: this one was applied.
          applied(next++);
        }
      },
    };
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
      peers: this.#node.peers(),
      catchingUp: this.#node.catchingUp(),
      highestKnownBlock: highest,
      behind: highest - state.lastNumber,
      authority: state.authority,
      isAuthority: this.proposes,
      uptimeSeconds: BigInt(
        Math.floor((performance.now() - this.#startedAt) / 1000),
      ),
      health: this.health(),
    };
  }

  /** What `GET /healthz` answers (see the README's "GET /healthz"). */
  health(): Health {
    const height = this.#node.ledger()?.state.lastNumber ?? this.#syncedTo;
    const since = this.#noPeersSince;
    return healthOf({
      phase: this.#phase,
      catchingUp: this.#node.catchingUp(),
      height,
      highestKnown: this.#highest(height),
      noPeersForMs: since === undefined ? undefined : performance.now() - since,
      noPeersGraceMs: NO_PEERS_GRACE_PERIODS * this.#node.periodMs,
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

  #highest(height: bigint): bigint {
    return this.#highestKnown > height ? this.#highestKnown : height;
  }

  #snapshot(): MetricsSnapshot | undefined {
    const ledger = this.#node.ledger();
    if (!ledger) return undefined;
    const state = ledger.state;
    const events = this.#node.events;
    return {
      height: state.lastNumber,
      highestKnown: this.#highest(state.lastNumber),
      syncing: this.#node.catchingUp(),
      pending: state.pendingCount,
      peers: this.#node.peers().length,
      relays: this.#node.relays(),
      subscribers: events.subscriberCount,
      slowSubscribers: events.slowDisconnects,
    };
  }
}
