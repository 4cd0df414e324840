/**
 * {@link Client}: typed calls to one bcn (or reference) node, for programs
 * and for the `bcn` CLI's client commands.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import {
  decodeSigBlock,
  encodeSigBlock,
  type SigBlock,
} from "../chain/block.ts";
import { decodeEvent, type Event, EventType } from "../chain/event.ts";
import { DecodeError, encodeString, parseHash } from "../chain/json.ts";
import {
  decodeMerkleProof,
  encodeMerkleProof,
  type MerkleStep,
} from "../chain/merkle.ts";
import { decodeSearchTx, type SearchTx } from "../chain/search_tx.ts";
import { timeNow } from "../chain/time.ts";
import { decodeSigTx, encodeSigTx, type SigTx } from "../chain/tx.ts";
import type { NodeStatus } from "../node/observe/status.ts";
import { splitHostPort } from "../rpc/peer_address.ts";
import { createPeerClients, type PeerClients } from "../rpc/registry.ts";
import { TX_STATUS_HEADER } from "../rpc/tx_service.ts";
import { type PeerProtocol, PeerTransport } from "../rpc/transport.ts";
import {
  checkAddress,
  checkHash,
  checkHexPrefix,
  type CodeLabels,
  InputError,
  NodeError,
  nodeError,
} from "./call_errors.ts";
import {
  checkPasswordInput,
  checkTransfer,
  type KeySource,
  openSenderKey,
  type Transfer,
} from "./sign.ts";
import { fetchStatus } from "./fetch_status.ts";
import { messageOf, networkCause } from "../util/errors.ts";

/**
 * How long a search may run by default before the client gives up on the
 * node, so a node that stalls cannot hang the caller.
 */
export const SEARCH_TIMEOUT_MS = 120_000;

/** Options of a {@link Client}. */
export interface ClientOptions {
  /**
   * How to talk to the node: `"auto"` (the default) tries Connect over
   * HTTP/1.1 and falls back to gRPC over HTTP/2 for a reference Go node;
   * `"connect"` and `"grpc"` fix the protocol.
   */
  protocol?: PeerProtocol;
  /** Timeout of each call that gives none, in ms; 10 s by default. */
  timeoutMs?: number;
}

/** Options every call takes. */
export interface CallOptions {
  /** Cancels the call (for `subscribe`, ends the iteration cleanly). */
  signal?: AbortSignal;
  /** Timeout of this call, in ms. */
  timeoutMs?: number;
}

/** A transaction search: exactly one of the fields, a prefix. */
export type TxQuery =
  | { hash: string }
  | { from: string }
  | { to: string }
  | { account: string };

/** A block search: exactly one of the fields. */
export type BlockQuery =
  | { number: bigint }
  | { hash: string }
  | { parent: string };

/** What a node said about a transaction it accepted. */
export interface SendResult {
  /** The transaction's hash. */
  hash: string;
  /**
   * Whether the node keeps it queued until the nonces before it arrive (a
   * bcn node says so; a reference node never does).
   */
  queued: boolean;
}

/** A decoded event of {@link Client.subscribe}. */
export type NodeEvent =
  | {
    /** A transaction the node validated. */
    type: "tx";
    /** What happened to it: `validated`. */
    action: string;
    /** The transaction. */
    tx: SigTx;
  }
  | {
    /** A block the node validated. */
    type: "block";
    /** What happened to it: `validated`. */
    action: string;
    /** The block. */
    block: SigBlock;
  };

/** Options of {@link Client.subscribe}. */
export interface SubscribeEventsOptions {
  /** The event types wanted; all by default. */
  events?: readonly ("tx" | "block")[];
  /** Ends the iteration cleanly when aborted. */
  signal?: AbortSignal;
}

/**
 * An event as one line of JSON with a named type:
 * `{"type":"tx","action":"validated","tx":{...}}` or
 * `{"type":"block","action":"validated","block":{...}}`, the transaction or
 * block in its canonical JSON.
 *
 * @example
 * ```ts
 * import { Client, encodeNodeEvent } from "@bcn/bcn";
 *
 * await using client = new Client("127.0.0.1:1122");
 * for await (const event of client.subscribe()) {
 *   console.log(encodeNodeEvent(event));
 * }
 * ```
 */
