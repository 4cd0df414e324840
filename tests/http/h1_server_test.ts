/**
 * bcn's HTTP/1.1 server (`h1_server.ts`), driven by raw sockets: keep-alive
 * and pipelining, chunked bodies, the framing rules that keep a request
 * from being smuggled inside another, `Connection: close`, HTTP/1.0,
 * `Expect: 100-continue`, failures, aborts and read-ahead.
 */
import * as net from "node:net";
import type {
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { assert, assertEquals } from "../assert.ts";
import { H1ServerConnection } from "../../src/http/h1_server.ts";
import { waitFor } from "../support.ts";

type Req = Omit<UniversalServerRequest, "contextValues">;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Reads a request's whole body (a byte stream here, never JSON). */
async function bodyText(req: Req): Promise<string> {
  let text = "";
  for await (const c of req.body as AsyncIterable<Uint8Array>) {
    text += dec.decode(c, { stream: true });
  }
  return text;
}

/** A plain-text response with a length, or (stream) chunked. */
function answer(
  text: string,
  stream = false,
  status = 200,
): UniversalServerResponse {
  const header = new Headers({ "content-type": "text/plain" });
  if (!stream) header.set("content-length", String(enc.encode(text).length));
  return {
    status,
    header,
    body: (async function* () {
      if (stream) {
        for (const part of text.split(" ")) {
          yield enc.encode(part);
        }
      } else yield enc.encode(text);
    })(),
  };
}

/** An echo server: "METHOD PATH BODY", on an H1ServerConnection per socket. */
async function serve(
  handle: (req: Req) => Promise<UniversalServerResponse> = async (req) =>
    answer(`${req.method} ${new URL(req.url).pathname} ${await bodyText(req)}`),
) {
  const failures: string[] = [];
  const sockets = new Set<net.Socket>();
  let started = 0;
  let ended = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    new H1ServerConnection(socket, {
      handle,
      onRequestStart: () => started++,
      onRequestEnd: () => ended++,
      onFailure: (path) => failures.push(path),
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    failures,
    counts: () => ({ started, ended }),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A raw client connection that collects what the server sends. */
class Raw {
  text = "";
  closed = false;
  readonly #conn: Deno.TcpConn;
  readonly #done: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#done = (async () => {
      const buf = new Uint8Array(65536);
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          this.text += dec.decode(buf.subarray(0, n), { stream: true });
        }
      } catch { /* reset */ }
      this.closed = true;
    })();
  }

  static async open(port: number): Promise<Raw> {
    return new Raw(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? enc.encode(data) : data;
    let off = 0;
    while (off < bytes.length) {
      off += await this.#conn.write(bytes.subarray(off));
    }
  }

  /** Waits until what the server sent passes `check`; bounded by `ms`. */
  async until(check: (text: string) => boolean, ms = 5000): Promise<void> {
    assert(
      await waitFor(() => check(this.text), ms),
      `no such answer within ${ms} ms; got ${JSON.stringify(this.text)}`,
    );
  }

  async untilClosed(ms = 5000): Promise<void> {
    assert(await waitFor(() => this.closed, ms), "the server did not close");
  }

  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch { /* closed */ }
    await this.#done;
  }
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

Deno.test("keep-alive: requests one after another and pipelined are answered in order on one connection", async () => {
  const server = await serve();
  const raw = await Raw.open(server.port);
  try {
    const post = (path: string, body: string) =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    await raw.send(post("/a", "one"));
    await raw.until((t) => t.includes("POST /a one"));
    await raw.send(post("/b", "two"));
    await raw.until((t) => t.includes("POST /b two"));
    // Three in one write, the last split from the rest.
    await raw.send(post("/c", "3") + post("/d", "") + "GET /e HT");
    await raw.send("TP/1.1\r\nHost: x\r\n\r\n");
    await raw.until((t) => count(t, "HTTP/1.1 200 OK") === 5);
    const order = ["/a one", "/b two", "/c 3", "/d ", "GET /e "].map((s) =>
      raw.text.indexOf(s)
    );
    assert(order.every((at, i) => at > (order[i - 1] ?? -1)), raw.text);
    assert(!raw.text.includes("connection: close"), raw.text);
    assert(!raw.closed, "the connection was closed");
    assertEquals(server.counts(), { started: 5, ended: 5 });
  } finally {
    await raw.close();
    await server.close();
  }
});

