/**
 * A bcn node: state sync, then the RPC server, until it is stopped.
 *
 * @module
 */
import type { State } from "../chain/state.ts";
import { PeerRegistry } from "../rpc/client.ts";
import { blockSyncMethods } from "../rpc/block.ts";
import { Block } from "../rpc/gen/block_pb.ts";
import { type RpcServer, startServer } from "../rpc/server.ts";
import type { BlockStore } from "../store/block_store.ts";
import { type NodeConfig, splitHostPort } from "./config.ts";
import { type PeerReader, peerSyncSource, StateSync } from "./state_sync.ts";

/** Options of {@link Node}. */
export interface NodeOptions {
  /** Where the node prints its state and address; stdout by default. */
  out?: (text: string) => void;
  /** Where warnings and progress go; stderr by default. */
  log?: (message: string) => void;
}

/**
 * A running node. {@link Node.start} syncs the state and starts serving;
 * {@link Node.stop} stops everything and waits for it.
 *
 * @example
 * ```ts
 * import { Node } from "../../mod.ts";
 * const node = new Node({
 *   node: "127.0.0.1:0",
 *   bootstrap: true,
 *   keyStoreDir: ".keystore",
 *   blockStoreDir: ".blockstore",
 *   chain: "blockchain",
 *   authPass: "password",
 *   ownerPass: "password",
 *   balance: 1000n,
 * });
 * // await node.start(); ... await node.stop();
 * ```
 */
export class Node {
  /** The configuration the node was started with. */
  readonly config: NodeConfig;
  readonly #options: NodeOptions;
  readonly #controller = new AbortController();
  readonly #registry: PeerRegistry;
  #server: RpcServer | undefined;
  #state: State | undefined;
  #store: BlockStore | undefined;
  #stopping: Promise<void> | undefined;

  /** Prepares a node; nothing runs until {@link Node.start}. */
  constructor(config: NodeConfig, options: NodeOptions = {}) {
    this.config = config;
    this.#options = options;
    this.#registry = new PeerRegistry({
      protocol: config.peerProtocol ?? "auto",
    });
  }

  /** The address the node serves on (with the real port once started). */
  get addr(): string {
    return this.#server?.addr ?? this.config.node;
  }

  /** The node's state, once started. */
  get state(): State {
    if (!this.#state) throw new Error("the node has not started");
    return this.#state;
  }

  /** An abort signal that fires when the node stops. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Syncs the state, then serves RPC on `config.node`. */
  async start(): Promise<void> {
    const cfg = this.config;
    const { hostname, port } = splitHostPort(cfg.node);
    const out = this.#options.out ?? ((t: string) => console.log(t));
    const peers: PeerReader = { peers: () => (cfg.seed ? [cfg.seed] : []) };
    const sync = new StateSync(cfg, peers, this.signal, {
      source: peerSyncSource(this.#registry),
      log: this.#options.log,
    });
    this.#state = await sync.syncState();
    this.#store = sync.store!;
    out(`=== Sync state\n${this.#state}`.trimEnd());
    const store = this.#store;
    this.#server = await startServer({
      hostname,
      port,
      routes: (router) => {
        router.service(Block, { ...blockSyncMethods({ store }) });
      },
    });
    out(`<=> gRPC ${this.#server.addr}`);
  }

  /** Stops serving and every background task; safe to call twice. */
  stop(): Promise<void> {
    return this.#stopping ??= (async () => {
      this.#controller.abort(new Error("node stopped"));
      await this.#server?.close();
      this.#registry.close();
    })();
  }
}
