import { assert, assertEquals, assertRejects } from "../assert.ts";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { startServer } from "../../src/rpc/server.ts";
import { createPeerClients, PeerRegistry } from "../../src/rpc/registry.ts";
import { describePeerError } from "../../src/rpc/peer_errors.ts";
import { isNoResponseError, PeerTransport } from "../../src/rpc/transport.ts";

const GENESIS = new TextEncoder().encode('{"chain":"test"}');
const BLOCK_SIZE = 3000;
const PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** A fake Block service: BlockSync streams `Number` blocks (8 when 0). */
function fakeBlockRoutes(
  received: number[] = [],
): (router: ConnectRouter) => void {
  return (router) => {
    router.service(Block, {
      async genesisSync(_req, context) {
        const wait = context.requestHeader.get("x-test-delay");
        if (wait) {
          await new Promise((resolve) => {
            const timer = setTimeout(resolve, Number(wait));
            context.signal.addEventListener("abort", () => {
              clearTimeout(timer);
              resolve(undefined);
            });
          });
        }
        return { Genesis: GENESIS };
      },
      async *blockSync(req) {
        const n = req.Number === 0n ? 8 : Number(req.Number);
        for (let i = 0; i < n; i++) {
          yield { Block: new Uint8Array(BLOCK_SIZE).fill(i) };
        }
      },
      async blockReceive(reqs) {
        let n = 0;
        for await (const _ of reqs) n++;
        received.push(n);
        return {};
      },
      async *blockSearch(_req, context) {
        yield { Block: new Uint8Array(BLOCK_SIZE) };
        await new Promise((resolve) =>
          context.signal.addEventListener("abort", resolve)
        );
      },
    });
  };
}

async function* blocks(n: number): AsyncGenerator<{ Block: Uint8Array }> {
  for (let i = 0; i < n; i++) {
    yield { Block: new Uint8Array(BLOCK_SIZE).fill(i) };
  }
}

/** A server like a reference Go node: gRPC over HTTP/2 only. */
interface Http2OnlyServer {
  addr: string;
  /** Connections that did not start with the HTTP/2 preface. */
  rejected: number;
  close(): Promise<void>;
}

/**
 * Like grpc-go: HTTP/2 connections are served, any other connection gets an
 * HTTP/2 SETTINGS frame and is closed, with no HTTP response.
 */