Deno.test("a chunked body reaches the handler whole, however its bytes are split", async () => {
  const server = await serve();
  const raw = await Raw.open(server.port);
  try {
    const request = "POST /chunks HTTP/1.1\r\nHost: x\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n" +
      "1;name=value\r\n \r\n" + // an extension
      "A  \r\n0123456789\r\n" + // spaces after the size
      "0\r\nX-Trailer: dropped\r\n\r\n";
    // One byte at a time.
    for (const byte of enc.encode(request)) await raw.send(Uint8Array.of(byte));
    await raw.until((t) => t.includes("POST /chunks hello 0123456789"));
    // A streamed answer is chunked; the connection stays open.
    await raw.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    await raw.until((t) => count(t, "HTTP/1.1 200 OK") === 2);
    assert(!raw.closed);
  } finally {
    await raw.close();
    await server.close();
  }
});

Deno.test("a streamed response is chunked and ends with a last chunk; HEAD gets no body", async () => {
  const server = await serve(async (req) => {
    await bodyText(req);
    return answer("a bb ccc", req.method !== "HEAD");
  });
  const raw = await Raw.open(server.port);
  try {
    await raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await raw.until((t) => t.endsWith("0\r\n\r\n"));
    assert(raw.text.includes("transfer-encoding: chunked\r\n"), raw.text);
    assert(
      raw.text.endsWith("\r\n\r\n1\r\na\r\n2\r\nbb\r\n3\r\nccc\r\n0\r\n\r\n"),
      raw.text,
    );
    raw.text = "";
    await raw.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    await raw.until((t) => t.includes("\r\n\r\n"));
    // The length is the GET's; no body follows.
    assert(raw.text.includes("content-length: 8\r\n"), raw.text);
    await raw.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    await raw.untilClosed();
    assert(raw.text.includes("\r\n\r\nHTTP/1.1 200 OK"), raw.text);
    // HTTP/1.0 knows no chunks: the body ends with the connection.
    const old = await Raw.open(server.port);
    try {
      await old.send("GET / HTTP/1.0\r\n\r\n");
      await old.untilClosed();
      assert(!old.text.includes("transfer-encoding"), old.text);
      assert(old.text.endsWith("\r\n\r\nabbccc"), old.text);
    } finally {
      await old.close();
    }
  } finally {
    await raw.close();
    await server.close();
  }
});

