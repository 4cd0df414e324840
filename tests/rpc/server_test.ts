import { assert, assertEquals, assertRejects } from "../assert.ts";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { Account } from "../../src/rpc/gen/account_pb.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { Node } from "../../src/rpc/gen/node_pb.ts";
import { type RpcServer, startServer } from "../../src/rpc/server.ts";
import { PeerRegistry } from "../../src/rpc/registry.ts";

const GENESIS = new TextEncoder().encode('{"chain":"test"}');
const BLOCK_SIZE = 3000;

/** A fake Block service: BlockSync streams `Number` blocks (8 when 0). */
function fakeBlockRoutes(
  received: number[] = [],
): (router: ConnectRouter) => void {
  return (router) => {
    router.service(Block, {
      genesisSync: () => ({ Genesis: GENESIS }),
      async *blockSync(req) {
        const n = req.Number === 0n ? 8 : Number(req.Number);
        for (let i = 0; i < n; i++) yield { Block: block(i) };
      },
      async blockReceive(reqs) {
        let n = 0;
        for await (const req of reqs) {
          if (req.Block.length !== BLOCK_SIZE) {
            throw new Error("bad block size");
          }
          n++;
        }
        received.push(n);
        return {};
      },
      async *blockSearch(_req, context) {
        // Streams one block, then waits until the call ends.
        yield { Block: block(0) };
        await new Promise((resolve) =>
          context.signal.addEventListener("abort", resolve)
        );
      },
    });
  };
}

function block(i: number): Uint8Array {
  return new Uint8Array(BLOCK_SIZE).fill(i % 256);
}

async function* blocks(n: number): AsyncGenerator<{ Block: Uint8Array }> {
  for (let i = 0; i < n; i++) yield { Block: block(i) };
}

function startFake(received?: number[]): Promise<RpcServer> {
  return startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: fakeBlockRoutes(received),
  });
}

Deno.test("startServer binds port 0 and reports the bound port", async () => {
  const server = await startFake();
  try {
    assert(server.port > 0);
    assertEquals(server.addr, `127.0.0.1:${server.port}`);
  } finally {
    await server.close();
  }
});

Deno.test("startServer rejects a port in use with a one-line message", async () => {
  const server = await startFake();
  try {
    const err = await assertRejects(() =>
      startServer({
        hostname: "127.0.0.1",
        port: server.port,
        routes: fakeBlockRoutes(),
      })
    );
    assertEquals(
      (err as Error).message,
      `cannot listen on 127.0.0.1:${server.port}: address already in use`,
    );
  } finally {
    await server.close();
  }
});

Deno.test("Connect over HTTP/1.1 with a keep-alive agent: 50 x (unary + 8 x 3 KB stream), then 20 in parallel", async () => {
  const server = await startFake();
  const agent = new http.Agent({ keepAlive: true });
  const localPorts = new Set<number | undefined>();
  agent.on("free", (socket: net.Socket) => localPorts.add(socket.localPort));
  try {
    const client = createClient(
      Block,
      createConnectTransport({
        baseUrl: `http://${server.addr}`,
        httpVersion: "1.1",
        nodeOptions: { agent },
      }),
    );
    const signal = AbortSignal.timeout(20_000);
    const call = async (): Promise<void> => {
      const res = await client.genesisSync({}, { signal });
      assertEquals(new Uint8Array(res.Genesis), GENESIS);
      let n = 0;
      for await (const msg of client.blockSync({ Number: 0n }, { signal })) {
        assertEquals(new Uint8Array(msg.Block), block(n));
        n++;
      }
      assertEquals(n, 8);
    };
    for (let i = 0; i < 50; i++) await call();
    // Keep-alive: 100 calls one after another on one connection.
    assertEquals(localPorts.size, 1);
    await Promise.all(Array.from({ length: 20 }, call));
    // 40 calls, 20 at a time: at most 20 more connections.
    assert(localPorts.size <= 21, `${localPorts.size} connections`);
  } finally {
    agent.destroy();
    await server.close();
  }
});

Deno.test("Connect over HTTP/1.1: client stream, 20 calls x 50 x 3 KB", async () => {
  const received: number[] = [];
  const server = await startFake(received);
  const agent = new http.Agent({ keepAlive: true });
  try {
    const client = createClient(
      Block,
      createConnectTransport({
        baseUrl: `http://${server.addr}`,
        httpVersion: "1.1",
        nodeOptions: { agent },
      }),
    );
    const signal = AbortSignal.timeout(20_000);
    for (let i = 0; i < 20; i++) {
      await client.blockReceive(blocks(50), { signal });
    }
    assertEquals(received, new Array(20).fill(50));
  } finally {
    agent.destroy();
    await server.close();
  }
});

