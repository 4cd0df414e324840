/**
 * Connection bounds of the one-port server (src/rpc/conn_limits.ts), over
 * real sockets: an attacker bound to 127.0.0.2 (or 127.0.0.3) holds
 * connections, clients at 127.0.0.1 must still be answered. Times are
 * injected through `limits` so the tests are fast; every wait is bounded.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { waitFor, withTempDir } from "../support.ts";
import { encodeSigBlock } from "../../src/chain/block.ts";
import { blockEvent, decodeEvent, EventType } from "../../src/chain/event.ts";
import { EventBus } from "../../src/node/events.ts";
import { streamSubscribeMethods } from "../../src/rpc/node_service.ts";
import { peerSyncSource, StateSync } from "../../src/node/state_sync.ts";
import { blockSyncMethods } from "../../src/rpc/block_service.ts";
import { clientAddress } from "../../src/http/address_list.ts";
import { PeerRegistry } from "../../src/rpc/registry.ts";
import {
  addressKey,
  ConnectionTracker,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
} from "../../src/http/conn_limits.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { Node } from "../../src/rpc/gen/node_pb.ts";
import { type ServerOptions, startServer } from "../../src/rpc/server.ts";
import { BlockStore } from "../../src/store/block_store.ts";

const GENESIS = new TextEncoder().encode('{"chain":"test"}');
/** The HTTP/2 client preface and an empty SETTINGS frame: all the attack sends. */
const PREFACE_AND_SETTINGS = new Uint8Array([
  ...new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  ...[0, 0, 0, 4, 0, 0, 0, 0, 0],
]);

/** Connections opened and held by an "attacker". */
interface Held {
  sockets: net.Socket[];
  /** Bytes each socket received, as latin1 text. */
  received: string[];
  /** Whether each socket is closed. */
  closed: boolean[];
  /** Destroys them all. */
  close(): void;
}

/**
 * Opens `n` connections from `localAddress`, writes `payload` on each and
 * then does nothing; resolves once every one is connected or failed
 * (bounded by 10 s).
 */
async function hold(
  port: number,
  n: number,
  localAddress: string,
  payload?: Uint8Array,
): Promise<Held> {
  const sockets: net.Socket[] = [];
  const received: string[] = [];
  const closed: boolean[] = [];
  const settled: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    received.push("");
    closed.push(false);
    const socket = net.connect({ host: "127.0.0.1", port, localAddress });
    sockets.push(socket);
    socket.on("data", (chunk: Uint8Array) => {
      received[i] += String.fromCharCode(...chunk);
    });
    socket.on("close", () => closed[i] = true);
    settled.push(
      new Promise<void>((resolve) => {
        socket.once("connect", () => {
          if (payload) socket.write(payload);
          resolve();
        });
        socket.once("error", () => resolve());
        setTimeout(resolve, 10_000);
      }),
    );
  }
  await Promise.all(settled);
  return {
    sockets,
    received,
    closed,
    close: () => sockets.forEach((s) => s.destroy()),
  };
}

/** A Connect-over-HTTP/1.1 Block client whose sockets leave from `localAddress`. */
function blockClientFrom(
  addr: string,
  localAddress: string,
): { client: ReturnType<typeof createClient<typeof Block>>; close(): void } {
  const agent = new http.Agent({ keepAlive: true, localAddress });
  const client = createClient(
    Block,
    createConnectTransport({
      baseUrl: `http://${addr}`,
      httpVersion: "1.1",
      nodeOptions: { agent },
    }),
  );
  return { client, close: () => agent.destroy() };
}

