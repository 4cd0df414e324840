/**
 * The server side of HTTP/2 with prior knowledge (RFC 9113), written on a
 * `node:net` socket: what serves gRPC to reference Go nodes and HTTP/2
 * Connect clients, in place of Deno's `node:http2` server.
 *
 * Why: under Deno 2.9.6 the `node:http2` server can be killed by any
 * client. `node:http2` clients that made short calls (an unknown path, an
 * unimplemented method) and then closed or dropped their connection killed
 * a bcn server process within seconds (`free(): double free detected in
 * tcache 2`, `malloc_consolidate(): unaligned fastbin chunk detected`,
 * SIGSEGV, or `nghttp2_session.c:2402: find_stream_on_goaway_func:
 * Assertion`): in 13 of 17 runs of up to 150 rounds of 4 such clients,
 * after 1 to 74 rounds (`tests/rpc/h2_server_test.ts` has one).
 * Here a peer's frames change JavaScript state only, and a broken
 * connection ends its own streams.
 *
 * One {@link H2ServerConnection} per accepted socket: it reads the client's
 * frames, runs each request stream through a Connect universal handler
 * (or the plain GET routes), and writes the response with flow control.
 * Bounds: 100 concurrent streams, 16 KiB frames, 64 KiB header blocks and
 * header lists, a per-stream receive window given back as the handler
 * reads, and a limit on what the peer lets pile up unread in the socket.
 *
 * @module
 */
import type * as net from "node:net";
import type {
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { encodeHeaderBlock, type HeaderField, HpackDecoder } from "./hpack.ts";
import { plain, requestUrl } from "./http_routes.ts";
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
  type H2Frame,
  H2ProtocolError,
  headerFrames,
  PREFACE,
  PRIORITY,
  readSettings,
  readU31,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_MAX_FRAME_SIZE,
  SETTINGS_MAX_HEADER_LIST_SIZE,
  settingsPayload,
  u32,
  unpad,
} from "./h2_frames.ts";

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
/** Header blocks and decoded header lists at most. */
const MAX_HEADER_BYTES = 64 * 1024;
/**
 * Bytes written but not yet taken by the peer at most before the
 * connection is dropped: a peer that sends PINGs or requests and never
 * reads would otherwise grow the node's memory.
 */
const MAX_UNREAD_BYTES = 1024 * 1024;
/**
 * Streams a client may reset in {@link RESET_WINDOW_MS} at most: opening
 * and resetting streams at once makes the server start and stop handlers
 * at no cost to the client ("rapid reset").
 */
const MAX_RESETS = 200;
/** See {@link MAX_RESETS}. */
const RESET_WINDOW_MS = 10_000;
/** Above this, a response waits for the socket to drain. */
const HIGH_WATER = 256 * 1024;

interface Stream {
  readonly id: number;
  readonly abort: AbortController;
  /** Request body chunks not yet read by the handler, with their credit. */
  chunks: { data: Uint8Array; credit: number }[];
  bodyEnded: boolean;
  wake: (() => void) | undefined;
  credit: number;
  /** Bytes of body received, and window given back on top of the first. */
  received: number;
  given: number;
  sendWindow: number;
  /** The response has ended (END_STREAM sent) or the stream was reset. */
  closed: boolean;
}

/**
 * One HTTP/2 connection on the server side. Reads from the socket as soon
 * as it is made; the caller has read nothing (or put back what it peeked).
 */
export class H2ServerConnection {
  readonly #socket: net.Socket;
  readonly #options: H2ServerOptions;
  readonly #reader = new FrameReader();
  readonly #hpack = new HpackDecoder({ maxHeaderListSize: MAX_HEADER_BYTES });
  readonly #streams = new Map<number, Stream>();
  #prefaceLeft = PREFACE.length;
  #lastStream = 0;
  #headerBlock:
    | { stream: number; endStream: boolean; parts: Uint8Array[] }
    | undefined;
  #headerBytes = 0;
  #connSendWindow = DEFAULT_WINDOW;
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrame = 16_384;
  #connCredit = 0;
  #goingAway = false;
  #closed = false;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #resets = 0;
  #resetsSince = 0;
  readonly #drained = new Set<() => void>();
  readonly #windowWaiters = new Set<() => void>();