Deno.test("gRPC-Web over HTTP/1.1: unary and server stream", async () => {
  const server = await startFake();
  const agent = new http.Agent({ keepAlive: true });
  try {
    const client = createClient(
      Block,
      createGrpcWebTransport({
        baseUrl: `http://${server.addr}`,
        httpVersion: "1.1",
        nodeOptions: { agent },
      }),
    );
    const signal = AbortSignal.timeout(10_000);
    assertEquals(
      new Uint8Array((await client.genesisSync({}, { signal })).Genesis),
      GENESIS,
    );
    let n = 0;
    for await (const _ of client.blockSync({ Number: 8n }, { signal })) n++;
    assertEquals(n, 8);
  } finally {
    agent.destroy();
    await server.close();
  }
});

Deno.test("gRPC over HTTP/2: unary, server stream (raw transport), client stream", async () => {
  const received: number[] = [];
  const server = await startFake(received);
  const session = new Http2SessionManager(`http://${server.addr}`);
  try {
    const client = createClient(
      Block,
      createGrpcTransport({
        baseUrl: `http://${server.addr}`,
        sessionManager: session,
      }),
    );
    const signal = AbortSignal.timeout(20_000);
    for (let i = 0; i < 50; i++) {
      assertEquals(
        new Uint8Array((await client.genesisSync({}, { signal })).Genesis),
        GENESIS,
      );
    }
    // Server streams through the bare connect-node gRPC transport. Under
    // Deno 2.9.6 its HTTP/2 client often ends a stream with "Premature close"
    // after every message arrived (PLATFORM.md); record it, require only that
    // no message is lost and no other error occurs.
    let ok = 0;
    let premature = 0;
    for (let i = 0; i < 20; i++) {
      let n = 0;
      try {
        for await (const _ of client.blockSync({ Number: 8n }, { signal })) n++;
        ok++;
      } catch (err) {
        assert(String(err).includes("Premature close"), String(err));
        premature++;
      }
      assertEquals(n, 8);
    }
    console.log(
      `gRPC/HTTP2 server streams (8 x 3 KB): ${ok} ok, ${premature} Premature close`,
    );
    for (let i = 0; i < 10; i++) {
      await client.blockReceive(blocks(50), { signal });
    }
    assertEquals(received, new Array(10).fill(50));
  } finally {
    session.abort();
    await server.close();
  }
});

Deno.test("Connect over HTTP/2: unary and client stream", async () => {
  const received: number[] = [];
  const server = await startFake(received);
  const session = new Http2SessionManager(`http://${server.addr}`);
  try {
    const client = createClient(
      Block,
      createConnectTransport({
        baseUrl: `http://${server.addr}`,
        httpVersion: "2",
        sessionManager: session,
      }),
    );
    const signal = AbortSignal.timeout(20_000);
    for (let i = 0; i < 20; i++) {
      assertEquals(
        new Uint8Array((await client.genesisSync({}, { signal })).Genesis),
        GENESIS,
      );
      await client.blockReceive(blocks(20), { signal });
    }
    assertEquals(received, new Array(20).fill(20));
  } finally {
    session.abort();
    await server.close();
  }
});

Deno.test("fetch POST application/json {} to /Block/GenesisSync", async () => {
  const server = await startFake();
  try {
    const res = await fetch(`http://${server.addr}/Block/GenesisSync`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
      signal: AbortSignal.timeout(5000),
    });
    assertEquals(res.status, 200);
    const body = await res.json();
    assertEquals(atob(body.Genesis), new TextDecoder().decode(GENESIS));
  } finally {
    await server.close();
  }
});

