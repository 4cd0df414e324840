/**
 * The server side of HTTP/1.1 (RFC 9112), written on a `node:net` socket:
 * what serves Connect, gRPC-Web and the plain GET routes to every client
 * that does not speak HTTP/2, in place of a `node:http` server.
 *
 * Why: keep-alive. Deno 2.9.6's `node:http` server, handed a socket with
 * `emit("connection")` (the one-port server peeks at its first bytes),
 * resets it after one response, so it had to answer `Connection: close` and
 * every call cost a TCP connection on both sides, and `node:http`'s
 * per-request machinery: with the signatures checked in workers, that was
 * most of a node's main thread in `bench:ingest`.
 *
 * One {@link H1ServerConnection} per accepted socket serves its requests one
 * after another (pipelined requests wait their turn). Bounds: a request head
 * of at most 64 KiB, strict framing (a request with both `Content-Length`
 * and `Transfer-Encoding`, or a coding other than `chunked`, is refused, so
 * the connection's next request cannot be smuggled in a body), and at most
 * 1 MiB read ahead of the handler before the socket is paused.
 *
 * @module
 */
import type * as net from "node:net";
import { STATUS_CODES } from "node:http";
import type {
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { plain, requestUrl } from "./http_routes.ts";

/** A request as the connection hands it over; answer with a response. */
export type H1Handler = (
  req: Omit<UniversalServerRequest, "contextValues">,
) => Promise<UniversalServerResponse>;

/** Options of an {@link H1ServerConnection}. */
export interface H1ServerOptions {
  /** Answers each request. */
  handle: H1Handler;
  /** Told when a request's head is in (for idle tracking). */
  onRequestStart?: () => void;
  /** Told when its response is written, or the connection is gone. */
  onRequestEnd?: () => void;
  /**
   * Told when a handler failed outright (a rejection, not an RPC error:
   * Connect turns those into responses), unless the client had gone away.
   */
  onFailure?: (path: string, reason: unknown) => void;
}

/** A request head (request line and header fields) at most. */
const MAX_HEAD_BYTES = 64 * 1024;
/**
 * Header fields of a request at most: adding a field to `Headers` costs
 * more the more it holds, so thousands of short fields in one head would
 * hold the main thread for a tenth of a second. A Connect call has about
 * ten.
 */
const MAX_FIELDS = 128;
/** Request bytes read ahead of the handler at most before pausing. */
const MAX_READ_AHEAD = 1024 * 1024;
/** A chunk-size line at most. */
const MAX_CHUNK_LINE = 1024;
/** Above this, a response waits for the socket to drain. */
const HIGH_WATER = 256 * 1024;
/** How long an ended connection waits for the client to close its side. */
const LINGER_MS = 1000;

const EMPTY = new Uint8Array(0);
const CRLF = new Uint8Array([13, 10]);
const encoder = new TextEncoder();
const CHUNKED_END = encoder.encode("0\r\n\r\n");
/** The reason of every request cut short by its client (made once). */
const CLIENT_GONE = new Error("the client closed the connection");
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/1\.([01])$/;
const FIELD_LINE = /^([^:]*):[ \t]*(.*?)[ \t]*$/;
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
/** Hop-by-hop fields: the connection sets them, not a handler. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/** A request the connection cannot take, with the status to answer. */
class BadRequest extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** How the request body is framed, and how far it has been read. */
type Framing =
  | { kind: "length"; left: number }
  | {
    kind: "chunked";
    state: "size" | "data" | "crlf" | "trailers";
    left: number;
    trailerBytes: number;
  };

interface Request {
  readonly abort: AbortController;
  readonly framing: Framing | undefined;
  /** Body bytes read and not yet taken by the handler. */
  chunks: Uint8Array[];
  queued: number;
  bodyEnded: boolean;
  bodyError: Error | undefined;
  wake: (() => void) | undefined;
  keepAlive: boolean;
  readonly http10: boolean;
  headSent: boolean;
}

/**
 * One HTTP/1.1 connection on the server side. Reads from the socket as soon
 * as it is made; the caller has read nothing (or put back what it peeked).
 */
export class H1ServerConnection {
  readonly #socket: net.Socket;
  readonly #options: H1ServerOptions;
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
        if (!req.bodyEnded && !req.bodyError) this.#readBody(req);
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
        if (!(e instanceof BadRequest)) throw e;
        return this.#refuse(e.status, e.message);
      }
    }
  }

  #start(head: Head): void {
    const req = newRequest(head.framing, head.keepAlive, head.http10);
    this.#req = req;
    this.#options.onRequestStart?.();
    if (head.expectContinue && !req.bodyEnded) {
      this.#socket.write("HTTP/1.1 100 Continue\r\n\r\n");
    }
    void this.#serve(req, head);
  }

  /** Moves body bytes from the read buffer to the request, per framing. */
  #readBody(req: Request): void {
    const f = req.framing!;
    try {
      if (f.kind === "length") {
        const n = Math.min(f.left, this.#in.length);
        if (n > 0) this.#take(req, n);
        f.left -= n;
        if (f.left === 0) req.bodyEnded = true;
      } else {
        this.#readChunked(req, f);
      }
    } catch (e) {
      if (!(e instanceof BadRequest)) throw e;
      // The body is broken: the handler sees an error, and nothing after
      // it on this connection can be trusted.
      req.bodyError = new Error(`bad request body: ${e.message}`);
      req.keepAlive = false;
      this.#in.clear();
    }
    const wake = req.wake;
    req.wake = undefined;
    wake?.();
  }

  #readChunked(
    req: Request,
    f: Extract<Framing, { kind: "chunked" }>,
  ): void {
    while (this.#in.length > 0) {
      if (f.state === "data") {
        const n = Math.min(f.left, this.#in.length);
        this.#take(req, n);
        f.left -= n;
        if (f.left > 0) return;
        f.state = "crlf";
        continue;
      }
      if (f.state === "crlf") {
        const view = this.#in.view();
        if (view.length < 2) return;
        if (view[0] !== 13 || view[1] !== 10) {
          throw new BadRequest(400, "chunk not followed by CRLF");
        }
        this.#in.skip(2);
        f.state = "size";
        continue;
      }
      const eol = indexOfCrlf(this.#in.view(), MAX_CHUNK_LINE);
      if (eol < 0) {
        if (this.#in.length > MAX_CHUNK_LINE) {
          throw new BadRequest(400, "chunk line too long");
        }
        return;
      }
      const line = latin1(this.#in.take(eol));
      this.#in.skip(2);
      // A bare CR or LF that another parser would take for a line end.
      if (CONTROL.test(line)) {
        throw new BadRequest(400, "control character in a chunk line");
      }
      if (f.state === "trailers") {
        // Trailer fields are read and dropped: nothing here uses them.
        f.trailerBytes += line.length + 2;
        if (f.trailerBytes > MAX_HEAD_BYTES) {
          throw new BadRequest(400, "trailers larger than 64 KiB");
        }
        if (line === "") {
          req.bodyEnded = true;
          return;
        }
        continue;
      }
      // chunk-size [; extensions]
      const size = line.split(";", 1)[0].replace(/[ \t]+$/, "");
      if (!/^[0-9A-Fa-f]{1,8}$/.test(size)) {
        throw new BadRequest(400, "bad chunk size");
      }
      f.left = parseInt(size, 16);
      f.state = f.left === 0 ? "trailers" : "data";
    }
  }

  #take(req: Request, n: number): void {
    req.chunks.push(this.#in.take(n));
    req.queued += n;
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
      if (!req.abort.signal.aborted) {
        this.#options.onFailure?.(new URL(head.url).pathname, e);
      }
      // Past the head, the response cannot be told apart from a complete
      // one but by the connection closing.
      req.keepAlive = false;
      if (!req.headSent && !this.#closed) {
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
      // The head goes out with the first chunk: a handler may set response
      // headers until then (connect-node's adapter does the same).
      let next = it ? await it.next() : undefined;
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
    else this.#socket.resume();
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
  framing: Framing | undefined,
  keepAlive: boolean,
  http10: boolean,
): Request {
  return {
    abort: new AbortController(),
    framing,
    chunks: [],
    queued: 0,
    bodyEnded: framing === undefined,
    bodyError: undefined,
    wake: undefined,
    keepAlive,
    http10,
    headSent: false,
  };
}

/** A parsed request head. */
interface Head {
  method: string;
  url: string;
  header: Headers;
  framing: Framing | undefined;
  keepAlive: boolean;
  http10: boolean;
  expectContinue: boolean;
}

/** Parses a request head (without its final CRLF CRLF); throws BadRequest. */
function parseHead(text: string): Head {
  const lines = text.split("\r\n");
  const m = REQUEST_LINE.exec(lines[0]);
  if (!m) throw new BadRequest(400, "malformed request line");
  const [, method, target, minor] = m;
  if (lines.length - 1 > MAX_FIELDS) {
    throw new BadRequest(431, `more than ${MAX_FIELDS} header fields`);
  }
  const header = new Headers();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    // obs-fold, a space before the colon, a bare CR or LF: all refused.
    const f = FIELD_LINE.exec(line);
    if (!f || !TOKEN.test(f[1])) {
      throw new BadRequest(
        400,
        `malformed header field ${JSON.stringify(line.slice(0, 64))}`,
      );
    }
    try {
      header.append(f[1], f[2]);
    } catch {
      throw new BadRequest(
        400,
        `invalid header field ${JSON.stringify(f[1].slice(0, 64))}`,
      );
    }
  }
  const framing = framingOf(header, minor === "1");
  // HTTP/1.0 connections are not kept (their keep-alive is an extension).
  const keepAlive = minor === "1" &&
    !(header.get("connection") ?? "").toLowerCase().split(",")
      .some((t) => t.trim() === "close");
  const url = requestUrl(header.get("host") ?? "localhost", target);
  if (url === undefined) throw new BadRequest(400, "Host or request target");
  return {
    method,
    url,
    header,
    framing,
    keepAlive,
    http10: minor === "0",
    expectContinue:
      (header.get("expect") ?? "").toLowerCase() === "100-continue" &&
      minor === "1",
  };
}

/** The body framing a head asks for; throws BadRequest when it is unclear. */
function framingOf(header: Headers, http11: boolean): Framing | undefined {
  const te = header.get("transfer-encoding");
  const cl = header.get("content-length");
  if (te !== null) {
    // Both, or a coding other than chunked, could hide a second request.
    if (cl !== null) {
      throw new BadRequest(400, "both Content-Length and Transfer-Encoding");
    }
    if (te.trim().toLowerCase() !== "chunked" || !http11) {
      throw new BadRequest(501, `unsupported Transfer-Encoding ${te}`);
    }
    return { kind: "chunked", state: "size", left: 0, trailerBytes: 0 };
  }
  if (cl === null) return undefined;
  if (!/^\d{1,15}$/.test(cl)) {
    throw new BadRequest(400, `bad Content-Length ${cl.slice(0, 32)}`);
  }
  const left = Number(cl);
  return left === 0 ? undefined : { kind: "length", left };
}

/** Where the first CRLF CRLF at or after `from` starts in `buf`, or -1. */
function indexOfHeadEnd(buf: Uint8Array, from: number): number {
  const limit = Math.min(buf.length, MAX_HEAD_BYTES + 4);
  for (let i = from + 3; i < limit; i++) {
    if (
      buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 &&
      buf[i - 3] === 13
    ) return i - 3;
  }
  return -1;
}

/** Where the first CRLF starts in the first `limit` bytes of `buf`, or -1. */
function indexOfCrlf(buf: Uint8Array, limit: number): number {
  const n = Math.min(buf.length, limit + 2);
  for (let i = 1; i < n; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13) return i - 1;
  }
  return -1;
}

/** Bytes as a string of the same char codes (HTTP heads are bytes). */
function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
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
  const size = encoder.encode(`${data.length.toString(16)}\r\n`);
  const out = new Uint8Array(size.length + data.length + 2);
  out.set(size);
  out.set(data, size.length);
  out.set(CRLF, size.length + data.length);
  return out;
}

function bodyAllowed(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 304;
}
