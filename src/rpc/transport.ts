/**
 * The transport to one peer: Connect over HTTP/1.1 to bcn nodes (the
 * reliable combination under Deno, `docs/platform.md`), gRPC over
 * cleartext HTTP/2 to reference Go nodes (on bcn's own `h2c_client.ts`),
 * and in `"auto"` mode the first, then the second when the peer closed the
 * connection without an HTTP response. A `PeerRegistry` (`registry.ts`)
 * keeps one transport per peer address.
 *
 * @module
 */

import * as http from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import type {
  ContextValues,
  StreamResponse,
  Transport,
  UnaryResponse,
} from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createTransport } from "@connectrpc/connect/protocol-grpc";
import type {
  DescMessage,
  DescMethodStreaming,
  DescMethodUnary,
  MessageInitShape,
} from "@bufbuild/protobuf";
import { Block } from "./gen/block_pb.ts";
import { errorChain, hasNodeErrorCode } from "../util/errors.ts";
import { createH2cClient } from "../http/h2c_client.ts";
import { MAX_MESSAGE_BYTES } from "./message_limit.ts";

/**
 * How to talk to a peer: `"connect"` is the Connect protocol over HTTP/1.1
 * (bcn nodes), `"grpc"` is gRPC over cleartext HTTP/2 (reference Go nodes),
 * `"auto"` starts with Connect and falls back to gRPC when needed.
 */
export type PeerProtocol = "auto" | "connect" | "grpc";

/** Default timeout of unary calls when the caller gives none. */
export const DEFAULT_UNARY_TIMEOUT_MS = 10_000;

/** Options of a {@link PeerTransport} (and of a `PeerRegistry`). */
export interface PeerTransportOptions {
  /**
   * Timeout of unary calls (and of the probe before a client stream) when the
   * call options give none. Default {@link DEFAULT_UNARY_TIMEOUT_MS}.
   * Streaming calls get no default timeout: cancel them with an AbortSignal
   * (`{ signal }` in the call options) or give `timeoutMs` explicitly.
   */
  unaryTimeoutMs?: number;
}

/**
 * A Connect {@link Transport} bound to one peer address that chooses between
 * Connect over HTTP/1.1 and gRPC over HTTP/2. A reference Go node speaks only
 * gRPC and closes a connection whose first bytes are not the HTTP/2
 * preface, without any HTTP response; so in `"auto"` mode a call that fails
 * that way (see {@link isNoResponseError}) is repeated once with gRPC, and
 * the answer remembered for the peer. A refused connection never triggers
 * the fallback: the peer is simply down.
 * It owns an HTTP/1.1 keep-alive agent and the HTTP/2 connections of its gRPC
 * calls in flight (one per call, closed when the call ends): call
 * {@link PeerTransport.close} when done with the peer.
 */
export class PeerTransport implements Transport {
  /** The peer address, `host:port`. */
  readonly addr: string;
  /** The protocol mode this transport was created with. */
  readonly mode: PeerProtocol;
  #learned: "connect" | "grpc" | undefined;
  #unaryTimeoutMs: number;
  #agent: http.Agent | undefined;
  #connect: Transport | undefined;
  #grpc: Transport | undefined;
  /** Cancels the gRPC calls in flight when the transport closes. */
  readonly #h2c = new AbortController();
  #closed = false;

  /**
   * Creates the transport; no connection is opened before the first call.
   *
   * @example
   * ```ts
   * import { PeerTransport } from "./transport.ts";
   *
   * const transport = new PeerTransport("127.0.0.1:1122", "auto");
   * transport.close();
   * ```
   */
  constructor(
    addr: string,
    mode: PeerProtocol,
    options: PeerTransportOptions = {},
  ) {
    this.addr = addr;
    this.mode = mode;
    this.#learned = mode === "auto" ? undefined : mode;
    this.#unaryTimeoutMs = options.unaryTimeoutMs ?? DEFAULT_UNARY_TIMEOUT_MS;
  }

