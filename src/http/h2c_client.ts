/**
 * A small HTTP/2 client over cleartext TCP (prior knowledge, RFC 9113), one
 * request per connection: the gRPC path to reference Go nodes, used under
 * Connect's own gRPC protocol code. Deno's `node:http2` client could die or
 * hang on a peer's GOAWAY (`docs/platform.md`); here the protocol state
 * lives in JavaScript (`h2_connection.ts`), so a peer's GOAWAY, reset or
 * protocol error fails the call it hits, and nothing else.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type {
  UniversalClientFn,
  UniversalClientRequest,
  UniversalClientResponse,
} from "@connectrpc/connect/protocol";
import { messageOf } from "../util/errors.ts";
import { writeAll } from "../util/write_all.ts";
import { connectTcp } from "../util/tcp.ts";
import type { HeaderField } from "./hpack.ts";
import { CONNECTION_HEADERS, H2Error, PREFACE } from "./h2_frames.ts";
import { H2Connection, type H2Stream } from "./h2_connection.ts";

/**
 * The receive window, per stream and for the connection, given back as the
 * body is read: a slow reader holds the sender back.
 */
const RECEIVE_WINDOW = 16 * 1024 * 1024;
/** How long a closing connection may take to send its last frames. */
const CLOSE_LINGER_MS = 1000;
/** A response's header block (and decoded list) at most. */
const MAX_HEADER_BLOCK = 64 * 1024;
/**
 * Frames of one header block at most: a 64 KiB block in frames of the
 * smallest size takes four; more is a peer flooding (CONTINUATION).
 */
const MAX_HEADER_FRAMES = 16;

/**
 * A Connect HTTP client for `http://` URLs over HTTP/2 with prior knowledge:
 * each request opens its own TCP connection, closed when the response has
 * been read (or the call fails or is cancelled).
 *
 * @example
 * ```ts
 * import { createTransport } from "@connectrpc/connect/protocol-grpc";
 * import { createH2cClient } from "./h2c_client.ts";
 *
 * const transport = createTransport({
 *   httpClient: createH2cClient(),
 *   baseUrl: "http://127.0.0.1:1122",
 *   useBinaryFormat: true,
 *   interceptors: [],
 *   acceptCompression: [],
 *   sendCompression: null,
 *   compressMinBytes: 1024,
 *   readMaxBytes: 16 * 1024 * 1024,
 *   writeMaxBytes: 16 * 1024 * 1024,
 * });
 * console.log(typeof transport.unary); // "function"
 * ```
 */
export function createH2cClient(): UniversalClientFn {
  return (req) => new Exchange(req).start();
}

/** A connection-level failure: the call fails with `Unavailable`. */
function unavailable(message: string, cause?: unknown): ConnectError {
  return new ConnectError(
    message,
    Code.Unavailable,
    undefined,
    undefined,
    cause,
  );
}

/** One request and its response, on a connection of its own. */
class Exchange {
  readonly #req: UniversalClientRequest;
  #conn: Deno.TcpConn | undefined;
  #h2: H2Connection | undefined;
  #stream: H2Stream | undefined;
  #closed = false;
  #connClosed = false;
  #error: Error | undefined;
  #writes: Promise<void> = Promise.resolve();

  // Sending.
  #windowOpened: (() => void) | undefined;
  #sentEnd = false;

  // Receiving.
  readonly #response = Promise.withResolvers<UniversalClientResponse>();
  #status: number | undefined;
  readonly #trailer = new Headers();
  #chunks: { data: Uint8Array; flow: number }[] = [];
  #receivedEnd = false;
  #wake: (() => void) | undefined;

  constructor(req: UniversalClientRequest) {
    this.#req = req;
  }

