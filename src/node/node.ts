/**
 * A bcn node: state sync, then the RPC server, peer discovery, the relays
 * and (on the authority) the block proposer, until it is stopped.
 *
 * @module
 */
import type { Account } from "../chain/account.ts";
import { blockHash, encodeSigBlock } from "../chain/block.ts";
import type { State } from "../chain/state.ts";
import { encodeSigTx } from "../chain/tx.ts";
import { accountMethods } from "../rpc/account.ts";
import { blockRelayMethods, blockSyncMethods } from "../rpc/block.ts";
import { PeerRegistry } from "../rpc/client.ts";
import { Account as AccountService } from "../rpc/gen/account_pb.ts";
import { Block } from "../rpc/gen/block_pb.ts";
import { Node as NodeService } from "../rpc/gen/node_pb.ts";
import { Tx } from "../rpc/gen/tx_pb.ts";
import type { HttpRoutes } from "../rpc/http_routes.ts";
import { type RpcServer, startServer } from "../rpc/server.ts";
import { whenReady } from "../rpc/when_ready.ts";
import type { ServiceImpl } from "@connectrpc/connect";
import { txMethods } from "../rpc/tx.ts";
import { readKey } from "../store/key_store.ts";
import { EXPOSITION_CONTENT_TYPE } from "./prometheus.ts";
import { Metrics } from "./metrics.ts";
import {
  encodeStatus,
  type Health,
  healthOf,
  type NodePhase,
  type NodeStatus,
} from "./status.ts";
import { type NodeConfig, splitHostPort } from "./config.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { EventBus, streamSubscribeMethods } from "./events.ts";
import { Ledger } from "./ledger.ts";
import { peerDiscoverMethods, PeerDiscovery } from "./peers.ts";
import { runProposer } from "./proposer.ts";
import { openBlockStream, openTxStream, Relay } from "./relay.ts";
import {
  checkStartInputs,
  messageOf,
  peerSyncSource,
  StateSync,
  type SyncSource,
} from "./state_sync.ts";

/** Options of {@link Node}. */
export interface NodeOptions {
  /** Where the node prints its state and address; stdout by default. */
  out?: (text: string) => void;
  /** Where warnings and progress go; stderr by default. */
  log?: (message: string) => void;
}

/**
 * How many periods a node may have no peer before `/healthz` says so: 30 s
 * at the default period. Discovery itself takes 3 failed rounds to forget a
 * peer, so this is about 9 periods after the last answer.
 */
export const NO_PEERS_GRACE_PERIODS = 6;

const DEFAULT_PERIOD_MS = 5000;

/** The services a node serves once its state is ready. */
interface Services {
  block: ServiceImpl<typeof Block>;
  tx: ServiceImpl<typeof Tx>;
  account: ServiceImpl<typeof AccountService>;
  node: ServiceImpl<typeof NodeService>;
}
const VERSION: string = denoJson.version;
const encoder = new TextEncoder();

/**
 * A running node. {@link Node.start} syncs the state and starts serving and
 * every background task; {@link Node.stop} stops all of it and waits.
 *
 * @example
 * ```ts ignore
 * import { Node } from "@bcn/bcn";
 * const node = new Node({
 *   node: "127.0.0.1:1122",
 *   bootstrap: true,
 *   keyStoreDir: ".keystore1122",
 *   blockStoreDir: ".blockstore1122",
 *   chain: "blockchain",
 *   authPass: "password",
 *   ownerPass: "password",
 *   balance: 1000n,
 * });
 * await node.start();
 * await node.stop();
 * ```
 */
export class Node {
  /** The configuration the node was started with. */
  readonly config: NodeConfig;
  /** The event stream of confirmed blocks and transactions. */
  readonly events: EventBus = new EventBus();
  /** The node's metrics, served on `GET /metrics`. */
  readonly #metrics: Metrics;
  readonly #options: NodeOptions;
  readonly #controller = new AbortController();
  readonly #registry: PeerRegistry;
  readonly #discovery: PeerDiscovery;
  readonly #txRelay: Relay<Uint8Array>;
  readonly #blockRelay: Relay<Uint8Array>;
  readonly #tasks: Promise<unknown>[] = [];
  #server: RpcServer | undefined;
  #ledger: Ledger | undefined;
  #sync: StateSync | undefined;
  #catchingUp: Promise<void> | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #fatal: Error | undefined;
  readonly #finished = Promise.withResolvers<void>();
  readonly #startedAt = performance.now();
  #phase: NodePhase = "starting";
  #highestKnown = 0n;
  #isAuthority = false;
  /** Since when (performance.now()) no peer counts; undefined if one does. */
  #noPeersSince: number | undefined;

