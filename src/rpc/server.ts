/**
 * One listening port that answers gRPC, gRPC-Web and Connect over cleartext
 * HTTP/2 (prior knowledge) and over HTTP/1.1.
 *
 * A `node:net` server accepts every connection and peeks at its first bytes:
 * a connection that starts with the HTTP/2 client preface
 * (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`) is served by bcn's own HTTP/2 server
 * (`h2_server.ts`; Deno's `node:http2` server could be crashed by any
 * client), every other connection by bcn's own HTTP/1.1 server
 * (`h1_server.ts`; Deno's `node:http` server could not keep a handed-over
 * connection alive). Both reach the same Connect services and plain GET
 * routes, with the same limits. The peeked bytes are put back with
 * `socket.unshift()` before the hand-off.
 *
 * Every connection is accounted for by a {@link ConnectionTracker}
 * (`conn_limits.ts`): a bound per remote address and in total with room kept
 * for known peers and the node's own machine, a short time to send the
 * first request, and idle connections closed (HTTP/2 with a GOAWAY). A
 * refused connection gets an HTTP/1.1 `503` and is closed.
 *
 * @module
 */

import * as net from "node:net";
import {
  type ConnectRouter,
  createConnectRouter,
  createContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import type {
  UniversalHandler,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { clientAddress } from "./address_list.ts";
import { firstLine, messageOf } from "./errors.ts";
import { MAX_MESSAGE_BYTES } from "./transport.ts";
import { CLIENT_ADDRESS } from "./key_access.ts";
import {
  type ConnectionLimits,
  type ConnectionStats,
  ConnectionTracker,
  type RefusedReason,
} from "./conn_limits.ts";
import {
  type HttpResponseLike,
  type HttpRoutes,
  notFound,
  plain,
  serveHttpRoute,
} from "./http_routes.ts";
import { H1ServerConnection } from "./h1_server.ts";
import { H2ServerConnection } from "./h2_server.ts";

/**
 * Streams one HTTP/2 connection may have open at once: a connection is
 * bounded like an address is, so one connection cannot hold thousands of
 * subscriptions. A gRPC peer needs a handful.
 */
export const MAX_STREAMS_PER_CONNECTION = 100;

/**
 * Refused connections being answered at once at most; beyond, a refused
 * connection is closed without an answer.
 */
const MAX_REFUSING = 256;

/**
 * How long the port may go without accepting a connection before a probe
 * checks that it still accepts.
 */
const ACCEPT_CHECK_MS = 5_000;

/** How long a probe connection may take to be accepted. */
const ACCEPT_PROBE_MS = 2_000;

/** How long a refused connection may take to read its `503`. */
const REFUSE_LINGER_MS = 1000;

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
   * Connection bounds and timeouts (see `conn_limits.ts`): per address, in
   * total, time to the first request, idle time, and which addresses get
   * room when the server is nearly full. Defaults for every field.
   */
  limits?: ConnectionLimits;
  /** Where the server reports trouble with its port (one line each). */
  onWarning?: (message: string) => void;
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
  /** Counters of the connections: open, peaks, refused and closed ones. */
  connectionStats(): ConnectionStats;
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
  const tracker = new ConnectionTracker(options.limits);
  // One set of Connect handlers for HTTP/1.1 and HTTP/2. Bounded messages,
  // no compression: one request cannot make the node allocate more than
  // MAX_MESSAGE_BYTES.
  const router = createConnectRouter({
    interceptors: options.interceptors,
    readMaxBytes: MAX_MESSAGE_BYTES,
    acceptCompression: [],
  });
  options.routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));
  const reportFailure = failureReporter(options.onWarning);
  const handle = universalHandler(handlers, options.httpRoutes ?? {});
  const sockets = new Set<net.Socket>();
  const sessions = new Set<H1ServerConnection | H2ServerConnection>();

  const refusing = new Set<net.Socket>();
  let lastAcceptAt = performance.now();
  const onConnection = (socket: net.Socket) => {
    lastAcceptAt = performance.now();
    socket.on("error", () => {/* peer reset; "close" follows */});
    const conn = tracker.admit(socket);
    if (typeof conn === "string") return refuse(socket, conn, refusing);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    // The tracker's handshake time bounds the peek too.
    peek(socket, (isHttp2: boolean) => {
      // The socket is paused with the peeked bytes put back; each server
      // attaches its listeners synchronously, then the bytes flow again.
      // Handlers see the connection's peer address under CLIENT_ADDRESS.
      const context = createContextValues().set(
        CLIENT_ADDRESS,
        clientAddress(socket.remoteAddress),
      );
      const session = isHttp2
        ? new H2ServerConnection(socket, {
          handle: (req) => handle({ ...req, contextValues: context }),
          maxStreams: MAX_STREAMS_PER_CONNECTION,
          onStreamStart: () => conn.requestStarted(),
          onStreamEnd: () => conn.requestEnded(),
        })
        : new H1ServerConnection(socket, {
          handle: (req) => handle({ ...req, contextValues: context }),
          onRequestStart: () => conn.requestStarted(),
          onRequestEnd: () => conn.requestEnded(),
          onFailure: reportFailure,
        });
      sessions.add(session);
      socket.once("close", () => sessions.delete(session));
      // Closing politely: the requests in flight are answered (HTTP/2: a
      // GOAWAY), then the socket closes.
      conn.setCloser(() => session.close());
    });
  };
  // No tcp.maxConnections: the tracker bounds the total, and must see a
  // peer's connection when the server is full to make room for it.
  let tcp = net.createServer(onConnection);

  await listen(tcp, options.hostname, options.port);
  const address = tcp.address() as net.AddressInfo;
  const port = address.port;
  const addr = `${
    address.family === "IPv6" ? `[${address.address}]` : address.address
  }:${port}`;

  // Under Deno 2.9.6 a `node:net` server whose accept failed once (EMFILE:
  // out of file descriptors) never accepts again, and says nothing. When
  // the port has been quiet for a while, a probe connection checks that it
  // still accepts; if not, the port is opened again.
  let listening = true;
  let checking = false;
  let warnedListen = false;
  const probeHost = options.hostname === "0.0.0.0"
    ? "127.0.0.1"
    : options.hostname === "::"
    ? "::1"
    : options.hostname;
  async function checkAccepting(): Promise<void> {
    if (checking || closing) return;
    if (listening && performance.now() - lastAcceptAt < ACCEPT_CHECK_MS) return;
    checking = true;
    try {
      if (listening) {
        const verdict = await probeAccept(
          probeHost,
          port,
          () => lastAcceptAt,
          stopGuard.signal,
        );
        if (verdict !== "stuck" || closing) return;
        options.onWarning?.(
          `server: port ${port} stopped accepting connections (out of file descriptors?); opening it again`,
        );
        tcp.close();
        listening = false;
      }
      const next = net.createServer(onConnection);
      try {
        await listen(next, options.hostname, port);
      } catch (e) {
        next.close();
        if (!warnedListen) {
          options.onWarning?.(`server: ${messageOf(e)}; trying again`);
        }
        warnedListen = true;
        return;
      }
      if (closing) {
        next.close();
        return;
      }
      tcp = next;
      listening = true;
      warnedListen = false;
    } finally {
      checking = false;
    }
  }
  const guard = setInterval(() => void checkAccepting(), ACCEPT_CHECK_MS);
  const stopGuard = new AbortController();

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    clearInterval(guard);
    stopGuard.abort();
    closing ??= shutdown({ tcp, sockets, sessions, closeGraceMs });
    for (const socket of refusing) socket.destroy();
    return closing;
  }
  if (options.signal) {
    if (options.signal.aborted) await close();
    else {options.signal.addEventListener("abort", () => void close(), {
        once: true,
      });}
  }
  return {
    port,
    addr,
    close,
    connectionStats: () => tracker.stats(),
  };
}

