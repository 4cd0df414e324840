/**
 * A bcn node: state sync, then the RPC server, peer discovery, the relays
 * and (on the authority) the block proposer, until it is stopped.
 *
 * @module
 */
import type { Account } from "../chain/account.ts";
import { blockBytes, blockHash, type SigBlock } from "../chain/block.ts";
import type { State } from "../chain/state.ts";
import { type SigTx, txBytes } from "../chain/tx.ts";
import { accountMethods } from "../rpc/account_service.ts";
import { AddressList } from "../http/address_list.ts";
import { blockRelayMethods, blockSyncMethods } from "../rpc/block_service.ts";
import { messageOf } from "../util/errors.ts";
import {
  peerDiscoverMethods,
  streamSubscribeMethods,
} from "../rpc/node_service.ts";
import { PeerRegistry } from "../rpc/registry.ts";
import { Account as AccountService } from "../rpc/gen/account_pb.ts";
import { Block } from "../rpc/gen/block_pb.ts";
import { Node as NodeService } from "../rpc/gen/node_pb.ts";
import { Tx } from "../rpc/gen/tx_pb.ts";
import { Checkpoint as CheckpointService } from "../rpc/gen/checkpoint_pb.ts";
import { checkpointMethods } from "../rpc/checkpoint_service.ts";
import { CheckpointStore } from "../store/checkpoint_store.ts";
import { DEFAULT_CHECKPOINT_INTERVAL } from "../chain/checkpoint.ts";
import { CheckpointKeeper } from "./checkpoints.ts";
import {
  peerCheckpointSource,
  runCheckpointPoller,
} from "./checkpoint_sync.ts";
import { CheckpointJoiner } from "./checkpoint_join.ts";
import { ALLOW_KEYS_FLAG, KeyAccess } from "../rpc/key_access.ts";
import { PasswordThrottle } from "../rpc/password_throttle.ts";
import { type RpcServer, startServer } from "../rpc/server.ts";
import { serveReflection } from "../rpc/reflection_service.ts";
import { whenReady } from "../rpc/when_ready.ts";
import type { ServiceImpl } from "@connectrpc/connect";
import { txMethods } from "../rpc/tx_service.ts";
import { BlockStore } from "../store/block_store.ts";
import { PENDING_FILE, PendingStore } from "../store/pending_store.ts";
import { readKey } from "../store/key_store.ts";
import { runCatchUpPoller } from "./catch_up.ts";
import { advertisedAddress, type NodeConfig, periodOf } from "./config.ts";
import { splitHostPort } from "../rpc/peer_address.ts";
import { EventBus } from "./events.ts";
import { Ledger } from "./ledger.ts";
import { NodeMonitor } from "./observe/monitor.ts";
import {
  DEFAULT_DISCOVER_TIMEOUT_MS,
  DEFAULT_MAX_FAILURES,
  PeerDiscovery,
} from "./peers.ts";
import { runProposer } from "./proposer.ts";
import { REOFFER_MAX_PER_ROUND, runReoffer } from "./reoffer.ts";
import { openBlockStream, openTxStream, Relay } from "./relay.ts";
import { checkStartInputs } from "./genesis_setup.ts";
import { countedSource, peerSyncSource, StateSync } from "./state_sync.ts";
import { VerifyPool } from "./verify/pool.ts";
import { SNAPSHOT_EVERY } from "./snapshot.ts";
import type { Health, NodeStatus } from "./observe/status.ts";
import { explorerRoutes } from "../explorer/routes.ts";

/** The hosts of `host:port` peer addresses (IPv6 without brackets). */
function hostsOf(addrs: string[]): Set<string> {
  const hosts = new Set<string>();
  for (const addr of addrs) {
    try {
      hosts.add(splitHostPort(addr).hostname);
    } catch {
      // not an address: no host to prefer
    }
  }
  return hosts;
}

/** Options of {@link Node}. */
export interface NodeOptions {
  /** Where the node prints its state and address; stdout by default. */
  out?: (text: string) => void;
  /** Where warnings and progress go; stderr by default. */
  log?: (message: string) => void;
}

