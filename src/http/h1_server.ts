/**
 * The server side of HTTP/1.1 (RFC 9112) on a `node:net` socket, serving
 * Connect, gRPC-Web and the plain GET routes to clients that do not speak
 * HTTP/2. It exists for keep-alive, which Deno's `node:http` server could
 * not give a handed-over connection (`docs/platform.md`). Heads are parsed
 * by `h1_head.ts`, chunked bodies by `h1_chunked.ts`.
 *
 * @module
 */
import type * as net from "node:net";
import { STATUS_CODES } from "node:http";
import type {
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { plain } from "./http_routes.ts";
import { ChunkedDecoder, ChunkedError } from "./h1_chunked.ts";
import {
  type Head,
  HeadError,
  indexOfHeadEnd,
  latin1,
  MAX_HEAD_BYTES,
  parseHead,
} from "./h1_head.ts";
import { encodeUtf8 } from "../util/utf8.ts";

/**
 * A request as the connection hands it over; answer with a response.
 *
 * @example
 * ```ts
 * import type { H1Handler } from "./h1_server.ts";
 * import { plain } from "./http_routes.ts";
 *
 * const handle: H1Handler = () => Promise.resolve(plain(200, "ok\n"));
 * ```
 */
export type H1Handler = (
  req: Omit<UniversalServerRequest, "contextValues">,
) => Promise<UniversalServerResponse>;

/**
 * Options of an {@link H1ServerConnection}.
 *
 * @example
 * ```ts
 * import type { H1ServerOptions } from "./h1_server.ts";
 * import { plain } from "./http_routes.ts";
 *
 * const options: H1ServerOptions = {
 *   handle: () => Promise.resolve(plain(200, "ok\n")),
 *   bodyCheckMs: 10_000,
 * };
 * ```
 */
export interface H1ServerOptions {
  /** Answers each request. */
  handle: H1Handler;
  /** Told when a request's head is in (for idle tracking). */
  onRequestStart?: () => void;
  /** Told when its response is written, or the connection is gone. */
  onRequestEnd?: () => void;
  /**
   * Told when a handler failed outright (a rejection, not an RPC error:
   * Connect turns those into responses), unless the client had gone away
   * or its body was refused.
   */
  onFailure?: (path: string, reason: unknown) => void;
  /**
   * How often a request body being read must have brought
   * {@link H1ServerOptions.minBodyBytes}; default {@link BODY_CHECK_MS}.
   */
  bodyCheckMs?: number;
  /** See {@link H1ServerOptions.bodyCheckMs}; default {@link MIN_BODY_BYTES}. */
  minBodyBytes?: number;
}

/** Request bytes read ahead of the handler at most before pausing. */
const MAX_READ_AHEAD = 1024 * 1024;
/** Above this, a response waits for the socket to drain. */
const HIGH_WATER = 256 * 1024;
/** How long an ended connection waits for the client to close its side. */
const LINGER_MS = 1000;
/**
 * How often a request body being read is checked for progress (default of
 * {@link H1ServerOptions.bodyCheckMs}): it must have brought at least
 * {@link MIN_BODY_BYTES} since the last check, or end. Without such a
 * bound, connections that send a head and then a byte now and then stay
 * open for good. bcn's own long bodies are its relays' client streams
 * (`src/node/relay.ts`): a relay sends what is queued and ends the stream
 * without waiting for more items, so it never dribbles. Time the server
 * spends not reading (its handler behind by more than the read-ahead) does
 * not count.
 *
 * @example
 * ```ts
 * import { BODY_CHECK_MS, MIN_BODY_BYTES } from "./h1_server.ts";
 *
 * console.log(MIN_BODY_BYTES, BODY_CHECK_MS / 1000); // 1024 10
 * ```
 */
export const BODY_CHECK_MS = 10_000;

/** See {@link BODY_CHECK_MS}: about 100 bytes a second, far below any link. */
export const MIN_BODY_BYTES = 1024;

const EMPTY = new Uint8Array(0);
const CRLF = new Uint8Array([13, 10]);
const CHUNKED_END = encodeUtf8("0\r\n\r\n");
/** The reason of every request cut short by its client (made once). */
const CLIENT_GONE = new Error("the client closed the connection");
/** Hop-by-hop fields: the connection sets them, not a handler. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/** How far the request body has been read. */
type BodyReader =
  | { kind: "length"; left: number }
  | { kind: "chunked"; decoder: ChunkedDecoder };

interface Request {
  readonly abort: AbortController;
  readonly body: BodyReader | undefined;
  /** Body bytes read and not yet taken by the handler. */
  chunks: Uint8Array[];
  queued: number;
  bodyEnded: boolean;
  bodyError: Error | undefined;
  wake: (() => void) | undefined;
  keepAlive: boolean;
  readonly http10: boolean;
  headSent: boolean;
  /**
   * Whether the server answered the request itself (a refused body): what
   * the handler answers is dropped.
   */
  refused: boolean;
  /** Body bytes read since the last progress check (or resume). */
  bodyBytes: number;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * One HTTP/1.1 connection on the server side. Reads from the socket as soon
 * as it is made; the caller has read nothing (or put back what it peeked).
 *
 * Requests are served one after another (pipelined ones wait their turn).
 * Bounds: a request head of at most 64 KiB, strict framing (a request with
 * both `Content-Length` and `Transfer-Encoding`, or a coding other than
 * `chunked`, is refused, so the connection's next request cannot be
 * smuggled in a body), at most 1 MiB read ahead of the handler before the
 * socket is paused, and a body that brings less than {@link MIN_BODY_BYTES}
 * in {@link BODY_CHECK_MS} is cut off. A malformed body is answered 400 (a
 * slow one 408) when the response has not started, and ends the connection.
 *
 * @example
 * ```ts
 * import * as net from "node:net";
 * import { H1ServerConnection } from "./h1_server.ts";
 * import { plain } from "./http_routes.ts";
 *
 * const server = net.createServer((socket) => {
 *   new H1ServerConnection(socket, {
 *     handle: () => Promise.resolve(plain(200, "hello\n")),
 *   });
 * });
 * server.listen(0, "127.0.0.1", () => server.close());
 * ```
 */
export class H1ServerConnection {
  readonly #socket: net.Socket;
  readonly #options: H1ServerOptions;
  readonly #bodyCheckMs: number;
  readonly #minBodyBytes: number;
  /** Bytes read and not yet parsed. */
  readonly #in = new ReadBuffer();
  /** How much of an incomplete request head has been searched for its end. */
  #scanned = 0;
  #req: Request | undefined;
  #closing = false;
  #closed = false;
  #paused = false;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #drained = new Set<() => void>();

  /** Starts serving `socket`. */
  constructor(socket: net.Socket, options: H1ServerOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#bodyCheckMs = options.bodyCheckMs ?? BODY_CHECK_MS;
    this.#minBodyBytes = options.minBodyBytes ?? MIN_BODY_BYTES;
    socket.setNoDelay?.(true);
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("drain", () => this.#wakeDrained());
    socket.on("close", () => this.#onClose());
    socket.on("error", () => {/* "close" follows */});
    socket.resume();
  }

  /**
   * Closes politely: a request in flight is answered (with
   * `Connection: close` if its head is not sent yet), then the socket ends.
   */
  close(): void {
    this.#closing = true;
    if (!this.#req) this.#end();
  }

  /** Closes at once; a request in flight is aborted. */
  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closed) return;
    if (this.#closing && !this.#req) return; // no new requests
    if (this.#req?.bodyError) return; // what follows a broken body is dropped
    this.#in.push(chunk);
    this.#pump();
  }

  /** Parses what has been read, as far as the current request allows. */
  #pump(): void {
    try {
      this.#parse();
    } catch {
      // A bug here must not escape into a socket event or a handler (an
      // uncaught exception ends the process): the connection goes instead.
      this.#socket.destroy();
    }
  }

  #parse(): void {
    while (!this.#closed) {
      const req = this.#req;
      if (req) {
        if (!req.bodyEnded && !req.bodyError) {
          this.#readBody(req);
          // Not before: a body that came with its head needs no timer.
          if (!req.bodyEnded && !req.bodyError && req.idleTimer === undefined) {
            this.#watchBody(req);
          }
        }
        // Pipelined bytes wait for the response; bounded like a body. After
        // a broken body nothing more is read: the connection ends with the
        // answer.
        this.#setPaused(
          req.bodyError !== undefined || req.queued > MAX_READ_AHEAD ||
            (req.bodyEnded && this.#in.length > MAX_HEAD_BYTES),
        );
        return;
      }
      if (this.#closing) return;
      // Empty lines before a request line are ignored (RFC 9112 §2.2).
      let lead = this.#in.view();
      while (lead.length >= 2 && lead[0] === 13 && lead[1] === 10) {
        this.#in.skip(2);
        this.#scanned = Math.max(0, this.#scanned - 2);
        lead = lead.subarray(2);
      }
      // Only new bytes are searched: a head dripped in byte by byte costs
      // no more than one sent at once.
      const view = this.#in.view();
      const end = indexOfHeadEnd(view, Math.max(0, this.#scanned - 3));
      if (end < 0) {
        this.#scanned = view.length;
        if (view.length > MAX_HEAD_BYTES) {
          this.#refuse(431, "request head larger than 64 KiB");
        }
        return;
      }
      this.#scanned = 0;
      if (end > MAX_HEAD_BYTES) {
        return this.#refuse(431, "request head larger than 64 KiB");
      }
      const head = latin1(this.#in.take(end));
      this.#in.skip(4);
      try {
        this.#start(parseHead(head));
      } catch (e) {
        if (!(e instanceof HeadError)) throw e;
        if (e.notHttp1) {
          this.#in.clear();
          return this.#end();
        }
        return this.#refuse(e.status, e.message);
      }
    }
  }

  #start(head: Head): void {
    const f = head.framing;
    const req = newRequest(
      f === undefined
        ? undefined
        : f.kind === "length"
        ? { kind: "length", left: f.length }
        : { kind: "chunked", decoder: new ChunkedDecoder() },
      head.keepAlive,
      head.http10,
    );
    this.#req = req;
    this.#options.onRequestStart?.();
    if (head.expectContinue && !req.bodyEnded) {
      this.#socket.write("HTTP/1.1 100 Continue\r\n\r\n");
    }
    void this.#serve(req, head);
  }

  /** Moves body bytes from the read buffer to the request, per framing. */
  #readBody(req: Request): void {
    const f = req.body!;
    const before = this.#in.length;
    try {
      if (f.kind === "length") {
        const n = Math.min(f.left, before);
        if (n > 0) this.#take(req, this.#in.take(n));
        f.left -= n;
        if (f.left === 0) req.bodyEnded = true;
      } else {
        // Data pieces are views of the read buffer, whose bytes once
        // skipped are never written over.
        const used = f.decoder.push(
          this.#in.view(),
          (data) => this.#take(req, data),
        );
        this.#in.skip(used);
        if (f.decoder.ended) req.bodyEnded = true;
      }
    } catch (e) {
      if (!(e instanceof ChunkedError)) throw e;
      this.#refuseBody(req, e.status, e.message);
    }
    req.bodyBytes += before - this.#in.length;
    if (req.bodyEnded) clearTimeout(req.idleTimer);
    const wake = req.wake;
    req.wake = undefined;
    wake?.();
  }

  #take(req: Request, data: Uint8Array): void {
    req.chunks.push(data);
    req.queued += data.length;
  }

  /**
   * Cuts off a body that brings too little while the server reads it. One
   * timer per request, re-armed only when it fires: bytes arriving cost no
   * timer call.
   */
  #watchBody(req: Request): void {
    const check = (): void => {
      req.idleTimer = undefined;
      if (this.#req !== req || req.bodyEnded || req.bodyError) return;
      // Paused: the handler is behind, the client is not to blame.
      if (this.#paused || req.bodyBytes >= this.#minBodyBytes) {
        req.bodyBytes = 0;
        req.idleTimer = setTimeout(check, this.#bodyCheckMs);
        return;
      }
      this.#refuseBody(
        req,
        408,
        `request body slower than ${this.#minBodyBytes} bytes in ${this.#bodyCheckMs} ms`,
      );
      const wake = req.wake;
      req.wake = undefined;
      wake?.();
      this.#setPaused(true);
    };
    req.bodyBytes = 0;
    req.idleTimer = setTimeout(check, this.#bodyCheckMs);
  }

  /**
   * A body that cannot be read on: the handler's reads fail, and nothing
   * after it on this connection can be trusted. Unless the response has
   * started, the client is told why at once and the handler is aborted
   * (its answer, if any, is dropped): a client's broken body is never a
   * 500.
   */
  #refuseBody(req: Request, status: number, message: string): void {
    req.bodyError = new Error(`bad request body: ${message}`);
    req.keepAlive = false;
    clearTimeout(req.idleTimer);
    this.#in.clear();
    if (req.headSent || this.#closed) return;
    this.#writePlain(req, status, `bad request: ${message}\n`);
    req.refused = true;
    req.abort.abort(req.bodyError);
    this.#end();
  }

  async #serve(req: Request, head: Head): Promise<void> {
    let res: UniversalServerResponse | undefined;
    try {
      res = await this.#options.handle({
        httpVersion: "1.1",
        url: head.url,
        method: head.method,
        header: head.header,
        body: this.#body(req),
        signal: req.abort.signal,
      });
      await this.#respond(req, res, head.method === "HEAD");
    } catch (e) {
      // After a broken body, the failure is most likely the client's.
      if (!req.abort.signal.aborted && !req.bodyError) {
        this.#options.onFailure?.(new URL(head.url).pathname, e);
      }
      // Past the head, the response cannot be told apart from a complete
      // one but by the connection closing.
      req.keepAlive = false;
      if (req.refused) {
        // Answered already; the connection is ending.
      } else if (!req.headSent && !this.#closed) {
        this.#writePlain(req, 500, "internal error\n");
      } else this.#socket.destroy();
    } finally {
      this.#finish(req);
    }
  }

  /** The request body; reading it lets the socket be read again. */
  async *#body(req: Request): AsyncGenerator<Uint8Array> {
    for (;;) {
      const chunk = req.chunks.shift();
      if (chunk) {
        req.queued -= chunk.length;
        if (req.queued <= MAX_READ_AHEAD / 2) this.#pump();
        yield chunk;
        continue;
      }
      if (req.bodyError) throw req.bodyError;
      if (req.abort.signal.aborted) throw req.abort.signal.reason;
      if (req.bodyEnded) return;
      await new Promise<void>((r) => req.wake = r);
    }
  }

  async #respond(
    req: Request,
    res: UniversalServerResponse,
    isHead: boolean,
  ): Promise<void> {
    const it = res.body?.[Symbol.asyncIterator]();
    try {
      if (req.refused) return;
      // The head goes out with the first chunk: a handler may set response
      // headers until then (connect-node's adapter does the same).
      let next = it ? await it.next() : undefined;
      if (req.refused) return;
      const header = new Headers(res.header);
      for (const name of HOP_BY_HOP) header.delete(name);
      // A body of unknown length is chunked; to HTTP/1.0 it ends with the
      // connection.
      const unknown = header.get("content-length") === null && !isHead &&
        bodyAllowed(res.status);
      const chunked = unknown && it !== undefined && !req.http10;
      if (chunked) header.set("transfer-encoding", "chunked");
      else if (unknown && it === undefined) header.set("content-length", "0");
      this.#writeHead(req, res.status, header);
      // Also a client that pipelines HEADs and reads nothing is waited for.
      if (this.#socket.writableLength > HIGH_WATER) await this.#drain();
      for (; next && !next.done; next = await it!.next()) {
        if (this.#closed) return;
        if (!isHead && next.value.length > 0) {
          this.#socket.write(chunked ? chunkOf(next.value) : next.value);
        }
        if (this.#socket.writableLength > HIGH_WATER) await this.#drain();
      }
      if (this.#closed || !chunked) return;
      const trailer: string[] = [];
      res.trailer?.forEach((value, name) => trailer.push(`${name}: ${value}`));
      this.#socket.write(
        trailer.length === 0
          ? CHUNKED_END
          : `0\r\n${trailer.join("\r\n")}\r\n\r\n`,
        "latin1",
      );
    } finally {
      await it?.return?.().catch(() => {});
    }
  }

  #writeHead(req: Request, status: number, header: Headers): void {
    if (this.#closed) return;
    if (this.#closing || !req.bodyEnded) req.keepAlive = false;
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Unknown"}\r\n`;
    header.forEach((value, name) => head += `${name}: ${value}\r\n`);
    if (!req.keepAlive) head += "connection: close\r\n";
    this.#socket.write(head + "\r\n", "latin1");
    req.headSent = true;
  }

  /** The response is written (or abandoned): the next request, or the end. */
  #finish(req: Request): void {
    if (this.#req !== req) return;
    this.#req = undefined;
    req.chunks = [];
    clearTimeout(req.idleTimer);
    this.#options.onRequestEnd?.();
    if (this.#closed) return;
    // A body the handler did not read to its end leaves the next request's
    // start unknown.
    if (!req.keepAlive || !req.bodyEnded || this.#closing) return this.#end();
    this.#setPaused(false);
    this.#pump();
  }

  /** Answers a request that cannot be taken with one line, and ends. */
  #refuse(status: number, message: string): void {
    this.#closing = true;
    this.#in.clear();
    this.#writePlain(
      newRequest(undefined, false, false),
      status,
      `bad request: ${message}\n`,
    );
    this.#end();
  }

  /** A whole plain-text answer, written at once. */
  #writePlain(req: Request, status: number, text: string): void {
    this.#writeHead(req, status, plain(status, text).header!);
    this.#socket.write(text);
  }

  // Ends our side; a client that does not close its side is not waited for.
  #end(): void {
    this.#closing = true;
    if (this.#closed) return;
    this.#socket.end();
    this.#lingerTimer ??= setTimeout(
      () => this.#socket.destroy(),
      LINGER_MS,
    );
  }

  #onClose(): void {
    clearTimeout(this.#lingerTimer);
    if (this.#closed) return;
    this.#closed = true;
    this.#in.clear();
    const req = this.#req;
    if (req) {
      req.abort.abort(CLIENT_GONE);
      const wake = req.wake;
      req.wake = undefined;
      wake?.();
      this.#finish(req);
    }
    this.#wakeDrained();
  }

  #setPaused(paused: boolean): void {
    if (paused === this.#paused || this.#closed) return;
    this.#paused = paused;
    if (paused) this.#socket.pause();
    else {
      this.#socket.resume();
      // The body's progress counts again from now.
      if (this.#req) this.#req.bodyBytes = this.#minBodyBytes;
    }
  }

  #drain(): Promise<void> {
    return new Promise<void>((r) => this.#drained.add(r));
  }

  #wakeDrained(): void {
    const all = [...this.#drained];
    this.#drained.clear();
    for (const w of all) w();
  }
}

/** A request whose head is in; none of its body read yet. */
function newRequest(
  body: BodyReader | undefined,
  keepAlive: boolean,
  http10: boolean,
): Request {
  return {
    abort: new AbortController(),
    body,
    chunks: [],
    queued: 0,
    bodyEnded: body === undefined,
    bodyError: undefined,
    wake: undefined,
    keepAlive,
    http10,
    headSent: false,
    refused: false,
    bodyBytes: 0,
    idleTimer: undefined,
  };
}

/**
 * The bytes read from a socket and not yet parsed. Appending is amortized
 * linear (the storage doubles), and bytes once taken are never written
 * over: a handler may still hold them as its body.
 */
class ReadBuffer {
  #data: Uint8Array = EMPTY;
  #start = 0;
  #end = 0;
  /** Whether `#data` is this buffer's own, free to write past `#end`. */
  #owned = false;

  get length(): number {
    return this.#end - this.#start;
  }

  view(): Uint8Array {
    return this.#data.subarray(this.#start, this.#end);
  }

  push(chunk: Uint8Array): void {
    if (this.length === 0) {
      // Not copied: a chunk read from the socket is this buffer's alone.
      this.#data = chunk;
      this.#start = 0;
      this.#end = chunk.length;
      this.#owned = false;
    } else if (this.#owned && this.#end + chunk.length <= this.#data.length) {
      this.#data.set(chunk, this.#end);
      this.#end += chunk.length;
    } else {
      const live = this.length;
      const next = new Uint8Array(Math.max(2 * (live + chunk.length), 16384));
      next.set(this.view());
      next.set(chunk, live);
      this.#data = next;
      this.#start = 0;
      this.#end = live + chunk.length;
      this.#owned = true;
    }
  }

  /** The next `n` bytes, taken. */
  take(n: number): Uint8Array {
    const out = this.#data.subarray(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  skip(n: number): void {
    this.#start += n;
  }

  clear(): void {
    this.#data = EMPTY;
    this.#start = this.#end = 0;
    this.#owned = false;
  }
}

/** One chunk of a chunked body. */
function chunkOf(data: Uint8Array): Uint8Array {
  const size = encodeUtf8(`${data.length.toString(16)}\r\n`);
  const out = new Uint8Array(size.length + data.length + 2);
  out.set(size);
  out.set(data, size.length);
  out.set(CRLF, size.length + data.length);
  return out;
}

function bodyAllowed(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 304;
}