  async start(): Promise<UniversalClientResponse> {
    const { signal } = this.#req;
    signal?.throwIfAborted();
    const url = new URL(this.#req.url);
    if (url.protocol !== "http:") {
      throw new ConnectError(
        `h2c client: only http:// URLs, not ${url.protocol}`,
        Code.InvalidArgument,
      );
    }
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(url.port || 80);
    const conn = await connectTcp(hostname, port, signal).catch(
      (e) => {
        if (signal?.aborted) throw signal.reason;
        throw unavailable(`cannot connect to ${url.host}: ${messageOf(e)}`, e);
      },
    );
    this.#conn = conn;
    conn.setNoDelay(true);
    const h2 = new H2Connection({
      role: "client",
      write: (bytes) => void this.#write(bytes),
      streamWindow: RECEIVE_WINDOW,
      connectionWindow: RECEIVE_WINDOW,
      maxHeaderList: MAX_HEADER_BLOCK,
      maxHeaderBlock: MAX_HEADER_BLOCK,
      maxHeaderFrames: MAX_HEADER_FRAMES,
      events: {
        headers: (_stream, fields, end, tooLarge) => {
          if (!tooLarge) return this.#onHeaderBlock(fields, end);
          this.#fail(
            unavailable(
              `protocol error: a response header list above ${MAX_HEADER_BLOCK} bytes`,
            ),
            false,
          );
        },
        data: (_stream, data, end, flow) => this.#onData(data, end, flow),
        closed: (_stream, end) => {
          if (end.byPeer) {
            this.#fail(
              unavailable(
                `the peer reset the stream (HTTP/2 error code ${end.code})`,
              ),
              false,
            );
          }
        },
        goaway: (last, code) => {
          // A stream at or below `last` may still complete; ours was never
          // seen when it is above, and may be retried elsewhere.
          if (last < (this.#stream?.id ?? 1)) {
            this.#fail(
              unavailable(
                `the peer is going away (HTTP/2 GOAWAY, error code ${code})`,
              ),
              false,
            );
          }
        },
        windowOpened: () => this.#openWindow(),
        failed: (e) => {
          this.#fail(
            e.code === H2Error.Cancel
              ? unavailable("connection lost")
              : unavailable(`protocol error from the peer: ${e.message}`),
            false,
          );
        },
      },
    });
    this.#h2 = h2;
    const onAbort = () => this.#fail(signal!.reason, true);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
    void this.#read();
    const hasBody = this.#req.body !== undefined;
    h2.start(PREFACE);
    this.#stream = h2.open(this.#fields(url), !hasBody);
    if (hasBody) void this.#sendBody(this.#req.body!);
    else this.#sentEnd = true;
    try {
      return await this.#response.promise;
    } catch (e) {
      signal?.removeEventListener("abort", onAbort);
      throw e;
    }
  }

  /** The request's header fields. */
  #fields(url: URL): HeaderField[] {
    const fields: HeaderField[] = [
      [":method", this.#req.method],
      [":scheme", "http"],
      [":authority", url.host],
      [":path", url.pathname + url.search],
    ];
    this.#req.header.forEach((value, name) => {
      if (!CONNECTION_HEADERS.has(name)) fields.push([name, value]);
    });
    return fields;
  }

  async #sendBody(body: AsyncIterable<Uint8Array>): Promise<void> {
    const h2 = this.#h2!;
    const stream = this.#stream!;
    try {
      for await (const chunk of body) {
        let off = 0;
        while (off < chunk.length) {
          if (this.#closed || this.#receivedEnd) return;
          const room = h2.room(stream);
          if (room <= 0) {
            await new Promise<void>((r) => this.#windowOpened = r);
            continue;
          }
          const part = chunk.subarray(off, off + room);
          off += part.length;
          h2.sendData(stream, part, false);
          await this.#writes;
        }
      }
      if (this.#closed || this.#receivedEnd) return;
      this.#sentEnd = true;
      h2.sendData(stream, new Uint8Array(0), true);
      await this.#writes;
    } catch (e) {
      this.#fail(e, true);
    }
  }

  #write(bytes: Uint8Array): Promise<void> {
    const conn = this.#conn!;
    this.#writes = this.#writes.then(async () => {
      if (this.#connClosed) return;
      try {
        await writeAll(conn, bytes);
      } catch (e) {
        this.#fail(unavailable(`connection lost: ${messageOf(e)}`, e), false);
      }
    });
    return this.#writes;
  }

  async #read(): Promise<void> {
    const conn = this.#conn!;
    const h2 = this.#h2!;
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        // The core keeps what it needs: the buffer is reused.
        h2.receive(buf.slice(0, n));
        if (this.#closed || h2.failed) return;
      }
      if (!this.#receivedEnd) {
        throw unavailable(
          "the peer closed the connection before the response ended",
        );
      }
    } catch (e) {
      if (this.#closed) return;
      this.#fail(
        e instanceof ConnectError
          ? e
          : unavailable(`connection lost: ${messageOf(e)}`, e),
        false,
      );
    }
  }

  #openWindow(): void {
    const wake = this.#windowOpened;
    this.#windowOpened = undefined;
    wake?.();
  }

  #onHeaderBlock(fields: HeaderField[], endsStream: boolean): void {
    try {
      this.#onResponseFields(fields, endsStream);
    } catch (e) {
      this.#fail(e, false);
    }
  }

  #onResponseFields(fields: HeaderField[], endsStream: boolean): void {
    if (this.#status === undefined) {
      const status = fields.find(([name]) => name === ":status")?.[1];
      if (status === undefined || !/^[1-5][0-9][0-9]$/.test(status)) {
        throw unavailable("protocol error: response without a valid :status");
      }
      // Informational responses come before the real one.
      if (status.startsWith("1")) return;
      this.#status = Number(status);
      const header = new Headers();
      for (const [name, value] of fields) {
        if (!name.startsWith(":")) appendField(header, name, value);
      }
      if (endsStream) this.#end();
      this.#response.resolve({
        status: this.#status,
        header,
        body: this.#body(),
        trailer: this.#trailer,
      });
      return;
    }
    if (!endsStream) throw unavailable("protocol error: trailers without end");
    for (const [name, value] of fields) {
      if (!name.startsWith(":")) appendField(this.#trailer, name, value);
    }
    this.#end();
  }

  #onData(data: Uint8Array, end: boolean, flow: number): void {
    if (this.#status === undefined) {
      this.#fail(
        unavailable("protocol error: data before the response headers"),
        false,
      );
      return;
    }
    // Padding counts against the window too: given back with the data.
    this.#chunks.push({ data, flow });
    if (end) this.#end();
    this.#poke();
  }

  // The whole response is here (in #chunks): the connection has done its
  // work, whether or not the body has been read yet.
  #end(): void {
    this.#receivedEnd = true;
    this.#close();
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** The response body; reading it gives the receive window back. */
  async *#body(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const chunk = this.#chunks.shift();
        if (chunk) {
          if (!this.#receivedEnd) this.#h2!.consumed(this.#stream, chunk.flow);
          if (chunk.data.length > 0) yield chunk.data;
          continue;
        }
        if (this.#receivedEnd) return;
        if (this.#error) throw this.#error;
        await new Promise<void>((r) => this.#wake = r);
      }
    } finally {
      // Done, failed or abandoned: the connection is not reused.
      this.#close();
    }
  }

  /**
   * Ends the call with `reason`: the response (if not yet there) rejects,
   * a body being read throws after what arrived (at once when `cancel`).
   */
  #fail(reason: unknown, cancel: boolean): void {
    if (this.#error || this.#closed) return;
    this.#error = reason instanceof Error ? reason : new Error(String(reason));
    if (cancel) this.#chunks = [];
    this.#response.reject(this.#error);
    this.#close();
  }

  /**
   * Closes the connection: the stream is reset if either side has not
   * ended it, a GOAWAY says goodbye, and the socket is closed even if the
   * peer does not read those.
   */
  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const conn = this.#conn!;
    const h2 = this.#h2!;
    if (!h2.failed) {
      if (!this.#receivedEnd || !this.#sentEnd) {
        h2.reset(this.#stream!.id, H2Error.Cancel);
      }
      h2.goaway();
    }
    const closeConn = () => {
      this.#connClosed = true;
      try {
        conn.close();
      } catch {
        // already closed
      }
    };
    const timer = setTimeout(closeConn, CLOSE_LINGER_MS);
    // After the core's last frames are queued (it flushes in a microtask).
    queueMicrotask(() => {
      this.#writes = this.#writes
        .catch(() => {})
        .finally(() => {
          clearTimeout(timer);
          closeConn();
        });
      this.#openWindow();
      this.#poke();
    });
  }
}

/** Adds a field the peer sent; one that Headers refuses fails the call. */
function appendField(headers: Headers, name: string, value: string): void {
  try {
    headers.append(name, value);
  } catch {
    throw unavailable(
      `protocol error: invalid header field ${
        JSON.stringify(name.slice(0, 64))
      }`,
    );
  }
}
