/**
 * A small HTTP/2 client over cleartext TCP (prior knowledge, RFC 9113), one
 * request per connection, written on `Deno.connect`: the gRPC path to
 * reference Go nodes.
 *
 * Why not `node:http2`: under Deno 2.9.6 its client dies or hangs inside
 * nghttp2 when a gRPC server stops gracefully (GOAWAY). With a session kept
 * across calls the process segfaulted or aborted (denoland/deno#36788); with
 * a session per call it still hung at 100% CPU with its event loop stuck,
 * or died of an uncaught `write EPIPE`, in about 1 of 15 rounds of four
 * clients calling through a grpc-go graceful stop (measured here with
 * `tests/interop/goaway_victim.ts`). Nothing in JavaScript can catch that.
 * This client's protocol state lives in JavaScript, so a peer's GOAWAY,
 * reset or closed socket is an error of the call it hits, and nothing else.
 *
 * What it does: SETTINGS (no server push, a 16 MiB receive window), one
 * request stream with its headers and body, flow control both ways (the
 * receive window is given back as the body is read, so a slow reader holds
 * the sender back and memory stays bounded), PING answers, GOAWAY and
 * RST_STREAM as errors of the call, response trailers. Frames larger than
 * 16 KiB, header lists larger than 64 KiB and malformed header blocks end
 * the call with an error. It is a Connect `UniversalClientFn`, used under
 * Connect's own gRPC protocol code (`createTransport` of
 * `@connectrpc/connect/protocol-grpc`).
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
import {
  encodeHeaderBlock,
  type HeaderField,
  HpackDecoder,
  HpackError,
} from "./hpack.ts";
import {
  ACK,
  concat,
  CONNECTION_HEADERS,
  DEFAULT_WINDOW,
  END_HEADERS,
  END_STREAM,
  Frame,
  frame,
  FrameReader,
  H2Error,
  H2ProtocolError,
  headerFrames,
  MAX_FRAME_SIZE,
  PREFACE,
  PRIORITY,
  readSettings,
  readU31,
  readU32,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_FRAME_SIZE,
  settingsPayload,
  u32,
  unpad,
} from "./h2_frames.ts";

/** The one stream of a connection. */
const STREAM_ID = 1;
/** The receive window, per stream and for the connection. */
const RECEIVE_WINDOW = 16 * 1024 * 1024;
/** How long a closing connection may take to send its last frames. */
const CLOSE_LINGER_MS = 1000;
/** Header block fragments kept before END_HEADERS, at most. */
const MAX_HEADER_BLOCK = 64 * 1024;

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
  #closed = false;
  #error: Error | undefined;
  #writes: Promise<void> = Promise.resolve();
  readonly #hpack = new HpackDecoder();

  // Sending.
  #sendWindow = DEFAULT_WINDOW;
  #connSendWindow = DEFAULT_WINDOW;
  #initialSendWindow = DEFAULT_WINDOW;
  #peerMaxFrame = MAX_FRAME_SIZE;
  #windowOpened: (() => void) | undefined;
  #sentEnd = false;

  // Receiving.
  readonly #response = Promise.withResolvers<UniversalClientResponse>();
  #status: number | undefined;
  readonly #trailer = new Headers();
  #headerBlock: Uint8Array[] = [];
  #headerBlockSize = 0;
  #headerBlockEndsStream = false;
  #chunks: { data: Uint8Array; credit: number }[] = [];
  #receivedEnd = false;
  #wake: (() => void) | undefined;
  #credit = 0;

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
    const conn = await connectUnlessAborted(hostname, port, signal).catch(
      (e) => {
        if (signal?.aborted) throw signal.reason;
        throw unavailable(`cannot connect to ${url.host}: ${messageOf(e)}`, e);
      },
    );
    this.#conn = conn;
    conn.setNoDelay(true);
    const onAbort = () => this.#fail(signal!.reason, true);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
    void this.#read();
    const hasBody = this.#req.body !== undefined;
    this.#write(concat([
      PREFACE,
      frame(
        Frame.Settings,
        0,
        0,
        settingsPayload([
          [SETTINGS_ENABLE_PUSH, 0],
          [SETTINGS_INITIAL_WINDOW_SIZE, RECEIVE_WINDOW],
        ]),
      ),
      frame(Frame.WindowUpdate, 0, 0, u32(RECEIVE_WINDOW - DEFAULT_WINDOW)),
      this.#headerFrames(url, hasBody),
    ]));
    if (hasBody) void this.#sendBody(this.#req.body!);
    else this.#sentEnd = true;
    try {
      return await this.#response.promise;
    } catch (e) {
      signal?.removeEventListener("abort", onAbort);
      throw e;
    }
  }

  /** HEADERS (and CONTINUATION) frames of the request. */
  #headerFrames(url: URL, hasBody: boolean): Uint8Array {
    const fields: HeaderField[] = [
      [":method", this.#req.method],
      [":scheme", "http"],
      [":authority", url.host],
      [":path", url.pathname + url.search],
    ];
    this.#req.header.forEach((value, name) => {
      if (!CONNECTION_HEADERS.has(name)) fields.push([name, value]);
    });
    // Sent before the peer's SETTINGS: frames of the protocol's minimum size.
    return headerFrames(
      STREAM_ID,
      encodeHeaderBlock(fields),
      MAX_FRAME_SIZE,
      !hasBody,
    );
  }

  async #sendBody(body: AsyncIterable<Uint8Array>): Promise<void> {
    try {
      for await (const chunk of body) {
        let off = 0;
        while (off < chunk.length) {
          if (this.#closed || this.#receivedEnd) return;
          const room = Math.min(
            this.#sendWindow,
            this.#connSendWindow,
            this.#peerMaxFrame,
          );
          if (room <= 0) {
            await new Promise<void>((r) => this.#windowOpened = r);
            continue;
          }
          const part = chunk.subarray(off, off + room);
          this.#sendWindow -= part.length;
          this.#connSendWindow -= part.length;
          off += part.length;
          await this.#write(frame(Frame.Data, 0, STREAM_ID, part));
        }
      }
      if (this.#closed || this.#receivedEnd) return;
      this.#sentEnd = true;
      await this.#write(frame(Frame.Data, END_STREAM, STREAM_ID));
    } catch (e) {
      this.#fail(e, true);
    }
  }

  #write(bytes: Uint8Array): Promise<void> {
    const conn = this.#conn!;
    this.#writes = this.#writes.then(async () => {
      if (this.#closed) return;
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
    const reader = new FrameReader();
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        reader.push(buf.subarray(0, n));
        for (let f = reader.next(); f; f = reader.next()) {
          this.#onFrame(f.type, f.flags, f.stream, f.payload);
          if (this.#closed) return;
        }
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
          : e instanceof H2ProtocolError
          ? unavailable(`protocol error from the peer: ${e.message}`)
          : unavailable(`connection lost: ${messageOf(e)}`, e),
        false,
      );
    }
  }

  #onFrame(type: number, flags: number, stream: number, payload: Uint8Array) {
    if (this.#headerBlock.length > 0 && type !== Frame.Continuation) {
      throw unavailable("protocol error: header block not continued");
    }
    switch (type) {
      case Frame.Data:
        if (stream !== STREAM_ID) return;
        return this.#onData(flags, payload);
      case Frame.Headers: {
        // Another stream's header block would change the HPACK state.
        if (stream !== STREAM_ID) {
          throw unavailable(`protocol error: headers on stream ${stream}`);
        }
        let fragment = unpad(flags, payload);
        if (flags & PRIORITY) fragment = fragment.subarray(5);
        this.#headerBlockEndsStream = (flags & END_STREAM) !== 0;
        return this.#onHeaderFragment(flags, fragment);
      }
      case Frame.Continuation:
        if (this.#headerBlock.length === 0) {
          throw unavailable("protocol error: unexpected CONTINUATION");
        }
        return this.#onHeaderFragment(flags, payload);
      case Frame.RstStream: {
        if (stream !== STREAM_ID || payload.length !== 4) return;
        const code = readU32(payload);
        return this.#fail(
          unavailable(`the peer reset the stream (HTTP/2 error code ${code})`),
          false,
        );
      }
      case Frame.Settings:
        if (flags & ACK) return;
        this.#onSettings(payload);
        this.#write(frame(Frame.Settings, ACK, 0));
        return;
      case Frame.PushPromise:
        throw unavailable("protocol error: push promised, though disabled");
      case Frame.Ping:
        if (!(flags & ACK) && payload.length === 8) {
          this.#write(frame(Frame.Ping, ACK, 0, payload));
        }
        return;
      case Frame.Goaway: {
        if (payload.length < 8) return;
        const last = readU31(payload);
        const code = readU32(payload, 4);
        // A stream at or below `last` may still complete; ours was never
        // seen when it is above, and may be retried elsewhere.
        if (last < STREAM_ID) {
          this.#fail(
            unavailable(
              `the peer is going away (HTTP/2 GOAWAY, error code ${code})`,
            ),
            false,
          );
        }
        return;
      }
      case Frame.WindowUpdate: {
        if (payload.length !== 4) return;
        const increment = readU31(payload);
        if (stream === 0) this.#connSendWindow += increment;
        else if (stream === STREAM_ID) this.#sendWindow += increment;
        this.#openWindow();
        return;
      }
      default:
        // PRIORITY and unknown frame types are ignored (RFC 9113 §5.5).
        return;
    }
  }

  #onSettings(payload: Uint8Array): void {
    for (const [id, value] of readSettings(payload)) {
      if (id === SETTINGS_INITIAL_WINDOW_SIZE) {
        // Applies to the stream's window as a delta (RFC 9113 §6.9.2).
        this.#sendWindow += value - this.#initialSendWindow;
        this.#initialSendWindow = value;
        this.#openWindow();
      } else if (id === SETTINGS_MAX_FRAME_SIZE) {
        this.#peerMaxFrame = Math.max(MAX_FRAME_SIZE, Math.min(value, 1 << 24));
      }
    }
  }

  #openWindow(): void {
    const wake = this.#windowOpened;
    this.#windowOpened = undefined;
    wake?.();
  }

  #onHeaderFragment(flags: number, fragment: Uint8Array): void {
    this.#headerBlockSize += fragment.length;
    if (this.#headerBlockSize > MAX_HEADER_BLOCK) {
      throw unavailable(
        `peer sent a header block above ${MAX_HEADER_BLOCK} bytes`,
      );
    }
    this.#headerBlock.push(fragment);
    if (!(flags & END_HEADERS)) return;
    const block = concat(this.#headerBlock);
    this.#headerBlock = [];
    this.#headerBlockSize = 0;
    let fields: HeaderField[];
    try {
      fields = this.#hpack.decode(block);
    } catch (e) {
      if (e instanceof HpackError) {
        throw unavailable(`bad header block from the peer: ${e.message}`);
      }
      throw e;
    }
    this.#onHeaderBlock(fields, this.#headerBlockEndsStream);
  }

  #onHeaderBlock(fields: HeaderField[], endsStream: boolean): void {
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

  #onData(flags: number, payload: Uint8Array): void {
    if (this.#status === undefined) {
      throw unavailable("protocol error: data before the response headers");
    }
    const data = unpad(flags, payload);
    // Padding counts against the window too: given back with the data.
    this.#chunks.push({ data, credit: payload.length });
    if (flags & END_STREAM) this.#end();
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
          this.#giveBack(chunk.credit);
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

  #giveBack(bytes: number): void {
    if (this.#receivedEnd || bytes === 0) return;
    this.#credit += bytes;
    if (this.#credit < RECEIVE_WINDOW / 4) return;
    const increment = u32(this.#credit);
    this.#credit = 0;
    this.#write(concat([
      frame(Frame.WindowUpdate, 0, 0, increment),
      frame(Frame.WindowUpdate, 0, STREAM_ID, increment),
    ]));
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
    const open = !this.#receivedEnd || !this.#sentEnd;
    const bye = concat([
      ...(open
        ? [frame(Frame.RstStream, 0, STREAM_ID, u32(H2Error.Cancel))]
        : []),
      frame(Frame.Goaway, 0, 0, concat([u32(STREAM_ID), u32(0)])),
    ]);
    const closeConn = () => {
      try {
        conn.close();
      } catch {
        // already closed
      }
    };
    const timer = setTimeout(closeConn, CLOSE_LINGER_MS);
    this.#writes = this.#writes
      .then(() => writeAll(conn, bye))
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer);
        closeConn();
      });
    this.#openWindow();
    this.#poke();
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

/**
 * `Deno.connect`, given up when `signal` aborts first (the connection, if
 * it comes later, is closed).
 */
function connectUnlessAborted(
  hostname: string,
  port: number,
  signal: AbortSignal | undefined,
): Promise<Deno.TcpConn> {
  const connecting = Deno.connect({ hostname, port });
  if (!signal) return connecting;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    connecting.then(
      (conn) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) conn.close();
        else resolve(conn);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
