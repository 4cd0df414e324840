/**
 * The protocol core of one HTTP/2 connection (RFC 9113), shared by bcn's
 * server (`h2_server.ts`) and client (`h2c_client.ts`): frames, settings,
 * PING, flow-control windows, header blocks (bounded in frames and bytes)
 * and stream states, every frame out of place answered with the error RFC
 * 9113 names. What a request or a response means is left to its owner
 * ({@link H2Events}). Frames written while a read is handled go out in one
 * socket write, so a flood of PINGs costs one write per read.
 *
 * @module
 */
import { type HeaderField, HpackDecoder, HpackError } from "./hpack.ts";
import { encodeHeaderBlock } from "./hpack.ts";
import {
  ACK,
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
  MAX_FRAME_SIZE,
  PRIORITY,
  readSettings,
  readU31,
  readU32,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_MAX_FRAME_SIZE,
  SETTINGS_MAX_HEADER_LIST_SIZE,
  settingsPayload,
  u32,
  unpad,
} from "./h2_frames.ts";
import { concatBytes } from "../util/bytes.ts";
import { SETTINGS_ENTRIES_PER_POINT } from "./h2_limits.ts";

/** The largest flow-control window (RFC 9113 §6.9.1). */
export const MAX_WINDOW = 0x7fffffff;

/**
 * Streams reset by this side that are remembered: frames the peer sent
 * before it saw the reset are ignored on them, not taken for errors.
 */
const REMEMBERED_RESETS = 1024;

/** Where a stream is in its life (RFC 9113 §5.1); closed streams are gone. */
export type StreamState = "open" | "half-closed-local" | "half-closed-remote";

/** One stream of a connection as the core keeps it. */
export interface H2Stream {
  /** The stream identifier. */
  readonly id: number;
  /** Its state; see {@link StreamState}. */
  state: StreamState;
  /** What this side may still send on it (may go negative, §6.9.2). */
  sendWindow: number;
  /** Flow-controlled bytes received and not yet given back. */
  received: number;
  /** Bytes the owner has read and that are not yet given back. */
  credit: number;
}

/** How a stream left the connection. */
export interface StreamEnd {
  /** Undefined for a stream both sides ended; else the reset's code. */
  code?: H2Error;
  /** Whether the peer reset it. */
  byPeer: boolean;
}

/** What the owner of a connection is told. */
export interface H2Events {
  /**
   * A peer's new stream (a request, on a server): answer undefined to
   * open it, or the error code to refuse it with.
   */
  accept?(
    id: number,
    fields: HeaderField[],
    endStream: boolean,
    tooLarge: boolean,
  ): H2Error | undefined;
  /** The stream was opened by {@link H2Events.accept}. */
  opened?(stream: H2Stream): void;
  /**
   * A header block on an open stream: a response, or trailers. When its
   * list was larger than the bound, `fields` is empty and `tooLarge` true.
   */
  headers(
    stream: H2Stream,
    fields: HeaderField[],
    endStream: boolean,
    tooLarge: boolean,
  ): void;
  /**
   * Data on a stream; `flow` bytes (the frame's payload, padding too)
   * count against the windows until the owner reports them consumed.
   */
  data(
    stream: H2Stream,
    data: Uint8Array,
    endStream: boolean,
    flow: number,
  ): void;
  /** The stream left the connection (see {@link StreamEnd}). */
  closed(stream: H2Stream, end: StreamEnd): void;
  /** The peer's GOAWAY. */
  goaway(lastStream: number, code: number): void;
  /** A send window grew: blocked writers may go on. */
  windowOpened(): void;
  /**
   * The connection failed (a GOAWAY with `error.code` is already queued);
   * every stream has been closed. The owner closes the socket.
   */
  failed(error: H2ProtocolError): void;
}

