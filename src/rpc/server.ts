/**
 * One listening port that answers gRPC, gRPC-Web and Connect over cleartext
 * HTTP/2 (prior knowledge) and over HTTP/1.1.
 *
 * A `node:net` server accepts every connection and peeks at its first bytes:
 * a connection that starts with the HTTP/2 client preface
 * (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`) is handed to a `node:http2` server,
 * every other connection to a `node:http` server. Both run the same
 * `connectNodeAdapter` handler, so every protocol reaches the same routes.
 * The peeked bytes are put back with `socket.unshift()` before the hand-off.
 *
 * @module
 */

import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { MAX_MESSAGE_BYTES } from "./client.ts";
import { type HttpRoutes, notFound, serveHttpRoute } from "./http_routes.ts";

/** The most connections the server holds open at once. */
const MAX_CONNECTIONS = 1024;

/**
 * How long an HTTP/1.1 connection may take to send its request headers; a
 * client that trickles them cannot hold a connection slot for long.
 */
const HEADERS_TIMEOUT_MS = 10_000;

/** The HTTP/2 client connection preface (RFC 9113 §3.4). */
const HTTP2_PREFACE = new TextEncoder().encode(
  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
);

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** Address to bind, e.g. `"127.0.0.1"` or `"0.0.0.0"`. */
  hostname: string;
  /** Port to bind; `0` picks a free port (see {@link RpcServer.port}). */
  port: number;
  /** Registers the services, e.g. `(r) => r.service(Block, impl)`. */
  routes: (router: ConnectRouter) => void;
  /**
   * Plain GET endpoints served before the services, by exact path (the
   * operators' `/status`, `/healthz`, `/metrics`); see `http_routes.ts`.
   */
  httpRoutes?: HttpRoutes;
  /** Interceptors of every served call, e.g. for metrics. */
  interceptors?: Interceptor[];
  /** Aborting this signal closes the server (like {@link RpcServer.close}). */
  signal?: AbortSignal;
  /**
   * How long {@link RpcServer.close} lets in-flight calls finish before it
   * destroys the remaining connections. Default 1000 ms.
   */
  closeGraceMs?: number;
  /**
   * A connection that sends nothing for this long before the server can tell
   * HTTP/2 from HTTP/1.1 is destroyed. Default 10 000 ms.
   */
  peekTimeoutMs?: number;
  /**
   * An HTTP/1.1 connection whose request headers are not complete after this
   * long is destroyed. Default 10 000 ms.
   */
  headersTimeoutMs?: number;
}

/** A running RPC server returned by {@link startServer}. */
export interface RpcServer {
  /** The bound port (the real one when `port: 0` was asked for). */
  readonly port: number;
  /** The bound address as `host:port`, e.g. `127.0.0.1:1122`. */
  readonly addr: string;
  /**
   * Stops accepting connections, lets in-flight calls finish for at most
   * `closeGraceMs`, then destroys the remaining connections. Resolves once
   * everything is closed; never waits much longer than `closeGraceMs`.
   * Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/**
 * Starts an RPC server on one port for gRPC, gRPC-Web and Connect over
 * cleartext HTTP/2 and HTTP/1.1.
 *
 * Rejects with a one-line Error such as
 * `cannot listen on 127.0.0.1:1122: address already in use` when the port
 * cannot be bound.
 *
 * @example
 * ```ts
 * import { startServer } from "./server.ts";
 * import { Block } from "./gen/block_pb.ts";
 *
 * const server = await startServer({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   routes: (router) => {
 *     router.service(Block, {
 *       genesisSync: () => ({ Genesis: new Uint8Array() }),
 *     });
 *   },
 * });
 * console.log(`listening on ${server.addr}`);
 * await server.close();
 * ```
 */
export async function startServer(options: ServerOptions): Promise<RpcServer> {
  const closeGraceMs = options.closeGraceMs ?? 1000;
  const peekTimeoutMs = options.peekTimeoutMs ?? 10_000;
  const headersTimeoutMs = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  // Bounded messages, no compression: one request cannot make the node
  // allocate more than MAX_MESSAGE_BYTES.
  const rpc = connectNodeAdapter({
    routes: options.routes,
    readMaxBytes: MAX_MESSAGE_BYTES,
    acceptCompression: [],
    interceptors: options.interceptors,
    fallback: notFound,
  });
  const httpRoutes = options.httpRoutes ?? {};
  const handler: typeof rpc = (req, res) => {
    if (!serveHttpRoute(httpRoutes, req, res)) rpc(req, res);
  };

  // Deno 2.9.6 resets a socket handed over with emit("connection") after one
  // response, although it announces keep-alive (curl: "Connection reset by
  // peer" on reuse); a client that reuses the socket races that reset.
  // Answering with "Connection: close" makes clients open a fresh connection
  // per call.
  const h1 = http.createServer(
    { requestTimeout: 0 },
    (req: http.IncomingMessage, res: http.ServerResponse) => {
      // The headers are in: the call may stream for as long as it needs.
      req.socket.setTimeout(0);
      res.setHeader("Connection", "close");
      handler(req, res);
    },
  );
  const h2 = http2.createServer({}, handler);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
    session.on("error", () => {/* the socket is destroyed; nothing to do */});
  });
  h1.on("clientError", (_err: Error, socket: net.Socket) => socket.destroy());

  const tcp = net.createServer((socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {/* peer reset; "close" follows */});
    peek(socket, peekTimeoutMs, (isHttp2: boolean) => {
      // The socket is paused with the peeked bytes put back; each server
      // attaches its listeners synchronously, then the bytes flow again.
      if (isHttp2) {
        h2.emit("connection", socket);
      } else {
        // node:http's parser reads straight from the socket's handle when it
        // can, which skips the bytes put back with unshift(): under load the
        // request arrives out of order (HPE_INVALID_METHOD). Marking the
        // handle consumed makes the parser read through the stream instead.
        const handle =
          (socket as unknown as { _handle?: { _consumed?: boolean } })
            ._handle;
        if (handle) handle._consumed = true;
        socket.setTimeout(headersTimeoutMs, () => socket.destroy());
        h1.emit("connection", socket);
      }
      socket.resume();
    });
  });
  // Enough for any real network; a flood of idle connections stops here.
  tcp.maxConnections = MAX_CONNECTIONS;

  await listen(tcp, options.hostname, options.port);
  const address = tcp.address() as net.AddressInfo;
  const port = address.port;
  const addr = `${
    address.family === "IPv6" ? `[${address.address}]` : address.address
  }:${port}`;

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    closing ??= shutdown({ tcp, h1, sockets, sessions, closeGraceMs });
    return closing;
  }
  if (options.signal) {
    if (options.signal.aborted) await close();
    else {options.signal.addEventListener("abort", () => void close(), {
        once: true,
      });}
  }
  return { port, addr, close };
}

