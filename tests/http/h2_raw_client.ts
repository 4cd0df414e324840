/**
 * A raw, frame-level HTTP/2 client for the tests of bcn's HTTP/2 server
 * (`src/http/h2_server.ts`): it writes exactly the frames a test asks for
 * (floods, malformed or out-of-order frames, windows that never open) and
 * reads the server's frames one at a time, which no real client library
 * lets a test do. A client may connect from a given local address, so that
 * the per-address bounds can be met from two addresses on one machine.
 *
 * Also HPACK writers for the representations `encodeHeaderBlock` does not
 * produce (indexed fields, incremental indexing, table size updates).
 *
 * @module
 */
import * as net from "node:net";
import {
  encodeHeaderBlock,
  encodeInteger,
  HpackDecoder,
} from "../../src/http/hpack.ts";
import {
  ACK,
  END_HEADERS,
  END_STREAM,
  Frame,
  frame,
  FrameReader,
  type H2Frame,
  PREFACE,
  readSettings,
  readU31,
  settingsPayload,
  u32,
} from "../../src/http/h2_frames.ts";
import { concatBytes } from "../../src/util/bytes.ts";

/** How a test's byte stream reaches the server: a Deno or node socket. */
interface Pipe {
  read(buf: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}

/**
 * A `node:net` socket behind the {@link Pipe} interface: Deno.connect takes
 * no local address, node:net does.
 */
class NodePipe implements Pipe {
  readonly #socket: net.Socket;
  readonly #chunks: Uint8Array[] = [];
  #ended = false;
  #wake: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#poke();
    });
    const end = () => {
      this.#ended = true;
      this.#poke();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", end);
  }

  static connect(
    hostname: string,
    port: number,
    localAddress: string,
  ): Promise<NodePipe> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: hostname, port, localAddress });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        socket.setNoDelay(true);
        resolve(new NodePipe(socket));
      });
    });
  }

  async read(buf: Uint8Array): Promise<number | null> {
    for (;;) {
      const chunk = this.#chunks[0];
      if (chunk) {
        const n = Math.min(buf.length, chunk.length);
        buf.set(chunk.subarray(0, n));
        if (n === chunk.length) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(n);
        return n;
      }
      if (this.#ended) return null;
      await new Promise<void>((r) => this.#wake = r);
    }
  }

  write(bytes: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#socket.destroyed) return reject(new Error("socket closed"));
      this.#socket.write(bytes, (e) => e ? reject(e) : resolve(bytes.length));
    });
  }

  close(): void {
    this.#socket.destroy();
    this.#ended = true;
    this.#poke();
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** Options of {@link RawClient.open} beyond the client's SETTINGS. */
export interface RawClientOptions {
  /** The server's address; default `127.0.0.1`. */
  hostname?: string;
  /**
   * The local address to connect from (through `node:net`), e.g.
   * `127.0.0.2`; by default the system picks one (through `Deno.connect`).
   */
  localAddress?: string;
}

/** What a server first answers a connection with (see {@link RawClient.greeting}). */
export type Greeting =
  /** The server's first SETTINGS: the connection was admitted. */
  | { kind: "settings"; settings: Map<number, number> }
  /** An HTTP/1.1 answer (a refused connection's `503`): its status line. */
  | { kind: "http"; statusLine: string }
  /** The connection ended, or nothing came in time, without SETTINGS. */
  | { kind: "closed" };

/** How a stream was answered (see {@link RawClient.response}). */
export type StreamAnswer =
  /** Response headers: their `:status` and every field. */
  | { status: string; fields: Map<string, string> }
  /** RST_STREAM with this error code. */
  | { reset: number };

/**
 * The client side of one raw HTTP/2 connection. {@link RawClient.open}
 * writes the connection preface and a SETTINGS frame; from there every
 * frame is the test's. Reading is pull-based: frames are read only when the
 * test asks for one, and a frame read is gone (the readers that skip frames
 * say so).
 */
export class RawClient {
  /** Decodes the server's header blocks (call it on every one, in order). */
  readonly hpack: HpackDecoder = new HpackDecoder();
  readonly #pipe: Pipe;
  readonly #reader = new FrameReader();
  readonly #buf = new Uint8Array(65536);
  #pending: Promise<number | null> | undefined;
  #ended = false;
  /** The first bytes received, to tell an HTTP/1.1 refusal from HTTP/2. */
  #head: Uint8Array = new Uint8Array(0);
  #pings = 0;

  private constructor(pipe: Pipe) {
    this.#pipe = pipe;
  }

  /**
   * Connects to `port`, writes the connection preface and a SETTINGS frame
   * of `settings`. A connection that the server refuses at once still
   * opens: see {@link RawClient.greeting}.
   */
  static async open(
    port: number,
    settings: [number, number][] = [],
    options: RawClientOptions = {},
  ): Promise<RawClient> {
    const hostname = options.hostname ?? "127.0.0.1";
    const pipe = options.localAddress === undefined
      ? await Deno.connect({ hostname, port })
      : await NodePipe.connect(hostname, port, options.localAddress);
    const c = new RawClient(pipe);
    // A server that refuses the connection may have closed it already.
    await c.send(
      concatBytes([
        PREFACE,
        frame(Frame.Settings, 0, 0, settingsPayload(settings)),
      ]),
    );
    return c;
  }

  /** Whether the server ended the connection (seen by a read). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Writes all of `bytes`; throws when the connection is gone. */
  async write(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) {
      off += await this.#pipe.write(bytes.subarray(off));
    }
  }

  /**
   * Writes `bytes` like {@link RawClient.write}; false instead of an error
   * when the connection is gone (a flood meets a server that closed it).
   */
  async send(bytes: Uint8Array): Promise<boolean> {
    try {
      await this.write(bytes);
      return true;
    } catch {
      return false;
    }
  }

  /** Opens stream `id` with a gRPC (or other) POST request. */
  request(
    id: number,
    path: string,
    body?: Uint8Array,
    extra: [string, string][] = [],
  ): Promise<void> {
    const block = encodeHeaderBlock([
      [":method", "POST"],
      [":scheme", "http"],
      [":authority", "bcn"],
      [":path", path],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
      ...extra,
    ]);
    return this.write(concatBytes([
      frame(Frame.Headers, END_HEADERS | (body ? 0 : END_STREAM), id, block),
      ...(body ? [frame(Frame.Data, END_STREAM, id, body)] : []),
    ]));
  }

  /** Opens stream `id` with a GET request of `path` (no body). */
  get(id: number, path: string): Promise<void> {
    return this.write(frame(
      Frame.Headers,
      END_HEADERS | END_STREAM,
      id,
      getBlock(path),
    ));
  }

  /**
   * Opens stream `id` with a gRPC POST request whose body never ends until
   * the test sends one: the stream stays open and holds its handler.
   */
  hold(id: number, path: string): Promise<void> {
    return this.write(holdFrame(id, path));
  }

  /** Writes a RST_STREAM of stream `id` with `code` (default CANCEL). */
  rstStream(id: number, code = 0x8): Promise<void> {
    return this.write(frame(Frame.RstStream, 0, id, u32(code)));
  }

  /** Writes a PING (an ACK when `ack`) carrying `payload` (8 bytes). */
  ping(payload: Uint8Array = new Uint8Array(8), ack = false): Promise<void> {
    return this.write(frame(Frame.Ping, ack ? ACK : 0, 0, payload));
  }

  /** Writes a DATA frame of `bytes` on stream `id`. */
  data(id: number, bytes: Uint8Array, endStream = false): Promise<void> {
    return this.write(frame(Frame.Data, endStream ? END_STREAM : 0, id, bytes));
  }

  /** Writes a CONTINUATION frame carrying `fragment` on stream `id`. */
  continuation(
    id: number,
    fragment: Uint8Array,
    endHeaders: boolean,
  ): Promise<void> {
    return this.write(
      frame(Frame.Continuation, endHeaders ? END_HEADERS : 0, id, fragment),
    );
  }

  /** Writes WINDOW_UPDATEs of `increment` for stream `id` (0: none) and the connection. */
  windowUpdate(id: number, increment: number): Promise<void> {
    return this.write(concatBytes([
      ...(id > 0 ? [frame(Frame.WindowUpdate, 0, id, u32(increment))] : []),
      frame(Frame.WindowUpdate, 0, 0, u32(increment)),
    ]));
  }

  /** The next frame, undefined at the end or after `ms` without one. */
  async frame(ms = 5000): Promise<H2Frame | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.#reader.next();
      if (f) return f;
      if (this.#ended) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await this.#fill(left);
    }
  }

  /**
   * Reads frames until one matches (the others are dropped); undefined if
   * the connection ends or none matched within `ms`.
   */
  async until(
    match: (f: H2Frame) => boolean,
    ms = 5000,
  ): Promise<H2Frame | undefined> {
    const deadline = Date.now() + ms;
    for (let i = 0; i < 100_000; i++) {
      const f = await this.frame(deadline - Date.now());
      if (!f || match(f)) return f;
    }
    return undefined;
  }

  /**
   * What the server first sent: its SETTINGS (the connection was admitted),
   * an HTTP/1.1 status line (refused at accept), or nothing before the
   * connection ended or `ms` passed. Call it before reading any frame.
   */
  async greeting(ms = 5000): Promise<Greeting> {
    const deadline = Date.now() + ms;
    while (this.#head.length < 9 && !this.#ended) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      // An HTTP/1.1 answer starts with "H"; a frame with a length byte 0.
      if (this.#head.length > 0 && this.#head[0] !== 0) break;
      await this.#fill(left);
    }
    if (this.#head.length > 0 && this.#head[0] !== 0) {
      // The status line, as much of it as comes in time.
      for (let i = 0; i < 100 && !this.#ended; i++) {
        const text = new TextDecoder().decode(this.#head);
        const left = deadline - Date.now();
        if (text.includes("\r\n") || left <= 0) break;
        await this.#fill(left);
      }
      const text = new TextDecoder().decode(this.#head);
      return { kind: "http", statusLine: text.split("\r\n")[0] };
    }
    if (this.#head.length === 0) return { kind: "closed" };
    const f = await this.frame(Math.max(0, deadline - Date.now()));
    if (!f || f.type !== Frame.Settings || (f.flags & ACK) !== 0) {
      return { kind: "closed" };
    }
    return { kind: "settings", settings: new Map(readSettings(f.payload)) };
  }

  /**
   * Reads frames until a GOAWAY (dropping the others) and returns its error
   * code; undefined when the connection ends first or none comes within
   * `ms`.
   */
  async goaway(ms = 5000): Promise<number | undefined> {
    const f = await this.until((f) => f.type === Frame.Goaway, ms);
    return f ? readU31(f.payload, 4) : undefined;
  }

  /**
   * Reads (and drops) everything until the server ends the connection;
   * true if it did within `ms`.
   */
  async closed(ms = 5000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.#ended) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.#fill(left, false);
    }
    return true;
  }

  /**
   * Reads frames until stream `id` is answered with response headers or
   * reset (other streams' frames are dropped); undefined if the connection
   * ends or no answer comes within `ms`. Every header block read is
   * decoded, so the HPACK state stays in step.
   */
  async response(id: number, ms = 5000): Promise<StreamAnswer | undefined> {
    const deadline = Date.now() + ms;
    for (let i = 0; i < 100_000; i++) {
      const f = await this.frame(deadline - Date.now());
      if (!f) return undefined;
      if (f.type === Frame.Headers) {
        const fields = new Map(this.hpack.decode(f.payload));
        if (f.stream === id) {
          return { status: fields.get(":status") ?? "", fields };
        }
      } else if (f.type === Frame.RstStream && f.stream === id) {
        return { reset: readU31(f.payload) };
      }
    }
    return undefined;
  }

  /**
   * Sends a PING and reads until its ACK: every frame the server wrote
   * before it (in answer to what the test sent before the PING) comes back;
   * undefined if the connection ends or `ms` pass first. (A PING may cost
   * the connection an abuse point when no DATA moved since the last one.)
   */
  async roundTrip(ms = 5000): Promise<H2Frame[] | undefined> {
    const deadline = Date.now() + ms;
    const mark = u32(0x52415721, ++this.#pings);
    if (!await this.send(frame(Frame.Ping, 0, 0, mark))) return undefined;
    const seen: H2Frame[] = [];
    for (let i = 0; i < 100_000; i++) {
      const f = await this.frame(deadline - Date.now());
      if (!f) return undefined;
      if (
        f.type === Frame.Ping && (f.flags & ACK) !== 0 &&
        f.payload.every((b, j) => b === mark[j])
      ) {
        return seen;
      }
      seen.push(f);
    }
    return undefined;
  }

  /** Closes the connection (a pending read ends). */
  close(): void {
    try {
      this.#pipe.close();
    } catch {
      // closed
    }
    this.#pending?.catch(() => {});
  }

  /**
   * Waits up to `ms` for bytes: they go to the frame reader (unless
   * `parse` is false) and the first ones to {@link RawClient.greeting}.
   */
  async #fill(ms: number, parse = true): Promise<void> {
    this.#pending ??= this.#pipe.read(this.#buf).catch(() => null);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      this.#pending,
      new Promise<"timeout">((r) => timer = setTimeout(r, ms, "timeout")),
    ]);
    clearTimeout(timer);
    if (n === "timeout") return;
    this.#pending = undefined;
    if (n === null) {
      this.#ended = true;
      return;
    }
    const bytes = this.#buf.slice(0, n);
    if (this.#head.length < 256) {
      this.#head = concatBytes([this.#head, bytes.subarray(0, 256)]);
    }
    if (parse) this.#reader.push(bytes);
  }
}