Deno.test("Connection: close and HTTP/1.0 end the connection after the answer", async () => {
  const server = await serve();
  try {
    for (
      const request of [
        "GET /a HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, close\r\n\r\n",
        "GET /b HTTP/1.0\r\nHost: x\r\n\r\n",
      ]
    ) {
      const raw = await Raw.open(server.port);
      try {
        // A second request after it is not answered.
        await raw.send(request + "GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
        await raw.untilClosed();
        assertEquals(count(raw.text, "HTTP/1.1 200 OK"), 1, raw.text);
        assert(raw.text.includes("connection: close\r\n"), raw.text);
      } finally {
        await raw.close();
      }
    }
  } finally {
    await server.close();
  }
});

Deno.test("requests that could hide another request are refused with one line, and the connection ends", async () => {
  let handled = 0;
  const server = await serve(async (req) => {
    handled++;
    return answer(await bodyText(req));
  });
  const cases: [string, string, string][] = [
    [
      "Content-Length and Transfer-Encoding",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "400 Bad Request",
    ],
    [
      "a coding other than chunked",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "501 Not Implemented",
    ],
    [
      "two lengths",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      "400 Bad Request",
    ],
    [
      "a signed length",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\nab",
      "400 Bad Request",
    ],
    [
      "a folded field",
      "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  2\r\n\r\n",
      "400 Bad Request",
    ],
    [
      "a space before the colon",
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 2\r\n\r\nab",
      "400 Bad Request",
    ],
    [
      "a bare LF",
      "GET / HTTP/1.1\nHost: x\r\n\r\n",
      "400 Bad Request",
    ],
    [
      "a malformed request line",
      "GET /  HTTP/1.1\r\nHost: x\r\n\r\n",
      "400 Bad Request",
    ],
    [
      "HTTP/2 without the preface",
      "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
      "400 Bad Request",
    ],
    [
      "a bad Host",
      "GET / HTTP/1.1\r\nHost: ::1:5\r\n\r\n",
      "400 Bad Request",
    ],
    [
      "a Host that would move the path",
      "GET /healthz HTTP/1.1\r\nHost: x\\admin?\r\n\r\n",
      "400 Bad Request",
    ],
    [
      "more than 128 fields",
      `GET / HTTP/1.1\r\nHost: x\r\n${"a: 1\r\n".repeat(128)}\r\n`,
      "431 Request Header Fields Too Large",
    ],
    [
      "a head over 64 KiB",
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`,
      "431 Request Header Fields Too Large",
    ],
  ];
  try {
    for (const [name, request, status] of cases) {
      const raw = await Raw.open(server.port);
      try {
        await raw.send(request);
        await raw.untilClosed();
        assert(
          raw.text.startsWith(`HTTP/1.1 ${status}\r\n`),
          `${name}: ${raw.text}`,
        );
        assert(
          raw.text.includes("\r\n\r\nbad request: "),
          `${name}: ${raw.text}`,
        );
        assertEquals(count(raw.text, "\n\r\n"), 1, `${name}: one answer`);
      } finally {
        await raw.close();
      }
    }
    assertEquals(handled, 0);
    // 127 fields and a Host line are fine.
    const many = await Raw.open(server.port);
    try {
      await many.send(
        `GET / HTTP/1.1\r\nHost: x\r\n${"a: 1\r\n".repeat(127)}\r\n`,
      );
      await many.until((t) => t.startsWith("HTTP/1.1 200 OK"));
    } finally {
      await many.close();
    }
    // A broken chunked body fails the handler's read; the connection ends.
    for (
      const broken of [
        "2\r\nabX\r\n", // no CRLF after the data
        "2;a\nb\r\nab\r\n", // a bare LF in an extension
        "2\r\nab\r\n0\r\nX: 1\nY: 2\r\n\r\n", // and in a trailer
      ]
    ) {
      const raw = await Raw.open(server.port);
      try {
        await raw.send(
          "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
            broken + "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        await raw.untilClosed();
        assert(!raw.text.includes("smuggled"), raw.text);
        assert(!raw.text.includes("200 OK"), `${broken}: ${raw.text}`);
      } finally {
        await raw.close();
      }
    }
  } finally {
    await server.close();
  }
});

Deno.test("empty lines before a request are skipped, even split across reads", async () => {
  const server = await serve();
  const raw = await Raw.open(server.port);
  try {
    await raw.send("\r\n\r");
    await new Promise((r) => setTimeout(r, 50));
    await raw.send("\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    await raw.until((t) => t.includes("GET /a "));
    assert(raw.text.startsWith("HTTP/1.1 200 OK"), raw.text);
  } finally {
    await raw.close();
    await server.close();
  }
});

Deno.test("Expect: 100-continue gets a 100 before the body is sent", async () => {
  const server = await serve();
  const raw = await Raw.open(server.port);
  try {
    await raw.send(
      "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    );
    await raw.until((t) => t.startsWith("HTTP/1.1 100 Continue\r\n\r\n"));
    await raw.send("body");
    await raw.until((t) => t.includes("POST /e body"));
  } finally {
    await raw.close();
    await server.close();
  }
});

Deno.test("a body the handler leaves unread ends the connection after the answer", async () => {
  const server = await serve(() => Promise.resolve(answer("early")));
  const raw = await Raw.open(server.port);
  try {
    await raw.send(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npart",
    );
    await raw.untilClosed();
    assert(raw.text.includes("connection: close\r\n"), raw.text);
    assert(raw.text.endsWith("\r\n\r\nearly"), raw.text);
  } finally {
    await raw.close();
    await server.close();
  }
});

Deno.test("a failing handler gets a 500 and is reported; a client that leaves aborts its request, unreported", async () => {
  let aborted: unknown;
  const server = await serve(async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/fail") throw new Error("boom");
    // /wait: until the client goes away.
    await new Promise<void>((resolve) =>
      req.signal.addEventListener("abort", () => resolve(), { once: true })
    );
    aborted = req.signal.reason;
    throw req.signal.reason;
  });
  try {
    const raw = await Raw.open(server.port);
    try {
      await raw.send("GET /fail HTTP/1.1\r\nHost: x\r\n\r\n");
      await raw.untilClosed();
      assert(
        raw.text.startsWith("HTTP/1.1 500 Internal Server Error"),
        raw.text,
      );
    } finally {
      await raw.close();
    }
    assertEquals(server.failures, ["/fail"]);
    const leaving = await Raw.open(server.port);
    await leaving.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    assert(await waitFor(() => server.counts().started === 2, 5000));
    await leaving.close();
    assert(await waitFor(() => aborted !== undefined, 5000), "not aborted");
    assert(await waitFor(() => server.counts().ended === 2, 5000));
    assertEquals(server.failures, ["/fail"]);
  } finally {
    await server.close();
  }
});

Deno.test("a body is read at most about 1 MiB ahead of a handler that does not read it", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  let got = 0;
  const server = await serve(async (req) => {
    await released;
    for await (const c of req.body as AsyncIterable<Uint8Array>) {
      got += c.length;
    }
    return answer(`got ${got}`);
  });
  const size = 48 * 1024 * 1024;
  const socket = net.connect(server.port, "127.0.0.1");
  try {
    await new Promise<void>((r) => socket.once("connect", () => r()));
    let text = "";
    socket.on("data", (c: Uint8Array) => text += dec.decode(c));
    socket.write(
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`,
    );
    socket.write(new Uint8Array(size));
    // The server stops reading: most of the body stays with the client
    // (kernel buffers hold a few MiB at most).
    await new Promise((r) => setTimeout(r, 500));
    assert(
      socket.writableLength > size / 2,
      `the server read ${size - socket.writableLength} bytes ahead`,
    );
    release();
    assert(await waitFor(() => text.endsWith(`got ${size}`), 20_000), text);
  } finally {
    socket.destroy();
    await server.close();
  }
});

Deno.test("after a broken body, and behind unread answers, nothing more is read", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  // Each answer has a 4 KB head; the handler of POST waits after its body
  // fails.
  const server = await serve(async (req) => {
    if (req.method === "POST") {
      await bodyText(req).catch(() => {});
      await released;
    }
    const res = answer("");
    res.header!.set("x-pad", "p".repeat(4000));
    return res;
  });
  const size = 48 * 1024 * 1024;
  const broken = net.connect(server.port, "127.0.0.1");
  const heads = net.connect(server.port, "127.0.0.1");
  try {
    await Promise.all(
      [broken, heads].map((s) =>
        new Promise<void>((r) => s.once("connect", () => r()))
      ),
    );
    broken.on("error", () => {});
    broken.write(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX",
    );
    broken.write(new Uint8Array(size));
    // 20,000 HEADs (80 MB of answers) from a client that reads nothing.
    heads.pause();
    heads.on("error", () => {});
    const total = 20_000;
    heads.write("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(total));
    await new Promise((r) => setTimeout(r, 1000));
    assert(
      broken.writableLength > size / 2,
      `the server read ${
        size - broken.writableLength
      } bytes after a broken body`,
    );
    // Kernel buffers hold a few MiB of answers at most.
    const answered = server.counts().started;
    assert(answered < total / 4, `${answered} HEADs answered, unread`);
    release();
  } finally {
    broken.destroy();
    heads.destroy();
    await server.close();
  }
});