export function encodeNodeEvent(event: NodeEvent): string {
  const head = `{"type":"${event.type}","action":${encodeString(event.action)}`;
  return event.type === "tx"
    ? `${head},"tx":${encodeSigTx(event.tx)}}`
    : `${head},"block":${encodeSigBlock(event.block)}}`;
}

/**
 * The node address of a client: `host:port`, or an `http://host:port` URL;
 * an {@link InputError} otherwise.
 */
function nodeAddress(address: string): string {
  const addr = address.replace(/^http:\/\//, "").replace(/\/$/, "");
  try {
    splitHostPort(addr);
  } catch {
    throw new InputError(
      `invalid node address ${
        encodeString(address.slice(0, 300))
      }: expected host:port or http://host:port`,
    );
  }
  return addr;
}

/**
 * A client of one node: typed calls for balances, accounts, signing (on
 * this machine or on the node), sending, searching, proofs, status and
 * events. Every method checks its input before any call ({@link InputError})
 * and fails with a one-line {@link NodeError} naming the node
 * (`cannot reach node 127.0.0.1:1122: connection refused`). No connection
 * is opened before the first call; close the client when done (or declare
 * it with `await using`).
 *
 * @example
 * ```ts
 * import { Client } from "@bcn/bcn";
 *
 * await using client = new Client("127.0.0.1:1122");
 * const balance = await client.balance("1bb56caeeef994e303196d588d0e75e9bf756af9c90b0ed880d58fc1f5d77b27");
 * console.log(`balance: ${balance}`);
 * ```
 */
export class Client implements AsyncDisposable {
  /** The node's address, `host:port`. */
  readonly address: string;
  readonly #transport: PeerTransport;
  readonly #rpc: PeerClients;
  /** The ends of the streams in flight, taken by close(). */
  readonly #streams = new Set<() => void>();

  /**
   * A client of the node at `address` (`host:port` or `http://host:port`);
   * throws an {@link InputError} for a malformed address.
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * const client = new Client("http://127.0.0.1:1122", { timeoutMs: 5000 });
   * console.log(client.address); // "127.0.0.1:1122"
   * client.close();
   * ```
   */
  constructor(address: string, options: ClientOptions = {}) {
    this.address = nodeAddress(address);
    this.#transport = new PeerTransport(
      this.address,
      options.protocol ?? "auto",
      { unaryTimeoutMs: options.timeoutMs },
    );
    this.#rpc = createPeerClients(this.#transport);
  }

  /**
   * The confirmed balance of `account` (64 hex characters). An account that
   * never held a balance is a {@link NodeError} (`unknown account`).
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * await using client = new Client("127.0.0.1:1122");
   * console.log(await client.balance("ab".repeat(32)));
   * ```
   */
  async balance(account: string, options: CallOptions = {}): Promise<bigint> {
    const address = checkAddress(account, "account");
    return await this.#call(async () => {
      const res = await this.#rpc.account.accountBalance(
        { Address: address },
        options,
      );
      return res.Balance;
    }, { [Code.NotFound]: "unknown account" });
  }

  /**
   * Has the node create an account in its own key store, its key encrypted
   * with `password` (sent to the node: use it only over a trusted network);
   * resolves to the new address.
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * await using client = new Client("127.0.0.1:1122");
   * const address = await client.createAccount("a good password");
   * ```
   */
  async createAccount(
    password: string,
    options: CallOptions = {},
  ): Promise<string> {
    checkPasswordInput(password);
    return await this.#call(async () => {
      const res = await this.#rpc.account.accountCreate(
        { Password: password },
        options,
      );
      return parseHash(res.Address, "Address");
    }, { [Code.ResourceExhausted]: "refused" });
  }

  /**
   * Signs a transfer on this machine with the sender's key from a key-store
   * directory: the password never leaves the process. When `transfer.nonce`
   * is absent, the next nonce after the sender's confirmed transactions is
   * asked of the node ({@link Client.nextNonce}); give it when the sender
   * has pending ones. Nothing is sent: pass the result to
   * {@link Client.send}.
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * await using client = new Client("127.0.0.1:1122");
   * const tx = await client.sign(
   *   { from: "ab".repeat(32), to: "cd".repeat(32), value: 5n },
   *   { keyStore: ".keystore1122", password: "the owner's password" },
   * );
   * console.log((await client.send(tx)).hash);
   * ```
   */
  async sign(
    transfer: Transfer,
    key: KeySource,
    options: CallOptions = {},
  ): Promise<SigTx> {
    const { from, to } = checkTransfer(transfer);
    // The key first: a wrong password or key store costs no call (and no
    // scan of the sender's history for its nonce).
    const account = await openSenderKey(from, key);
    const nonce = transfer.nonce ?? await this.nextNonce(from, options);
    return account.signTx({
      from: account.address,
      to,
      value: transfer.value,
      nonce,
      time: transfer.time ?? timeNow(),
    });
  }

  /**
   * Has the node sign a transfer with the sender's key from its own key
   * store (the password is sent to the node; the nonce is the sender's
   * pending nonce + 1). For nodes that hold their users' keys; prefer
   * {@link Client.sign}. Nothing is sent.
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * await using client = new Client("127.0.0.1:1122");
   * const tx = await client.signOnNode(
   *   { from: "ab".repeat(32), to: "cd".repeat(32), value: 5n },
   *   "the owner's password",
   * );
   * ```
   */
  async signOnNode(
    transfer: Omit<Transfer, "nonce" | "time">,
    password: string,
    options: CallOptions = {},
  ): Promise<SigTx> {
    const { from, to } = checkTransfer(transfer);
    checkPasswordInput(password);
    return await this.#call(async () => {
      const res = await this.#rpc.tx.txSign({
        From: from,
        To: to,
        Value: transfer.value,
        Password: password,
      }, options);
      return decodeSigTx(res.Tx, "tx");
    }, {
      [Code.NotFound]: "unknown account",
      [Code.ResourceExhausted]: "refused",
    });
  }

  /**
   * Sends a signed transaction (its canonical JSON) to the node, which
   * applies it to its pending state and relays it. A transaction the node
   * rejects is a {@link NodeError} (`tx rejected: ...`).
   *
   * @example
   * ```ts
   * import { Client, decodeSigTx } from "@bcn/bcn";
   *
   * await using client = new Client("127.0.0.1:1122");
   * declare const json: string; // a signed transaction
   * const { hash, queued } = await client.send(decodeSigTx(json));
   * ```
   */
  async send(tx: SigTx, options: CallOptions = {}): Promise<SendResult> {
    let text: string;
    try {
      text = encodeSigTx(tx);
    } catch (e) {
      throw new InputError(`tx: ${messageOf(e)}`);
    }
    const body = new TextEncoder().encode(text);
    let queued = false;
    const hash = await this.#call(async () => {
      const res = await this.#rpc.tx.txSend({ Tx: body }, {
        ...options,
        // Only a bcn node sends it; a reference node's answer means pending.
        onHeader: (h) => queued = h.get(TX_STATUS_HEADER) === "queued",
      });
      return parseHash(res.Hash, "Hash");
    }, {
      [Code.FailedPrecondition]: "tx rejected",
      [Code.InvalidArgument]: "tx rejected",
    });
    return { hash, queued };
  }

  /**
   * The confirmed transactions whose hash, sender, receiver, or sender or
   * receiver (`account`) starts with a prefix (hex for `hash` and `from`),
   * as the node streams them; the first match only for `hash`. No match
   * ends the iteration with nothing.
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * await using client = new Client("127.0.0.1:1122");
   * for await (const tx of client.searchTxs({ account: "ab12" })) {
   *   console.log(tx.blockNumber, tx.value);
   * }
   * ```
   */
  async *searchTxs(
    query: TxQuery,
    options: CallOptions = {},
  ): AsyncGenerator<SearchTx, void, undefined> {
    const request = txRequest(query);
    let n = 0;
    const scope = streamScope(
      options.signal,
      options.timeoutMs ?? SEARCH_TIMEOUT_MS,
      this.#streams,
    );
    const stream = this.#rpc.tx.txSearch(request, { signal: scope.signal });
    try {
      for await (const res of stream) {
        const tx = decodeSearchTx(res.Tx, "tx");
        n++;
        yield tx;
      }
    } catch (e) {
      // A node may answer "no match" with NotFound rather than no results.
      if (n === 0 && e instanceof ConnectError && e.code === Code.NotFound) {
        return;
      }
      throw nodeError(this.address, e);
    } finally {
      scope.end();
    }
  }

  /**
   * The first confirmed block with a number, or whose hash or parent hash
   * starts with a hex prefix; `undefined` when none matches.
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * await using client = new Client("127.0.0.1:1122");
   * const block = await client.searchBlock({ number: 1n });
   * console.log(block?.txs.length);
   * ```
   */
  async searchBlock(
    query: BlockQuery,
    options: CallOptions = {},
  ): Promise<SigBlock | undefined> {
    const request = blockRequest(query);
    // The node sends the first match and may keep the stream open: the call
    // is ended once it came, so nothing of it outlives this method.
    const scope = streamScope(
      options.signal,
      options.timeoutMs ?? SEARCH_TIMEOUT_MS,
      this.#streams,
    );
    return await this.#call(async () => {
      try {
        for await (
          const res of this.#rpc.block.blockSearch(request, {
            signal: scope.signal,
          })
        ) {
          return decodeSigBlock(res.Block, "block");
        }
      } catch (e) {
        // A node may answer "no match" with NotFound rather than no block.
        if (!(e instanceof ConnectError && e.code === Code.NotFound)) throw e;
      } finally {
        scope.end();
      }
      return undefined;
    });
  }

  /**
   * The next nonce of `account` after its confirmed transactions (1 for an
   * account that has sent none), from a search of the node; transactions
   * still pending are not counted. Its cost: the node reads its whole
   * chain (a search has no index) and streams every transaction the
   * account sent, which this method reads one at a time, holding none; it
   * fails after `timeoutMs` ({@link SEARCH_TIMEOUT_MS} by default). A
   * sender with a long history, or one with transactions pending, keeps
   * its own count and gives `nonce` to {@link Client.sign}.
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * await using client = new Client("127.0.0.1:1122");
   * console.log(await client.nextNonce("ab".repeat(32))); // 1n for a new account
   * ```
   */
  async nextNonce(account: string, options: CallOptions = {}): Promise<bigint> {
    const from = checkAddress(account, "account");
    let last = 0n;
    for await (const tx of this.searchTxs({ from }, options)) {
      if (tx.from === from && tx.nonce > last) last = tx.nonce;
    }
    return last + 1n;
  }

  /**
   * The Merkle proof that a confirmed transaction is in its block (check it
   * with {@link Client.verify} or `merkleVerify`). An unknown transaction
   * is a {@link NodeError} (`unknown tx`).
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * await using client = new Client("127.0.0.1:1122");
   * const proof = await client.prove("ab".repeat(32));
   * ```
   */
  async prove(hash: string, options: CallOptions = {}): Promise<MerkleStep[]> {
    const h = checkHash(hash, "hash");
    return await this.#call(async () => {
      const res = await this.#rpc.tx.txProve({ Hash: h }, options);
      return decodeMerkleProof(res.MerkleProof, "MerkleProof");
    }, { [Code.NotFound]: "unknown tx" });
  }

  /**
   * Has the node check that `proof` links transaction `hash` to Merkle root
   * `root` (a block's `merkleRoot`); resolves to its verdict.
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * await using client = new Client("127.0.0.1:1122");
   * const hash = "ab".repeat(32); // a confirmed transaction's
   * for await (const tx of client.searchTxs({ hash })) {
   *   const proof = await client.prove(hash);
   *   console.log(await client.verify(hash, proof, tx.merkleRoot)); // true
   * }
   * ```
   */
  async verify(
    hash: string,
    proof: readonly MerkleStep[],
    root: string,
    options: CallOptions = {},
  ): Promise<boolean> {
    const h = checkHash(hash, "hash");
    const r = checkHash(root, "root");
    if (proof.length === 0) throw new InputError("proof: empty proof");
    proof.forEach((step, i) => {
      checkHash(step?.hash, `proof[${i}].hash`);
      if (step.pos !== 1 && step.pos !== 2) {
        throw new InputError(
          `proof[${i}].pos: expected 1 (left) or 2 (right), got ${
            encodeString(String(step.pos).slice(0, 20))
          }`,
        );
      }
    });
    const body = new TextEncoder().encode(encodeMerkleProof(proof));
    return await this.#call(async () => {
      const res = await this.#rpc.tx.txVerify({
        Hash: h,
        MerkleProof: body,
        MerkleRoot: r,
      }, options);
      return res.Valid;
    });
  }

  /**
   * What the node says about itself (its `GET /status`): chain, last block,
   * pending transactions, peers, health. A bcn node only; a reference node
   * serves no status.
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * await using client = new Client("127.0.0.1:1122");
   * const status = await client.status();
   * console.log(status.lastBlock.number, status.health.reason);
   * ```
   */
  async status(options: CallOptions = {}): Promise<NodeStatus> {
    return (await fetchStatus(this.address, options)).status;
  }

  /**
   * The node's status as the node wrote it (one line of JSON), checked to
   * be a status.
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * await using client = new Client("127.0.0.1:1122");
   * console.log(await client.statusJson());
   * ```
   */
  async statusJson(options: CallOptions = {}): Promise<string> {
    return (await fetchStatus(this.address, options)).text;
  }

  /**
   * The node's events as they happen, decoded: `{ type: "tx", tx }` and
   * `{ type: "block", block }`. Runs until `options.signal` aborts (then it
   * ends cleanly) or the node goes away (a {@link NodeError}: `lost node
   * ADDR: connection reset`, `node ADDR ended the event stream`).
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * await using client = new Client("127.0.0.1:1122");
   * const stop = AbortSignal.timeout(60_000);
   * for await (const event of client.subscribe({ events: ["block"], signal: stop })) {
   *   if (event.type === "block") console.log(event.block.number);
   * }
   * ```
   */
  async *subscribe(
    options: SubscribeEventsOptions = {},
  ): AsyncGenerator<NodeEvent, void, undefined> {
    const types = eventTypes(options.events);
    const signal = options.signal;
    // Connect's stream iterable has no return(): a consumer that leaves the
    // loop early would keep the call open until the client closes, so the
    // call gets an end of its own, taken when this generator finishes.
    const scope = streamScope(signal, undefined, this.#streams);
    let received = 0;
    try {
      for await (
        const res of this.#rpc.node.streamSubscribe(
          { EventTypes: types },
          { signal: scope.signal },
        )
      ) {
        received++;
        yield decodeNodeEvent(res.Event);
      }
    } catch (e) {
      if (signal?.aborted) return;
      // Once events came, a network failure means the node went away.
      const lost = received > 0 ? networkCause(e) : undefined;
      if (lost !== undefined) {
        throw new NodeError(`lost node ${this.address}: ${lost}`);
      }
      throw nodeError(this.address, e);
    } finally {
      scope.end();
    }
    if (!signal?.aborted) {
      throw new NodeError(`node ${this.address} ended the event stream`);
    }
  }

  /**
   * Closes the client's connections; calls in flight fail, later calls too.
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * const client = new Client("127.0.0.1:1122");
   * client.close();
   * ```
   */
  close(): void {
    // A stream its consumer holds but no longer reads would keep its timer
    // (and the program) alive: every one ends here.
    for (const end of [...this.#streams]) end();
    this.#transport.close();
  }

  /**
   * Closes the client at the end of an `await using` block.
   *
   * @example
   * ```ts
   * import { Client } from "@bcn/bcn";
   *
   * {
   *   await using client = new Client("127.0.0.1:1122");
   *   console.log(client.address);
   * } // closed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /** Runs one call, turning its failure into a one-line error. */
  async #call<T>(run: () => Promise<T>, labels: CodeLabels = {}): Promise<T> {
    try {
      return await run();
    } catch (e) {
      throw nodeError(this.address, e, labels);
    }
  }
}