Deno.test("an HTTP/1.1 request whose first read is 1 byte is routed to HTTP/1.1", async () => {
  const server = await startFake();
  const socket = net.connect(server.port, "127.0.0.1");
  try {
    await new Promise<void>((resolve) =>
      socket.once("connect", () => resolve())
    );
    const response = readAll(socket);
    const request = "POST /Block/GenesisSync HTTP/1.1\r\nHost: x\r\n" +
      "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    // "P" is also the first byte of the HTTP/2 preface: the server must wait.
    socket.write(request.slice(0, 1));
    await delay(50);
    socket.write(request.slice(1, 3));
    await delay(50);
    socket.write(request.slice(3));
    const text = await response;
    assert(text.startsWith("HTTP/1.1 200"), text);
    assert(
      text.includes(`"Genesis":"${btoa(new TextDecoder().decode(GENESIS))}"`),
      text,
    );
  } finally {
    socket.destroy();
    await server.close();
  }
});

Deno.test("an HTTP/2 preface split over several reads is routed to HTTP/2", async () => {
  const server = await startFake();
  const socket = net.connect(server.port, "127.0.0.1");
  try {
    await new Promise<void>((resolve) =>
      socket.once("connect", () => resolve())
    );
    const firstFrame = new Promise<Uint8Array>((resolve) =>
      socket.once("data", resolve)
    );
    const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    socket.write(preface.slice(0, 5));
    await delay(50);
    socket.write(preface.slice(5, 20));
    await delay(50);
    socket.write(preface.slice(20));
    socket.write(new Uint8Array([0, 0, 0, 4, 0, 0, 0, 0, 0])); // empty SETTINGS
    const frame = await firstFrame;
    assertEquals(
      frame[3],
      4,
      "the server answers with an HTTP/2 SETTINGS frame",
    );
  } finally {
    socket.destroy();
    await server.close();
  }
});

Deno.test("curl-like HTTP/2 prior knowledge request with JSON", async () => {
  const server = await startFake();
  const session = http2.connect(`http://${server.addr}`);
  try {
    const stream = session.request({
      ":method": "POST",
      ":path": "/Block/GenesisSync",
      "content-type": "application/json",
    });
    stream.end("{}");
    const status = new Promise<number>((resolve) =>
      stream.once("response", (h) => resolve(Number(h[":status"])))
    );
    const chunks: Uint8Array[] = [];
    stream.on("data", (c: Uint8Array) => chunks.push(c));
    await new Promise((resolve) => stream.once("end", resolve));
    assertEquals(await status, 200);
    const body = JSON.parse(new TextDecoder().decode(concat(chunks)));
    assertEquals(atob(body.Genesis), new TextDecoder().decode(GENESIS));
  } finally {
    session.destroy();
    await server.close();
  }
});

Deno.test("close() ends promptly with a server stream in flight", async () => {
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: fakeBlockRoutes(),
    closeGraceMs: 300,
  });
  const agent = new http.Agent({ keepAlive: true });
  try {
    const client = createClient(
      Block,
      createConnectTransport({
        baseUrl: `http://${server.addr}`,
        httpVersion: "1.1",
        nodeOptions: { agent },
      }),
    );
    const stream = client.blockSearch({}, {
      signal: AbortSignal.timeout(10_000),
    });
    const iterator = stream[Symbol.asyncIterator]();
    assertEquals((await iterator.next()).done, false);
    const rest = iterator.next();
    // It may fail while close() is still under way: not unhandled.
    rest.catch(() => {});
    const started = Date.now();
    await server.close();
    const took = Date.now() - started;
    assert(took < 2000, `close took ${took} ms`);
    const err = await assertRejects(() => rest);
    assert(err instanceof ConnectError, String(err));
    // the second close() returns the same promise
    await server.close();
  } finally {
    agent.destroy();
  }
});

Deno.test("close() through the abort signal; a closed server refuses", async () => {
  const controller = new AbortController();
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: fakeBlockRoutes(),
    signal: controller.signal,
  });
  controller.abort();
  await server.close();
  const agent = new http.Agent({ keepAlive: true });
  try {
    const client = createClient(
      Block,
      createConnectTransport({
        baseUrl: `http://${server.addr}`,
        httpVersion: "1.1",
        nodeOptions: { agent },
      }),
    );
    const err = await assertRejects(() =>
      client.genesisSync({}, { timeoutMs: 5000 })
    );
    assertEquals((err as ConnectError).code, Code.Unavailable);
  } finally {
    agent.destroy();
  }
});

