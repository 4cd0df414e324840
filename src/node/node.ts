/**
 * A bcn node: state sync, then the RPC server, peer discovery, the relays
 * and (on the authority) the block proposer, until it is stopped.
 *
 * @module
 */
import type { Account } from "../chain/account.ts";
import { blockBytes, blockHash } from "../chain/block.ts";
import type { State } from "../chain/state.ts";
import { encodeSigTx } from "../chain/tx.ts";
import { accountMethods } from "../rpc/account.ts";
import { blockRelayMethods, blockSyncMethods } from "../rpc/block.ts";
import { PeerRegistry } from "../rpc/client.ts";
import { Account as AccountService } from "../rpc/gen/account_pb.ts";
import { Block } from "../rpc/gen/block_pb.ts";
import { Node as NodeService } from "../rpc/gen/node_pb.ts";
import { Tx } from "../rpc/gen/tx_pb.ts";
import { type RpcServer, startServer } from "../rpc/server.ts";
import { txMethods } from "../rpc/tx.ts";
import { readKey } from "../store/key_store.ts";
import { type NodeConfig, splitHostPort } from "./config.ts";
import { EventBus, streamSubscribeMethods } from "./events.ts";
import { Ledger } from "./ledger.ts";
import { peerDiscoverMethods, PeerDiscovery } from "./peers.ts";
import { runProposer } from "./proposer.ts";
import { openBlockStream, openTxStream, Relay } from "./relay.ts";
import { messageOf, peerSyncSource, StateSync } from "./state_sync.ts";
import { VerifyPool } from "./verify_pool.ts";
import { SNAPSHOT_EVERY } from "./snapshot.ts";

/** Options of {@link Node}. */
export interface NodeOptions {
  /** Where the node prints its state and address; stdout by default. */
  out?: (text: string) => void;
  /** Where warnings and progress go; stderr by default. */
  log?: (message: string) => void;
}

const DEFAULT_PERIOD_MS = 5000;
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
  #sync: StateSync | undefined;
  #catchingUp: Promise<void> | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #fatal: Error | undefined;
  readonly #finished = Promise.withResolvers<void>();

  /** Prepares a node; nothing runs until {@link Node.start}. */
  constructor(config: NodeConfig, options: NodeOptions = {}) {
    // Nobody may be awaiting `finished`; its rejection is not a crash.
    this.#finished.promise.catch(() => {});
    this.config = config;
    this.#options = options;
    const log = this.#log;
    const periodMs = config.periodMs ?? DEFAULT_PERIOD_MS;
    this.#pool = new VerifyPool({ workers: config.verifyWorkers });
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
      source: peerSyncSource(this.#registry),
      log: this.#log,
      // The CLI's node (no log of its own) redraws one line on a terminal.
      progress: this.#options.log ? "log" : "terminal",
      pool: this.#pool,
    });
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
    }
    const ledger = this.#ledger = new Ledger(state, sync.store!, {
      onTx: (tx) => this.#txRelay.push(encoder.encode(encodeSigTx(tx))),
      onBlock: (block) => {
        this.#log(
          `blk ${block.number}: ${
            blockHash(block).slice(0, 7)
          } confirmed, ${block.txs.length} txs`,
        );
        this.#blockRelay.push(blockBytes(block));
      },
      onEvent: (event) => this.events.publish(event),
      onBehind: () => this.#catchUp(),
      log: this.#log,
      onFatal: (e) => {
        // `finished` carries the error to whoever runs the node.
        this.#fatal ??= e;
        void this.stop();
      },
      snapshotEvery: SNAPSHOT_EVERY,
      pool: this.#pool,
    });
    const created = sync.createdAccounts;
    if (created) {
      out(
        `=== New chain ${cfg.chain}\nauthority ${created.authority}\nowner     ${created.owner}`,
      );
    }
    out(`=== Sync state\n${state}`.trimEnd());
    const keyStoreDir = cfg.keyStoreDir;
    const store = ledger.store;
    this.#server = await startServer({
      hostname,
      port,
      routes: (router) => {
        router.service(Block, {
          ...blockSyncMethods({ store }),
          ...blockRelayMethods({ ledger }),
        });
        router.service(Tx, txMethods({ ledger, keyStoreDir }));
        router.service(AccountService, accountMethods({ ledger, keyStoreDir }));
        router.service(NodeService, {
          ...peerDiscoverMethods(this.#discovery, {
            remembersCallers: cfg.bootstrap,
          }),
          ...streamSubscribeMethods(this.events),
        });
      },
    });
    // stop() may have come while the server started; it closes the server.
    signal.throwIfAborted();
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
      // A clean stop keeps a snapshot, so the next start replays nothing.
      if (!this.#fatal) await this.#ledger?.snapshot().catch(() => {});
      this.#pool.close();
      this.#registry.close();
      if (this.#fatal) this.#finished.reject(this.#fatal);
      else this.#finished.resolve();
    })();
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