/** Options of an {@link H2Connection}. */
export interface H2ConnectionOptions {
  /** Which side this is: it decides which stream identifiers are the peer's. */
  role: "server" | "client";
  /** Writes bytes to the socket. */
  write(bytes: Uint8Array): void;
  /** Told of every stream and connection event. */
  events: H2Events;
  /** SETTINGS_MAX_CONCURRENT_STREAMS this side announces (server). */
  maxConcurrentStreams?: number;
  /** This side's receive window for each stream. */
  streamWindow: number;
  /** This side's receive window for the connection. */
  connectionWindow: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE this side announces and enforces. */
  maxHeaderList: number;
  /** Encoded header block bytes at most (HEADERS and CONTINUATIONs). */
  maxHeaderBlock: number;
  /** Frames of one header block at most. */
  maxHeaderFrames: number;
  /**
   * Charges abuse points for frames that cost work without moving a
   * request forward; false ends the connection with ENHANCE_YOUR_CALM.
   */
  spend?(points: number): boolean;
}

interface HeaderBlock {
  stream: number;
  endStream: boolean;
  parts: Uint8Array[];
  bytes: number;
  frames: number;
  selfDependent: boolean;
}

/** A stream error: the stream is reset with `code`, the connection lives. */
class StreamError extends Error {
  constructor(
    readonly stream: number,
    readonly code: H2Error,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One HTTP/2 connection's protocol state. Feed it what the socket reads
 * ({@link H2Connection.receive}); send through its methods.
 *
 * @example
 * ```ts
 * import { H2Connection } from "./h2_connection.ts";
 * const sent: Uint8Array[] = [];
 * const conn = new H2Connection({
 *   role: "client",
 *   write: (b) => sent.push(b),
 *   events: {
 *     headers: () => {}, data: () => {}, closed: () => {}, goaway: () => {},
 *     windowOpened: () => {}, failed: () => {},
 *   },
 *   streamWindow: 65_535, connectionWindow: 65_535,
 *   maxHeaderList: 16_384, maxHeaderBlock: 16_384, maxHeaderFrames: 16,
 * });
 * conn.start();
 * console.log(sent.length); // 1: the SETTINGS frame
 * ```
 */
export class H2Connection {
  readonly #o: H2ConnectionOptions;
  readonly #events: H2Events;
  readonly #reader = new FrameReader();
  readonly #hpack: HpackDecoder;
  readonly #streams = new Map<number, H2Stream>();
  readonly #resets = new Set<number>();
  #block: HeaderBlock | undefined;
  #lastPeerStream = 0;
  #lastLocalStream = 0;
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrame = MAX_FRAME_SIZE;
  #connSendWindow = DEFAULT_WINDOW;
  #connReceived = 0;
  #connCredit = 0;
  /** Whether this side sent DATA since the peer's last PING. */
  #dataSincePing = true;
  #out: Uint8Array[] = [];
  #reading = false;
  #flushQueued = false;
  #failed: H2ProtocolError | undefined;
  #goingAway = false;

  /** A connection; nothing is sent until {@link H2Connection.start}. */
  constructor(options: H2ConnectionOptions) {
    this.#o = options;
    this.#events = options.events;
    this.#hpack = new HpackDecoder({
      maxHeaderListSize: options.maxHeaderList,
    });
  }

  /** Streams open now (any state but closed). */
  get streams(): ReadonlyMap<number, H2Stream> {
    return this.#streams;
  }

  /** The highest stream the peer opened. */
  get lastPeerStream(): number {
    return this.#lastPeerStream;
  }

  /** Whether the connection failed (see {@link H2Events.failed}). */
  get failed(): boolean {
    return this.#failed !== undefined;
  }

  /** The largest DATA payload the peer takes. */
  get peerMaxFrame(): number {
    return this.#peerMaxFrame;
  }