async function startGrpcGoLike(received?: number[]): Promise<Http2OnlyServer> {
  const h2 = http2.createServer(
    {},
    connectNodeAdapter({ routes: fakeBlockRoutes(received) }),
  );
  const sockets = new Set<net.Socket>();
  const result = { addr: "", rejected: 0, close };
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let seen = new Uint8Array(0);
    function onData(chunk: Uint8Array): void {
      const joined = new Uint8Array(seen.length + chunk.length);
      joined.set(seen);
      joined.set(chunk, seen.length);
      seen = joined;
      const n = Math.min(seen.length, PREFACE.length);
      if (seen.subarray(0, n).some((b, i) => b !== PREFACE[i])) {
        socket.off("data", onData);
        result.rejected++;
        socket.write(
          new Uint8Array([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0x40, 0]),
        );
        socket.destroy();
      } else if (n === PREFACE.length) {
        socket.off("data", onData);
        socket.pause();
        socket.unshift(seen);
        h2.emit("connection", socket);
        socket.resume();
      }
    }
    socket.on("data", onData);
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  result.addr = `127.0.0.1:${(tcp.address() as net.AddressInfo).port}`;
  async function close(): Promise<void> {
    const closed = new Promise((resolve) => tcp.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
  }
  return result;
}

/** A bare `node:http2` server (it answers HTTP/1.1 bytes with HTTP/2 frames). */
async function startBareHttp2(): Promise<
  { addr: string; close(): Promise<void> }
> {
  const h2 = http2.createServer(
    {},
    connectNodeAdapter({ routes: fakeBlockRoutes() }),
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
  const addr = `127.0.0.1:${(h2.address() as net.AddressInfo).port}`;
  return {
    addr,
    async close() {
      const closed = new Promise((resolve) => h2.close(resolve));
      for (const s of sessions) s.destroy();
      await closed;
    },
  };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function countStream(
  stream: AsyncIterable<{ Block: Uint8Array }>,
): Promise<number> {
  let n = 0;
  for await (const msg of stream) {
    assertEquals(msg.Block.length, BLOCK_SIZE);
    n++;
  }
  return n;
}

Deno.test("connect mode to a bcn server: unary, server and client streams", async () => {
  const received: number[] = [];
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: fakeBlockRoutes(received),
  });
  const peers = new PeerRegistry({ protocol: "connect" });
  try {
    const { block } = peers.clients(server.addr);
    const signal = AbortSignal.timeout(20_000);
    for (let i = 0; i < 20; i++) {
      const res = await block.genesisSync({});
      assertEquals(new Uint8Array(res.Genesis), GENESIS);
      assertEquals(
        await countStream(block.blockSync({ Number: 8n }, { signal })),
        8,
      );
      await block.blockReceive(blocks(20), { signal });
    }
    assertEquals(received, new Array(20).fill(20));
    assertEquals(peers.protocolOf(server.addr), "connect");
  } finally {
    peers.close();
    await server.close();
  }
});

Deno.test("auto mode to a bcn server stays on Connect", async () => {
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: fakeBlockRoutes(),
  });
  const peers = new PeerRegistry();
  try {
    assertEquals(peers.protocolOf(server.addr), undefined);
    const { block } = peers.clients(server.addr);
    await block.genesisSync({});
    assertEquals(peers.protocolOf(server.addr), "connect");
  } finally {
    peers.close();
    await server.close();
  }
});

Deno.test("grpc mode to a bcn server: unary and 20 x 8 x 3 KB streams end cleanly", async () => {
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: fakeBlockRoutes(),
  });
  const peers = new PeerRegistry({ protocol: "grpc" });
  try {
    const { block } = peers.clients(server.addr);
    const signal = AbortSignal.timeout(20_000);
    assertEquals(
      new Uint8Array((await block.genesisSync({})).Genesis),
      GENESIS,
    );
    // The "Premature close" of Deno's HTTP/2 client after an OK trailer is
    // absorbed by transport.ts; every stream must end normally and completely.
    for (let i = 0; i < 20; i++) {
      assertEquals(
        await countStream(block.blockSync({ Number: 8n }, { signal })),
        8,
      );
    }
  } finally {
    peers.close();
    await server.close();
  }
});

Deno.test("auto falls back to gRPC against a grpc-go-like server and remembers it", async () => {
  const received: number[] = [];
  const server = await startGrpcGoLike(received);
  const peers = new PeerRegistry();
  try {
    const { block } = peers.clients(server.addr);
    const signal = AbortSignal.timeout(20_000);
    const res = await block.genesisSync({});
    assertEquals(new Uint8Array(res.Genesis), GENESIS);
    assertEquals(peers.protocolOf(server.addr), "grpc");
    assertEquals(server.rejected, 1);
    for (let i = 0; i < 20; i++) {
      assertEquals(
        await countStream(block.blockSync({ Number: 8n }, { signal })),
        8,
      );
      await block.genesisSync({});
    }
    await block.blockReceive(blocks(50), { signal });
    assertEquals(received, [50]);
    assertEquals(server.rejected, 1, "no more HTTP/1.1 attempts once learned");
  } finally {
    peers.close();
    await server.close();
  }
});

Deno.test("auto falls back on a server stream before its first message", async () => {
  const server = await startGrpcGoLike();
  const transport = new PeerTransport(server.addr, "auto");
  try {
    const { block } = createPeerClients(transport);
    const signal = AbortSignal.timeout(10_000);
    assertEquals(
      await countStream(block.blockSync({ Number: 5n }, { signal })),
      5,
    );
    assertEquals(transport.protocol, "grpc");
    assertEquals(server.rejected, 1);
  } finally {
    transport.close();
    await server.close();
  }
});