function readAll(socket: net.Socket): Promise<string> {
  const chunks: Uint8Array[] = [];
  socket.on("data", (c: Uint8Array) => chunks.push(c));
  return new Promise((resolve) =>
    socket.once(
      "close",
      () => resolve(new TextDecoder().decode(concat(chunks))),
    )
  );
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("messages over 16 MiB and compressed messages are refused", async () => {
  const server = await startFake();
  try {
    const url = `http://${server.addr}/Block/BlockSync`;
    // A Connect streaming request whose envelope announces 17 MiB: refused
    // from the header alone, before anything is buffered.
    const body = new Uint8Array(5 + 16);
    new DataView(body.buffer).setUint32(1, 17 * 1024 * 1024);
    const big = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/connect+proto" },
      body,
    });
    const text = await big.text();
    assert(text.includes("resource_exhausted"), text);
    const zipped = await fetch(`http://${server.addr}/Block/GenesisSync`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "content-encoding": "gzip",
      },
      body: new Uint8Array([0x1f, 0x8b]),
    });
    const answer = await zipped.text();
    assert(!zipped.ok, answer);
    assert(answer.includes("unimplemented"), answer);
  } finally {
    await server.close();
  }
});

Deno.test("an HTTP/1.1 client that never finishes its headers is cut off", async () => {
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: fakeBlockRoutes(),
    limits: { handshakeTimeoutMs: 200 },
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(
      new TextEncoder().encode("POST /Block/GenesisSync HTTP/1.1\r\n"),
    );
    // The server closes the connection: the read ends (EOF or reset).
    const buf = new Uint8Array(64);
    const read = await Promise.race([
      conn.read(buf).catch(() => null),
      new Promise<"hung">((r) => setTimeout(() => r("hung"), 5000)),
    ]);
    assert(read !== "hung", "the connection was not closed");
    // A well-behaved call still works.
    const res = await fetch(`http://${server.addr}/Block/GenesisSync`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert(res.ok, await res.text());
  } finally {
    conn.close();
    await server.close();
  }
});

/** Sends one raw HTTP/1.1 request and reads the whole answer. */
async function rawHttp1(port: number, request: string): Promise<string> {
  const socket = net.connect(port, "127.0.0.1");
  try {
    await new Promise<void>((resolve) =>
      socket.once("connect", () => resolve())
    );
    const response = readAll(socket);
    socket.write(request);
    return await response;
  } finally {
    socket.destroy();
  }
}

Deno.test("a malformed Host or :authority gets a 400, and the server goes on", async () => {
  const server = await startFake();
  try {
    // Connect builds a URL from the host; `::1:5` is not one.
    const bad = await rawHttp1(
      server.port,
      "POST /Block/GenesisSync HTTP/1.1\r\nHost: ::1:5\r\n" +
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    );
    assert(bad.startsWith("HTTP/1.1 400"), bad);
    assert(bad.includes("bad request: "), bad);

    const session = http2.connect(`http://${server.addr}`);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/Block/GenesisSync",
        ":authority": "::1:5",
        "content-type": "application/json",
      });
      stream.end("{}");
      const status = await new Promise<number>((resolve, reject) => {
        stream.once("response", (h) => resolve(Number(h[":status"])));
        stream.once("error", reject);
      });
      stream.resume();
      assertEquals(status, 400);
    } finally {
      session.destroy();
    }

    const good = await rawHttp1(
      server.port,
      "POST /Block/GenesisSync HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    );
    assert(good.startsWith("HTTP/1.1 200"), good);
  } finally {
    await server.close();
  }
});