  /**
   * The protocol in use for this peer: fixed by the mode, or learned from the
   * last call that got an answer in `"auto"` mode; `undefined` while unknown.
   *
   * @example
   * ```ts
   * import { PeerTransport } from "./transport.ts";
   *
   * const transport = new PeerTransport("127.0.0.1:1122", "grpc");
   * console.log(transport.protocol); // "grpc"
   * transport.close();
   * ```
   */
  get protocol(): "connect" | "grpc" | undefined {
    return this.#learned;
  }

  /**
   * Calls a unary method, with the default timeout when `timeoutMs` is
   * `undefined`, falling back to gRPC in `"auto"` mode (see the module
   * documentation). Part of the {@link Transport} interface; use it through
   * `createClient()` or `createPeerClients` (`registry.ts`).
   *
   * @example
   * ```ts
   * import { createClient } from "@connectrpc/connect";
   * import { PeerTransport } from "./transport.ts";
   * import { Block } from "./gen/block_pb.ts";
   *
   * const transport = new PeerTransport("127.0.0.1:1122", "auto");
   * const block = createClient(Block, transport);
   * await block.genesisSync({}).catch(() => {});
   * transport.close();
   * ```
   */
  unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues?: ContextValues,
  ): Promise<UnaryResponse<I, O>> {
    const timeout = timeoutMs ?? this.#unaryTimeoutMs;
    return this.#call(
      signal,
      (t) => t.unary(method, signal, timeout, header, input, contextValues),
    );
  }

  /**
   * Calls a streaming method. Server-streaming calls fall back to gRPC in
   * `"auto"` mode when the first attempt gets no HTTP response (so before any
   * message arrived). Client-streaming calls to a peer whose protocol is
   * still unknown are preceded by a `Block.GenesisSync` probe, because their
   * input cannot be replayed. No default timeout: use `signal` or `timeoutMs`.
   * Part of the {@link Transport} interface.
   *
   * @example
   * ```ts
   * import { createClient } from "@connectrpc/connect";
   * import { PeerTransport } from "./transport.ts";
   * import { Block } from "./gen/block_pb.ts";
   *
   * const transport = new PeerTransport("127.0.0.1:1122", "auto");
   * const block = createClient(Block, transport);
   * const signal = AbortSignal.timeout(5000);
   * try {
   *   for await (const res of block.blockSync({ Number: 1n }, { signal })) {
   *     console.log(res.Block.length);
   *   }
   * } catch {
   *   // peer down
   * }
   * transport.close();
   * ```
   */
  async stream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues?: ContextValues,
  ): Promise<StreamResponse<I, O>> {
    if (method.methodKind === "server_streaming") {
      const messages: MessageInitShape<I>[] = [];
      for await (const message of input) messages.push(message);
      return this.#call(signal, (t) =>
        t.stream(
          method,
          signal,
          timeoutMs,
          header,
          createAsyncIterable(messages),
          contextValues,
        ));
    }
    if (this.mode === "auto" && this.#learned === undefined) {
      await this.unary(
        Block.method.genesisSync,
        signal,
        undefined,
        undefined,
        {},
      )
        .catch((err: unknown) => {
          if (this.#learned === undefined) throw err;
        });
    }
    return this.#pick().stream(
      method,
      signal,
      timeoutMs,
      header,
      input,
      contextValues,
    );
  }

  /**
   * Closes the HTTP/1.1 keep-alive connections and the HTTP/2 connections of
   * this peer; calls in flight fail. Later calls fail with an error.
   *
   * @example
   * ```ts
   * import { PeerTransport } from "./transport.ts";
   *
   * new PeerTransport("127.0.0.1:1122", "auto").close();
   * ```
   */
  close(): void {
    this.#closed = true;
    this.#agent?.destroy();
    this.#h2c.abort(
      new ConnectError(`peer ${this.addr}: transport closed`, Code.Canceled),
    );
    this.#agent = undefined;
    this.#connect = undefined;
    this.#grpc = undefined;
  }

  /** Runs one call with the fallback rules of the module documentation. */
  async #call<R>(
    signal: AbortSignal | undefined,
    run: (transport: Transport) => Promise<R>,
  ): Promise<R> {
    const first = this.#pick();
    const firstProtocol = first === this.#grpc ? "grpc" : "connect";
    try {
      const result = await run(first);
      this.#learn(firstProtocol);
      return result;
    } catch (err) {
      this.#learnFrom(firstProtocol, err);
      const fallback = this.mode === "auto" && firstProtocol === "connect" &&
        this.#learned === undefined && !signal?.aborted &&
        isNoResponseError(err);
      if (!fallback) throw err;
    }
    try {
      const result = await run(this.#grpcTransport());
      this.#learn("grpc");
      return result;
    } catch (err) {
      this.#learnFrom("grpc", err);
      throw err;
    }
  }

  /** The transport for the next call. */
  #pick(): Transport {
    if (this.#closed) {
      throw new ConnectError(
        `peer ${this.addr}: transport closed`,
        Code.Canceled,
      );
    }
    return this.#learned === "grpc"
      ? this.#grpcTransport()
      : this.#connectTransport();
  }

  /** Remembers the protocol of a call that got an answer (auto mode). */
  #learn(protocol: "connect" | "grpc"): void {
    if (this.mode === "auto") this.#learned = protocol;
  }

  /**
   * After a failed call: an answer from the server (a status) teaches the
   * protocol; a refused connection forgets it (the peer may come back as
   * another implementation); other failures teach nothing.
   */
  #learnFrom(protocol: "connect" | "grpc", err: unknown): void {
    if (this.mode !== "auto") return;
    if (isServerAnswer(err)) this.#learn(protocol);
    else if (hasNodeErrorCode(err, (code) => code === "ECONNREFUSED")) {
      this.#learned = undefined;
    }
  }

  #connectTransport(): Transport {
    if (this.#connect === undefined) {
      // A node:http Agent: connect-node speaks HTTP/1.1 only through one.
      this.#agent = new http.Agent({ keepAlive: true });
      this.#connect = createConnectTransport({
        baseUrl: `http://${this.addr}`,
        httpVersion: "1.1",
        nodeOptions: { agent: this.#agent },
        readMaxBytes: MAX_MESSAGE_BYTES,
        acceptCompression: [],
      });
    }
    return this.#connect;
  }

  #grpcTransport(): Transport {
    this.#grpc ??= createGrpcTransport(`http://${this.addr}`, this.#h2c);
    return this.#grpc;
  }
}

