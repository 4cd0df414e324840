/**
 * HTTP/2 frames (RFC 9113) as bcn's own client (`h2c_client.ts`) and
 * server (`h2_server.ts`) write and read them: the frame types, flags and
 * settings they use, builders for outgoing frames, and a reader that cuts
 * a byte stream into frames with a bound on their size.
 *
 * @module
 */
import { encodeUtf8 } from "../util/utf8.ts";
import { concatBytes } from "../util/bytes.ts";

/** Frame types (RFC 9113 §6). */
export const enum Frame {
  Data = 0x0,
  Headers = 0x1,
  Priority = 0x2,
  RstStream = 0x3,
  Settings = 0x4,
  PushPromise = 0x5,
  Ping = 0x6,
  Goaway = 0x7,
  WindowUpdate = 0x8,
  Continuation = 0x9,
}

/** END_STREAM (DATA, HEADERS). */
export const END_STREAM = 0x1;
/** ACK (SETTINGS, PING). */
export const ACK = 0x1;
/** END_HEADERS (HEADERS, CONTINUATION). */
export const END_HEADERS = 0x4;
/** PADDED (DATA, HEADERS). */
export const PADDED = 0x8;
/** PRIORITY (HEADERS). */
export const PRIORITY = 0x20;

/** SETTINGS_MAX_CONCURRENT_STREAMS. */
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
/** SETTINGS_ENABLE_PUSH. */
export const SETTINGS_ENABLE_PUSH = 0x2;
/** SETTINGS_INITIAL_WINDOW_SIZE. */
export const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
/** SETTINGS_MAX_FRAME_SIZE. */
export const SETTINGS_MAX_FRAME_SIZE = 0x5;
/** SETTINGS_MAX_HEADER_LIST_SIZE. */
export const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

/** Error codes (RFC 9113 §7). */
export const enum H2Error {
  NoError = 0x0,
  ProtocolError = 0x1,
  InternalError = 0x2,
  FlowControlError = 0x3,
  SettingsTimeout = 0x4,
  StreamClosed = 0x5,
  FrameSizeError = 0x6,
  RefusedStream = 0x7,
  Cancel = 0x8,
  CompressionError = 0x9,
  ConnectError = 0xa,
  EnhanceYourCalm = 0xb,
  InadequateSecurity = 0xc,
  Http11Required = 0xd,
}

/** The client connection preface. */
export const PREFACE: Uint8Array = encodeUtf8(
  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
);

/** The largest frame payload read: the protocol default, never raised. */
export const MAX_FRAME_SIZE = 16_384;

/** The initial flow-control windows of RFC 9113 §6.9.2. */
export const DEFAULT_WINDOW = 65_535;

/** One frame as read. */
export interface H2Frame {
  /** The frame type (see {@link Frame}). */
  type: number;
  /** Its flags. */
  flags: number;
  /** Its stream (0 for the connection). */
  stream: number;
  /** Its payload (a copy, owned by the caller). */
  payload: Uint8Array;
}

/** A frame that breaks the protocol: the connection must end. */
export class H2ProtocolError extends Error {
  /** Names the error, for logs. */
  override name = "H2ProtocolError";
  /** The HTTP/2 error code for the GOAWAY. */
  readonly code: H2Error;

  /** An error with its HTTP/2 code. */
  constructor(message: string, code: H2Error = H2Error.ProtocolError) {
    super(message);
    this.code = code;
  }
}

/**
 * One frame's bytes.
 *
 * @example
 * ```ts
 * import { Frame, frame } from "./h2_frames.ts";
 * console.log(frame(Frame.Settings, 0, 0).length); // 9
 * ```
 */
export function frame(
  type: Frame,
  flags: number,
  stream: number,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(9 + payload.length);
  out[0] = payload.length >>> 16;
  out[1] = (payload.length >>> 8) & 0xff;
  out[2] = payload.length & 0xff;
  out[3] = type;
  out[4] = flags;
  new DataView(out.buffer).setUint32(5, stream & 0x7fffffff);
  out.set(payload, 9);
  return out;
}

/** Big-endian 32-bit words. */
export function u32(...values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const view = new DataView(b.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v));
  return b;
}

/** A SETTINGS payload. */
export function settingsPayload(settings: [number, number][]): Uint8Array {
  const out = new Uint8Array(settings.length * 6);
  const view = new DataView(out.buffer);
  settings.forEach(([id, value], i) => {
    view.setUint16(i * 6, id);
    view.setUint32(i * 6 + 2, value);
  });
  return out;
}