/** A GET request's header block for `path`. */
export function getBlock(path: string): Uint8Array {
  return encodeHeaderBlock([
    [":method", "GET"],
    [":scheme", "http"],
    [":authority", "bcn"],
    [":path", path],
  ]);
}

/** The HEADERS frame of a gRPC request on stream `id` whose body stays open. */
export function holdFrame(id: number, path: string): Uint8Array {
  return frame(
    Frame.Headers,
    END_HEADERS,
    id,
    encodeHeaderBlock([
      [":method", "POST"],
      [":scheme", "http"],
      [":authority", "bcn"],
      [":path", path],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
    ]),
  );
}

/** An HPACK integer (RFC 7541 §5.1) whose first byte carries `first`. */
export function hpackInt(
  value: number,
  prefixBits: number,
  first = 0,
): Uint8Array {
  const out: number[] = [];
  encodeInteger(out, value, prefixBits, first);
  return Uint8Array.from(out);
}

/** An HPACK string literal without Huffman coding. */
export function hpackString(s: string | Uint8Array): Uint8Array {
  const bytes = typeof s === "string" ? new TextEncoder().encode(s) : s;
  return concatBytes([hpackInt(bytes.length, 7), bytes]);
}

/** An indexed header field (static table 1-61, dynamic from 62). */
export function hpackIndexed(index: number): Uint8Array {
  return hpackInt(index, 7, 0x80);
}

/**
 * A literal header field: with incremental indexing (the decoder adds it
 * to its dynamic table), without indexing, or never indexed; its name is a
 * string or a table index.
 */
export function hpackLiteral(
  kind: "indexing" | "without" | "never",
  name: string | number,
  value: string | Uint8Array,
): Uint8Array {
  const [bits, first] = kind === "indexing"
    ? [6, 0x40]
    : kind === "never"
    ? [4, 0x10]
    : [4, 0x00];
  return typeof name === "number"
    ? concatBytes([hpackInt(name, bits, first), hpackString(value)])
    : concatBytes([
      hpackInt(0, bits, first),
      hpackString(name),
      hpackString(value),
    ]);
}

/** A dynamic table size update to `size`. */
export function hpackSizeUpdate(size: number): Uint8Array {
  return hpackInt(size, 5, 0x20);
}
