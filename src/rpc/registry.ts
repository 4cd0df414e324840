/**
 * Per-peer RPC clients: typed clients of the four services over a
 * {@link PeerTransport}, and a {@link PeerRegistry} that keeps one transport
 * per peer address, so what was learned about a peer (Connect or gRPC) lives
 * as long as the registry, and closes them all.
 *
 * @module
 */

import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { Account } from "./gen/account_pb.ts";
import { Block } from "./gen/block_pb.ts";
import { Node } from "./gen/node_pb.ts";
import { Tx } from "./gen/tx_pb.ts";
import {
  type PeerProtocol,
  PeerTransport,
  type PeerTransportOptions,
} from "./transport.ts";

/** Typed clients for the four bcn services of one peer. */
export interface PeerClients {
  /** The Block service: genesis and block sync, block relay and search. */
  block: Client<typeof Block>;
  /** The Tx service: sign, send, relay, search and prove transactions. */
  tx: Client<typeof Tx>;
  /** The Account service: create accounts, read balances. */
  account: Client<typeof Account>;
  /** The Node service: peer discovery and event streams. */
  node: Client<typeof Node>;
}

/**
 * Typed clients of the four services over one transport.
 *
 * @example
 * ```ts
 * import { createPeerClients } from "./registry.ts";
 * import { PeerTransport } from "./transport.ts";
 *
 * const transport = new PeerTransport("127.0.0.1:1122", "connect");
 * const { tx } = createPeerClients(transport);
 * await tx.txSend({ Tx: new Uint8Array() }).catch(() => {});
 * transport.close();
 * ```
 */
export function createPeerClients(transport: Transport): PeerClients {
  return {
    block: createClient(Block, transport),
    tx: createClient(Tx, transport),
    account: createClient(Account, transport),
    node: createClient(Node, transport),
  };
}

/** Options of a {@link PeerRegistry}. */
export interface PeerRegistryOptions extends PeerTransportOptions {
  /** Protocol mode of every peer transport. Default `"auto"`. */
  protocol?: PeerProtocol;
}

/**
 * One {@link PeerTransport} (and its clients) per peer address. What a
 * transport learned about its peer (gRPC or Connect) lives as long as the
 * registry entry. Pass the registry to whatever talks to peers; close it when
 * the node stops.
 *
 * @example
 * ```ts
 * import { PeerRegistry } from "./registry.ts";
 *
 * const peers = new PeerRegistry({ protocol: "auto" });
 * const { block } = peers.clients("127.0.0.1:1122");
 * await block.genesisSync({}).catch(() => {});
 * console.log(peers.protocolOf("127.0.0.1:1122"));
 * peers.close();
 * ```
 */
export class PeerRegistry {
  readonly #options: PeerRegistryOptions;
  readonly #peers = new Map<
    string,
    { transport: PeerTransport; clients: PeerClients }
  >();

  /**
   * Creates an empty registry.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "./registry.ts";
   *
   * const peers = new PeerRegistry({ unaryTimeoutMs: 5000 });
   * peers.close();
   * ```
   */
  constructor(options: PeerRegistryOptions = {}) {
    this.#options = options;
  }

  /**
   * The transport of a peer, created on first use.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "./registry.ts";
   *
   * const peers = new PeerRegistry();
   * console.log(peers.transport("127.0.0.1:1122").addr);
   * peers.close();
   * ```
   */
  transport(addr: string): PeerTransport {
    return this.#entry(addr).transport;
  }

  /**
   * The typed clients of a peer, created on first use.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "./registry.ts";
   *
   * const peers = new PeerRegistry();
   * const { node } = peers.clients("127.0.0.1:1122");
   * await node.peerDiscover({ Peer: "127.0.0.1:1123" }).catch(() => {});
   * peers.close();
   * ```
   */
  clients(addr: string): PeerClients {
    return this.#entry(addr).clients;
  }

  /**
   * The protocol known for a peer, `undefined` when unknown or not yet used.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "./registry.ts";
   *
   * const peers = new PeerRegistry({ protocol: "grpc" });
   * peers.clients("127.0.0.1:1122");
   * console.log(peers.protocolOf("127.0.0.1:1122")); // "grpc"
   * peers.close();
   * ```
   */
  protocolOf(addr: string): "connect" | "grpc" | undefined {
    return this.#peers.get(addr)?.transport.protocol;
  }

  /**
   * Closes and drops the transport of one peer (what was learned is lost).
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "./registry.ts";
   *
   * const peers = new PeerRegistry();
   * peers.clients("127.0.0.1:1122");
   * peers.forget("127.0.0.1:1122");
   * peers.close();
   * ```
   */
  forget(addr: string): void {
    this.#peers.get(addr)?.transport.close();
    this.#peers.delete(addr);
  }

  /**
   * Closes every transport; calls in flight fail.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "./registry.ts";
   *
   * new PeerRegistry().close();
   * ```
   */
  close(): void {
    for (const { transport } of this.#peers.values()) transport.close();
    this.#peers.clear();
  }

  #entry(addr: string): { transport: PeerTransport; clients: PeerClients } {
    let entry = this.#peers.get(addr);
    if (entry === undefined) {
      const transport = new PeerTransport(
        addr,
        this.#options.protocol ?? "auto",
        this.#options,
      );
      entry = { transport, clients: createPeerClients(transport) };
      this.#peers.set(addr, entry);
    }
    return entry;
  }
}