/** The settings of a SETTINGS payload, in order. */
export function readSettings(payload: Uint8Array): [number, number][] {
  if (payload.length % 6 !== 0) {
    throw new H2ProtocolError(
      "SETTINGS payload not a multiple of 6",
      H2Error.FrameSizeError,
    );
  }
  const view = new DataView(
    payload.buffer,
    payload.byteOffset,
    payload.byteLength,
  );
  const out: [number, number][] = [];
  for (let off = 0; off < payload.length; off += 6) {
    out.push([view.getUint16(off), view.getUint32(off + 2)]);
  }
  return out;
}

/** The big-endian 32-bit word of `payload` at `offset`. */
export function readU32(payload: Uint8Array, offset = 0): number {
  return new DataView(payload.buffer, payload.byteOffset).getUint32(offset);
}

/** {@link readU32} with its top (reserved) bit cleared. */
export function readU31(payload: Uint8Array, offset = 0): number {
  return readU32(payload, offset) & 0x7fffffff;
}

/**
 * Header fields that HTTP/2 forbids (RFC 9113 §8.2.2), and `host`, which
 * `:authority` replaces.
 */
export const CONNECTION_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "host",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/**
 * The HEADERS frame of `block` on `stream`, and CONTINUATION frames for
 * what does not fit in `maxFrame` bytes, as one byte string.
 *
 * @example
 * ```ts
 * import { headerFrames } from "./h2_frames.ts";
 * console.log(headerFrames(1, new Uint8Array(20), 16_384, true).length); // 29
 * ```
 */
export function headerFrames(
  stream: number,
  block: Uint8Array,
  maxFrame: number,
  endStream: boolean,
): Uint8Array {
  const frames: Uint8Array[] = [];
  for (let off = 0; off === 0 || off < block.length; off += maxFrame) {
    const last = off + maxFrame >= block.length;
    frames.push(frame(
      off === 0 ? Frame.Headers : Frame.Continuation,
      (last ? END_HEADERS : 0) | (off === 0 && endStream ? END_STREAM : 0),
      stream,
      block.subarray(off, off + maxFrame),
    ));
  }
  return concatBytes(frames);
}

/** A DATA or HEADERS payload without its padding. */
export function unpad(flags: number, payload: Uint8Array): Uint8Array {
  if (!(flags & PADDED)) return payload;
  if (payload.length < 1 || payload[0] >= payload.length) {
    throw new H2ProtocolError("bad padding");
  }
  return payload.subarray(1, payload.length - payload[0]);
}

/**
 * Cuts received bytes into frames. A frame longer than
 * {@link MAX_FRAME_SIZE} throws an {@link H2ProtocolError} before its
 * payload is buffered, so a peer cannot make the reader hold more than one
 * frame and one read.
 *
 * @example
 * ```ts
 * import { Frame, frame, FrameReader } from "./h2_frames.ts";
 * const reader = new FrameReader();
 * reader.push(frame(Frame.Ping, 0, 0, new Uint8Array(8)));
 * console.log(reader.next()?.type); // 6
 * ```
 */
export class FrameReader {
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  /** Adds received bytes. */
  push(bytes: Uint8Array): void {
    if (this.#buf.length - this.#end < bytes.length) {
      const kept = this.#end - this.#start;
      const size = Math.max(this.#buf.length, kept + bytes.length);
      const next = size > this.#buf.length ? new Uint8Array(size) : this.#buf;
      next.set(this.#buf.subarray(this.#start, this.#end), 0);
      this.#buf = next;
      this.#start = 0;
      this.#end = kept;
    }
    this.#buf.set(bytes, this.#end);
    this.#end += bytes.length;
  }

  /** The next whole frame, or undefined until more bytes come. */
  next(): H2Frame | undefined {
    const b = this.#buf;
    const s = this.#start;
    if (this.#end - s < 9) return undefined;
    const length = (b[s] << 16) | (b[s + 1] << 8) | b[s + 2];
    if (length > MAX_FRAME_SIZE) {
      throw new H2ProtocolError(
        `a ${length}-byte frame, above ${MAX_FRAME_SIZE}`,
        H2Error.FrameSizeError,
      );
    }
    if (this.#end - s < 9 + length) return undefined;
    const f = {
      type: b[s + 3],
      flags: b[s + 4],
      stream: new DataView(b.buffer, s + 5, 4).getUint32(0) & 0x7fffffff,
      payload: b.slice(s + 9, s + 9 + length),
    };
    this.#start += 9 + length;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return f;
  }
}
