/**
 * The server side of HTTP/2 with prior knowledge (RFC 9113) on a `node:net`
 * socket, serving gRPC to reference Go nodes and HTTP/2 Connect clients
 * (`docs/platform.md` says why not `node:http2`). One
 * {@link H2ServerConnection} per socket: the core (`h2_connection.ts`) keeps
 * the connection's state; this module checks each request's fields (RFC 9113
 * §8), runs the handler and writes the response within the peer's windows.
 * Its bounds are in `h2_limits.ts`.
 *
 * @module
 */
import type * as net from "node:net";
import type {
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import type { HeaderField } from "./hpack.ts";
import { plain, requestUrl } from "./http_routes.ts";
import {
  CONNECTION_HEADERS,
  H2Error,
  H2ProtocolError,
  PREFACE,
} from "./h2_frames.ts";
import { H2Connection, type H2Stream } from "./h2_connection.ts";
import {
  MAX_HEADER_BLOCK_BYTES,
  MAX_HEADER_BLOCK_FRAMES,
  MAX_HEADER_LIST_BYTES,
  MAX_UNREAD_BYTES,
  MIN_PROGRESS_BYTES,
  PROGRESS_CHECK_MS,
  SEND_CHUNK_BYTES,
  SEND_HIGH_WATER,
} from "./h2_limits.ts";
import type { BudgetRefusal } from "./shared_budget.ts";

/** A request as the connection hands it over; answer with a response. */
export type H2Handler = (
  req: Omit<UniversalServerRequest, "contextValues">,
) => Promise<UniversalServerResponse>;

/** Options of an {@link H2ServerConnection}. */
export interface H2ServerOptions {
  /** Answers each request stream. */
  handle: H2Handler;
  /** Streams open at once at most (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxStreams: number;
  /**
   * Asked before a stream opens: a refusal refuses it (REFUSED_STREAM),
   * when the node or the client's address has its share of streams; only
   * the address's own share costs it abuse points.
   */
  takeStream?: () => BudgetRefusal | undefined;
  /** Told when a stream that {@link H2ServerOptions.takeStream} took ends. */
  giveStream?: () => void;
  /**
   * Charges abuse points (see `h2_limits.ts`); false ends the connection
   * with ENHANCE_YOUR_CALM.
   */
  spend?: (points: number) => boolean;
  /** How often a stream waiting on its client must have moved; see the limits. */
  progressCheckMs?: number;
  /** Told when a stream starts and when it ends (for idle tracking). */
  onStreamStart?: () => void;
  /** See {@link H2ServerOptions.onStreamStart}. */
  onStreamEnd?: () => void;
}

/**
 * The receive window of each request stream, and of the connection: what a
 * client may send that its handlers have not read yet, at most.
 */
const STREAM_WINDOW = 256 * 1024;
/** See {@link STREAM_WINDOW}. */
const CONNECTION_WINDOW = 1024 * 1024;
/** Abuse points of a malformed request (it costs a handler nothing). */
const MALFORMED_COST = 1;
/** Abuse points of a stream refused for want of a share of the node's. */
const REFUSED_COST = 1;
/** Abuse points of a request whose header list is too large. */
const TOO_LARGE_COST = 10;
/**
 * Header bytes a request may have for free: a gRPC or Connect request has
 * a few hundred. Each KiB beyond costs a point, so that a flood of large
 * (Huffman-coded) header lists costs its sender its budget.
 */
const FREE_HEADER_BYTES = 1024;

/** A request stream's state beside the core's. */
interface Request {
  readonly stream: H2Stream;
  readonly abort: AbortController;
  /**
   * Body chunks not yet read by the handler (from `head` on), each with
   * the flow-control bytes it took (padding too).
   */
  readonly chunks: { data: Uint8Array; flow: number }[];
  head: number;
  bodyEnded: boolean;
  wake: (() => void) | undefined;
  /** The request's content-length, if it has one, and the bytes seen. */
  readonly contentLength: number | undefined;
  bodyBytes: number;
  /** Response bytes sent since the last progress check. */
  moved: number;
  /** What the response waits on the client for, if anything. */
  waiting: "window" | "drain" | undefined;
  progress: ReturnType<typeof setInterval> | undefined;
}

/** A request's header fields, checked (RFC 9113 §8.3). */
interface RequestHead {
  url: string;
  method: string;
  header: Headers;
  contentLength: number | undefined;
}

/**
 * One HTTP/2 connection on the server side. Reads from the socket as soon
 * as it is made; the caller has read nothing (or put back what it peeked).
 *
 * @example
 * ```ts
 * import * as net from "node:net";
 * import { H2ServerConnection } from "./h2_server.ts";
 * import { plain } from "./http_routes.ts";
 *
 * const server = net.createServer((socket) => {
 *   new H2ServerConnection(socket, {
 *     handle: () => Promise.resolve(plain(200, "ok\n")),
 *     maxStreams: 100,
 *   });
 * });
 * server.close();
 * ```
 */
export class H2ServerConnection {
  readonly #socket: net.Socket;
  readonly #options: H2ServerOptions;
  readonly #conn: H2Connection;
  readonly #requests = new Map<number, Request>();
  /** A request accepted by the core and not yet opened. */
  #accepted: { head: RequestHead | string; tooLarge: boolean } | undefined;
  #prefaceLeft = PREFACE.length;
  #closed = false;
  #peerGoingAway = false;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #drained = new Set<() => void>();
  readonly #windowWaiters = new Set<() => void>();

  /** Starts serving `socket`. */
  constructor(socket: net.Socket, options: H2ServerOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#conn = new H2Connection({
      role: "server",
      write: (bytes) => this.#write(bytes),
      maxConcurrentStreams: options.maxStreams,
      streamWindow: STREAM_WINDOW,
      connectionWindow: CONNECTION_WINDOW,
      maxHeaderList: MAX_HEADER_LIST_BYTES,
      maxHeaderBlock: MAX_HEADER_BLOCK_BYTES,
      maxHeaderFrames: MAX_HEADER_BLOCK_FRAMES,
      spend: options.spend,
      events: {
        accept: (_id, fields, _end, tooLarge) => this.#accept(fields, tooLarge),
        opened: (stream) => this.#open(stream),
        headers: (stream, fields, end, tooLarge) =>
          this.#onTrailers(stream, fields, end, tooLarge),
        data: (stream, data, end, flow) =>
          this.#onData(stream, data, end, flow),
        closed: (stream) => this.#onStreamClosed(stream),
        goaway: () => {
          // The client opens no more streams; the open ones go on.
          this.#peerGoingAway = true;
          this.#endIfIdle();
        },
        windowOpened: () => wakeAll(this.#windowWaiters),
        failed: () => this.#endSocket(),
      },
    });
    socket.setNoDelay?.(true);
    socket.on("data", (chunk: Uint8Array) => this.#onBytes(chunk));
    socket.on("drain", () => wakeAll(this.#drained));
    socket.on("close", () => this.#onClose());
    socket.on("error", () => {/* "close" follows */});
    this.#conn.start();
    socket.resume();
  }

  /**
   * Closes politely: a GOAWAY, no new streams, and the socket closes once
   * the open streams have ended.
   */
  close(): void {
    if (this.#closed) return;
    this.#conn.goaway();
    this.#endIfIdle();
  }

  /** Ends the connection as abusive: GOAWAY ENHANCE_YOUR_CALM. */
  enhanceYourCalm(): void {
    this.#conn.fail(
      new H2ProtocolError(
        "the address is over its budget",
        H2Error.EnhanceYourCalm,
      ),
    );
  }

  /** Closes at once; open streams are aborted. */
  destroy(): void {
    this.#socket.destroy();
  }

  #onBytes(chunk: Uint8Array): void {
    if (this.#closed) return;
    if (this.#prefaceLeft > 0) {
      const n = Math.min(this.#prefaceLeft, chunk.length);
      const at = PREFACE.length - this.#prefaceLeft;
      for (let i = 0; i < n; i++) {
        if (chunk[i] !== PREFACE[at + i]) {
          this.#conn.fail(new H2ProtocolError("not the HTTP/2 preface"));
          return;
        }
      }
      this.#prefaceLeft -= n;
      chunk = chunk.subarray(n);
    }
    this.#conn.receive(chunk);
  }

  /** Whether the core may open a new stream; the refusal's code if not. */
  #accept(fields: HeaderField[], tooLarge: boolean): H2Error | undefined {
    // Charged first: a charge that ends the connection leaves nothing taken.
    this.#charge(tooLarge ? TOO_LARGE_COST : headerCost(fields));
    const refusal = this.#options.takeStream?.();
    if (refusal !== undefined) {
      // Also when the node is full: a client that keeps opening streams
      // through a thousand refusals is flooding, whoever filled the node
      // (known peers and the node's own machine have slots kept for them).
      this.#charge(REFUSED_COST);
      return H2Error.RefusedStream;
    }
    const head = tooLarge ? "" : requestOf(fields);
    if (typeof head === "string" && head.startsWith("malformed")) {
      this.#options.giveStream?.();
      this.#charge(MALFORMED_COST);
      return H2Error.ProtocolError;
    }
    this.#accepted = { head, tooLarge };
    return undefined;
  }

  #charge(points: number): void {
    if (points === 0) return;
    if (this.#options.spend && !this.#options.spend(points)) {
      throw new H2ProtocolError(
        "too many bad requests",
        H2Error.EnhanceYourCalm,
      );
    }
  }

  #open(stream: H2Stream): void {
    const { head, tooLarge } = this.#accepted!;
    this.#accepted = undefined;
    const req: Request = {
      stream,
      abort: new AbortController(),
      chunks: [],
      head: 0,
      bodyEnded: stream.state === "half-closed-remote",
      wake: undefined,
      contentLength: typeof head === "string" ? undefined : head.contentLength,
      bodyBytes: 0,
      moved: 0,
      waiting: undefined,
      progress: undefined,
    };
    req.progress = setInterval(
      () => this.#checkProgress(req),
      this.#options.progressCheckMs ?? PROGRESS_CHECK_MS,
    );
    this.#requests.set(stream.id, req);
    this.#options.onStreamStart?.();
    if (req.bodyEnded && !this.#lengthMatches(req)) return;
    // Started once the frames of this read are handled: a stream the same
    // read resets (rapid reset) never starts a handler.
    queueMicrotask(() => {
      if (this.#requests.get(stream.id) === req) {
        void this.#serve(req, head, tooLarge);
      }
    });
  }

  /** Trailers of a request body (nothing in them is used). */
  #onTrailers(
    stream: H2Stream,
    fields: HeaderField[],
    end: boolean,
    tooLarge: boolean,
  ): void {
    const req = this.#requests.get(stream.id);
    if (!req) return;
    // Decoded like a request's headers, charged like them.
    this.#charge(tooLarge ? TOO_LARGE_COST : headerCost(fields));
    if (tooLarge || !end || fields.some(([name]) => name.startsWith(":"))) {
      this.#conn.reset(stream.id, H2Error.ProtocolError);
      return;
    }
    req.bodyEnded = true;
    if (this.#lengthMatches(req)) poke(req);
  }

  #onData(
    stream: H2Stream,
    data: Uint8Array,
    end: boolean,
    flow: number,
  ): void {
    const req = this.#requests.get(stream.id);
    if (!req) return;
    req.bodyBytes += data.length;
    req.chunks.push({ data, flow });
    if (end) req.bodyEnded = true;
    if (this.#lengthMatches(req)) poke(req);
  }

  /**
   * Resets a stream whose response waits on its client (its window, or its
   * socket to drain, then the connection goes) and moved less than the
   * minimum since the last check. A request body is not watched: a peer's
   * relay stream may rightly stay open with nothing to send, and what a
   * partial body holds is bounded by the RPC layer's body budget.
   */
  #checkProgress(req: Request): void {
    const moved = req.moved;
    req.moved = 0;
    if (moved >= MIN_PROGRESS_BYTES) return;
    if (req.waiting === "drain") this.#socket.destroy();
    else if (req.waiting === "window") {
      this.#conn.reset(req.stream.id, H2Error.Cancel);
    }
  }

  /** Resets a stream whose body breaks its content-length (§8.1.1). */
  #lengthMatches(req: Request): boolean {
    const cl = req.contentLength;
    if (
      cl === undefined ||
      (req.bodyBytes <= cl && (!req.bodyEnded || req.bodyBytes === cl))
    ) return true;
    this.#conn.reset(req.stream.id, H2Error.ProtocolError);
    return false;
  }

  async #serve(
    req: Request,
    head: RequestHead | string,
    tooLarge: boolean,
  ): Promise<void> {
    try {
      if (tooLarge) {
        await this.#respond(
          req,
          plain(431, "request header fields too large\n"),
        );
        return;
      }
      if (typeof head === "string") {
        await this.#respond(req, plain(400, `bad request: ${head}\n`));
        return;
      }
      const res = await this.#options.handle({
        httpVersion: "2.0",
        url: head.url,
        method: head.method,
        header: head.header,
        body: this.#body(req),
        signal: req.abort.signal,
      });
      await this.#respond(req, res);
    } catch {
      // A handler failing outright (Connect turns RPC errors into
      // responses): the stream is reset.
      this.#conn.reset(req.stream.id, H2Error.InternalError);
    } finally {
      this.#finish(req);
    }
  }

  /** The request body; reading it gives the receive windows back. */
  async *#body(req: Request): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (req.head < req.chunks.length) {
        // Taken from the front without shifting: thousands of queued
        // (even empty) frames cost one step each.
        const { data, flow } = req.chunks[req.head];
        req.chunks[req.head++] = NO_CHUNK;
        if (req.head === req.chunks.length) {
          req.chunks.length = 0;
          req.head = 0;
        }
        this.#conn.consumed(req.stream, flow);
        if (data.length > 0) yield data;
        continue;
      }
      // A reset stream fails its body instead of ending it.
      if (req.abort.signal.aborted) throw req.abort.signal.reason;
      if (req.bodyEnded) return;
      await new Promise<void>((r) => req.wake = r);
    }
  }

  async #respond(req: Request, res: UniversalServerResponse): Promise<void> {
    const fields: HeaderField[] = [[":status", String(res.status)]];
    res.header?.forEach((value, name) => {
      if (!CONNECTION_HEADERS.has(name)) fields.push([name, value]);
    });
    const trailer: HeaderField[] = [];
    res.trailer?.forEach((value, name) => trailer.push([name, value]));
    const stream = req.stream;
    if (res.body === undefined && trailer.length === 0) {
      this.#conn.sendHeaders(stream, fields, true);
      return;
    }
    this.#conn.sendHeaders(stream, fields, false);
    if (res.body) {
      for await (const chunk of res.body) {
        if (!await this.#sendData(req, chunk)) return;
      }
    }
    if (!this.#writable(req)) return;
    // The trailers may be filled while the body is produced (gRPC).
    const finalTrailer: HeaderField[] = [];
    res.trailer?.forEach((value, name) => finalTrailer.push([name, value]));
    if (finalTrailer.length > 0) {
      this.#conn.sendHeaders(stream, finalTrailer, true);
    } else this.#conn.sendData(stream, EMPTY, true);
  }

  /** Whether the response of `req` may still be written. */
  #writable(req: Request): boolean {
    return !this.#closed && this.#requests.get(req.stream.id) === req &&
      req.stream.state !== "half-closed-local";
  }

  /**
   * Sends `data` within the windows, a part of at most
   * {@link SEND_CHUNK_BYTES} at a time, each once the socket holds less
   * than {@link SEND_HIGH_WATER}; false once the stream is gone.
   */
  async #sendData(req: Request, data: Uint8Array): Promise<boolean> {
    let off = 0;
    while (off < data.length) {
      if (!this.#writable(req)) return false;
      if (this.#socket.writableLength > SEND_HIGH_WATER) {
        req.waiting = "drain";
        await new Promise<void>((r) => this.#drained.add(r));
        continue;
      }
      const room = Math.min(this.#conn.room(req.stream), SEND_CHUNK_BYTES);
      if (room <= 0) {
        req.waiting = "window";
        await new Promise<void>((r) => this.#windowWaiters.add(r));
        continue;
      }
      req.waiting = undefined;
      const part = data.subarray(off, off + room);
      off += part.length;
      req.moved += part.length;
      this.#conn.sendData(req.stream, part, false);
      // Into the socket now, so that its fill counts what was just sent.
      this.#conn.flush();
    }
    req.waiting = undefined;
    return this.#writable(req);
  }

  /** The handler is done with `req`: the stream ends if it has not. */
  #finish(req: Request): void {
    if (this.#requests.get(req.stream.id) !== req) return;
    // Our side is done; a client still sending is told to stop (§8.1).
    const code = req.stream.state === "half-closed-local"
      ? H2Error.NoError
      : H2Error.Cancel;
    this.#conn.reset(req.stream.id, code);
  }

  #onStreamClosed(stream: H2Stream): void {
    const req = this.#requests.get(stream.id);
    if (!req) return;
    this.#requests.delete(stream.id);
    clearInterval(req.progress);
    req.chunks.length = 0;
    req.head = 0;
    req.bodyEnded = true;
    req.abort.abort(new Error("the stream ended"));
    poke(req);
    wakeAll(this.#windowWaiters);
    this.#options.giveStream?.();
    this.#options.onStreamEnd?.();
    this.#endIfIdle();
  }

  #endIfIdle(): void {
    const goingAway = this.#conn.goingAway || this.#peerGoingAway;
    if (goingAway && this.#requests.size === 0 && !this.#closed) {
      this.#endSocket();
    }
  }

  // Ends our side; a peer that does not close its side is not waited for.
  #endSocket(): void {
    if (this.#socket.destroyed) return;
    this.#conn.flush();
    this.#socket.end();
    this.#lingerTimer ??= setTimeout(() => this.#socket.destroy(), 1000);
  }

  #onClose(): void {
    clearTimeout(this.#lingerTimer);
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#conn.failed) {
      this.#conn.fail(
        new H2ProtocolError("the connection closed", H2Error.Cancel),
      );
    }
    wakeAll(this.#drained);
    wakeAll(this.#windowWaiters);
  }

  #write(bytes: Uint8Array): void {
    if (this.#closed || this.#socket.destroyed) return;
    if (this.#socket.writableLength > MAX_UNREAD_BYTES) {
      // The peer does not read what it asks for.
      this.#socket.destroy();
      return;
    }
    this.#socket.write(bytes);
  }
}

const EMPTY = new Uint8Array(0);
const NO_CHUNK = { data: EMPTY, flow: 0 };

function poke(req: Request): void {
  const wake = req.wake;
  req.wake = undefined;
  wake?.();
}

function wakeAll(waiters: Set<() => void>): void {
  const all = [...waiters];
  waiters.clear();
  for (const w of all) w();
}

/** Abuse points of a header list: a point a KiB beyond the free bytes. */
function headerCost(fields: HeaderField[]): number {
  let size = 0;
  for (const [name, value] of fields) size += name.length + value.length + 32;
  return Math.max(0, Math.floor((size - FREE_HEADER_BYTES) / 1024));
}

/** The pseudo-header fields a request may carry (RFC 9113 §8.3.1). */
const REQUEST_PSEUDO = new Set([":method", ":scheme", ":authority", ":path"]);

/**
 * The URL, method, header fields and content-length of a request's header
 * block, or what is wrong with it: `malformed ...` for what RFC 9113 §8.1.1
 * calls a malformed request (a stream error), other text for a request
 * answered 400 (a bad `:path` or `:authority`, a field `Headers` refuses).
 */
function requestOf(fields: HeaderField[]): RequestHead | string {
  const pseudo = new Map<string, string>();
  const header = new Headers();
  let regular = false;
  let bad: string | undefined;
  for (const [name, value] of fields) {
    if (name.startsWith(":")) {
      if (regular) return "malformed: a pseudo-header after a field";
      if (!REQUEST_PSEUDO.has(name)) return `malformed: pseudo-header ${name}`;
      if (pseudo.has(name)) return `malformed: ${name} twice`;
      pseudo.set(name, value);
      continue;
    }
    regular = true;
    if (/[A-Z]/.test(name)) return "malformed: an upper-case field name";
    if (CONNECTION_HEADERS.has(name) && name !== "host") {
      return `malformed: connection-specific field ${name}`;
    }
    if (name === "te" && value !== "trailers") return "malformed: te";
    try {
      header.append(name, value);
    } catch {
      bad ??= `invalid header field ${JSON.stringify(name.slice(0, 64))}`;
    }
  }
  const method = pseudo.get(":method");
  const path = pseudo.get(":path");
  if (method === undefined) return "malformed: no :method";
  if (method !== "CONNECT" && (!pseudo.has(":scheme") || !path)) {
    return "malformed: no :scheme or :path";
  }
  const cl = header.get("content-length");
  if (cl !== null && !/^\d{1,15}$/.test(cl)) {
    return "malformed: content-length";
  }
  if (bad) return bad;
  const authority = pseudo.get(":authority") ?? header.get("host") ??
    "localhost";
  const url = requestUrl(authority, path ?? "");
  if (url === undefined) return ":authority or :path";
  return {
    url,
    method,
    header,
    contentLength: cl === null ? undefined : Number(cl),
  };
}