/**
 * The signal of one stream: the caller's, a deadline (`timeoutMs`; none
 * when undefined), and an end of the method's own, called when it returns
 * or the client closes (`open` holds it meanwhile). Connect's own
 * `timeoutMs` is not used for streams: its timer outlives a stream left
 * before its end and keeps the program alive.
 */
function streamScope(
  callerSignal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  open: Set<() => void>,
): { signal: AbortSignal; end(): void } {
  const own = new AbortController();
  const timer = timeoutMs === undefined ? undefined : setTimeout(
    () => own.abort(new ConnectError("", Code.DeadlineExceeded)),
    timeoutMs,
  );
  const signal = callerSignal
    ? AbortSignal.any([callerSignal, own.signal])
    : own.signal;
  const end = () => {
    clearTimeout(timer);
    own.abort();
    open.delete(end);
  };
  open.add(end);
  return { signal, end };
}

/** The TxSearch request of a query, checked. */
function txRequest(
  query: TxQuery,
): { Hash?: string; From?: string; To?: string; Account?: string } {
  const keys = Object.keys(query);
  if (keys.length !== 1) {
    throw new InputError(
      "query: give exactly one of hash, from, to and account",
    );
  }
  if ("hash" in query) return { Hash: checkHexPrefix(query.hash, "hash") };
  if ("from" in query) return { From: checkHexPrefix(query.from, "from") };
  if ("to" in query) return { To: nonEmpty(query.to, "to") };
  if ("account" in query) {
    return { Account: nonEmpty(query.account, "account") };
  }
  throw new InputError(
    "query: give exactly one of hash, from, to and account",
  );
}