/**
 * What answers a request, HTTP/1.1 or HTTP/2: the Connect services (gRPC,
 * gRPC-Web and Connect) and the plain GET routes; 404 for anything else.
 */
function universalHandler(
  handlers: Map<string, UniversalHandler>,
  httpRoutes: HttpRoutes,
): (req: UniversalServerRequest) => Promise<UniversalServerResponse> {
  return async (req) => {
    const url = new URL(req.url);
    const handler = handlers.get(url.pathname);
    if (handler && !Object.hasOwn(httpRoutes, url.pathname)) {
      return await handler(req);
    }
    // The GET routes and the 404 answer through a small response object.
    let answer: UniversalServerResponse = plain(500, "no answer\n");
    const res: HttpResponseLike = {
      writeHead(status: number, headers: Record<string, string | number>) {
        answer = { status, header: new Headers() };
        for (const [k, v] of Object.entries(headers)) {
          answer.header!.set(k, String(v));
        }
        return res;
      },
      end(body: Uint8Array) {
        answer.body = (async function* () {
          yield body;
        })();
      },
    };
    const like = { method: req.method, url: url.pathname + url.search };
    if (!serveHttpRoute(httpRoutes, like, res)) notFound(like, res);
    return answer;
  };
}

/**
 * Reports a handler that failed outright (not a client that went away) in
 * one line, at most one a second, with how many were left out meanwhile:
 * a caller cannot flood the log through it.
 */
