/**
 * A served ledger for the RPC service tests: a real state and block store
 * holding a test chain, an RPC server on a free loopback port, and Connect
 * clients for it.
 */
import * as http from "node:http";
import * as net from "node:net";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type Transport,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { State } from "../../src/chain/state.ts";
import { Ledger } from "../../src/node/ledger.ts";
import {
  createPeerClients,
  type PeerClients,
  PeerRegistry,
} from "../../src/rpc/registry.ts";
import { startServer } from "../../src/rpc/server.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import { assertEquals, assertRejects } from "../assert.ts";
import type { TestChain } from "../fixtures.ts";
import { makeTempDir } from "../support.ts";

/** What a test gets: the node's parts and clients for it. */
export interface TestNode {
  /** The ledger the services work on. */
  ledger: Ledger;
  /** The node's block store. */
  store: BlockStore;
  /** The node's key-store directory (empty unless a test writes keys). */
  keyStoreDir: string;
  /** Clients for the served node. */
  clients: PeerClients;
  /** The served address, `127.0.0.1:port`. */
  addr: string;
}

/** Options of {@link withNode}. */
export interface WithNodeOptions {
  /** How many of the chain's blocks are confirmed; all by default. */
  applied?: number;
  /** Registers the services under test. */
  routes: (
    router: ConnectRouter,
    node: Omit<TestNode, "clients" | "addr">,
  ) => void;
  /** Runs before the server starts, e.g. to write keys. */
  setup?: (node: Omit<TestNode, "clients" | "addr">) => Promise<void>;
}

/** A served node; `close()` stops it and removes its directory. */
export interface OpenNode extends TestNode {
  /** Stops the server, closes the clients, removes the directory. */
  close(): Promise<void>;
}

/** Starts a node serving `chain`; the caller closes it. */
export async function startNode(
  chain: TestChain,
  options: WithNodeOptions,
): Promise<OpenNode> {
  const dir = await makeTempDir("bcn_rpc_");
  const cleanups: (() => Promise<void> | void)[] = [
    () => Deno.remove(dir, { recursive: true }),
  ];
  const close = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const state = new State(chain.genesis);
    const store = await BlockStore.open(`${dir}/blocks`);
    await store.writeGenesis(chain.genesis);
    for (const block of chain.blocks.slice(0, options.applied)) {
      state.applyBlock(block);
      await store.appendBlock(block);
    }
    const node = {
      ledger: new Ledger(state, store),
      store,
      keyStoreDir: `${dir}/keys`,
    };
    await options.setup?.(node);
    const server = await startServer({
      hostname: "127.0.0.1",
      port: 0,
      routes: (router) => options.routes(router, node),
    });
    cleanups.push(() => server.close());
    const peers = new PeerRegistry({ protocol: "connect" });
    cleanups.push(() => peers.close());
    return {
      ...node,
      clients: peers.clients(server.addr),
      addr: server.addr,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Runs `fn` against a node serving `chain`; everything is closed after. */
export async function withNode(
  chain: TestChain,
  options: WithNodeOptions,
  fn: (node: TestNode) => Promise<void>,
): Promise<void> {
  const node = await startNode(chain, options);
  try {
    await fn(node);
  } finally {
    await node.close();
  }
}

/** Asserts that `call` fails with status `code` and `includes` in its message. */
export async function assertCode(
  call: () => Promise<unknown>,
  code: Code,
  includes: string,
): Promise<void> {
  const e = await assertRejects(call, ConnectError, includes);
  assertEquals(Code[(e as ConnectError).code], Code[code], e.message);
}

/** Every item of a stream. */
export async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

/**
 * Whether a socket can be bound to `address` here (Linux has all of
 * 127.0.0.0/8 on loopback; macOS only 127.0.0.1).
 */
export function canBind(address: string): boolean {
  try {
    Deno.listen({ hostname: address, port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

/** Clients whose connections come from `localAddress`. */
export interface BoundClients {
  clients: PeerClients;
  close(): void;
}

/**
 * Clients of `addr` whose sockets are bound to `localAddress`, over
 * Connect/HTTP/1.1 (what bcn uses) or gRPC/HTTP/2 (what a reference client
 * uses).
 */
export function clientsFrom(
  addr: string,
  localAddress: string,
  protocol: "connect" | "grpc",
): BoundClients {
  const baseUrl = `http://${addr}`;
  if (protocol === "connect") {
    const agent = new http.Agent({ localAddress });
    const transport = createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      nodeOptions: { agent },
    });
    return {
      clients: createPeerClients(transport),
      close: () => agent.destroy(),
    };
  }
  const [host, port] = addr.split(":");
  const session = new Http2SessionManager(baseUrl, undefined, {
    createConnection: () =>
      net.connect({ host, port: Number(port), localAddress }),
  });
  const transport: Transport = createGrpcTransport({
    baseUrl,
    sessionManager: session,
  });
  return {
    clients: createPeerClients(transport),
    close: () => session.abort(),
  };
}