/** The BlockSearch request of a query, checked. */
function blockRequest(
  query: BlockQuery,
): { Number?: bigint; Hash?: string; Parent?: string } {
  const keys = Object.keys(query);
  if (keys.length !== 1) {
    throw new InputError("query: give exactly one of number, hash and parent");
  }
  if ("number" in query) {
    const n = query.number;
    if (typeof n !== "bigint" || n < 1n || n >= 1n << 64n) {
      throw new InputError("number: blocks are numbered from 1");
    }
    return { Number: n };
  }
  if ("hash" in query) return { Hash: checkHexPrefix(query.hash, "hash") };
  if ("parent" in query) {
    return { Parent: checkHexPrefix(query.parent, "parent") };
  }
  throw new InputError("query: give exactly one of number, hash and parent");
}

function nonEmpty(value: string, what: string): string {
  if (typeof value !== "string" || value === "") {
    throw new InputError(`${what}: empty prefix`);
  }
  return value;
}

function eventTypes(events: readonly ("tx" | "block")[] | undefined): bigint[] {
  if (events === undefined || events.length === 0) {
    return [BigInt(EventType.All)];
  }
  const types: bigint[] = [];
  for (const name of events) {
    const type = name === "tx"
      ? BigInt(EventType.Tx)
      : name === "block"
      ? BigInt(EventType.Block)
      : undefined;
    if (type === undefined) {
      throw new InputError(
        `events: expected "tx" or "block", got ${encodeString(String(name))}`,
      );
    }
    if (!types.includes(type)) types.push(type);
  }
  return types;
}