function failureReporter(
  warn: ((message: string) => void) | undefined,
): (what: string, reason: unknown) => void {
  let last = -Infinity;
  let skipped = 0;
  return (what, reason) => {
    const now = performance.now();
    if (now - last < 1000) {
      skipped++;
      return;
    }
    last = now;
    const more = skipped > 0 ? ` (and ${skipped} more failures)` : "";
    skipped = 0;
    warn?.(`server: ${what} failed: ${firstLine(messageOf(reason))}${more}`);
  };
}

/**
 * Whether a listener at `host:port` accepts: a probe connection is made and
 * the server's last accept time (`lastAccept`) must move within
 * {@link ACCEPT_PROBE_MS}. `"stuck"` when it does not, or when the
 * connection is refused or not even set up in that time (a full backlog);
 * `"unknown"` when this process cannot open a socket itself (EMFILE) or
 * `signal` aborts.
 */
function probeAccept(
  host: string,
  port: number,
  lastAccept: () => number,
  signal: AbortSignal,
): Promise<"accepting" | "stuck" | "unknown"> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve("unknown");
    const before = lastAccept();
    const socket = net.connect({ host, port });
    let poll: ReturnType<typeof setInterval> | undefined;
    const done = (verdict: "accepting" | "stuck" | "unknown"): void => {
      clearTimeout(timer);
      clearInterval(poll);
      signal.removeEventListener("abort", stop);
      socket.destroy();
      resolve(verdict);
    };
    const stop = () => done("unknown");
    signal.addEventListener("abort", stop, { once: true });
    const timer = setTimeout(
      () => done(lastAccept() !== before ? "accepting" : "stuck"),
      ACCEPT_PROBE_MS,
    );
    socket.once("error", (e: Error & { code?: string }) => {
      const noFiles = e.code === "EMFILE" || e.code === "ENFILE";
      done(
        noFiles ? "unknown" : lastAccept() !== before ? "accepting" : "stuck",
      );
    });
    socket.once("connect", () => {
      poll = setInterval(() => {
        if (lastAccept() !== before) done("accepting");
      }, 20);
    });
  });
}

/**
 * Answers a refused connection with an HTTP/1.1 `503` and closes it. Sent
 * before the request is read, as HTTP/1.1 allows: a bcn client then gets an
 * answer (`unavailable`) instead of a connection closed without one, which
 * in `auto` mode it would take for a gRPC-only peer. An HTTP/2 client sees
 * a broken connection either way.
 */
function refuse(
  socket: net.Socket,
  reason: RefusedReason,
  refusing: Set<net.Socket>,
): void {
  if (refusing.size >= MAX_REFUSING) {
    socket.destroy();
    return;
  }
  refusing.add(socket);
  // A Connect error body: Connect clients show its message.
  const body = JSON.stringify({
    code: "unavailable",
    message: reason === "per-address"
      ? "too many connections from your address"
      : "server busy: too many connections",
  });
  socket.end(
    "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n" +
      "Content-Type: application/json\r\nRetry-After: 1\r\n" +
      `Content-Length: ${body.length}\r\n\r\n${body}`,
  );
  // Read (and drop) what the client sends until it closes, so that its
  // request does not meet a closed socket and a reset that would discard
  // the answer; bounded in time.
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), REFUSE_LINGER_MS);
  socket.once("close", () => {
    clearTimeout(timer);
    refusing.delete(socket);
  });
}

/**
 * Reads from `socket` until its first bytes show whether it speaks HTTP/2 with
 * prior knowledge, puts those bytes back and calls `decide` once.
 */
function peek(
  socket: net.Socket,
  decide: (isHttp2: boolean) => void,
): void {
  let buffered = new Uint8Array(0);
  function finish(isHttp2: boolean): void {
    socket.off("data", onData);
    socket.off("close", onClose);
    socket.pause();
    socket.unshift(buffered);
    decide(isHttp2);
  }
  function onClose(): void {
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
      return firstLine(err.message);
  }
}

/** What {@link shutdown} needs to close. */
interface ShutdownParts {
  tcp: net.Server;
  sockets: Set<net.Socket>;
  sessions: Set<H1ServerConnection | H2ServerConnection>;
  closeGraceMs: number;
}

/** Graceful, bounded shutdown of the listener and every connection. */
async function shutdown(parts: ShutdownParts): Promise<void> {
  const { tcp, sockets, sessions, closeGraceMs } = parts;
  const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));
  // Sockets still being peeked at have no session: they are destroyed
  // with the rest after the grace time.
  for (const session of sessions) session.close();

  // Wait for in-flight calls, at most closeGraceMs.
  const deadline = Date.now() + closeGraceMs;
  while (sockets.size > 0 && Date.now() < deadline) {
    await delay(Math.min(20, Math.max(1, deadline - Date.now())));
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