  /** Starts serving `socket`. */
  constructor(socket: net.Socket, options: H2ServerOptions) {
    this.#socket = socket;
    this.#options = options;
    socket.setNoDelay?.(true);
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("drain", () => this.#wakeAll(this.#drained));
    socket.on("close", () => this.#onClose());
    socket.on("error", () => {/* "close" follows */});
    this.#write(concat([
      frame(
        Frame.Settings,
        0,
        0,
        settingsPayload([
          [SETTINGS_MAX_CONCURRENT_STREAMS, options.maxStreams],
          [SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW],
          [SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_BYTES],
        ]),
      ),
      frame(Frame.WindowUpdate, 0, 0, u32(CONNECTION_WINDOW - DEFAULT_WINDOW)),
    ]));
    socket.resume();
  }

  /**
   * Closes politely: a GOAWAY, no new streams, and the socket closes once
   * the open streams have ended.
   */
  close(): void {
    if (this.#closed) return;
    if (!this.#goingAway) {
      this.#goingAway = true;
      this.#write(
        frame(Frame.Goaway, 0, 0, u32(this.#lastStream, H2Error.NoError)),
      );
    }
    this.#endIfIdle();
  }

  /** Closes at once; open streams are aborted. */
  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closed) return;
    try {
      if (this.#prefaceLeft > 0) {
        const n = Math.min(this.#prefaceLeft, chunk.length);
        const at = PREFACE.length - this.#prefaceLeft;
        for (let i = 0; i < n; i++) {
          if (chunk[i] !== PREFACE[at + i]) {
            throw new H2ProtocolError("not the HTTP/2 connection preface");
          }
        }
        this.#prefaceLeft -= n;
        chunk = chunk.subarray(n);
      }
      this.#reader.push(chunk);
      for (let f = this.#reader.next(); f; f = this.#reader.next()) {
        this.#onFrame(f);
        if (this.#closed) return;
      }
    } catch (e) {
      const code = e instanceof H2ProtocolError
        ? e.code
        : H2Error.InternalError;
      this.#fail(code);
    }
  }

  /** Ends the connection with a GOAWAY carrying `code`. */
  #fail(code: H2Error): void {
    if (this.#closed) return;
    this.#write(frame(Frame.Goaway, 0, 0, u32(this.#lastStream, code)));
    this.#endSocket();
    this.#onClose();
  }

  #onFrame(f: H2Frame): void {
    if (this.#headerBlock && f.type !== Frame.Continuation) {
      throw new H2ProtocolError("header block not continued");
    }
    switch (f.type) {
      case Frame.Data:
        return this.#onDataFrame(f);
      case Frame.Headers:
        return this.#onHeaders(f);
      case Frame.Continuation:
        return this.#onContinuation(f);
      case Frame.RstStream: {
        if (f.payload.length !== 4) {
          throw new H2ProtocolError("bad RST_STREAM", H2Error.FrameSizeError);
        }
        const now = performance.now();
        if (now - this.#resetsSince > RESET_WINDOW_MS) {
          this.#resetsSince = now;
          this.#resets = 0;
        }
        if (++this.#resets > MAX_RESETS) {
          throw new H2ProtocolError(
            "too many streams reset",
            H2Error.EnhanceYourCalm,
          );
        }
        const stream = this.#streams.get(f.stream);
        if (stream) {
          // Never answered with a reset of our own.
          stream.closed = true;
          this.#endStream(stream, "the client reset the stream");
        }
        return;
      }
      case Frame.Settings:
        if (f.stream !== 0) throw new H2ProtocolError("SETTINGS on a stream");
        if (f.flags & ACK) return;
        this.#onSettings(f.payload);
        this.#write(frame(Frame.Settings, ACK, 0));
        return;
      case Frame.Ping:
        if (f.payload.length !== 8) {
          throw new H2ProtocolError("bad PING", H2Error.FrameSizeError);
        }
        if (!(f.flags & ACK)) this.#write(frame(Frame.Ping, ACK, 0, f.payload));
        return;
      case Frame.Goaway:
        // The client opens no more streams; the open ones go on.
        this.#goingAway = true;
        this.#endIfIdle();
        return;
      case Frame.WindowUpdate: {
        if (f.payload.length !== 4) {
          throw new H2ProtocolError(
            "bad WINDOW_UPDATE",
            H2Error.FrameSizeError,
          );
        }
        const increment = readU31(f.payload);
        if (f.stream === 0) this.#connSendWindow += increment;
        else {
          const stream = this.#streams.get(f.stream);
          if (stream) stream.sendWindow += increment;
        }
        this.#wakeAll(this.#windowWaiters);
        return;
      }
      case Frame.PushPromise:
        throw new H2ProtocolError("PUSH_PROMISE from a client");
      default:
        // PRIORITY and unknown types are ignored (RFC 9113 §5.5).
        return;
    }
  }

  #onSettings(payload: Uint8Array): void {
    for (const [id, value] of readSettings(payload)) {
      if (id === SETTINGS_INITIAL_WINDOW_SIZE) {
        if (value > 0x7fffffff) {
          throw new H2ProtocolError(
            "window too large",
            H2Error.FlowControlError,
          );
        }
        const delta = value - this.#peerInitialWindow;
        this.#peerInitialWindow = value;
        for (const s of this.#streams.values()) s.sendWindow += delta;
        this.#wakeAll(this.#windowWaiters);
      } else if (id === SETTINGS_MAX_FRAME_SIZE) {
        this.#peerMaxFrame = Math.max(16_384, Math.min(value, 1 << 24));
      }
    }
  }

  #onDataFrame(f: H2Frame): void {
    const stream = this.#streams.get(f.stream);
    if (!stream || stream.bodyEnded) {
      if (f.stream === 0 || f.stream > this.#lastStream) {
        throw new H2ProtocolError("DATA on an idle stream");
      }
      // A stream already over: its bytes still count on the connection.
      this.#giveBack(undefined, f.payload.length);
      return;
    }
    const data = unpad(f.flags, f.payload);
    stream.received += f.payload.length;
    if (stream.received > STREAM_WINDOW + stream.given) {
      throw new H2ProtocolError(
        "the client sent more than its window",
        H2Error.FlowControlError,
      );
    }
    stream.chunks.push({ data, credit: f.payload.length });
    if (f.flags & END_STREAM) stream.bodyEnded = true;
    this.#poke(stream);
  }

  #onHeaders(f: H2Frame): void {
    const id = f.stream;
    if (id === 0 || id % 2 === 0) {
      throw new H2ProtocolError(`HEADERS on stream ${id}`);
    }
    let fragment = unpad(f.flags, f.payload);
    if (f.flags & PRIORITY) fragment = fragment.subarray(5);
    this.#headerBlock = {
      stream: id,
      endStream: (f.flags & END_STREAM) !== 0,
      parts: [],
    };
    this.#headerBytes = 0;
    this.#addFragment(fragment, f.flags);
  }

  #onContinuation(f: H2Frame): void {
    if (!this.#headerBlock || this.#headerBlock.stream !== f.stream) {
      throw new H2ProtocolError("unexpected CONTINUATION");
    }
    this.#addFragment(f.payload, f.flags);
  }

  #addFragment(fragment: Uint8Array, flags: number): void {
    const block = this.#headerBlock!;
    this.#headerBytes += fragment.length;
    if (this.#headerBytes > MAX_HEADER_BYTES) {
      throw new H2ProtocolError(
        "header block too large",
        H2Error.EnhanceYourCalm,
      );
    }
    block.parts.push(fragment);
    if (!(flags & END_HEADERS)) return;
    this.#headerBlock = undefined;
    let fields: HeaderField[];
    try {
      fields = this.#hpack.decode(concat(block.parts));
    } catch (e) {
      throw new H2ProtocolError(
        `bad header block: ${(e as Error).message}`,
        H2Error.CompressionError,
      );
    }
    const open = this.#streams.get(block.stream);
    if (open) {
      // Trailers of a request body: nothing in them is used.
      if (!block.endStream) throw new H2ProtocolError("trailers without end");
      open.bodyEnded = true;
      this.#poke(open);
      return;
    }
    if (block.stream <= this.#lastStream) {
      throw new H2ProtocolError(`stream ${block.stream} reused`);
    }
    this.#lastStream = block.stream;
    if (this.#goingAway || this.#streams.size >= this.#options.maxStreams) {
      this.#write(
        frame(Frame.RstStream, 0, block.stream, u32(H2Error.RefusedStream)),
      );
      return;
    }
    this.#open(block.stream, fields, block.endStream);
  }

  #open(id: number, fields: HeaderField[], endStream: boolean): void {
    const stream: Stream = {
      id,
      abort: new AbortController(),
      chunks: [],
      bodyEnded: endStream,
      wake: undefined,
      credit: 0,
      received: 0,
      given: 0,
      sendWindow: this.#peerInitialWindow,
      closed: false,
    };
    this.#streams.set(id, stream);
    this.#options.onStreamStart?.();
    void this.#serve(stream, fields);
  }

  async #serve(stream: Stream, fields: HeaderField[]): Promise<void> {
    try {
      const req = requestOf(fields);
      if (typeof req === "string") {
        await this.#respond(stream, plain(400, `bad request: ${req}\n`));
        return;
      }
      const { url, method, header } = req;
      const res = await this.#options.handle({
        httpVersion: "2.0",
        url,
        method,
        header,
        body: this.#body(stream),
        signal: stream.abort.signal,
      });
      await this.#respond(stream, res);
    } catch {
      // A handler failing outright (Connect turns RPC errors into
      // responses): the stream is reset.
      if (!stream.closed && !this.#closed) {
        this.#write(
          frame(Frame.RstStream, 0, stream.id, u32(H2Error.InternalError)),
        );
        stream.closed = true;
      }
    } finally {
      this.#endStream(stream, "the stream ended");
    }
  }

  /** The request body; reading it gives the receive windows back. */
  async *#body(stream: Stream): AsyncGenerator<Uint8Array> {
    for (;;) {
      const chunk = stream.chunks.shift();
      if (chunk) {
        this.#giveBack(stream, chunk.credit);
        if (chunk.data.length > 0) yield chunk.data;
        continue;
      }
      // A reset stream fails its body instead of ending it.
      if (stream.abort.signal.aborted) throw stream.abort.signal.reason;
      if (stream.bodyEnded) return;
      await new Promise<void>((r) => stream.wake = r);
    }
  }

  #giveBack(stream: Stream | undefined, bytes: number): void {
    this.#connCredit += bytes;
    if (this.#connCredit >= CONNECTION_WINDOW / 4) {
      this.#write(frame(Frame.WindowUpdate, 0, 0, u32(this.#connCredit)));
      this.#connCredit = 0;
    }
    if (!stream || stream.bodyEnded) return;
    stream.credit += bytes;
    if (stream.credit >= STREAM_WINDOW / 4) {
      stream.given += stream.credit;
      this.#write(frame(Frame.WindowUpdate, 0, stream.id, u32(stream.credit)));
      stream.credit = 0;
    }
  }

  async #respond(stream: Stream, res: UniversalServerResponse): Promise<void> {
    const fields: HeaderField[] = [[":status", String(res.status)]];
    res.header?.forEach((value, name) => {
      if (!CONNECTION_HEADERS.has(name)) fields.push([name, value]);
    });
    const trailer: HeaderField[] = [];
    res.trailer?.forEach((value, name) => trailer.push([name, value]));
    const hasBody = res.body !== undefined;
    if (!hasBody && trailer.length === 0) {
      this.#sendHeaders(stream, fields, true);
      return;
    }
    this.#sendHeaders(stream, fields, false);
    if (res.body) {
      for await (const chunk of res.body) {
        if (!await this.#sendData(stream, chunk)) return;
      }
    }
    if (stream.closed || this.#closed) return;
    // The trailers may be filled while the body is produced (gRPC).
    const finalTrailer: HeaderField[] = [];
    res.trailer?.forEach((value, name) => finalTrailer.push([name, value]));
    if (finalTrailer.length > 0) this.#sendHeaders(stream, finalTrailer, true);
    else this.#write(frame(Frame.Data, END_STREAM, stream.id));
    stream.closed = true;
  }

  #sendHeaders(stream: Stream, fields: HeaderField[], end: boolean): void {
    if (stream.closed || this.#closed) return;
    const block = encodeHeaderBlock(fields);
    this.#write(headerFrames(stream.id, block, this.#peerMaxFrame, end));
    if (end) stream.closed = true;
  }

  /** Sends `data` within the windows; false once the stream is gone. */
  async #sendData(stream: Stream, data: Uint8Array): Promise<boolean> {
    let off = 0;
    while (off < data.length) {
      if (stream.closed || this.#closed) return false;
      const room = Math.min(
        stream.sendWindow,
        this.#connSendWindow,
        this.#peerMaxFrame,
      );
      if (room <= 0) {
        await new Promise<void>((r) => this.#windowWaiters.add(r));
        continue;
      }
      const part = data.subarray(off, off + room);
      stream.sendWindow -= part.length;
      this.#connSendWindow -= part.length;
      off += part.length;
      this.#write(frame(Frame.Data, 0, stream.id, part));
      if (this.#socket.writableLength > HIGH_WATER) {
        await new Promise<void>((r) => this.#drained.add(r));
      }
    }
    return !stream.closed && !this.#closed;
  }

  #endStream(stream: Stream, why: string): void {
    if (this.#streams.get(stream.id) !== stream) return;
    this.#streams.delete(stream.id);
    // What the handler did not read still counts on the connection.
    let unread = 0;
    for (const chunk of stream.chunks) unread += chunk.credit;
    stream.chunks = [];
    stream.bodyEnded = true;
    if (unread > 0) this.#giveBack(undefined, unread);
    if (!stream.closed && !this.#closed) {
      this.#write(frame(Frame.RstStream, 0, stream.id, u32(H2Error.Cancel)));
    }
    stream.closed = true;
    stream.abort.abort(new Error(why));
    this.#poke(stream);
    this.#wakeAll(this.#windowWaiters);
    this.#options.onStreamEnd?.();
    this.#endIfIdle();
  }

  #endIfIdle(): void {
    if (this.#goingAway && this.#streams.size === 0 && !this.#closed) {
      this.#endSocket();
    }
  }

  // Ends our side; a peer that does not close its side is not waited for.
  #endSocket(): void {
    this.#socket.end();
    this.#lingerTimer ??= setTimeout(() => this.#socket.destroy(), 1000);
  }

  #onClose(): void {
    if (this.#socket.destroyed) clearTimeout(this.#lingerTimer);
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of [...this.#streams.values()]) {
      this.#endStream(stream, "the connection closed");
    }
    this.#wakeAll(this.#drained);
    this.#wakeAll(this.#windowWaiters);
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

  #poke(stream: Stream): void {
    const wake = stream.wake;
    stream.wake = undefined;
    wake?.();
  }

  #wakeAll(waiters: Set<() => void>): void {
    const all = [...waiters];
    waiters.clear();
    for (const w of all) w();
  }
}

/**
 * The URL, method and header fields of a request's header block, or what
 * is wrong with it (a bad `:path` or `:authority`, an invalid field).
 */
function requestOf(
  fields: HeaderField[],
): { url: string; method: string; header: Headers } | string {
  const pseudo = new Map<string, string>();
  const header = new Headers();
  for (const [name, value] of fields) {
    if (name.startsWith(":")) pseudo.set(name, value);
    else {
      try {
        header.append(name, value);
      } catch {
        return `invalid header field ${JSON.stringify(name.slice(0, 64))}`;
      }
    }
  }
  const path = pseudo.get(":path") ?? "";
  const authority = pseudo.get(":authority") ?? header.get("host") ??
    "localhost";
  const url = requestUrl(authority, path);
  if (url === undefined) return ":authority or :path";
  return { url, method: pseudo.get(":method") ?? "", header };
}