/**
 * Decodes an event of the node's stream: the transaction or block its body
 * holds; a `DecodeError` when it is not the one its type says.
 */
function decodeNodeEvent(bytes: Uint8Array): NodeEvent {
  return nodeEventOf(decodeEvent(bytes));
}

/**
 * An event of the chain's wire form (`{type, action, body}`) decoded: the
 * transaction or block its body holds. Throws a `DecodeError` when the body
 * is not the one its type says.
 *
 * @example
 * ```ts
 * import { Account, timeNow, txEvent } from "@bcn/bcn/chain";
 * import { nodeEventOf } from "@bcn/bcn/client";
 *
 * const alice = Account.create();
 * const tx = alice.signTx({ from: alice.address, to: "bob", value: 5n, nonce: 1n, time: timeNow() });
 * console.log(nodeEventOf(txEvent(tx)).type); // "tx"
 * ```
 */
export function nodeEventOf(event: Event): NodeEvent {
  if (event.type === EventType.Tx) {
    return {
      type: "tx",
      action: event.action,
      tx: decodeSigTx(event.body, "event.body"),
    };
  }
  if (event.type === EventType.Block) {
    return {
      type: "block",
      action: event.action,
      block: decodeSigBlock(event.body, "event.body"),
    };
  }
  throw new DecodeError("event.type", "expected 1 or 2");
}