/**
 * gRPC over cleartext HTTP/2 on bcn's own HTTP/2 client: Connect's gRPC
 * protocol code over `createH2cClient`, a connection per call. Every call
 * is also cancelled when `closing` aborts.
 */
function createGrpcTransport(
  baseUrl: string,
  closing: AbortController,
): Transport {
  const h2c = createH2cClient();
  return createTransport({
    httpClient: (req) =>
      h2c({
        ...req,
        signal: req.signal
          ? AbortSignal.any([req.signal, closing.signal])
          : closing.signal,
      }),
    baseUrl,
    useBinaryFormat: true,
    interceptors: [],
    acceptCompression: [],
    sendCompression: null,
    compressMinBytes: Number.MAX_SAFE_INTEGER,
    readMaxBytes: MAX_MESSAGE_BYTES,
    writeMaxBytes: MAX_MESSAGE_BYTES,
  });
}

/**
 * Whether a call failed because the connection was closed (or answered with
 * bytes that are not HTTP/1.x) before any HTTP response arrived: what an
 * HTTP/2-only server such as grpc-go does to an HTTP/1.1 request, which
 * connect-node reports as ECONNRESET (`socket hang up`), EPIPE or an `HPE_`
 * parse error. A refused connection is not such a failure.
 *
 * @example
 * ```ts
 * import { isNoResponseError } from "./transport.ts";
 *
 * const err = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
 * console.log(isNoResponseError(err)); // true
 * ```
 */
export function isNoResponseError(err: unknown): boolean {
  return hasNodeErrorCode(
    err,
    (code) =>
      code === "ECONNRESET" || code === "EPIPE" || code.startsWith("HPE_"),
  ) || errorChain(err).some((e) => e.message.includes("socket hang up"));
}

/**
 * Whether a failure is an answer from the server (an RPC status), not a
 * network failure, a timeout or a cancellation on the client side.
 */
function isServerAnswer(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return false;
  if (err.code === Code.Canceled || err.code === Code.DeadlineExceeded) {
    return false;
  }
  return !hasNodeErrorCode(err, () => true);
}
