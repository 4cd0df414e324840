/**
 * One listening port for bcn's own HTTP: a `node:net` server that admits
 * each connection through a {@link ConnectionTracker}, peeks at its first
 * bytes and hands it to the HTTP/2 server (`h2_server.ts`, on the client
 * preface) or the HTTP/1.1 one (`h1_server.ts`), both answering through the
 * same handler. A refused connection gets a `503`; a port that stopped
 * accepting is found by a probe and opened again (`docs/platform.md`).
 *
 * @module
 */

import * as net from "node:net";
import type {
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { clientAddress } from "./address_list.ts";
import { messageOf } from "../util/errors.ts";
import { sleep } from "../util/sleep.ts";
import {
  addressKey,
  type ConnectionLimits,
  type ConnectionStats,
  ConnectionTracker,
  type RefusedReason,
  type TrackedConnection,
} from "./conn_limits.ts";
import { AbuseMeter, AddressMeters } from "./abuse_meter.ts";
import { SharedBudget } from "./shared_budget.ts";
import { H1ServerConnection } from "./h1_server.ts";
import { H2ServerConnection } from "./h2_server.ts";
import { PREFACE } from "./h2_frames.ts";
import {
  ABUSE_REFILL_PER_SECOND,
  ADDRESS_ABUSE_BUDGET,
  CONNECTION_ABUSE_BUDGET,
  type H2Limits,
  MAX_STREAMS_PER_ADDRESS,
  MAX_STREAMS_PER_NODE,
  RESERVED_STREAMS,
} from "./h2_limits.ts";

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

/**
 * The event loop's delay that makes a probe's verdict unknown: a loop that
 * was busy this long may simply not have run its accepts yet.
 */
const PROBE_MAX_LAG_MS = 100;

/** How often a probe looks at the accept count and the loop's delay. */
const PROBE_TICK_MS = 20;

/** How long a refused connection may take to read its `503`. */
const REFUSE_LINGER_MS = 1000;

/** A request as the listener hands it over, with its client's address. */
export type HttpRequest = Omit<UniversalServerRequest, "contextValues">;

/**
 * Answers a request: `client` is the connection's remote IP address
 * (IPv4-mapped IPv6 unwrapped; undefined when the socket has none left).
 */
export type HttpHandler = (
  req: HttpRequest,
  client: string | undefined,
) => Promise<UniversalServerResponse>;

/** Options of {@link listenHttp}. */
export interface ListenOptions {
  /** Address to bind, e.g. `"127.0.0.1"` or `"0.0.0.0"`. */
  hostname: string;
  /** Port to bind; `0` picks a free port (see {@link HttpServer.port}). */
  port: number;
  /** Answers every request, HTTP/1.1 or HTTP/2. */
  handle: HttpHandler;
  /** Aborting this signal closes the server (like {@link HttpServer.close}). */
  signal?: AbortSignal;
  /**
   * How long {@link HttpServer.close} lets in-flight requests finish before
   * it destroys the remaining connections. Default 1000 ms.
   */
  closeGraceMs?: number;
  /**
   * Connection bounds and timeouts (see `conn_limits.ts`): per address, in
   * total, time to the first request, idle time, and which addresses get
   * room when the server is nearly full. Defaults for every field.
   */
  limits?: ConnectionLimits;
  /** HTTP/2 bounds (see `h2_limits.ts`); defaults for every field. */
  h2?: H2Limits;
  /** Where the server reports trouble with its port (one line each). */
  onWarning?: (message: string) => void;
}

/** A running server returned by {@link listenHttp}. */
export interface HttpServer {
  /** The bound port (the real one when `port: 0` was asked for). */
  readonly port: number;
  /** The bound address as `host:port`, e.g. `127.0.0.1:1122`. */
  readonly addr: string;
  /**
   * Stops accepting connections, lets in-flight requests finish for at
   * most `closeGraceMs`, then destroys the remaining connections. Resolves
   * once everything is closed; never waits much longer than
   * `closeGraceMs`. Calling it again returns the same promise.
   */
  close(): Promise<void>;
  /** Counters of the connections: open, peaks, refused and closed ones. */
  connectionStats(): ConnectionStats;
}

/**
 * Listens on one port for HTTP/1.1 and cleartext HTTP/2 (prior knowledge).
 *
 * Rejects with a one-line Error such as
 * `cannot listen on 127.0.0.1:1122: address already in use` when the port
 * cannot be bound.
 *
 * @example
 * ```ts
 * import { listenHttp } from "./listener.ts";
 * import { plain } from "./http_routes.ts";
 *
 * const server = await listenHttp({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   handle: () => Promise.resolve(plain(200, "hello\n")),
 * });
 * console.log(`listening on ${server.addr}`);
 * await server.close();
 * ```
 */
export async function listenHttp(options: ListenOptions): Promise<HttpServer> {
  const closeGraceMs = options.closeGraceMs ?? 1000;
  const tracker = new ConnectionTracker(options.limits);
  const reportFailure = failureReporter(options.onWarning);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<H1ServerConnection | H2ServerConnection>();

  const refusing = new Set<net.Socket>();
  const h2 = options.h2 ?? {};
  const refill = h2.abuseRefillPerSecond ?? ABUSE_REFILL_PER_SECOND;
  const perNode = h2.maxStreamsPerNode ?? MAX_STREAMS_PER_NODE;
  const streams = new SharedBudget(
    perNode,
    h2.maxStreamsPerAddress ?? MAX_STREAMS_PER_ADDRESS,
    Math.min(RESERVED_STREAMS, Math.floor(perNode / 4)),
  );
  const preferred = (conn: { local: boolean; remoteAddress: string }) =>
    conn.local || (options.limits?.isPreferred?.(conn.remoteAddress) ?? false);
  const meters = new AddressMeters(
    h2.addressAbuseBudget ?? ADDRESS_ABUSE_BUDGET,
    refill,
  );
  const h2ByAddress = new Map<string, Set<H2ServerConnection>>();
  /**
   * An HTTP/2 connection on the node's shared budgets: its streams, and
   * abuse points charged to it and to its address (an address over budget
   * loses its other HTTP/2 connections too).
   */
  const h2Session = (
    socket: net.Socket,
    conn: TrackedConnection,
    handle: (req: HttpRequest) => Promise<UniversalServerResponse>,
  ): H2ServerConnection => {
    const meter = new AbuseMeter(
      h2.connectionAbuseBudget ?? CONNECTION_ABUSE_BUDGET,
      refill,
    );
    const key = conn.key;
    const mine = h2ByAddress.get(key) ?? new Set();
    const session: H2ServerConnection = new H2ServerConnection(socket, {
      handle,
      maxStreams: MAX_STREAMS_PER_CONNECTION,
      takeStream: () => streams.take(key, 1, preferred(conn)),
      giveStream: () => streams.give(key),
      spend: (points) => {
        if (meters.spend(key, points)) return meter.spend(points);
        for (const other of mine) {
          if (other !== session) queueMicrotask(() => other.enhanceYourCalm());
        }
        return false;
      },
      progressCheckMs: h2.progressCheckMs,
      onStreamStart: () => conn.requestStarted(),
      onStreamEnd: () => conn.requestEnded(),
    });
    mine.add(session);
    h2ByAddress.set(key, mine);
    socket.once("close", () => {
      mine.delete(session);
      if (mine.size === 0) h2ByAddress.delete(key);
    });
    return session;
  };
  let accepted = 0;
  const onConnection = (socket: net.Socket) => {
    accepted++;
    socket.on("error", () => {/* peer reset; "close" follows */});
    // An address that spent its abuse budget waits until it is back
    // under half, whatever protocol it speaks next.
    const client = clientAddress(socket.remoteAddress);
    if (client !== undefined && meters.blocked(addressKey(client))) {
      return refuse(socket, "abuse", refusing);
    }
    const conn = tracker.admit(socket);
    if (typeof conn === "string") return refuse(socket, conn, refusing);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    // The tracker's handshake time bounds the peek too.
    peek(socket, (isHttp2: boolean) => {
      // The socket is paused with the peeked bytes put back; each server
      // attaches its listeners synchronously, then the bytes flow again.
      const handle = (req: HttpRequest) => options.handle(req, client);
      const session = isHttp2
        ? h2Session(socket, conn, handle)
        : new H1ServerConnection(socket, {
          handle,
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

  // A port that stopped accepting (after one EMFILE) is opened again. Only a
  // quiet port is probed, and only two probes in a row that saw an idle event
  // loop and no accept count: a busy loop delays accepts without anything
  // being wrong.
  let lastAcceptCount = accepted;
  let lastAcceptAt = performance.now();
  let listening = true;
  let checking = false;
  let warnedListen = false;
  const probeHost = options.hostname === "0.0.0.0"
    ? "127.0.0.1"
    : options.hostname === "::"
    ? "::1"
    : options.hostname;
  async function stuck(): Promise<boolean> {
    for (let i = 0; i < 2; i++) {
      const verdict = await probeAccept(
        probeHost,
        port,
        () => accepted,
        stopGuard.signal,
      );
      if (verdict !== "stuck" || closing) return false;
    }
    return true;
  }
  async function checkAccepting(): Promise<void> {
    if (checking || closing) return;
    if (accepted !== lastAcceptCount) {
      lastAcceptCount = accepted;
      lastAcceptAt = performance.now();
    }
    if (listening && performance.now() - lastAcceptAt < ACCEPT_CHECK_MS) return;
    checking = true;
    try {
      if (listening) {
        if (!await stuck()) return;
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
  const guard = setInterval(() => void checkAccepting(), ACCEPT_CHECK_MS / 5);
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
    else {
      options.signal.addEventListener("abort", () => void close(), {
        once: true,
      });
    }
  }
  return {
    port,
    addr,
    close,
    connectionStats: () => tracker.stats(),
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
    warn?.(`server: ${what} failed: ${messageOf(reason)}${more}`);
  };
}

/**
 * Whether a listener at `host:port` accepts: a probe connection is made
 * and the server's accept count (`accepts`) must move within
 * {@link ACCEPT_PROBE_MS}. `"stuck"` when it does not (or the connection
 * is refused, or not even set up: a full backlog) while the event loop ran
 * on time throughout; `"unknown"` when the loop was late by more than
 * {@link PROBE_MAX_LAG_MS} (it may not have run its accepts yet), when this
 * process cannot open a socket itself (EMFILE) or `signal` aborts.
 *
 * @example
 * ```ts
 * import * as net from "node:net";
 * import { probeAccept } from "./listener.ts";
 *
 * let accepted = 0;
 * const server = net.createServer((s) => {
 *   accepted++;
 *   s.destroy();
 * });
 * server.listen(0, "127.0.0.1", async () => {
 *   const { port } = server.address() as net.AddressInfo;
 *   const signal = new AbortController().signal;
 *   const verdict = await probeAccept("127.0.0.1", port, () => accepted, signal);
 *   console.log(verdict); // "accepting"
 *   server.close();
 * });
 * ```
 */
export function probeAccept(
  host: string,
  port: number,
  accepts: () => number,
  signal: AbortSignal,
): Promise<"accepting" | "stuck" | "unknown"> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve("unknown");
    const before = accepts();
    const started = performance.now();
    let last = started;
    let late = false;
    // node:net, not util/tcp.ts: the verdict needs the EMFILE/ENFILE codes.
    const socket = net.connect({ host, port });
    const done = (verdict: "accepting" | "stuck" | "unknown"): void => {
      clearInterval(tick);
      signal.removeEventListener("abort", stop);
      socket.destroy();
      resolve(verdict);
    };
    const stop = () => done("unknown");
    signal.addEventListener("abort", stop, { once: true });
    const tick = setInterval(() => {
      const now = performance.now();
      if (now - last > PROBE_TICK_MS + PROBE_MAX_LAG_MS) late = true;
      last = now;
      if (accepts() !== before) done("accepting");
      else if (now - started >= ACCEPT_PROBE_MS) {
        done(late ? "unknown" : "stuck");
      }
    }, PROBE_TICK_MS);
    socket.once("error", (e: Error & { code?: string }) => {
      if (e.code === "EMFILE" || e.code === "ENFILE") done("unknown");
      // Refused: nothing listens; the ticks give the verdict.
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
  reason: RefusedReason | "abuse",
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
      : reason === "abuse"
      ? "your address broke the protocol's bounds; try again later"
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
    const n = Math.min(buffered.length, PREFACE.length);
    for (let i = 0; i < n; i++) {
      if (buffered[i] !== PREFACE[i]) return finish(false);
    }
    if (n === PREFACE.length) finish(true);
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
      return messageOf(err);
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

  // Wait for in-flight calls, at most closeGraceMs (by the monotonic
  // clock, so a wall-clock jump neither cuts nor stretches the grace).
  const deadline = performance.now() + closeGraceMs;
  while (sockets.size > 0 && performance.now() < deadline) {
    await sleep(Math.min(20, Math.max(1, deadline - performance.now())));
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