function start(
  extra: Partial<ServerOptions> = {},
): ReturnType<typeof startServer> {
  return startServer({
    hostname: "127.0.0.1",
    port: 0,
    closeGraceMs: 100,
    routes: (r) => {
      r.service(Block, {
        genesisSync: () => ({ Genesis: GENESIS }),
        async *blockSync(req) {
          for (let i = 0n; i < req.Number; i++) {
            yield { Block: new Uint8Array(3000) };
          }
        },
      });
    },
    ...extra,
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("addressKey counts IPv4 by address and IPv6 by /64", () => {
  assertEquals(addressKey("10.0.0.7"), "10.0.0.7");
  assertEquals(addressKey("::ffff:10.0.0.7"), "10.0.0.7");
  assertEquals(clientAddress("::FFFF:127.0.0.2"), "127.0.0.2");
  assertEquals(addressKey("2001:db8:0:1::5"), "2001:db8:0:1::/64");
  assertEquals(
    addressKey("2001:0db8:0000:0001:aaaa:bbbb:cccc:dddd"),
    "2001:db8:0:1::/64",
  );
  assertEquals(addressKey("::1"), "0:0:0:0::/64");
  assertEquals(addressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  // Two hosts of one /64 share a key; the next /64 does not.
  assertEquals(addressKey("2001:db8::1"), addressKey("2001:db8::2"));
  assert(addressKey("2001:db8::1") !== addressKey("2001:db8:0:2::1"));
});

Deno.test("ConnectionTracker refuses bad limits", () => {
  const err = assertThrows(
    () => new ConnectionTracker({ maxPerAddress: 0 }),
    RangeError,
  );
  assertEquals(err.message, "maxPerAddress must be a positive integer, got 0");
});

Deno.test("an address holding more than its share does not stop another address", async () => {
  // The attacker's connections are kept past the test's length.
  const server = await start({ limits: { handshakeTimeoutMs: 60_000 } });
  const extra = 16;
  const n = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS + extra;
  const attack = await hold(server.port, n, "127.0.0.2", PREFACE_AND_SETTINGS);
  const fromAttacker = blockClientFrom(server.addr, "127.0.0.2");
  const sm = new Http2SessionManager(`http://${server.addr}`);
  try {
    assert(
      await waitFor(
        () => attack.closed.filter((c) => c).length === extra,
        5000,
      ),
      `closed: ${attack.closed.filter((c) => c).length}`,
    );
    const stats = server.connectionStats();
    assertEquals(stats.open, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS);
    assertEquals(stats.refusedPerAddress, extra);
    // The refused ones were told why, in HTTP/1.1.
    const refused = attack.received.filter((r) =>
      r.startsWith("HTTP/1.1 503 ")
    );
    assertEquals(refused.length, extra);
    assert(refused[0].includes("too many connections from your address"));

    // 127.0.0.1 is answered, over HTTP/1.1 and over HTTP/2.
    const res = await fetch(`http://${server.addr}/Block/GenesisSync`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assertEquals(res.status, 200, await res.text());
    const grpc = createClient(
      Block,
      createGrpcTransport({
        baseUrl: `http://${server.addr}`,
        sessionManager: sm,
      }),
    );
    assertEquals(
      new Uint8Array((await grpc.genesisSync({})).Genesis),
      GENESIS,
    );

    // A bcn client at the attacker's address gets an answer, not a
    // connection closed without one (which it would take for a gRPC peer).
    const err = await assertRejects(
      () => fromAttacker.client.genesisSync({}),
      ConnectError,
      "too many connections from your address",
    );
    assertEquals((err as ConnectError).code, Code.Unavailable);
    // A stream too.
    await assertRejects(
      async () => {
        for await (const _ of fromAttacker.client.blockSync({ Number: 1n })) {
          // nothing arrives
        }
      },
      ConnectError,
      "unavailable",
    );
  } finally {
    sm.abort();
    fromAttacker.close();
    attack.close();
    await server.close();
  }
});

Deno.test("connections that never send a first request are dropped, whatever the protocol", async () => {
  const server = await start({ limits: { handshakeTimeoutMs: 300 } });
  const silent = await hold(server.port, 1, "127.0.0.2");
  const h2 = await hold(server.port, 1, "127.0.0.2", PREFACE_AND_SETTINGS);
  const trickle = await hold(server.port, 1, "127.0.0.2");
  // HTTP/1.1 headers, one byte every 50 ms: each byte comes well within the
  // handshake time, the whole never does.
  const head = "POST /Block/GenesisSync HTTP/1.1\r\nHost: x\r\nX-Pad: " +
    "a".repeat(200);
  let sent = 0;
  const ticker = setInterval(() => {
    if (sent < head.length && !trickle.closed[0]) {
      trickle.sockets[0].write(head[sent++]);
    }
  }, 50);
  try {
    assert(
      await waitFor(
        () => silent.closed[0] && h2.closed[0] && trickle.closed[0],
        5000,
      ),
      `closed: ${[silent.closed[0], h2.closed[0], trickle.closed[0]]}`,
    );
    assert(sent < head.length, "the trickled headers were never cut off");
    assertEquals(server.connectionStats().closedHandshake, 3);
    assertEquals(server.connectionStats().open, 0);
    // The HTTP/2 one was sent a GOAWAY (frame type 7) after the server's
    // SETTINGS.
    assert(hasFrame(h2.received[0], 7), "no GOAWAY frame");
    // A prompt client is served as usual.
    const res = await fetch(`http://${server.addr}/Block/GenesisSync`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assertEquals(res.status, 200, await res.text());
  } finally {
    clearInterval(ticker);
    silent.close();
    h2.close();
    trickle.close();
    await server.close();
  }
});

/** Whether the HTTP/2 frames in `bytes` (latin1) include one of `type`. */
function hasFrame(bytes: string, type: number): boolean {
  for (let i = 0; i + 9 <= bytes.length && i < 100_000;) {
    const len = (bytes.charCodeAt(i) << 16) | (bytes.charCodeAt(i + 1) << 8) |
      bytes.charCodeAt(i + 2);
    if (bytes.charCodeAt(i + 3) === type) return true;
    i += 9 + len;
  }
  return false;
}

Deno.test("an idle HTTP/2 connection gets a GOAWAY after the idle time", async () => {
  const server = await start({ limits: { idleTimeoutMs: 300 } });
  const session = http2.connect(`http://${server.addr}`);
  let goaway: number | undefined;
  session.on("goaway", (code: number) => goaway = code);
  session.on("error", () => {});
  let closed = false;
  session.on("close", () => closed = true);
  try {
    // One call, then nothing.
    const req = session.request({
      ":method": "POST",
      ":path": "/Block/GenesisSync",
      "content-type": "application/json",
    });
    req.end("{}");
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (s: string) => body += s);
    await new Promise<void>((resolve, reject) => {
      req.on("end", resolve);
      req.on("error", reject);
    });
    assert(body.includes("Genesis"), body);
    assert(await waitFor(() => closed, 5000), "the idle session stayed open");
    assertEquals(goaway, http2.constants.NGHTTP2_NO_ERROR);
    const stats = server.connectionStats();
    assertEquals(stats.closedIdle, 1);
    assertEquals(stats.closedHandshake, 0);
  } finally {
    session.destroy();
    await server.close();
  }
});

Deno.test("subscriptions open longer than the idle time are not cut", async () => {
  const bus = new EventBus();
  const idleTimeoutMs = 200;
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    closeGraceMs: 100,
    limits: { idleTimeoutMs, handshakeTimeoutMs: idleTimeoutMs },
    routes: (r) => r.service(Node, streamSubscribeMethods(bus)),
  });
  const sm = new Http2SessionManager(`http://${server.addr}`);
  const clients = [
    createClient(
      Node,
      createConnectTransport({
        baseUrl: `http://${server.addr}`,
        httpVersion: "1.1",
      }),
    ),
    createClient(
      Node,
      createGrpcTransport({
        baseUrl: `http://${server.addr}`,
        sessionManager: sm,
      }),
    ),
  ];
  const controller = new AbortController();
  try {
    const streams = clients.map((c) =>
      c.streamSubscribe({ EventTypes: [BigInt(EventType.Block)] }, {
        signal: controller.signal,
      })[Symbol.asyncIterator]()
    );
    const firsts = streams.map((s) => s.next()); // send the requests
    assert(await waitFor(() => bus.subscriberCount === 2, 5000));
    // Five idle times with nothing on the wire.
    await sleep(5 * idleTimeoutMs);
    const event = blockEvent(makeChain(1, 1).blocks[0]);
    bus.publish(event);
    for (const first of firsts) {
      const got = await first;
      assert(!got.done, "the stream ended");
      assertEquals(decodeEvent(got.value.Event), event);
    }
    assertEquals(bus.subscriberCount, 2);
    const stats = server.connectionStats();
    assertEquals(stats.closedIdle, 0);
    assertEquals(stats.closedHandshake, 0);
    assertEquals(stats.open, 2);
  } finally {
    controller.abort();
    sm.abort();
    await server.close();
  }
});

Deno.test("a peer's block sync works while an attacker holds the node's connections", async () => {
  const chain = makeChain(7, 3);
  await withTempDir(async (dir) => {
    const store = await BlockStore.open(`${dir}/boot`);
    await store.writeGenesis(chain.genesis);
    for (const b of chain.blocks) await store.appendBlock(b);
    const preferred = new Set(["127.0.0.3"]);
    // Holds each BlockSync until `together` of them are open at once, so
    // that the peer's connections are surely open together.
    let together = 0;
    let open = 0;
    const sync = blockSyncMethods({ store });
    const server = await startServer({
      hostname: "127.0.0.1",
      port: 0,
      closeGraceMs: 100,
      limits: {
        maxConnections: 16,
        reserved: 4,
        maxPerAddress: 16,
        handshakeTimeoutMs: 60_000,
        isPreferred: (ip) => preferred.has(ip),
      },
      routes: (r) => {
        r.service(Block, {
          ...sync,
          async *blockSync(req, ctx) {
            open++;
            await waitFor(() => open >= together, 5000);
            yield* sync.blockSync(req, ctx);
          },
        });
      },
    });
    // 20 connections from the attacker: 12 get in (16 less the 4 kept for
    // peers and the node's machine), 8 are refused.
    const attack = await hold(
      server.port,
      20,
      "127.0.0.2",
      PREFACE_AND_SETTINGS,
    );
    const peer = blockClientFrom(server.addr, "127.0.0.3");
    const stranger = blockClientFrom(server.addr, "127.0.0.3");
    const registry = new PeerRegistry({ protocol: "connect" });
    let refill: Held | undefined;
    try {
      assert(
        await waitFor(() => attack.closed.filter((c) => c).length === 8, 5000),
      );
      assertEquals(server.connectionStats().open, 12);
      assertEquals(server.connectionStats().refusedFull, 8);

      // A regular node on the node's own machine syncs every block.
      const state = await new StateSync({
        node: "127.0.0.1:2",
        bootstrap: false,
        seed: server.addr,
        keyStoreDir: `${dir}/keys`,
        blockStoreDir: `${dir}/blocks`,
        chain: "blockchain",
      }, {
        peers: { peers: () => [server.addr] },
        signal: AbortSignal.timeout(20_000),
        log: () => {},
        retryDelayMs: 1,
        source: peerSyncSource(registry),
      }).syncState();
      assertEquals(state.lastNumber, 7n);

      // A known peer at another address opens 6 block syncs at once: the
      // 4 kept slots and 2 of the attacker's idle connections.
      together = 6;
      open = 0;
      const runs = await Promise.all(
        Array.from({ length: 6 }, async () => {
          let n = 0;
          for await (const res of peer.client.blockSync({ Number: 1n })) {
            assertEquals(
              new TextDecoder().decode(res.Block),
              encodeSigBlock(chain.blocks[n]),
            );
            n++;
          }
          return n;
        }),
      );
      assertEquals(runs, [7, 7, 7, 7, 7, 7]);
      assert(
        server.connectionStats().evicted >= 2,
        JSON.stringify(server.connectionStats()),
      );

      // The peer's and the local node's connections stay open (keep-alive)
      // until their clients close them.
      const left = 12 - server.connectionStats().evicted;
      peer.close();
      registry.close();
      assert(
        await waitFor(() => server.connectionStats().open === left, 5000),
        JSON.stringify(server.connectionStats()),
      );

      // Not a known peer any more: refused while the node is nearly full
      // (the attacker fills it up again).
      preferred.clear();
      together = 0;
      refill = await hold(server.port, 4, "127.0.0.2", PREFACE_AND_SETTINGS);
      assert(
        await waitFor(() => server.connectionStats().open === 12, 5000),
        JSON.stringify(server.connectionStats()),
      );
      const err = await assertRejects(
        () => stranger.client.genesisSync({}),
        ConnectError,
        "server busy",
      );
      assertEquals((err as ConnectError).code, Code.Unavailable);
    } finally {
      registry.close();
      peer.close();
      stranger.close();
      attack.close();
      refill?.close();
      await server.close();
    }
  });
});

Deno.test("when full, a peer takes the place of an idle stranger, never of the own machine's or a busy one", async () => {
  const server = await start({
    limits: {
      maxConnections: 5,
      reserved: 2,
      handshakeTimeoutMs: 60_000,
      isPreferred: (ip) => ip === "127.0.0.3",
    },
  });
  const opened: Held[] = [];
  try {
    // Idle, from the node's own machine, admitted first (the longest idle).
    const own = await hold(server.port, 1, "127.0.0.1", PREFACE_AND_SETTINGS);
    opened.push(own);
    // A stranger's busy connection: its request headers are in, its body
    // never comes.
    const busy = await hold(
      server.port,
      1,
      "127.0.0.2",
      new TextEncoder().encode(
        "POST /Block/GenesisSync HTTP/1.1\r\nHost: x\r\n" +
          "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
      ),
    );
    opened.push(busy);
    // Then an idle one; the soft bound (5 - 2) is hit.
    const idle = await hold(server.port, 1, "127.0.0.2", PREFACE_AND_SETTINGS);
    opened.push(idle);
    assert(await waitFor(() => server.connectionStats().open === 3, 5000));
    const late = await hold(server.port, 1, "127.0.0.2", PREFACE_AND_SETTINGS);
    opened.push(late);
    assert(await waitFor(() => late.closed[0], 5000));
    assertEquals(server.connectionStats().refusedFull, 1);
    // Two peer connections fill the server.
    const peer = await hold(server.port, 2, "127.0.0.3", PREFACE_AND_SETTINGS);
    opened.push(peer);
    assert(await waitFor(() => server.connectionStats().open === 5, 5000));
    // A third: the stranger's idle connection makes room.
    const third = await hold(server.port, 1, "127.0.0.3", PREFACE_AND_SETTINGS);
    opened.push(third);
    assert(await waitFor(() => idle.closed[0], 5000), "not evicted");
    assertEquals(server.connectionStats().evicted, 1);
    assertEquals(server.connectionStats().open, 5);
    // Nothing idle from elsewhere is left: the next peer is refused.
    const fourth = await hold(
      server.port,
      1,
      "127.0.0.3",
      PREFACE_AND_SETTINGS,
    );
    opened.push(fourth);
    assert(await waitFor(() => fourth.closed[0], 5000));
    assert(fourth.received[0].startsWith("HTTP/1.1 503 "));
    assert(!own.closed[0], "the own machine's connection was closed");
    assert(!busy.closed[0], "the busy connection was closed");
    assert(!third.closed[0] && !peer.closed.includes(true));
    assertEquals(server.connectionStats().evicted, 1);
  } finally {
    for (const h of opened) h.close();
    await server.close();
  }
});