  /** Prepares a node; nothing runs until {@link Node.start}. */
  constructor(config: NodeConfig, options: NodeOptions = {}) {
    // Nobody may be awaiting `finished`; its rejection is not a crash.
    this.#finished.promise.catch(() => {});
    this.config = config;
    this.#options = options;
    this.#metrics = new Metrics({ version: VERSION, chain: config.chain });
    const log = this.#log;
    const periodMs = config.periodMs ?? DEFAULT_PERIOD_MS;
    this.#registry = new PeerRegistry({
      protocol: config.peerProtocol ?? "auto",
    });
    this.#discovery = new PeerDiscovery({
      self: config.node,
      seed: config.seed,
      registry: this.#registry,
      periodMs,
      log,
    });
    // Relays carry canonical JSON, encoded once per item, not once per peer.
    this.#txRelay = new Relay<Uint8Array>({
      name: "tx",
      retryMs: periodMs,
      log,
      open: openTxStream(this.#registry),
    });
    this.#blockRelay = new Relay<Uint8Array>({
      name: "block",
      retryMs: periodMs,
      log,
      open: openBlockStream(this.#registry),
    });
  }

  /** The address the node serves on (with the real port once started). */
  get addr(): string {
    return this.#server?.addr ?? this.config.node;
  }

  /** The node's state, once started. */
  get state(): State {
    if (!this.#ledger) throw new Error("the node has not started");
    return this.#ledger.state;
  }

  /** The peers the node knows now. */
  peers(): string[] {
    return this.#discovery.peers();
  }

  /** An abort signal that fires when the node stops. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Syncs the state, then serves RPC on `config.node` and starts discovery,
   * the relays and, on the bootstrap node, the proposer. Rejects with a
   * one-line error when the node cannot start.
   */
  start(): Promise<void> {
    return this.#starting ??= this.#start();
  }

  /**
   * Settles once the node has stopped: resolves after {@link Node.stop}, or
   * rejects with the error that made the node stop by itself (its block
   * store failed).
   */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  async #start(): Promise<void> {
    // A stopped node does not start (nor write a new chain).
    this.signal.throwIfAborted();
    const cfg = this.config;
    const { hostname, port } = splitHostPort(cfg.node);
    const out = this.#options.out ?? ((t: string) => console.log(t));
    const signal = this.signal;
    // Discovery lists only peers that have answered; at start-up the seed
    // has not been asked yet, so it is always a sync source.
    const discovery = this.#discovery;
    const syncPeers = {
      peers: () => [
        ...new Set([...(cfg.seed ? [cfg.seed] : []), ...discovery.peers()]),
      ],
    };
    const sync = this.#sync = new StateSync(cfg, syncPeers, signal, {
      source: this.#countingSource(peerSyncSource(this.#registry)),
      log: this.#log,
    });
    // The port is served from the start, so `/healthz` says that the node
    // is starting; the services answer Unavailable until it is ready.
    const ready: { services?: Services } = {};
    // A bad flag is reported as such, not as a busy port.
    await checkStartInputs(cfg);
    signal.throwIfAborted();
    this.#collectMetrics();
    this.#server = await startServer({
      hostname,
      port,
      httpRoutes: this.#httpRoutes(),
      interceptors: [this.#metrics.rpcInterceptor()],
      routes: (router) => {
        const notReady = () => `node ${cfg.node} ${this.health().reason}`;
        router.service(
          Block,
          whenReady(Block, () => ready.services?.block, notReady),
        );
        router.service(Tx, whenReady(Tx, () => ready.services?.tx, notReady));
        router.service(
          AccountService,
          whenReady(AccountService, () => ready.services?.account, notReady),
        );
        router.service(
          NodeService,
          whenReady(NodeService, () => ready.services?.node, notReady),
        );
      },
    });
    signal.throwIfAborted();
    const state = await sync.syncState();
    signal.throwIfAborted();
    // The authority key is read before serving, so a wrong password stops
    // the start instead of a proposer that never works.
    let authority: Account | undefined;
    if (cfg.bootstrap) {
      authority = await readKey(
        cfg.keyStoreDir,
        state.authority,
        cfg.authPass ?? "",
      );
      signal.throwIfAborted();
      this.#isAuthority = true;
    }
    const ledger = this.#ledger = new Ledger(state, sync.store!, {
      onTx: (tx) => this.#txRelay.push(encoder.encode(encodeSigTx(tx))),
      onBlock: (block) => {
        this.#log(
          `blk ${block.number}: ${
            blockHash(block).slice(0, 7)
          } confirmed, ${block.txs.length} txs`,
        );
        this.#blockRelay.push(encoder.encode(encodeSigBlock(block)));
        this.#metrics.onBlockConfirmed(block);
      },
      onApplied: (seconds) => this.#metrics.onBlockApplied(seconds),
      onEvent: (event) => this.events.publish(event),
      onBehind: (number) => {
        this.#heard(number);
        this.#catchUp();
      },
      log: this.#log,
      onFatal: (e) => {
        // `finished` carries the error to whoever runs the node.
        this.#fatal ??= e;
        void this.stop();
      },
    });
    const created = sync.createdAccounts;
    if (created) {
      out(
        `=== New chain ${cfg.chain}\nauthority ${created.authority}\nowner     ${created.owner}`,
      );
    }
    out(`=== Sync state\n${state}`.trimEnd());
    // stop() may have come meanwhile: it closes the server.
    signal.throwIfAborted();
    const keyStoreDir = cfg.keyStoreDir;
    const store = ledger.store;
    ready.services = {
      block: {
        ...blockSyncMethods({ store }),
        ...blockRelayMethods({ ledger }),
      },
      tx: txMethods({ ledger, keyStoreDir }),
      account: accountMethods({ ledger, keyStoreDir }),
      node: {
        ...peerDiscoverMethods(this.#discovery, {
          remembersCallers: cfg.bootstrap,
        }),
        ...streamSubscribeMethods(this.events),
      },
    };
    this.#phase = "serving";
    this.#watchPeers();
    this.#discovery.onChange((peers) => {
      this.#txRelay.setPeers(peers);
      this.#blockRelay.setPeers(peers);
    });
    this.#tasks.push(this.#discovery.start(signal));
    if (authority) {
      this.#tasks.push(runProposer(ledger, authority, {
        periodMs: cfg.periodMs ?? DEFAULT_PERIOD_MS,
        signal,
        log: this.#log,
      }));
    }
    out(`<=> gRPC ${this.#server.addr}`);
  }

  /**
   * Stops the proposer, discovery, relays and subscriptions, drains the
   * server, and waits for all of it; safe to call twice.
   */
  stop(): Promise<void> {
    return this.#stopping ??= (async () => {
      this.#phase = "stopping";
      this.#controller.abort(new Error("node stopped"));
      // A start under way sees the abort at its next step and gives up.
      await this.#starting?.catch(() => {});
      await Promise.allSettled(this.#tasks);
      if (this.#catchingUp) await this.#catchingUp.catch(() => {});
      await Promise.allSettled([
        this.#txRelay.close(),
        this.#blockRelay.close(),
      ]);
      await this.#server?.close();
      // Handlers that outlived the server's grace may still be appending.
      await this.#ledger?.idle();
      this.#registry.close();
      if (this.#fatal) this.#finished.reject(this.#fatal);
      else this.#finished.resolve();
    })();
  }

  /**
   * What `GET /status` answers: the chain, the last block, the pool, the
   * peers, how far behind the node believes it is, and its health.
   */
  status(): NodeStatus {
    const state = this.state;
    const last = state.lastBlock;
    const behind = this.#highestKnown > state.lastNumber
      ? this.#highestKnown - state.lastNumber
      : 0n;
    return {
      version: VERSION,
      node: this.addr,
      chain: state.genesis.chain,
      genesis: state.genesisHash,
      lastBlock: {
        number: state.lastNumber,
        hash: state.lastHash,
        time: last ? last.time : state.genesis.time,
      },
      pending: BigInt(state.pendingTxs().length),
      peers: this.peers(),
      catchingUp: this.#catchingUp !== undefined || this.#phase === "syncing",
      highestKnownBlock: state.lastNumber + behind,
      behind,
      authority: state.authority,
      isAuthority: this.#isAuthority,
      uptimeSeconds: BigInt(
        Math.floor((performance.now() - this.#startedAt) / 1000),
      ),
      health: this.health(),
    };
  }

  /** What `GET /healthz` answers (see the README's "Health" section). */
  health(): Health {
    const height = this.#ledger?.state.lastNumber ?? 0n;
    const since = this.#noPeersSince;
    return healthOf({
      phase: this.#phase,
      catchingUp: this.#catchingUp !== undefined,
      height,
      highestKnown: this.#highestKnown > height ? this.#highestKnown : height,
      noPeersForMs: since === undefined ? undefined : performance.now() - since,
      noPeersGraceMs: NO_PEERS_GRACE_PERIODS *
        (this.config.periodMs ?? DEFAULT_PERIOD_MS),
    });
  }

  /** The operators' GET endpoints. */
  #httpRoutes(): HttpRoutes {
    const json = "application/json";
    const text = "text/plain; charset=utf-8";
    return {
      "/status": () =>
        this.#ledger
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
        body: this.#metrics.render(),
      }),
    };
  }

  /** Keeps the metrics' view of the node up to date at each scrape. */
  #collectMetrics(): void {
    this.#metrics.collect(() => {
      if (!this.#ledger) return undefined;
      const state = this.#ledger.state;
      const tx = this.#txRelay.stats();
      const block = this.#blockRelay.stats();
      return {
        height: state.lastNumber,
        highestKnown: this.#highestKnown > state.lastNumber
          ? this.#highestKnown
          : state.lastNumber,
        syncing: this.#catchingUp !== undefined,
        pending: state.pendingTxs().length,
        peers: this.peers().length,
        relays: { tx, block },
        subscribers: this.events.subscriberCount,
        slowSubscribers: this.events.slowDisconnects,
      };
    });
  }

  /**
   * Tracks since when the node has had no peer: a regular node from the
   * start (it is alone until discovery finds its seed), the bootstrap only
   * once it had peers and lost them all (alone, it is a whole chain).
   */
  #watchPeers(): void {
    if (!this.config.bootstrap) this.#noPeersSince = performance.now();
    this.#discovery.onChange((peers) => {
      if (peers.length > 0) this.#noPeersSince = undefined;
      else this.#noPeersSince ??= performance.now();
    });
  }

  /** A block number heard of from a peer. */
  #heard(number: bigint): void {
    if (number > this.#highestKnown) this.#highestKnown = number;
  }

  /** `source` with every block it brings counted and heard of. */
  #countingSource(source: SyncSource): SyncSource {
    const heard = (n: bigint) => this.#heard(n);
    // Asking peers for blocks: the start's replay is over.
    const setPhase = () => {
      if (this.#phase === "starting") this.#phase = "syncing";
    };
    const metrics = this.#metrics;
    return {
      genesis: (peer, signal) => source.genesis(peer, signal),
      async *blocks(peer, from, signal) {
        let next = from;
        setPhase();
        for await (const bytes of source.blocks(peer, from, signal)) {
          metrics.onSyncBlock();
          yield bytes;
          // Asked for the next one: this one was applied.
          heard(next++);
        }
      },
    };
  }

  #log = (message: string): void => {
    (this.#options.log ?? ((m: string) => console.error(m)))(message);
  };

  // A relayed block from the future means this node missed some: sync from
  // the peers once (not once per such block). Blocks are fetched outside the
  // ledger's lock and committed one at a time through it, so a slow peer
  // never holds up the proposer or the relays; a bad peer is logged and
  // the next one is tried.
  #catchUp(): void {
    if (this.#catchingUp || this.signal.aborted) return;
    const ledger = this.#ledger!;
    this.#catchingUp = this.#sync!.syncBlocks({
      commit: (block) => ledger.commitBlock(block),
      tolerant: true,
    })
      .catch((e) => {
        if (!this.signal.aborted) this.#log(`catch-up failed: ${messageOf(e)}`);
      })
      .finally(() => {
        this.#catchingUp = undefined;
      });
  }
}