Deno.test("auto probes before a client stream to an unknown peer", async () => {
  const received: number[] = [];
  const server = await startGrpcGoLike(received);
  const transport = new PeerTransport(server.addr, "auto");
  try {
    const { block } = createPeerClients(transport);
    await block.blockReceive(blocks(30), {
      signal: AbortSignal.timeout(10_000),
    });
    assertEquals(received, [30]);
    assertEquals(transport.protocol, "grpc");
  } finally {
    transport.close();
    await server.close();
  }
});

Deno.test("auto falls back to gRPC against a bare node:http2 server", async () => {
  const server = await startBareHttp2();
  const peers = new PeerRegistry();
  try {
    const { block } = peers.clients(server.addr);
    assertEquals(
      new Uint8Array((await block.genesisSync({})).Genesis),
      GENESIS,
    );
    assertEquals(peers.protocolOf(server.addr), "grpc");
  } finally {
    peers.close();
    await server.close();
  }
});

Deno.test("connection refused: clear error, no fallback", async () => {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const peers = new PeerRegistry();
  try {
    const { block } = peers.clients(addr);
    const err = await assertRejects(() => block.genesisSync({}), ConnectError);
    assertEquals((err as ConnectError).code, Code.Unavailable);
    assert(!isNoResponseError(err));
    assertEquals(
      describePeerError(addr, err),
      `peer ${addr}: unavailable: connect ECONNREFUSED`,
    );
    assertEquals(peers.protocolOf(addr), undefined);
    const streamErr = await assertRejects(
      () => countStream(block.blockSync({})),
      ConnectError,
    );
    assertEquals((streamErr as ConnectError).code, Code.Unavailable);
  } finally {
    peers.close();
  }
});

Deno.test("unary calls get the default timeout", async () => {
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: fakeBlockRoutes(),
  });
  const peers = new PeerRegistry({ unaryTimeoutMs: 200 });
  try {
    const { block } = peers.clients(server.addr);
    const started = Date.now();
    const err = await assertRejects(
      () => block.genesisSync({}, { headers: { "x-test-delay": "5000" } }),
      ConnectError,
    );
    assertEquals((err as ConnectError).code, Code.DeadlineExceeded);
    assert(Date.now() - started < 2000);
    assertEquals(
      describePeerError(server.addr, err),
      `peer ${server.addr}: deadline_exceeded: the operation timed out`,
    );
  } finally {
    peers.close();
    await server.close();
  }
});

Deno.test("a server stream is cancelled through its AbortSignal", async () => {
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: fakeBlockRoutes(),
  });
  const peers = new PeerRegistry();
  try {
    const { block } = peers.clients(server.addr);
    const controller = new AbortController();
    const iterator = block.blockSearch({}, { signal: controller.signal })
      [Symbol.asyncIterator]();
    assertEquals((await iterator.next()).done, false);
    const rest = iterator.next();
    controller.abort();
    const err = await assertRejects(() => rest, ConnectError);
    assertEquals((err as ConnectError).code, Code.Canceled);
  } finally {
    peers.close();
    await server.close();
  }
});

Deno.test("isNoResponseError recognises closed-without-response failures", () => {
  const hangUp = new ConnectError(
    "socket hang up",
    Code.Aborted,
    undefined,
    undefined,
    {
      code: "ECONNRESET",
    },
  );
  hangUp.cause = Object.assign(new Error("socket hang up"), {
    code: "ECONNRESET",
  });
  assert(isNoResponseError(hangUp));
  assert(
    isNoResponseError(
      Object.assign(new Error("write EPIPE"), { code: "EPIPE" }),
    ),
  );
  assert(
    isNoResponseError(
      Object.assign(new Error("Parse Error"), { code: "HPE_INVALID_CONSTANT" }),
    ),
  );
  assert(
    !isNoResponseError(
      Object.assign(new Error("refused"), { code: "ECONNREFUSED" }),
    ),
  );
  assert(!isNoResponseError(new ConnectError("not found", Code.NotFound)));
});