  /** Sends this side's SETTINGS and opens the connection window. */
  start(prefix: Uint8Array = new Uint8Array(0)): void {
    const o = this.#o;
    const settings: [number, number][] = [
      [SETTINGS_INITIAL_WINDOW_SIZE, o.streamWindow],
      [SETTINGS_MAX_HEADER_LIST_SIZE, o.maxHeaderList],
    ];
    if (o.role === "client") settings.unshift([SETTINGS_ENABLE_PUSH, 0]);
    if (o.maxConcurrentStreams !== undefined) {
      settings.unshift([
        SETTINGS_MAX_CONCURRENT_STREAMS,
        o.maxConcurrentStreams,
      ]);
    }
    this.#send(
      concatBytes([
        prefix,
        frame(Frame.Settings, 0, 0, settingsPayload(settings)),
      ]),
    );
    if (o.connectionWindow > DEFAULT_WINDOW) {
      this.#send(
        frame(
          Frame.WindowUpdate,
          0,
          0,
          u32(o.connectionWindow - DEFAULT_WINDOW),
        ),
      );
    }
  }

  /** Handles bytes read from the socket. */
  receive(bytes: Uint8Array): void {
    if (this.#failed) return;
    this.#reading = true;
    try {
      this.#reader.push(bytes);
      for (let f = this.#reader.next(); f; f = this.#reader.next()) {
        try {
          this.#onFrame(f);
        } catch (e) {
          if (!(e instanceof StreamError)) throw e;
          this.reset(e.stream, e.code);
        }
        if (this.#failed) break;
      }
    } catch (e) {
      this.fail(
        e instanceof H2ProtocolError
          ? e
          : new H2ProtocolError(String(e), H2Error.InternalError),
      );
    } finally {
      this.#reading = false;
      this.flush();
    }
  }

  /**
   * Ends the connection with a GOAWAY carrying `error.code`; every stream
   * is closed and {@link H2Events.failed} is told.
   */
  fail(error: H2ProtocolError): void {
    if (this.#failed) return;
    this.#failed = error;
    this.#send(
      frame(Frame.Goaway, 0, 0, u32(this.#lastPeerStream, error.code)),
    );
    this.flush();
    for (const stream of [...this.#streams.values()]) {
      this.#close(stream, { code: H2Error.Cancel, byPeer: false });
    }
    this.#events.failed(error);
  }

  /** A polite GOAWAY (NO_ERROR): the peer opens no new streams. */
  goaway(): void {
    if (this.#goingAway || this.#failed) return;
    this.#goingAway = true;
    this.#send(
      frame(Frame.Goaway, 0, 0, u32(this.#lastPeerStream, H2Error.NoError)),
    );
    if (!this.#reading) this.flush();
  }

  /** Whether this side said GOAWAY. */
  get goingAway(): boolean {
    return this.#goingAway;
  }

  /** Opens a stream of this side with its header block (client). */
  open(fields: HeaderField[], endStream: boolean): H2Stream {
    const id = this.#lastLocalStream === 0
      ? (this.#o.role === "client" ? 1 : 2)
      : this.#lastLocalStream + 2;
    this.#lastLocalStream = id;
    const stream = this.#newStream(
      id,
      endStream ? "half-closed-local" : "open",
    );
    // Before the peer's SETTINGS arrive, frames of the protocol's minimum.
    this.#send(
      headerFrames(id, encodeHeaderBlock(fields), MAX_FRAME_SIZE, endStream),
    );
    return stream;
  }

  /** Sends a header block on `stream` (a response, or trailers). */
  sendHeaders(
    stream: H2Stream,
    fields: HeaderField[],
    endStream: boolean,
  ): void {
    if (!this.#live(stream)) return;
    this.#send(
      headerFrames(
        stream.id,
        encodeHeaderBlock(fields),
        this.#peerMaxFrame,
        endStream,
      ),
    );
    if (endStream) this.#localEnd(stream);
  }

  /** How many DATA bytes `stream` may send now. */
  room(stream: H2Stream): number {
    if (!this.#live(stream)) return 0;
    return Math.max(0, Math.min(stream.sendWindow, this.#connSendWindow));
  }

  /**
   * Sends `data` (at most {@link H2Connection.room} bytes, split into
   * frames the peer takes) and, with `endStream`, ends this side.
   */
  sendData(stream: H2Stream, data: Uint8Array, endStream: boolean): void {
    if (!this.#live(stream)) return;
    stream.sendWindow -= data.length;
    this.#connSendWindow -= data.length;
    if (data.length > 0) this.#dataSincePing = true;
    const max = this.#peerMaxFrame;
    for (
      let off = 0;
      off < data.length || (off === 0 && endStream);
      off += max
    ) {
      const last = off + max >= data.length;
      this.#send(frame(
        Frame.Data,
        last && endStream ? END_STREAM : 0,
        stream.id,
        data.subarray(off, off + max),
      ));
      if (last) break;
    }
    if (endStream) this.#localEnd(stream);
  }

  /** Resets `stream` (by id) with `code`; it is gone afterwards. */
  reset(id: number, code: H2Error): void {
    if (this.#failed) return;
    this.#send(frame(Frame.RstStream, 0, id, u32(code)));
    this.#remember(id);
    const stream = this.#streams.get(id);
    if (stream) this.#close(stream, { code, byPeer: false });
  }

  /**
   * The owner read `bytes` of `stream`'s data (or of a stream gone, when
   * undefined): the windows are given back in quarters.
   */
  consumed(stream: H2Stream | undefined, bytes: number): void {
    if (this.#failed || bytes === 0) return;
    if (stream) {
      // A stream gone gave back what it held when it closed.
      if (this.#streams.get(stream.id) !== stream) return;
      stream.received -= bytes;
      if (stream.state !== "half-closed-remote") {
        stream.credit += bytes;
        if (stream.credit >= this.#o.streamWindow / 4) {
          this.#send(
            frame(Frame.WindowUpdate, 0, stream.id, u32(stream.credit)),
          );
          stream.credit = 0;
        }
      }
    }
    this.#connReceived -= bytes;
    this.#connCredit += bytes;
    if (this.#connCredit >= this.#o.connectionWindow / 4) {
      this.#send(frame(Frame.WindowUpdate, 0, 0, u32(this.#connCredit)));
      this.#connCredit = 0;
    }
  }

  #live(stream: H2Stream): boolean {
    return !this.#failed && this.#streams.get(stream.id) === stream &&
      stream.state !== "half-closed-local";
  }

  #newStream(id: number, state: StreamState): H2Stream {
    const stream: H2Stream = {
      id,
      state,
      sendWindow: this.#peerInitialWindow,
      received: 0,
      credit: 0,
    };
    this.#streams.set(id, stream);
    return stream;
  }

  #localEnd(stream: H2Stream): void {
    if (stream.state === "half-closed-remote") {
      this.#close(stream, { byPeer: false });
    } else stream.state = "half-closed-local";
  }

  #remoteEnd(stream: H2Stream): void {
    if (stream.state === "half-closed-local") {
      this.#close(stream, { byPeer: false });
    } else stream.state = "half-closed-remote";
  }

  #close(stream: H2Stream, end: StreamEnd): void {
    if (this.#streams.get(stream.id) !== stream) return;
    this.#streams.delete(stream.id);
    // What arrived and was not read still counts on the connection.
    if (stream.received > 0 && !this.#failed) {
      const unread = stream.received;
      stream.received = 0;
      this.consumed(undefined, unread);
    }
    this.#events.closed(stream, end);
  }

  #remember(id: number): void {
    this.#resets.add(id);
    if (this.#resets.size > REMEMBERED_RESETS) {
      this.#resets.delete(this.#resets.values().next().value!);
    }
  }

  /** Whether `id` is a stream the peer may open and has not yet. */
  #idle(id: number): boolean {
    const peers = (id % 2 === 1) === (this.#o.role === "server");
    return peers ? id > this.#lastPeerStream : id > this.#lastLocalStream;
  }

  #abuse(points: number, what: string): void {
    if (this.#o.spend && !this.#o.spend(points)) {
      throw new H2ProtocolError(`too many ${what}`, H2Error.EnhanceYourCalm);
    }
  }

  #onFrame(f: H2Frame): void {
    if (this.#block && f.type !== Frame.Continuation) {
      throw new H2ProtocolError("header block not continued");
    }
    switch (f.type) {
      case Frame.Data:
        return this.#onData(f);
      case Frame.Headers:
        return this.#onHeaders(f);
      case Frame.Continuation:
        return this.#onContinuation(f);
      case Frame.Priority:
        return this.#onPriority(f);
      case Frame.RstStream:
        return this.#onReset(f);
      case Frame.Settings:
        return this.#onSettings(f);
      case Frame.Ping:
        return this.#onPing(f);
      case Frame.Goaway:
        if (f.stream !== 0) throw new H2ProtocolError("GOAWAY on a stream");
        if (f.payload.length < 8) {
          throw new H2ProtocolError("short GOAWAY", H2Error.FrameSizeError);
        }
        this.#events.goaway(readU31(f.payload), readU32(f.payload, 4));
        return;
      case Frame.WindowUpdate:
        return this.#onWindowUpdate(f);
      case Frame.PushPromise:
        throw new H2ProtocolError("PUSH_PROMISE, though push is off");
      default:
        // Unknown frame types are ignored (RFC 9113 §5.5).
        return;
    }
  }

  #onData(f: H2Frame): void {
    if (f.stream === 0) throw new H2ProtocolError("DATA on stream 0");
    if (this.#idle(f.stream)) {
      throw new H2ProtocolError(`DATA on idle stream ${f.stream}`);
    }
    const data = unpad(f.flags, f.payload);
    // Flow-controlled bytes count on the connection whatever the stream.
    this.#connReceived += f.payload.length;
    if (this.#connReceived > this.#o.connectionWindow) {
      throw new H2ProtocolError(
        "the peer sent more than the connection window",
        H2Error.FlowControlError,
      );
    }
    const end = (f.flags & END_STREAM) !== 0;
    if (f.payload.length === 0 && !end) this.#abuse(1, "empty DATA frames");
    const stream = this.#streams.get(f.stream);
    if (!stream) {
      this.consumed(undefined, f.payload.length);
      if (this.#resets.has(f.stream)) return;
      throw new H2ProtocolError(
        `DATA on closed stream ${f.stream}`,
        H2Error.StreamClosed,
      );
    }
    if (stream.state === "half-closed-remote") {
      this.consumed(undefined, f.payload.length);
      throw new StreamError(
        f.stream,
        H2Error.StreamClosed,
        "DATA after its end",
      );
    }
    stream.received += f.payload.length;
    if (stream.received > this.#o.streamWindow) {
      throw new StreamError(
        f.stream,
        H2Error.FlowControlError,
        "the peer sent more than the stream window",
      );
    }
    this.#events.data(stream, data, end, f.payload.length);
    // The owner may have reset the stream meanwhile.
    if (end && this.#streams.get(f.stream) === stream) {
      // Its window is not given back any more: what was unread is.
      this.#remoteEnd(stream);
    }
  }

  #onHeaders(f: H2Frame): void {
    if (f.stream === 0) throw new H2ProtocolError("HEADERS on stream 0");
    let fragment = unpad(f.flags, f.payload);
    let selfDependent = false;
    if (f.flags & PRIORITY) {
      if (fragment.length < 5) {
        throw new H2ProtocolError("short HEADERS", H2Error.FrameSizeError);
      }
      selfDependent = readU31(fragment) === f.stream;
      fragment = fragment.subarray(5);
    }
    this.#block = {
      stream: f.stream,
      endStream: (f.flags & END_STREAM) !== 0,
      parts: [],
      bytes: 0,
      frames: 0,
      selfDependent,
    };
    this.#addFragment(fragment, f.flags);
  }

  #onContinuation(f: H2Frame): void {
    if (!this.#block || this.#block.stream !== f.stream) {
      throw new H2ProtocolError(`unexpected CONTINUATION on ${f.stream}`);
    }
    this.#addFragment(f.payload, f.flags);
  }

  #addFragment(fragment: Uint8Array, flags: number): void {
    const block = this.#block!;
    const ends = (flags & END_HEADERS) !== 0;
    if (fragment.length === 0 && !ends) {
      this.#abuse(1, "empty header fragments");
    }
    block.frames++;
    block.bytes += fragment.length;
    if (block.frames > this.#o.maxHeaderFrames) {
      throw new H2ProtocolError(
        `a header block of more than ${this.#o.maxHeaderFrames} frames`,
        H2Error.EnhanceYourCalm,
      );
    }
    if (block.bytes > this.#o.maxHeaderBlock) {
      throw new H2ProtocolError(
        `a header block larger than ${this.#o.maxHeaderBlock} bytes`,
        H2Error.EnhanceYourCalm,
      );
    }
    block.parts.push(fragment);
    if (!ends) return;
    this.#block = undefined;
    let decoded: { fields: HeaderField[]; tooLarge: boolean };
    try {
      decoded = this.#hpack.decodeList(concatBytes(block.parts));
    } catch (e) {
      if (!(e instanceof HpackError)) throw e;
      throw new H2ProtocolError(
        `bad header block: ${e.message}`,
        H2Error.CompressionError,
      );
    }
    this.#onHeaderBlock(block, decoded.fields, decoded.tooLarge);
  }

  #onHeaderBlock(
    block: HeaderBlock,
    fields: HeaderField[],
    tooLarge: boolean,
  ): void {
    const id = block.stream;
    const stream = this.#streams.get(id);
    if (stream) {
      if (stream.state === "half-closed-remote") {
        throw new StreamError(
          id,
          H2Error.StreamClosed,
          "HEADERS after its end",
        );
      }
      if (block.selfDependent) {
        throw new StreamError(id, H2Error.ProtocolError, "depends on itself");
      }
      this.#events.headers(stream, fields, block.endStream, tooLarge);
      if (block.endStream && this.#streams.get(id) === stream) {
        this.#remoteEnd(stream);
      }
      return;
    }
    const theirs = (id % 2 === 1) === (this.#o.role === "server");
    if (!theirs) {
      if (!this.#idle(id) && this.#resets.has(id)) return;
      throw new H2ProtocolError(`HEADERS on stream ${id}`);
    }
    if (id <= this.#lastPeerStream) {
      if (this.#resets.has(id)) return;
      throw new H2ProtocolError(
        `HEADERS on closed stream ${id}`,
        H2Error.StreamClosed,
      );
    }
    this.#lastPeerStream = id;
    if (block.selfDependent) {
      throw new StreamError(id, H2Error.ProtocolError, "depends on itself");
    }
    const accept = this.#events.accept;
    const full = this.#streams.size >= (this.#o.maxConcurrentStreams ?? 0);
    // Only streams past the bound this side announced are the peer's fault;
    // one sent before our GOAWAY reached it is not (RFC 9113 §6.8).
    if (full) this.#abuse(1, "streams past SETTINGS_MAX_CONCURRENT_STREAMS");
    const refusal = this.#goingAway || full || !accept
      ? H2Error.RefusedStream
      : accept(id, fields, block.endStream, tooLarge);
    if (refusal !== undefined) {
      this.reset(id, refusal);
      return;
    }
    const opened = this.#newStream(
      id,
      block.endStream ? "half-closed-remote" : "open",
    );
    this.#events.opened?.(opened);
  }

  #onPriority(f: H2Frame): void {
    if (f.stream === 0) throw new H2ProtocolError("PRIORITY on stream 0");
    if (f.payload.length !== 5) {
      throw new StreamError(f.stream, H2Error.FrameSizeError, "bad PRIORITY");
    }
    this.#abuse(1, "PRIORITY frames");
    if (readU31(f.payload) === f.stream) {
      throw new StreamError(
        f.stream,
        H2Error.ProtocolError,
        "depends on itself",
      );
    }
  }

  #onReset(f: H2Frame): void {
    if (f.stream === 0) throw new H2ProtocolError("RST_STREAM on stream 0");
    if (f.payload.length !== 4) {
      throw new H2ProtocolError("bad RST_STREAM", H2Error.FrameSizeError);
    }
    if (this.#idle(f.stream)) {
      throw new H2ProtocolError(`RST_STREAM on idle stream ${f.stream}`);
    }
    this.#abuse(1, "streams reset");
    const stream = this.#streams.get(f.stream);
    if (stream) this.#close(stream, { code: readU32(f.payload), byPeer: true });
  }

  #onSettings(f: H2Frame): void {
    if (f.stream !== 0) throw new H2ProtocolError("SETTINGS on a stream");
    if (f.flags & ACK) {
      if (f.payload.length !== 0) {
        throw new H2ProtocolError(
          "SETTINGS ACK with a payload",
          H2Error.FrameSizeError,
        );
      }
      return;
    }
    const entries = f.payload.length / 6;
    this.#abuse(
      1 + Math.floor(entries / SETTINGS_ENTRIES_PER_POINT),
      "SETTINGS frames",
    );
    // Checked entry by entry; the window change is applied once, with the
    // last value, so a frame of thousands of entries walks the streams once.
    let initialWindow: number | undefined;
    for (const [id, value] of readSettings(f.payload)) {
      switch (id) {
        case SETTINGS_ENABLE_PUSH:
          if (value > 1) throw new H2ProtocolError(`ENABLE_PUSH of ${value}`);
          break;
        case SETTINGS_INITIAL_WINDOW_SIZE:
          if (value > MAX_WINDOW) {
            throw new H2ProtocolError(
              `INITIAL_WINDOW_SIZE of ${value}`,
              H2Error.FlowControlError,
            );
          }
          initialWindow = value;
          break;
        case SETTINGS_MAX_FRAME_SIZE:
          if (value < MAX_FRAME_SIZE || value > 0xffffff) {
            throw new H2ProtocolError(`MAX_FRAME_SIZE of ${value}`);
          }
          this.#peerMaxFrame = value;
          break;
      }
    }
    if (initialWindow !== undefined) {
      const delta = initialWindow - this.#peerInitialWindow;
      this.#peerInitialWindow = initialWindow;
      for (const s of this.#streams.values()) {
        s.sendWindow += delta;
        if (s.sendWindow > MAX_WINDOW) {
          throw new H2ProtocolError(
            "a stream window above 2^31-1",
            H2Error.FlowControlError,
          );
        }
      }
    }
    this.#send(frame(Frame.Settings, ACK, 0));
    this.#events.windowOpened();
  }

  #onPing(f: H2Frame): void {
    if (f.stream !== 0) throw new H2ProtocolError("PING on a stream");
    if (f.payload.length !== 8) {
      throw new H2ProtocolError("bad PING", H2Error.FrameSizeError);
    }
    if (f.flags & ACK) return;
    // A PING after data this side sent is how a receiver measures the
    // connection (gRPC's BDP estimate); only this side's DATA counts, or a
    // peer could buy free PINGs with 1-byte DATA frames of its own.
    if (!this.#dataSincePing) this.#abuse(1, "PING frames");
    this.#dataSincePing = false;
    this.#send(frame(Frame.Ping, ACK, 0, f.payload));
  }

  #onWindowUpdate(f: H2Frame): void {
    if (f.payload.length !== 4) {
      throw new H2ProtocolError("bad WINDOW_UPDATE", H2Error.FrameSizeError);
    }
    const increment = readU31(f.payload);
    if (f.stream === 0) {
      if (increment === 0) throw new H2ProtocolError("WINDOW_UPDATE of 0");
      this.#connSendWindow += increment;
      if (this.#connSendWindow > MAX_WINDOW) {
        throw new H2ProtocolError(
          "the connection window above 2^31-1",
          H2Error.FlowControlError,
        );
      }
    } else {
      if (this.#idle(f.stream)) {
        throw new H2ProtocolError(`WINDOW_UPDATE on idle stream ${f.stream}`);
      }
      const stream = this.#streams.get(f.stream);
      if (increment === 0) {
        throw new StreamError(
          f.stream,
          H2Error.ProtocolError,
          "WINDOW_UPDATE of 0",
        );
      }
      if (!stream) return;
      stream.sendWindow += increment;
      if (stream.sendWindow > MAX_WINDOW) {
        throw new StreamError(
          f.stream,
          H2Error.FlowControlError,
          "a stream window above 2^31-1",
        );
      }
    }
    this.#events.windowOpened();
  }

  #send(bytes: Uint8Array): void {
    this.#out.push(bytes);
    if (this.#reading) return;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  /**
   * Writes the frames queued so far now, not at the end of the read or
   * task: before the owner ends the socket.
   */
  flush(): void {
    this.#flushQueued = false;
    if (this.#out.length === 0) return;
    const out = this.#out.length === 1 ? this.#out[0] : concatBytes(this.#out);
    this.#out = [];
    this.#o.write(out);
  }
}