Deno.test("plain GET routes beside the services: HTTP/1.1 and HTTP/2, HEAD, 405, one-line 404", async () => {
  let calls = 0;
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: fakeBlockRoutes(),
    httpRoutes: {
      "/healthz": () => {
        calls++;
        return { status: 503, contentType: "text/plain", body: "syncing\n" };
      },
    },
  });
  try {
    const url = `http://${server.addr}`;
    const get = await fetch(`${url}/healthz?verbose=1`);
    assertEquals([get.status, await get.text()], [503, "syncing\n"]);
    assertEquals(get.headers.get("content-type"), "text/plain");
    const head = await fetch(`${url}/healthz`, { method: "HEAD" });
    assertEquals([head.status, await head.text()], [503, ""]);
    // A big body is not read, and the route does not run.
    const post = await fetch(`${url}/healthz`, {
      method: "POST",
      body: new Uint8Array(1 << 20),
    });
    assertEquals(
      [post.status, await post.text(), post.headers.get("allow")],
      [405, "method POST not allowed on /healthz: use GET\n", "GET, HEAD"],
    );
    assertEquals(calls, 2);
    const missing = await fetch(`${url}/metrics`);
    assertEquals(
      [missing.status, await missing.text()],
      [404, "not found: /metrics\n"],
    );
    // The services are unchanged on the same port.
    const rpc = await fetch(`${url}/Block/GenesisSync`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assertEquals(rpc.status, 200);
    assertEquals(atob((await rpc.json()).Genesis), '{"chain":"test"}');

    // HTTP/2 with prior knowledge, as curl --http2-prior-knowledge.
    const session = http2.connect(url);
    try {
      const stream = session.request({ ":method": "GET", ":path": "/healthz" });
      stream.end();
      const status = new Promise<number>((resolve) =>
        stream.once("response", (h) => resolve(Number(h[":status"])))
      );
      const chunks: Uint8Array[] = [];
      stream.on("data", (c: Uint8Array) => chunks.push(c));
      await new Promise((resolve) => stream.once("end", resolve));
      assertEquals(await status, 503);
      assertEquals(new TextDecoder().decode(concat(chunks)), "syncing\n");
    } finally {
      session.destroy();
    }
    assertEquals(calls, 3);
  } finally {
    await server.close();
  }
});

Deno.test("clients hanging up in the middle of HTTP/1.1 streams are not logged", async () => {
  const warnings: string[] = [];
  const logged: unknown[][] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => logged.push(args);
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    onWarning: (m) => warnings.push(m),
    routes: (router) => {
      router.service(Block, {
        async *blockSync(_req, ctx) {
          for (let i = 0; i < 10_000 && !ctx.signal.aborted; i++) {
            yield { Block: block(i % 8) };
          }
        },
      });
    },
  });
  try {
    // Raw clients that reset their connection (RST) once part of the stream
    // has arrived: the server's next writes fail (EPIPE, ECONNRESET).
    const request = "POST /Block/BlockSync HTTP/1.1\r\nHost: bcn\r\n" +
      "Content-Type: application/connect+proto\r\nContent-Length: 5\r\n\r\n";
    for (let i = 0; i < 10; i++) {
      await new Promise<void>((resolve) => {
        const socket = net.connect({ host: "127.0.0.1", port: server.port });
        socket.on("error", () => {});
        socket.on("connect", () => {
          socket.write(request);
          socket.write(new Uint8Array(5));
        });
        let received = 0;
        socket.on("data", (chunk: Uint8Array) => {
          received += chunk.length;
          if (received > 20_000) socket.resetAndDestroy();
        });
        socket.on("close", () => resolve());
      });
    }
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    await server.close();
    console.error = consoleError;
  }
  // connect-node's adapter printed a stack trace for each of them.
  assertEquals(logged, []);
  assertEquals(warnings, []);
});

Deno.test("a method no service has is unimplemented in every protocol", async () => {
  const server = await startFake();
  const baseUrl = `http://${server.addr}`;
  const transports = {
    "Connect over HTTP/1.1": createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
    }),
    "gRPC-Web over HTTP/1.1": createGrpcWebTransport({
      baseUrl,
      httpVersion: "1.1",
    }),
  };
  // gRPC over HTTP/2 on bcn's own client (node:http2's can crash the
  // process: docs/platform.md).
  const grpc = new PeerRegistry({ protocol: "grpc" });
  try {
    const clients = [
      ...Object.entries(transports).map(([name, t]) =>
        [name, createClient(Account, t)] as const
      ),
      ["gRPC over HTTP/2", grpc.clients(server.addr).account] as const,
    ];
    for (const [name, client] of clients) {
      // The fake serves only Block: Account's methods are unknown to it.
      const unary = await assertRejects(() =>
        client.accountBalance({ Address: "0x00" })
      );
      assertEquals((unary as ConnectError).code, Code.Unimplemented, name);
      assert(
        (unary as ConnectError).rawMessage.includes(
          "/Account/AccountBalance",
        ),
        `${name}: ${(unary as ConnectError).rawMessage}`,
      );
    }
    // A server stream of an unknown service: Connect's end-of-stream error.
    const stream = createClient(Node, transports["Connect over HTTP/1.1"]);
    const err = await assertRejects(async () => {
      for await (const _ of stream.streamSubscribe({})) {
        // nothing arrives
      }
    });
    assertEquals((err as ConnectError).code, Code.Unimplemented);
  } finally {
    grpc.close();
    await server.close();
  }
});