/** The services a node serves once its state is ready. */
interface Services {
  block: ServiceImpl<typeof Block>;
  tx: ServiceImpl<typeof Tx>;
  account: ServiceImpl<typeof AccountService>;
  node: ServiceImpl<typeof NodeService>;
  checkpoint: ServiceImpl<typeof CheckpointService>;
}

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
  readonly #options: NodeOptions;
  readonly #controller = new AbortController();
  readonly #registry: PeerRegistry;
  readonly #discovery: PeerDiscovery;
  readonly #txRelay: Relay<Uint8Array>;
  readonly #blockRelay: Relay<Uint8Array>;
  readonly #tasks: Promise<unknown>[] = [];
  readonly #pool: VerifyPool;
  #server: RpcServer | undefined;
  #ledger: Ledger | undefined;
  /** The pending pool on disk, once the pool of the last run is restored. */
  #pendingStore: PendingStore | undefined;
  #sync: StateSync | undefined;
  #checkpoints: CheckpointKeeper | undefined;
  readonly #joiner: CheckpointJoiner;
  #catchingUp: Promise<void> | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #fatal: Error | undefined;
  readonly #finished = Promise.withResolvers<void>();
  readonly #monitor: NodeMonitor;

  /** Prepares a node; nothing runs until {@link Node.start}. */
  constructor(config: NodeConfig, options: NodeOptions = {}) {
    // Nobody may be awaiting `finished`; its rejection is not a crash.
    this.#finished.promise.catch(() => {});
    this.config = config;
    this.#options = options;
    const log = this.#log;
    const periodMs = periodOf(config);
    this.#pool = new VerifyPool({
      workers: config.verifyWorkers,
      log: (m) => this.#log(m),
    });
    this.#registry = new PeerRegistry({
      protocol: config.peerProtocol ?? "auto",
    });
    this.#discovery = new PeerDiscovery({
      self: advertisedAddress(config),
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
      open: openTxStream(this.#registry, {
        origin: advertisedAddress(config),
      }),
      // A peer that (re)joins, above all the authority back from an
      // outage, is offered the pending pool it may have missed.
      backlog: () => this.#pendingBytes(),
    });
    this.#blockRelay = new Relay<Uint8Array>({
      name: "block",
      retryMs: periodMs,
      log,
      open: openBlockStream(this.#registry, {
        origin: advertisedAddress(config),
      }),
    });
    this.#joiner = new CheckpointJoiner({
      config,
      registry: this.#registry,
      discovery: this.#discovery,
      pool: this.#pool,
      signal: this.#controller.signal,
      log,
    });
    this.#monitor = new NodeMonitor({
      config,
      events: this.events,
      discovery: {
        timeoutMs: DEFAULT_DISCOVER_TIMEOUT_MS,
        maxFailures: DEFAULT_MAX_FAILURES,
      },
      periodMs,
      addr: () => this.addr,
      ledger: () => this.#ledger,
      peers: () => this.peers(),
      catchingUp: () => this.#catchingUp !== undefined,
      backfill: () => {
        const backfill = this.#joiner.backfill;
        return backfill
          ? { held: backfill.held, checkpoint: backfill.target }
          : undefined;
      },
      relays: () => ({
        tx: this.#txRelay.stats(),
        block: this.#blockRelay.stats(),
      }),
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

  /**
   * What `GET /status` answers: the chain, the last block, the pool, the
   * peers, how far behind the node believes it is, and its health. Throws
   * before the state is ready.
   */
  status(): NodeStatus {
    return this.#monitor.status();
  }

  /** What `GET /healthz` answers (see docs/operating.md, "GET /healthz"). */
  health(): Health {
    return this.#monitor.health();
  }

  /** An abort signal that fires when the node stops. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Binds `config.node` (its operator endpoints answer at once, its
   * services answer Unavailable), syncs the state, then serves every
   * service and starts discovery, the relays and, on the bootstrap node,
   * the proposer. Rejects with a one-line error when the node cannot start.
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
    const keyAccess = new KeyAccess(AddressList.of(cfg.allowKeysFrom ?? []));
    const out = this.#options.out ?? ((t: string) => console.log(t));
    const signal = this.signal;
    // Discovery lists only peers that have answered; at start-up our seed
    // has not been asked yet, so it is always a sync source.
    const discovery = this.#discovery;
    const syncPeers = {
      peers: () => [
        ...new Set([...(cfg.seed ? [cfg.seed] : []), ...discovery.peers()]),
      ],
    };
    const monitor = this.#monitor;
    const source = countedSource(peerSyncSource(this.#registry), {
      onStream: (from) => monitor.syncStream(from),
      onBlock: () => monitor.metrics.onSyncBlock(),
    });
    // A bad flag is reported as such, not as a busy port.
    await checkStartInputs(cfg);
    signal.throwIfAborted();
    // The port is served from the start, so `/healthz` says that the node
    // is starting; the services answer Unavailable until it is ready.
    const ready: { services?: Services } = {};
    const notReady = () => `node ${cfg.node} ${monitor.health().reason}`;
    this.#server = await startServer({
      hostname,
      port,
      limits: {
        maxPerAddress: cfg.maxConnsPerIp,
        // Known peers still get in when the server is nearly full.
        isPreferred: (ip) => hostsOf(syncPeers.peers()).has(ip),
      },
      onWarning: this.#log,
      httpRoutes: cfg.explorer === false
        ? monitor.httpRoutes()
        : { ...explorerRoutes(), ...monitor.httpRoutes() },
      interceptors: [monitor.metrics.rpcInterceptor()],
      routes: (router) => {
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
        router.service(
          CheckpointService,
          whenReady(
            CheckpointService,
            () => ready.services?.checkpoint,
            notReady,
          ),
        );
        serveReflection(router);
      },
    });
    signal.throwIfAborted();
    // The node owns its block store: the sync fills it, the ledger appends.
    const store = await BlockStore.open(cfg.blockStoreDir, {
      onWarning: this.#log,
    });
    const checkpointStore = await CheckpointStore.open(cfg.blockStoreDir, {
      onWarning: this.#log,
    });
    // The authority signs checkpoints for the blocks it replays, so its
    // key is read first when the chain exists (a wrong password is
    // reported below, as before).
    let authority: Account | undefined = cfg.bootstrap
      ? await this.#earlyAuthority(store)
      : undefined;
    const interval = cfg.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL;
    // A regular node learns the chain's interval before it applies blocks,
    // from its seed's newest checkpoint (a reference seed has none).
    const probed = cfg.bootstrap ? undefined : await this.#joiner.probe();
    const keeperOf = (state: State): CheckpointKeeper => {
      if (this.#checkpoints) return this.#checkpoints;
      const keeper = this.#checkpoints = new CheckpointKeeper({
        store: checkpointStore,
        genesis: state.genesis,
        authority,
        interval: cfg.bootstrap ? interval : undefined,
        log: this.#log,
      });
      if (probed) keeper.learn(probed);
      return keeper;
    };
    const sync = this.#sync = new StateSync(cfg, {
      store,
      onApplied: (block, state, durable) =>
        keeperOf(state).applied(block, state, durable),
      onDurable: (block) => this.#checkpoints?.durable(block),
      findBlock: (hash, signal) => this.#findBlock(hash, signal),
      // An authority replays the blocks it has no checkpoint for yet.
      useSnapshot: cfg.bootstrap
        ? (n) =>
          n < interval ||
          (checkpointStore.newest()?.number ?? 0n) >= n - n % interval
        : undefined,
      peers: syncPeers,
      signal,
      source,
      log: this.#log,
      // The CLI's node (no log of its own) redraws one line on a terminal.
      progress: this.#options.log ? "log" : "terminal",
      pool: this.#pool,
      // A first start waits for its seed (until stopped), not 3 s.
      waitForSeed: true,
    });
    // A regular node joins from a checkpoint when it can (checkpoint_join.ts).
    const joined = cfg.bootstrap
      ? undefined
      : await this.#joiner.join(sync, store, checkpointStore);
    const state = joined?.state ?? await sync.syncState();
    signal.throwIfAborted();
    // The authority key is read before serving, so a wrong password stops
    // the start instead of a proposer that never works.
    if (cfg.bootstrap && !authority) {
      authority = await readKey(
        cfg.keyStoreDir,
        state.authority,
        cfg.authPass ?? "",
      );
      signal.throwIfAborted();
    }
    if (cfg.bootstrap) monitor.proposes = true;
    const checkpoints = keeperOf(state);
    if (joined) checkpoints.learn(joined.checkpoint);
    // The checkpoints of the replay are on disk before the node serves.
    await checkpoints.idle();
    // A joined node appends to its head store until the backfill is done.
    const ledger = this.#ledger = new Ledger(state, joined?.head ?? store, {
      // Nothing goes back to the peer it came from (`origin`).
      onTx: (tx, origin) => this.#txRelay.push(txBytes(tx), { except: origin }),
      // Journaled once the pool of the last run is restored; a client is
      // answered with the hash once its transaction is on disk.
      onAccepted: (tx) => this.#pendingStore?.record(tx),
      onBlock: (block, origin) => {
        this.#log(
          `blk ${block.number}: ${
            blockHash(block).slice(0, 7)
          } confirmed, ${block.txs.length} txs`,
        );
        this.#blockRelay.push(blockBytes(block), { except: origin });
        monitor.metrics.onBlockConfirmed(block);
        checkpoints.durable(block);
      },
      onApplied: (seconds, block) => {
        monitor.metrics.onBlockApplied(seconds);
        checkpoints.applied(block, state, false);
      },
      onEvent: (event) => this.events.publish(event),
      onBehind: (number) => {
        monitor.heard(number);
        this.#catchUp();
      },
      log: this.#log,
      onFatal: (e) => {
        // `finished` carries the error to whoever runs the node.
        this.#fatal ??= e;
        void this.stop();
      },
      snapshotEvery: SNAPSHOT_EVERY,
      pool: this.#pool,
    });
    await this.#restorePending(ledger);
    signal.throwIfAborted();
    const created = sync.createdAccounts;
    if (created) {
      out(
        `=== New chain ${cfg.chain}\nauthority ${created.authority}\nowner     ${created.owner}`,
      );
    }
    out(`=== Sync state\n${state}`.trimEnd());
    // stop() may have come meanwhile; it closes the server.
    signal.throwIfAborted();
    const keyStoreDir = cfg.keyStoreDir;
    if (keyAccess.widened) {
      this.#log(
        `warning: TxSign and AccountCreate, which use the key store, are served to ${keyAccess.extra} as well as this machine (${ALLOW_KEYS_FLAG}); password guessing is slowed down, not stopped`,
      );
    }
    // Searches read block.store, which holds no gap even while it is
    // backfilled (it then answers for the blocks it holds).
    const searchable = {
      state: ledger.state,
      store,
      receiveBlock: (b: SigBlock, o?: string) => ledger.receiveBlock(b, o),
      submitTx: (tx: SigTx) => ledger.submitTx(tx),
      offerTx: (tx: SigTx, o?: string) => ledger.offerTx(tx, o),
    };
    ready.services = {
      block: {
        ...blockSyncMethods({ store }),
        ...blockRelayMethods({ ledger: searchable }),
      },
      tx: txMethods({
        ledger: searchable,
        keyStoreDir,
        keyAccess,
        passwordThrottle: new PasswordThrottle({ log: this.#log }),
      }),
      account: accountMethods({
        ledger,
        keyStoreDir,
        keyAccess,
        log: this.#log,
      }),
      node: {
        ...peerDiscoverMethods(this.#discovery, {
          remembersCallers: cfg.bootstrap,
        }),
        ...streamSubscribeMethods(this.events),
      },
      checkpoint: checkpointMethods({
        served: () => checkpoints.served(),
        get: (n) => checkpoints.get(n),
        readState: (c, signal) => checkpointStore.readState(c, signal),
      }),
    };
    monitor.serving();
    this.#discovery.onChange((peers) => {
      this.#txRelay.setPeers(peers);
      this.#blockRelay.setPeers(peers);
      monitor.peersChanged(peers);
    });
    this.#tasks.push(this.#discovery.start(signal));
    if (!cfg.bootstrap) {
      // Learns from the peers that blocks were missed, relayed or not.
      this.#tasks.push(runCatchUpPoller({
        periodMs: periodOf(cfg),
        peers: syncPeers,
        self: advertisedAddress(cfg),
        source,
        lastNumber: () => ledger.state.lastNumber,
        // A held block a peer sends again must be the one held.
        heldHash: (n) =>
          n === ledger.state.lastNumber ? ledger.state.lastHash : undefined,
        onBehind: () => this.#catchUp(),
        signal,
      }));
    }
    const seed = cfg.seed;
    if (
      !cfg.bootstrap && seed !== undefined && seed !== advertisedAddress(cfg)
    ) {
      // The seed is the authority or a node nearer to it (which does the
      // same): old pending transactions are offered to it again, in case
      // they never reached it (see reoffer.ts).
      const relay = this.#txRelay;
      this.#tasks.push(runReoffer({
        periodMs: periodOf(cfg),
        pending: () => ledger.state.pendingTxs(),
        room: () =>
          relay.peers().includes(seed)
            ? REOFFER_MAX_PER_ROUND - relay.stats(seed).queued
            : 0,
        offer: (txs) => {
          for (const tx of txs) relay.push(txBytes(tx), { to: seed });
        },
        signal,
        log: this.#log,
      }));
    }
    if (!cfg.bootstrap) {
      // Checks this node's state against the authority's checkpoints.
      this.#tasks.push(runCheckpointPoller({
        periodMs: periodOf(cfg),
        peers: syncPeers,
        self: advertisedAddress(cfg),
        source: peerCheckpointSource(this.#registry),
        keeper: checkpoints,
        noService: this.#joiner.noService,
        signal,
      }));
    }
    if (authority) {
      this.#tasks.push(runProposer(ledger, authority, {
        periodMs: periodOf(cfg),
        signal,
        log: this.#log,
      }));
    }
    if (joined) {
      this.#tasks.push(
        this.#joiner.runBackfill(joined, ledger, store, (e) => {
          this.#fatal ??= e;
          void this.stop();
        }),
      );
      // The chain may have gone on since the checkpoint.
      this.#catchUp();
    }
    out(`<=> gRPC ${this.#server.addr}`);
  }

  /**
   * Stops the proposer, discovery, relays and subscriptions, drains the
   * server, and waits for all of it; safe to call twice.
   */
  stop(): Promise<void> {
    return this.#stopping ??= (async () => {
      this.#monitor.stopping();
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
      await this.#checkpoints?.idle();
      // Handlers that outlived the server's grace may still be appending.
      await this.#ledger?.idle();
      // The pool as it is now, for the next start.
      await this.#pendingStore?.close();
      // A clean stop keeps a snapshot, so the next start replays nothing.
      if (!this.#fatal) await this.#ledger?.snapshot().catch(() => {});
      this.#pool.close();
      this.#registry.close();
      if (this.#fatal) this.#finished.reject(this.#fatal);
      else this.#finished.resolve();
    })();
  }

  /**
   * Reads the pending pool the last run kept, offers each transaction to the
   * ledger again (verified as if relayed), says in one line what was kept
   * and dropped, and starts journaling from the pool as it is then.
   */
  async #restorePending(ledger: Ledger): Promise<void> {
    const state = ledger.state;
    // The block-store directory itself: a joined node's ledger appends to
    // its head store for a while.
    const store = new PendingStore(
      this.config.blockStoreDir,
      state.genesisHash,
      {
        current: (): SigTx[] => [...state.pendingTxs(), ...state.queuedTxs()],
        onWarning: this.#log,
      },
    );
    const read = await store.read();
    if ("unusable" in read) {
      this.#log(`warning: ${PENDING_FILE} not used: ${read.unusable}`);
    } else if ("txs" in read) {
      const { kept, dropped } = await ledger.restoreTxs(read.txs);
      const unreadable = read.unreadable > 0
        ? `, ${read.unreadable} unreadable lines`
        : "";
      this.#log(
        `restored ${kept} pending transactions from ${PENDING_FILE}; dropped ${dropped} (confirmed or invalid)${unreadable}`,
      );
    }
    // The file now holds exactly the pool (none when it is empty).
    await store.compact();
    this.#pendingStore = store;
  }

  /**
   * Block `hash` as the seed's BlockSearch finds it (raw JSON), or
   * undefined when it has none; within 10 s.
   */
  async #findBlock(
    hash: string,
    signal: AbortSignal,
  ): Promise<Uint8Array | undefined> {
    const seed = this.config.seed;
    if (seed === undefined) return undefined;
    const stream = this.#registry.clients(seed).block.blockSearch({
      Hash: hash,
    }, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
    for await (const res of stream) return res.Block;
    return undefined;
  }

  /**
   * The authority's key, when the store already holds the chain's genesis
   * and the password opens it; undefined otherwise (the start reads it
   * again after the sync and reports what is wrong).
   */
  async #earlyAuthority(store: BlockStore): Promise<Account | undefined> {
    try {
      const genesis = await store.readGenesis();
      if (!genesis) return undefined;
      return await readKey(
        this.config.keyStoreDir,
        genesis.authority,
        this.config.authPass ?? "",
      );
    } catch {
      return undefined;
    }
  }

  /** The pending pool's transactions as the relay sends them, oldest first. */
  *#pendingBytes(): Generator<Uint8Array> {
    const ledger = this.#ledger;
    if (ledger === undefined) return;
    for (const tx of ledger.state.pendingTxs()) yield txBytes(tx);
  }

  #log = (message: string): void => {
    (this.#options.log ?? ((m: string) => console.error(m)))(message);
  };

  // A relayed block from the future, or a peer that holds a block after our
  // last one (the catch-up poller), means this node missed some: sync from
  // the peers once (not once per such block). Blocks are fetched outside the
  // ledger's lock and committed one at a time through it, so a slow peer
  // never holds up the proposer or the relays; a bad peer is logged and
  // the next one is tried.
  #catchUp(): void {
    if (this.#catchingUp || this.signal.aborted) return;
    const ledger = this.#ledger!;
    this.#catchingUp = this.#sync!.syncBlocks({
      ledger,
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
