import { assert, assertEquals, assertRejects } from "../assert.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalClientResponse } from "@connectrpc/connect/protocol";
import { createH2cClient } from "../../src/http/h2c_client.ts";
import {
  encodeHeaderBlock,
  type HeaderField,
  HpackDecoder,
} from "../../src/http/hpack.ts";

// Frame types and flags of RFC 9113.
const DATA = 0, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, PING = 6;
const GOAWAY = 7, WINDOW_UPDATE = 8, CONTINUATION = 9;
const END_STREAM = 1, ACK = 1, END_HEADERS = 4, PADDED = 8;
const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Uint8Array;
}

/** The server side of one connection, frame by frame. */
class Peer {
  readonly #conn: Deno.Conn;
  #buf = new Uint8Array(0);
  readonly hpack = new HpackDecoder();

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  // A read that outlived a timeout is kept for the next call: its bytes
  // belong to the stream.
  #pending: Promise<Uint8Array | null> | undefined;

  async #fill(n: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#buf.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      this.#pending ??= (async () => {
        const chunk = new Uint8Array(65536);
        const read = await this.#conn.read(chunk);
        return read === null ? null : chunk.subarray(0, read);
      })();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const read = await Promise.race([
        this.#pending,
        new Promise<"timeout">((r) => timer = setTimeout(r, left, "timeout")),
      ]);
      clearTimeout(timer);
      if (read === "timeout") return false;
      this.#pending = undefined;
      if (read === null) throw new Deno.errors.UnexpectedEof("closed");
      const next = new Uint8Array(this.#buf.length + read.length);
      next.set(this.#buf);
      next.set(read, this.#buf.length);
      this.#buf = next;
    }
    return true;
  }

  async preface(): Promise<void> {
    assert(await this.#fill(24, 5000), "no preface");
    assertEquals(new TextDecoder().decode(this.#buf.subarray(0, 24)), PREFACE);
    this.#buf = this.#buf.slice(24);
  }

  /** The next frame; undefined when none came within `timeoutMs`. */
  async frame(timeoutMs = 5000): Promise<Frame | undefined> {
    if (!await this.#fill(9, timeoutMs)) return undefined;
    const length = (this.#buf[0] << 16) | (this.#buf[1] << 8) | this.#buf[2];
    if (!await this.#fill(9 + length, timeoutMs)) return undefined;
    const f = {
      type: this.#buf[3],
      flags: this.#buf[4],
      stream: new DataView(this.#buf.buffer).getUint32(5) & 0x7fffffff,
      payload: this.#buf.slice(9, 9 + length),
    };
    this.#buf = this.#buf.slice(9 + length);
    return f;
  }

  /** Reads until a frame of `type` (on any stream). */
  async until(type: number): Promise<Frame> {
    for (let i = 0; i < 10_000; i++) {
      const f = await this.frame();
      assert(f, `no frame of type ${type}`);
      if (f.type === type) return f;
    }
    throw new Error("too many frames");
  }

  /** Reads the request: its header fields and body, up to END_STREAM. */
  async request(): Promise<{ fields: HeaderField[]; body: Uint8Array }> {
    await this.preface();
    let fields: HeaderField[] | undefined;
    const body: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const f = await this.frame();
      assert(f, "the request did not end");
      if (f.type === HEADERS) fields = this.hpack.decode(f.payload);
      if (f.type === DATA) body.push(...f.payload);
      if ((f.type === DATA || f.type === HEADERS) && f.flags & END_STREAM) {
        return { fields: fields!, body: Uint8Array.from(body) };
      }
    }
    throw new Error("too many frames");
  }

  async send(
    type: number,
    flags: number,
    stream: number,
    payload: Uint8Array = new Uint8Array(0),
    length = payload.length,
  ): Promise<void> {
    const out = new Uint8Array(9 + payload.length);
    out[0] = length >>> 16;
    out[1] = (length >>> 8) & 0xff;
    out[2] = length & 0xff;
    out[3] = type;
    out[4] = flags;
    new DataView(out.buffer).setUint32(5, stream);
    out.set(payload, 9);
    for (let off = 0; off < out.length;) {
      off += await this.#conn.write(out.subarray(off));
    }
  }

  headers(fields: HeaderField[], flags = 0): Promise<void> {
    return this.send(
      HEADERS,
      END_HEADERS | flags,
      1,
      encodeHeaderBlock(fields),
    );
  }

  /** Resolves when the client has closed the connection. */
  async closed(): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      try {
        if (await this.frame() === undefined) throw new Error("still open");
      } catch (e) {
        if (e instanceof Deno.errors.UnexpectedEof) return;
        if (e instanceof Deno.errors.ConnectionReset) return;
        throw e;
      }
    }
  }

  close(): void {
    this.#pending?.catch(() => {});
    try {
      this.#conn.close();
    } catch {
      // closed
    }
  }
}

/** A one-connection server running `script`; its address and outcome. */
function fakeServer(script: (peer: Peer) => Promise<void>): {
  url: string;
  done: Promise<void>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const conn = await listener.accept();
    listener.close();
    const peer = new Peer(conn);
    try {
      await script(peer);
    } finally {
      peer.close();
    }
  })();
  return { url: `http://127.0.0.1:${listener.addr.port}/svc/Method`, done };
}

function u32s(...values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  values.forEach((v, i) => new DataView(b.buffer).setUint32(i * 4, v));
  return b;
}

function request(url: string, body: Uint8Array, signal?: AbortSignal) {
  return createH2cClient()({
    url,
    method: "POST",
    header: new Headers({ "content-type": "application/grpc", te: "trailers" }),
    body: (async function* () {
      yield body;
    })(),
    signal,
  });
}

async function readBody(res: UniversalClientResponse): Promise<Uint8Array> {
  const parts: number[] = [];
  for await (const chunk of res.body) parts.push(...chunk);
  return Uint8Array.from(parts);
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("h2c: a request, a response with data and trailers, then the connection closes", async () => {
  const server = fakeServer(async (peer) => {
    const { fields, body } = await peer.request();
    const get = (n: string) => fields.find(([k]) => k === n)?.[1];
    assertEquals(get(":method"), "POST");
    assertEquals(get(":scheme"), "http");
    assertEquals(get(":path"), "/svc/Method");
    assertEquals(get(":authority"), new URL(server.url).host);
    assertEquals(get("te"), "trailers");
    assertEquals(text(body), "question");
    await peer.send(SETTINGS, 0, 0);
    // A PING is answered with the same bytes.
    await peer.send(PING, 0, 0, bytes("12345678"));
    const pong = await peer.until(PING);
    assertEquals(pong.flags & ACK, ACK);
    assertEquals(text(pong.payload), "12345678");
    await peer.headers([[":status", "200"], [
      "content-type",
      "application/grpc",
    ]]);
    // Padded data: one byte of pad length, the data, the padding.
    await peer.send(
      DATA,
      PADDED,
      1,
      Uint8Array.of(3, ...bytes("ans"), 0, 0, 0),
    );
    await peer.send(DATA, 0, 1, bytes("wer"));
    await peer.headers([["grpc-status", "0"]], END_STREAM);
    await peer.closed();
  });
  const res = await request(server.url, bytes("question"));
  assertEquals(res.status, 200);
  assertEquals(res.header.get("content-type"), "application/grpc");
  assertEquals(text(await readBody(res)), "answer");
  assertEquals(res.trailer.get("grpc-status"), "0");
  await server.done;
});

Deno.test("h2c: a GOAWAY before the stream was served fails the call with Unavailable", async () => {
  const server = fakeServer(async (peer) => {
    await peer.request();
    await peer.send(GOAWAY, 0, 0, u32s(0, 0));
    await peer.closed();
  });
  const err = await assertRejects(
    () => request(server.url, bytes("x")),
    ConnectError,
    "going away",
  );
  assertEquals((err as ConnectError).code, Code.Unavailable);
  await server.done;
});

Deno.test("h2c: a GOAWAY that covers the stream lets it finish", async () => {
  const server = fakeServer(async (peer) => {
    await peer.request();
    await peer.send(GOAWAY, 0, 0, u32s(1, 0));
    await peer.headers([[":status", "200"]]);
    await peer.send(DATA, 0, 1, bytes("done"));
    await peer.headers([["grpc-status", "0"]], END_STREAM);
    await peer.closed();
  });
  const res = await request(server.url, bytes("x"));
  assertEquals(text(await readBody(res)), "done");
  await server.done;
});

Deno.test("h2c: a peer that closes mid-response fails the body, no hang", async () => {
  const server = fakeServer(async (peer) => {
    await peer.request();
    await peer.headers([[":status", "200"]]);
    await peer.send(DATA, 0, 1, bytes("part"));
  });
  const res = await request(server.url, bytes("x"));
  await server.done;
  const err = await assertRejects(() => readBody(res), ConnectError, "closed");
  assertEquals((err as ConnectError).code, Code.Unavailable);
});

Deno.test("h2c: a reset stream and an oversized frame fail the call", async () => {
  const reset = fakeServer(async (peer) => {
    await peer.request();
    await peer.send(RST_STREAM, 0, 1, u32s(2));
    await peer.closed();
  });
  await assertRejects(
    () => request(reset.url, bytes("x")),
    ConnectError,
    "reset the stream (HTTP/2 error code 2)",
  );
  await reset.done;
  const big = fakeServer(async (peer) => {
    await peer.request();
    // The header says 16,385 bytes: above the limit, refused before reading.
    await peer.send(DATA, 0, 1, new Uint8Array(0), 16_385);
    await peer.closed();
  });
  await assertRejects(
    () => request(big.url, bytes("x")),
    ConnectError,
    "16385-byte frame",
  );
  await big.done;
});

Deno.test("h2c: the client sends no more than the peer's window until it opens", async () => {
  const size = 100_000;
  let beforeUpdate = 0;
  const server = fakeServer(async (peer) => {
    await peer.preface();
    let received = 0;
    let ended = false;
    // The default windows are 65,535 bytes: then the client must wait.
    for (let i = 0; i < 1000 && received < 65_535; i++) {
      const f = await peer.frame();
      assert(f, "data stopped before the window was used");
      if (f.type === DATA) received += f.payload.length;
    }
    assertEquals(received, 65_535);
    const extra = await peer.frame(300);
    assert(extra?.type !== DATA, "data beyond the window");
    beforeUpdate = received;
    await peer.send(WINDOW_UPDATE, 0, 0, u32s(size));
    await peer.send(WINDOW_UPDATE, 0, 1, u32s(size));
    for (let i = 0; i < 1000 && !ended; i++) {
      const f = await peer.frame();
      assert(f, "the request did not end");
      if (f.type === DATA) {
        received += f.payload.length;
        ended = (f.flags & END_STREAM) !== 0;
      }
    }
    assertEquals(received, size);
    await peer.headers([[":status", "200"], ["grpc-status", "0"]], END_STREAM);
    await peer.closed();
  });
  const res = await request(server.url, new Uint8Array(size));
  assertEquals((await readBody(res)).length, 0);
  assertEquals(res.header.get("grpc-status"), "0");
  await server.done;
  assertEquals(beforeUpdate, 65_535);
});

Deno.test("h2c: more than the receive window arrives as the body is read", async () => {
  // 17 MiB in 16 KiB frames: the peer may send only what the client's
  // windows (16 MiB, given back as it reads) allow.
  const frames = 17 * 64;
  const server = fakeServer(async (peer) => {
    await peer.request();
    await peer.headers([[":status", "200"]]);
    let window = 16 * 1024 * 1024;
    const chunk = new Uint8Array(16_384).fill(7);
    for (let i = 0; i < frames; i++) {
      for (let j = 0; j < 1000 && window < chunk.length; j++) {
        const f = await peer.frame();
        assert(f, "no WINDOW_UPDATE from the client");
        if (f.type === WINDOW_UPDATE && f.stream === 1) {
          window += new DataView(f.payload.buffer).getUint32(0);
        }
      }
      await peer.send(DATA, 0, 1, chunk);
      window -= chunk.length;
    }
    await peer.headers([["grpc-status", "0"]], END_STREAM);
    await peer.closed();
  });
  const res = await request(server.url, bytes("x"));
  let total = 0;
  for await (const part of res.body) total += part.length;
  assertEquals(total, frames * 16_384);
  await server.done;
});

Deno.test("h2c: an abort resets the stream and closes the connection", async () => {
  const controller = new AbortController();
  const server = fakeServer(async (peer) => {
    await peer.request();
    await peer.headers([[":status", "200"]]);
    await peer.send(DATA, 0, 1, bytes("first"));
    const rst = await peer.until(RST_STREAM);
    assertEquals(new DataView(rst.payload.buffer).getUint32(0), 8); // CANCEL
    await peer.closed();
  });
  const res = await request(server.url, bytes("x"), controller.signal);
  const it = res.body[Symbol.asyncIterator]();
  assertEquals(text((await it.next()).value), "first");
  controller.abort(new Error("stop now"));
  await assertRejects(() => it.next(), Error, "stop now");
  await server.done;
});

Deno.test("h2c: a refused connection is an Unavailable error naming the address", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${listener.addr.port}/svc/Method`;
  listener.close();
  const err = await assertRejects(
    () => request(url, bytes("x")),
    ConnectError,
    "cannot connect to 127.0.0.1:",
  );
  assertEquals((err as ConnectError).code, Code.Unavailable);
});

Deno.test("h2c: a response field that Headers refuses fails the call in one line", async () => {
  const server = fakeServer(async (peer) => {
    await peer.request();
    await peer.headers([[":status", "200"], ["bad name", "x"]]);
    await peer.closed();
  });
  const err = await assertRejects(
    () => request(server.url, bytes("x")),
    ConnectError,
    'invalid header field "bad name"',
  );
  assertEquals((err as ConnectError).code, Code.Unavailable);
  await server.done;
});

Deno.test("h2c: a peer breaking the protocol core's rules fails the call", async () => {
  const cases: [string, (peer: Peer) => Promise<void>, string][] = [
    [
      "a WINDOW_UPDATE of 3 bytes",
      (peer) => peer.send(WINDOW_UPDATE, 0, 0, new Uint8Array(3)),
      "bad WINDOW_UPDATE",
    ],
    [
      "an INITIAL_WINDOW_SIZE above 2^31-1",
      (peer) => peer.send(SETTINGS, 0, 0, setting(0x4, 0x80000000)),
      "INITIAL_WINDOW_SIZE of 2147483648",
    ],
    [
      "a MAX_FRAME_SIZE below 16,384",
      (peer) => peer.send(SETTINGS, 0, 0, setting(0x5, 100)),
      "MAX_FRAME_SIZE of 100",
    ],
    [
      "a connection window above 2^31-1",
      (peer) => peer.send(WINDOW_UPDATE, 0, 0, u32s(0x7fffffff)),
      "connection window above 2^31-1",
    ],
    [
      "a header block of endless empty CONTINUATIONs",
      async (peer) => {
        await peer.send(HEADERS, 0, 1, encodeHeaderBlock([[":status", "200"]]));
        for (let i = 0; i < 40; i++) await peer.send(CONTINUATION, 0, 1);
      },
      "more than 16 frames",
    ],
  ];
  for (const [what, misbehave, message] of cases) {
    const server = fakeServer(async (peer) => {
      await peer.request();
      await misbehave(peer).catch(() => {});
      await peer.closed();
    });
    const err = await assertRejects(() => request(server.url, bytes("x")));
    assert(err instanceof ConnectError, what);
    assertEquals(err.code, Code.Unavailable, what);
    assert(err.rawMessage.includes(message), `${what}: ${err.rawMessage}`);
    await server.done;
  }
});

/** A SETTINGS payload of one setting. */
function setting(id: number, value: number): Uint8Array {
  const out = new Uint8Array(6);
  new DataView(out.buffer).setUint16(0, id);
  new DataView(out.buffer).setUint32(2, value);
  return out;
}