/**
 * Reads from `socket` until its first bytes show whether it speaks HTTP/2 with
 * prior knowledge, puts those bytes back and calls `decide` once.
 */
function peek(
  socket: net.Socket,
  timeoutMs: number,
  decide: (isHttp2: boolean) => void,
): void {
  let buffered = new Uint8Array(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  function finish(isHttp2: boolean): void {
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("close", onClose);
    socket.pause();
    socket.unshift(buffered);
    decide(isHttp2);
  }
  function onClose(): void {
    clearTimeout(timer);
    socket.off("data", onData);
  }
  function onData(chunk: Uint8Array): void {
    const joined = new Uint8Array(buffered.length + chunk.length);
    joined.set(buffered);
    joined.set(chunk, buffered.length);
    buffered = joined;
    const n = Math.min(buffered.length, HTTP2_PREFACE.length);
    for (let i = 0; i < n; i++) {
      if (buffered[i] !== HTTP2_PREFACE[i]) return finish(false);
    }
    if (n === HTTP2_PREFACE.length) finish(true);
    // otherwise a prefix of the preface: wait for more bytes
  }
  socket.on("data", onData);
  socket.on("close", onClose);
}

/** Binds `server`, turning a bind failure into a one-line Error. */
function listen(
  server: net.Server,
  hostname: string,
  port: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    function onError(err: Error & { code?: string }): void {
      server.off("listening", onListening);
      reject(
        new Error(
          `cannot listen on ${hostname}:${port}: ${describeListenError(err)}`,
        ),
      );
    }
    function onListening(): void {
      server.off("error", onError);
      resolve();
    }
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({ host: hostname, port });
  });
}

/** A short text for a bind error code. */
function describeListenError(err: Error & { code?: string }): string {
  switch (err.code) {
    case "EADDRINUSE":
      return "address already in use";
    case "EACCES":
      return "permission denied";
    case "EADDRNOTAVAIL":
      return "address not available";
    default:
      return err.message.split("\n")[0];
  }
}

/** What {@link shutdown} needs to close. */
interface ShutdownParts {
  tcp: net.Server;
  h1: http.Server;
  sockets: Set<net.Socket>;
  sessions: Set<http2.ServerHttp2Session>;
  closeGraceMs: number;
}

/** Graceful, bounded shutdown of the listener and every connection. */
async function shutdown(parts: ShutdownParts): Promise<void> {
  const { tcp, h1, sockets, sessions, closeGraceMs } = parts;
  const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));
  h1.closeIdleConnections();
  for (const session of sessions) session.close();

  // Wait for in-flight calls, at most closeGraceMs.
  const deadline = Date.now() + closeGraceMs;
  while (sockets.size > 0 && Date.now() < deadline) {
    await delay(Math.min(20, Math.max(1, deadline - Date.now())));
    h1.closeIdleConnections();
  }
  for (const session of sessions) session.destroy();
  for (const socket of sockets) socket.destroy();
  // The listener closes once every accepted socket is gone; bound the wait.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    tcpClosed,
    new Promise<void>((resolve) => timer = setTimeout(resolve, 1000)),
  ]);
  clearTimeout(timer);
}

/** Resolves after `ms` milliseconds. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
