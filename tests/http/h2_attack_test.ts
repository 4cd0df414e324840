/**
 * The published HTTP/2 attack classes against bcn's HTTP/2 server, each
 * scaled down through `startServer({ h2 })` (see `src/http/h2_limits.ts`)
 * so that it reaches its bound in a few hundred frames: what the server
 * must answer (GOAWAY ENHANCE_YOUR_CALM and a closed socket, a 431, a
 * refused or cancelled stream, a refused connection) and that other
 * connections are still served meanwhile.
 *
 * The contract: abuse costs a connection points (a PING while no DATA
 * moved since the last one, a SETTINGS, an empty DATA or header fragment
 * that ends nothing, a PRIORITY, a stream the client resets, a stream the
 * server refuses); a connection past its budget, or an address past its
 * own over all its connections, is closed with ENHANCE_YOUR_CALM, and the
 * address refused at accept until its meter is back under half.
 */
import { assert, assertEquals } from "../assert.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { type RpcServer, startServer } from "../../src/rpc/server.ts";
import {
  ACK,
  END_HEADERS,
  END_STREAM,
  Frame,
  frame,
  type H2Frame,
  headerFrames,
  MAX_FRAME_SIZE,
  readU31,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_MAX_HEADER_LIST_SIZE,
  settingsPayload,
  u32,
} from "../../src/http/h2_frames.ts";
import {
  type H2Limits,
  MAX_HEADER_BLOCK_BYTES,
  MAX_HEADER_BLOCK_FRAMES,
  MAX_HEADER_LIST_BYTES,
} from "../../src/http/h2_limits.ts";
import { encodeHeaderBlock } from "../../src/http/hpack.ts";
import { MAX_STREAMS_PER_CONNECTION } from "../../src/http/listener.ts";
import { canBind } from "../rpc/harness.ts";
import {
  getBlock,
  holdFrame,
  hpackIndexed,
  hpackLiteral,
  RawClient,
} from "./h2_raw_client.ts";
import { concatBytes } from "../../src/util/bytes.ts";

const BLOCK = 3000;
const BLOCKS = 200;
/** One BlockSync message on the wire: gRPC's 5-byte prefix, 3 of field. */
const MESSAGE = BLOCK + 8;
/** A gRPC BlockSync request body (Number = 1). */
const SYNC_FROM_1 = Uint8Array.of(0, 0, 0, 0, 2, 8, 1);
/** An empty gRPC message (a GenesisSync request). */
const EMPTY_MESSAGE = Uint8Array.of(0, 0, 0, 0, 0);
/** A unary method: a request whose body never ends holds its stream. */
const GENESIS = "/Block/GenesisSync";
const ENHANCE_YOUR_CALM = 0xb;
const REFUSED_STREAM = 0x7;
const CANCEL = 0x8;

/** A second source address, where this machine has one (Linux does). */
const SECOND = "127.0.0.2";
const hasSecond = canBind(SECOND);

/** A server with `h2` bounds whose BlockSync streams BLOCKS blocks. */
function serve(h2: H2Limits): Promise<RpcServer> {
  return startServer({
    hostname: "127.0.0.1",
    port: 0,
    closeGraceMs: 200,
    h2,
    routes: (router) => {
      router.service(Block, {
        genesisSync: () => ({ Genesis: new Uint8Array([1, 2, 3]) }),
        async *blockSync(_req, ctx) {
          for (let i = 0; i < BLOCKS && !ctx.signal.aborted; i++) {
            yield { Block: new Uint8Array(BLOCK).fill(i) };
          }
        },
      });
    },
    httpRoutes: {
      "/healthz": () => ({
        status: 200,
        contentType: "text/plain",
        body: "ok\n",
      }),
    },
  });
}

/**
 * Runs `fn` against a server with `h2` bounds; the server and every client
 * `fn` registers are closed after.
 */
async function withServer(
  h2: H2Limits,
  fn: (server: RpcServer, clients: RawClient[]) => Promise<void>,
): Promise<void> {
  const server = await serve(h2);
  const clients: RawClient[] = [];
  try {
    await fn(server, clients);
  } finally {
    for (const c of clients) c.close();
    await server.close();
  }
}

/** Opens a raw client and registers it for closing. */
async function open(
  server: RpcServer,
  clients: RawClient[],
  settings: [number, number][] = [],
  localAddress?: string,
): Promise<RawClient> {
  const c = await RawClient.open(server.port, settings, { localAddress });
  clients.push(c);
  return c;
}

/**
 * How a new connection's `GET /healthz` is answered: `"200"`, another
 * status, `"reset N"`, `"refused: <status line>"` or `"no answer"`.
 */
async function healthz(port: number, localAddress?: string): Promise<string> {
  const c = await RawClient.open(port, [], { localAddress });
  try {
    const greeting = await c.greeting();
    if (greeting.kind === "http") return `refused: ${greeting.statusLine}`;
    if (greeting.kind === "closed") return "no answer";
    if (
      !await c.send(
        frame(Frame.Headers, END_HEADERS | END_STREAM, 1, getBlock("/healthz")),
      )
    ) {
      return "no answer";
    }
    const answer = await c.response(1);
    if (!answer) return "no answer";
    return "reset" in answer ? `reset ${answer.reset}` : answer.status;
  } finally {
    c.close();
  }
}

/** Asserts that `c` gets a GOAWAY ENHANCE_YOUR_CALM, then is closed. */
async function assertCalm(c: RawClient, what: string): Promise<void> {
  const code = await c.goaway();
  assertEquals(code, ENHANCE_YOUR_CALM, `${what}: the GOAWAY's code`);
  assert(await c.closed(), `${what}: the socket stayed open`);
}

/** Asserts that a connection was refused at accept (an HTTP/1.1 503). */
async function assertRefused(c: RawClient, what: string): Promise<void> {
  const greeting = await c.greeting();
  assertEquals(
    greeting.kind === "http" ? greeting.statusLine.slice(0, 12) : greeting.kind,
    "HTTP/1.1 503",
    `${what}: not refused at accept`,
  );
}

/** `n` PRIORITY frames on stream `id` (no dependency, weight 16). */
function priorities(n: number, id = 1): Uint8Array {
  const one = frame(
    Frame.Priority,
    0,
    id,
    concatBytes([u32(0), Uint8Array.of(15)]),
  );
  return concatBytes(Array.from({ length: n }, () => one));
}

/** `n` PING frames (not ACKs), each with its own payload. */
function pings(n: number): Uint8Array {
  return concatBytes(
    Array.from({ length: n }, (_, i) => frame(Frame.Ping, 0, 0, u32(7, i))),
  );
}

/**
 * Reads `c` until the ACK of a PING it sent, a GOAWAY or the end: `"ack"`,
 * the GOAWAY's code, or `"ended"`.
 */
async function settle(c: RawClient): Promise<"ack" | "ended" | number> {
  const f = await c.until((f) =>
    f.type === Frame.Goaway || (f.type === Frame.Ping && (f.flags & ACK) !== 0)
  );
  if (!f) return "ended";
  return f.type === Frame.Goaway ? readU31(f.payload, 4) : "ack";
}

/** The streams of `frames` reset with REFUSED_STREAM, in order. */
function refused(frames: H2Frame[]): number[] {
  return frames
    .filter((f) =>
      f.type === Frame.RstStream && readU31(f.payload) === REFUSED_STREAM
    )
    .map((f) => f.stream);
}

/** Stream ids 1, 3, 5... from the `from`th odd id, `n` of them. */
function ids(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => 2 * (from + i) + 1);
}

// --- Abuse points: each class past the connection's budget ---

Deno.test("h2 attacks: PRIORITY frames past the connection's abuse budget end it with ENHANCE_YOUR_CALM", async () => {
  await withServer({ connectionAbuseBudget: 50 }, async (server, clients) => {
    const c = await open(server, clients);
    await c.hold(1, GENESIS);
    await c.send(priorities(150));
    await assertCalm(c, "PRIORITY flood");
    assertEquals(await healthz(server.port), "200");
  });
});

Deno.test("h2 attacks: empty header fragments without END_HEADERS past the budget end the connection", async () => {
  await withServer({ connectionAbuseBudget: 50 }, async (server, clients) => {
    const block = getBlock("/healthz");
    // An empty HEADERS, the block in a CONTINUATION: each a served request.
    const emptyHeaders = await open(server, clients);
    await emptyHeaders.send(concatBytes(
      ids(80).flatMap((id) => [
        frame(Frame.Headers, END_STREAM, id),
        frame(Frame.Continuation, END_HEADERS, id, block),
      ]),
    ));
    await assertCalm(emptyHeaders, "empty HEADERS fragments");
    // The block around an empty CONTINUATION.
    const emptyContinuation = await open(server, clients);
    await emptyContinuation.send(concatBytes(
      ids(80).flatMap((id) => [
        frame(Frame.Headers, END_STREAM, id, block.subarray(0, 1)),
        frame(Frame.Continuation, 0, id),
        frame(Frame.Continuation, END_HEADERS, id, block.subarray(1)),
      ]),
    ));
    await assertCalm(emptyContinuation, "empty CONTINUATION fragments");
    assertEquals(await healthz(server.port), "200");
  });
});

Deno.test("h2 attacks: an address past its abuse budget has its connections closed and new ones refused", async (t) => {
  // Each connection stays under its own budget (40 PRIORITY frames, its
  // SETTINGS and a PING): only their sum goes past the address's.
  const limits = {
    connectionAbuseBudget: 50,
    addressAbuseBudget: 120,
    abuseRefillPerSecond: 1,
  };
  await withServer(limits, async (server, clients) => {
    const innocent = await open(server, clients);
    await innocent.hold(1, GENESIS);
    assert(await innocent.roundTrip(), "the first connection is not served");
    let cut: number | undefined;
    for (let i = 0; i < 6 && cut === undefined; i++) {
      const c = await open(server, clients);
      const greeting = await c.greeting();
      assert(greeting.kind === "settings", `connection ${i} was refused`);
      await c.send(
        concatBytes([priorities(40), frame(Frame.Ping, 0, 0, u32(1, i))]),
      );
      const end = await settle(c);
      if (end !== "ack") {
        assertEquals(end, ENHANCE_YOUR_CALM, `connection ${i}: how it ended`);
        assert(await c.closed(), `connection ${i}: the socket stayed open`);
        cut = i;
      }
      c.close();
    }
    // 2 + 42 + 42 = 86 points at most before the third: under the budget.
    assert(cut !== undefined, "the address was never cut off");
    assert(cut >= 2, `connection ${cut} was cut off before the budget`);
    // Every connection of the address goes, the innocent one too.
    await assertCalm(innocent, "the address's other connection");
    await assertRefused(
      await open(server, clients),
      "a new connection of the address",
    );
    await t.step({
      name: "another address is still served",
      ignore: !hasSecond,
      fn: async () => assertEquals(await healthz(server.port, SECOND), "200"),
    });
  });
});

Deno.test("h2 attacks: an address past its abuse budget is let in again once its meter is under half", async () => {
  const limits = {
    connectionAbuseBudget: 1000,
    addressAbuseBudget: 60,
    abuseRefillPerSecond: 40,
  };
  await withServer(limits, async (server, clients) => {
    const c = await open(server, clients);
    await c.hold(1, GENESIS);
    await c.send(priorities(100));
    await assertCalm(c, "PRIORITY flood past the address's budget");
    // Refused at once (the meter needs most of a second to get under half),
    await assertRefused(
      await open(server, clients),
      "a new connection of the address",
    );
    // then let in again as the meter refills: polled, bounded in time.
    let status = "never let in again";
    const deadline = Date.now() + 10_000;
    for (let i = 0; i < 100 && Date.now() < deadline; i++) {
      status = await healthz(server.port);
      if (!status.startsWith("refused") && status !== "no answer") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assertEquals(status, "200");
  });
});

// --- CONTINUATION floods ---

Deno.test("h2 attacks: a header block of more than MAX_HEADER_BLOCK_FRAMES frames ends the connection", async () => {
  await withServer({}, async (server, clients) => {
    const block = getBlock("/healthz");
    assert(block.length > MAX_HEADER_BLOCK_FRAMES);
    /** HEADERS and CONTINUATIONs carrying `block` in `n` fragments. */
    const split = (id: number, n: number): Uint8Array => {
      const at = (i: number) => Math.floor(i * block.length / n);
      const parts = Array.from(
        { length: n },
        (_, i) => block.subarray(at(i), at(i + 1)),
      );
      assert(parts.every((p) => p.length > 0), "a fragment is empty");
      return concatBytes(parts.map((p, i) =>
        frame(
          i === 0 ? Frame.Headers : Frame.Continuation,
          (i === 0 ? END_STREAM : 0) | (i === n - 1 ? END_HEADERS : 0),
          id,
          p,
        )
      ));
    };
    // At the bound: served.
    const ok = await open(server, clients);
    await ok.write(split(1, MAX_HEADER_BLOCK_FRAMES));
    const answer = await ok.response(1);
    assertEquals(answer && "status" in answer ? answer.status : answer, "200");
    // One frame more.
    const over = await open(server, clients);
    await over.send(split(1, MAX_HEADER_BLOCK_FRAMES + 1));
    await assertCalm(over, "a block in one frame too many");
    // Empty CONTINUATIONs that never end the block (CVE-2024-27316).
    const endless = await open(server, clients);
    await endless.send(concatBytes([
      frame(Frame.Headers, END_STREAM, 1),
      ...Array.from({ length: 1000 }, () => frame(Frame.Continuation, 0, 1)),
    ]));
    await assertCalm(endless, "empty CONTINUATIONs");
    assertEquals(await healthz(server.port), "200");
  });
});

/**
 * A GET /healthz header block of exactly `size` bytes (a padding field),
 * and its decoded size as SETTINGS_MAX_HEADER_LIST_SIZE counts it.
 */
function paddedBlock(size: number): { block: Uint8Array; listSize: number } {
  const fields: [string, string][] = [
    [":method", "GET"],
    [":scheme", "http"],
    [":authority", "bcn"],
    [":path", "/healthz"],
  ];
  let pad = size;
  for (let i = 0; i < 8; i++) {
    const block = encodeHeaderBlock([...fields, ["x-pad", "a".repeat(pad)]]);
    if (block.length === size) {
      let listSize = 0;
      for (const [n, v] of [...fields, ["x-pad", "a".repeat(pad)]]) {
        listSize += n.length + v.length + 32;
      }
      return { block, listSize };
    }
    pad += size - block.length;
  }
  throw new Error(`no block of ${size} bytes`);
}

Deno.test("h2 attacks: a header block of more than MAX_HEADER_BLOCK_BYTES ends the connection", async () => {
  await withServer({}, async (server, clients) => {
    // At the bound, in one frame: answered (431 for its decoded size).
    const atBound = paddedBlock(MAX_HEADER_BLOCK_BYTES);
    const ok = await open(server, clients);
    await ok.write(headerFrames(1, atBound.block, MAX_FRAME_SIZE, true));
    const answer = await ok.response(1);
    assertEquals(
      answer && "status" in answer ? answer.status : answer,
      atBound.listSize > MAX_HEADER_LIST_BYTES ? "431" : "200",
    );
    await ok.get(3, "/healthz");
    const next = await ok.response(3);
    assertEquals(next && "status" in next ? next.status : next, "200");
    // One byte more: a CONTINUATION of one byte.
    const over = await open(server, clients);
    await over.send(headerFrames(
      1,
      paddedBlock(MAX_HEADER_BLOCK_BYTES + 1).block,
      MAX_FRAME_SIZE,
      true,
    ));
    await assertCalm(over, "a block one byte too large");
    assertEquals(await healthz(server.port), "200");
  });
});

// --- Header list size: HPACK amplification ---

Deno.test("h2 attacks: an HPACK-amplified header list past MAX_HEADER_LIST_BYTES gets 431, the connection stays in step", async () => {
  await withServer({}, async (server, clients) => {
    const c = await open(server, clients);
    const greeting = await c.greeting();
    assert(greeting.kind === "settings", "no SETTINGS from the server");
    assertEquals(
      greeting.settings.get(SETTINGS_MAX_HEADER_LIST_SIZE),
      MAX_HEADER_LIST_BYTES,
    );
    // A 4,000-byte field added to the server's dynamic table, then named
    // by its index 30 times: a 4 KiB block that decodes to 121 KB.
    const big = "x".repeat(4000);
    const amplified = concatBytes([
      getBlock("/healthz"),
      hpackLiteral("indexing", "x-big", big),
      ...Array.from({ length: 30 }, () => hpackIndexed(62)),
    ]);
    assert(amplified.length < MAX_HEADER_BLOCK_BYTES);
    await c.write(frame(Frame.Headers, END_HEADERS | END_STREAM, 1, amplified));
    const first = await c.response(1);
    assertEquals(first && "status" in first ? first.status : first, "431");
    // The table still holds the field: a request naming it once is served.
    await c.write(frame(
      Frame.Headers,
      END_HEADERS | END_STREAM,
      3,
      concatBytes([getBlock("/healthz"), hpackIndexed(62)]),
    ));
    const second = await c.response(3);
    assertEquals(second && "status" in second ? second.status : second, "200");
  });
});

// --- Empty DATA frames ---

Deno.test("h2 attacks: a flood of empty DATA frames is cut off while another connection is served", async () => {
  await withServer({ connectionAbuseBudget: 50 }, async (server, clients) => {
    const c = await open(server, clients);
    await c.hold(1, GENESIS);
    const empties = concatBytes(
      Array.from({ length: 50 }, () => frame(Frame.Data, 0, 1)),
    );
    let served: Promise<string> | undefined;
    let code: number | undefined;
    const deadline = Date.now() + 5000;
    for (
      let i = 0;
      i < 200 && code === undefined && !c.ended && Date.now() < deadline;
      i++
    ) {
      if (!await c.send(empties)) break;
      // Another client asks while the flood goes on.
      served ??= healthz(server.port);
      code = await c.goaway(10);
    }
    code ??= await c.goaway();
    assertEquals(code, ENHANCE_YOUR_CALM, "the GOAWAY's code");
    assert(await c.closed(), "the flooding connection stayed open");
    assertEquals(await served, "200");
  });
});

// --- Streams: per address, per node, stalled on flow control ---

Deno.test("h2 attacks: streams past the per-address bound are refused, across connections", async () => {
  const limits = { maxStreamsPerAddress: 8, maxStreamsPerNode: 12 };
  await withServer(limits, async (server, clients) => {
    const seen: number[][] = [];
    for (let i = 0; i < 3; i++) {
      const c = await open(server, clients);
      await c.write(concatBytes(ids(4).map((id) => holdFrame(id, GENESIS))));
      const frames = await c.roundTrip();
      assert(frames, `connection ${i} ended`);
      seen.push(refused(frames));
    }
    // 4 + 4 streams open: the third connection's 4 are refused.
    assertEquals(seen, [[], [], ids(4)]);
    // The held streams are real: one, finished, is answered.
    await clients[0].data(1, EMPTY_MESSAGE, true);
    const answer = await clients[0].response(1);
    assertEquals(answer && "status" in answer ? answer.status : answer, "200");
  });
});

Deno.test("h2 attacks: streams past the node's bound are refused", async () => {
  const limits = { maxStreamsPerAddress: 64, maxStreamsPerNode: 12 };
  await withServer(limits, async (server, clients) => {
    const seen: number[][] = [];
    for (let i = 0; i < 3; i++) {
      const c = await open(server, clients);
      await c.write(concatBytes(ids(5).map((id) => holdFrame(id, GENESIS))));
      const frames = await c.roundTrip();
      assert(frames, `connection ${i} ended`);
      seen.push(refused(frames));
    }
    // 5 + 5 + 2 open: the third connection's last 3 are refused.
    assertEquals(seen, [[], [], ids(3, 2)]);
  });
});

Deno.test({
  name:
    "h2 attacks: a second address gets streams where the first one's bound is reached, up to the node's less its reserve",
  ignore: !hasSecond,
  fn: async () => {
    // 16 on the node, a quarter of them kept for preferred addresses (the
    // first address is the server's own machine): 12 for strangers.
    const limits = { maxStreamsPerAddress: 8, maxStreamsPerNode: 16 };
    await withServer(limits, async (server, clients) => {
      const first = await open(server, clients);
      await first.write(
        concatBytes(ids(10).map((id) => holdFrame(id, GENESIS))),
      );
      const a = await first.roundTrip();
      assert(a, "the first address's connection ended");
      assertEquals(refused(a), ids(2, 8));
      const second = await open(server, clients, [], SECOND);
      await second.write(
        concatBytes(ids(4).map((id) => holdFrame(id, GENESIS))),
      );
      const b = await second.roundTrip();
      assert(b, "the second address's connection ended");
      assertEquals(refused(b), []);
      // 12 open on the node, all a stranger may use: the next is refused.
      await second.hold(9, GENESIS);
      const c = await second.roundTrip();
      assert(c, "the second address's connection ended");
      assertEquals(refused(c), [9]);
    });
  },
});

Deno.test("h2 attacks: a response stalled on a closed window is cancelled and frees its slot", async () => {
  const limits = { maxStreamsPerAddress: 1, progressCheckMs: 1000 };
  await withServer(limits, async (server, clients) => {
    // A window of 0 that never opens: the response cannot be sent.
    const stalled = await open(server, clients, [
      [SETTINGS_INITIAL_WINDOW_SIZE, 0],
    ]);
    await stalled.request(1, GENESIS, EMPTY_MESSAGE);
    assert(await stalled.roundTrip(), "the stalled connection ended");
    // Meanwhile the address's only stream slot is taken.
    const other = await open(server, clients);
    await other.get(1, "/healthz");
    assertEquals(await other.response(1), { reset: REFUSED_STREAM });
    // Past the stall time: cancelled,
    const reset = await stalled.until((f) =>
      f.type === Frame.RstStream && f.stream === 1
    );
    assert(reset, "the stalled stream was never reset");
    assertEquals(readU31(reset.payload), CANCEL);
    // and its slot serves another stream.
    await other.get(3, "/healthz");
    const answer = await other.response(3);
    assertEquals(answer && "status" in answer ? answer.status : answer, "200");
  });
});

// --- Rapid reset ---

/** `n` streams opened and reset at once, from the `from`th odd id. */
function openAndReset(n: number, from = 0): Uint8Array {
  return concatBytes(
    ids(n, from).flatMap((id) => [
      holdFrame(id, "/Block/BlockSync"),
      frame(Frame.RstStream, 0, id, u32(CANCEL)),
    ]),
  );
}

Deno.test("h2 attacks: rapid reset past the connection's budget ends in ENHANCE_YOUR_CALM", async () => {
  await withServer({ connectionAbuseBudget: 50 }, async (server, clients) => {
    const c = await open(server, clients);
    await c.send(openAndReset(120));
    await assertCalm(c, "rapid reset");
    assertEquals(await healthz(server.port), "200");
  });
});

Deno.test("h2 attacks: rapid reset across reconnects gets the address refused", async (t) => {
  const limits = {
    connectionAbuseBudget: 50,
    addressAbuseBudget: 120,
    abuseRefillPerSecond: 1,
  };
  await withServer(limits, async (server, clients) => {
    // Each connection: 35 streams reset, its SETTINGS and a PING (37
    // points, under the connection's 50), then away.
    const endings: string[] = [];
    for (let i = 0; i < 8; i++) {
      const c = await open(server, clients);
      const greeting = await c.greeting();
      if (greeting.kind !== "settings") {
        endings.push(
          greeting.kind === "http" ? greeting.statusLine : "closed",
        );
        break;
      }
      await c.send(
        concatBytes([openAndReset(35), frame(Frame.Ping, 0, 0, u32(i, 0))]),
      );
      const end = await settle(c);
      endings.push(typeof end === "number" ? `GOAWAY ${end}` : end);
      c.close();
    }
    // Three connections (at most 111 points) are under the address's
    // budget; the fourth goes past it and the next is refused.
    assert(
      endings.length <= 6,
      `the address was never refused: ${endings.join(", ")}`,
    );
    assertEquals(endings.slice(0, 3), ["ack", "ack", "ack"]);
    const last = endings[endings.length - 1];
    assert(
      last.startsWith("HTTP/1.1 503") || last === "closed",
      `the last connection was not refused: ${endings.join(", ")}`,
    );
    await t.step({
      name: "another address is still served",
      ignore: !hasSecond,
      fn: async () => assertEquals(await healthz(server.port, SECOND), "200"),
    });
  });
});

// --- PING and SETTINGS floods ---

Deno.test("h2 attacks: a PING flood with a stream open ends in ENHANCE_YOUR_CALM", async () => {
  await withServer({ connectionAbuseBudget: 50 }, async (server, clients) => {
    const c = await open(server, clients);
    await c.hold(1, GENESIS);
    await c.send(pings(200));
    await assertCalm(c, "PING flood");
    assertEquals(await healthz(server.port), "200");
  });
});

Deno.test("h2 attacks: a SETTINGS flood with a stream open ends in ENHANCE_YOUR_CALM", async () => {
  await withServer({ connectionAbuseBudget: 50 }, async (server, clients) => {
    const c = await open(server, clients);
    await c.hold(1, GENESIS);
    await c.send(concatBytes(
      Array.from({ length: 200 }, () => frame(Frame.Settings, 0, 0)),
    ));
    await assertCalm(c, "SETTINGS flood");
    assertEquals(await healthz(server.port), "200");
  });
});

Deno.test("h2 attacks: SETTINGS frames of thousands of entries cost in proportion", async () => {
  await withServer({ connectionAbuseBudget: 50 }, async (server, clients) => {
    const c = await open(server, clients);
    await c.hold(1, GENESIS);
    // 2730 entries a frame: 171 points each, past the budget at once,
    // where 20 frames of a few entries cost 20.
    const big = settingsPayload(
      Array.from(
        { length: 2730 },
        () => [SETTINGS_INITIAL_WINDOW_SIZE, 65_535] as [number, number],
      ),
    );
    await c.send(concatBytes(
      Array.from({ length: 20 }, () => frame(Frame.Settings, 0, 0, big)),
    ));
    await assertCalm(c, "SETTINGS frames");
    assertEquals(await healthz(server.port), "200");
  });
  await withServer({ connectionAbuseBudget: 50 }, async (server, clients) => {
    const c = await open(server, clients);
    await c.hold(1, GENESIS);
    const usual = settingsPayload([
      [SETTINGS_INITIAL_WINDOW_SIZE, 65_535],
      [SETTINGS_MAX_CONCURRENT_STREAMS, 100],
    ]);
    await c.send(concatBytes([
      ...Array.from({ length: 20 }, () => frame(Frame.Settings, 0, 0, usual)),
      pings(1),
    ]));
    assertEquals(
      await settle(c),
      "ack",
      "20 usual SETTINGS frames are no abuse",
    );
  });
});

Deno.test("h2 attacks: a PING after DATA frames of a long response (a BDP estimator) is not abuse", async () => {
  const budget = 50;
  await withServer(
    { connectionAbuseBudget: budget },
    async (server, clients) => {
      // A window of one message: the server sends it, waits for the window
      // update that comes with the next PING, as grpc-go's BDP estimator
      // sends them (a PING on receiving DATA unless one is unanswered).
      const c = await open(server, clients, [
        [SETTINGS_INITIAL_WINDOW_SIZE, MESSAGE],
      ]);
      await c.request(1, "/Block/BlockSync", SYNC_FROM_1);
      let received = 0;
      let sent = 0;
      let unanswered = false;
      let ended = false;
      let goaway: number | undefined;
      const deadline = Date.now() + 20_000;
      for (
        let i = 0;
        i < 20_000 && !ended && goaway === undefined && Date.now() < deadline;
        i++
      ) {
        const f = await c.frame(deadline - Date.now());
        if (!f) break;
        if (f.type === Frame.Settings && !(f.flags & ACK)) {
          await c.write(frame(Frame.Settings, ACK, 0));
        } else if (f.type === Frame.Ping && f.flags & ACK) {
          unanswered = false;
        } else if (f.type === Frame.Goaway) {
          goaway = readU31(f.payload, 4);
        } else if (f.type === Frame.Data && f.stream === 1) {
          received += f.payload.length;
          const out: Uint8Array[] = [];
          if (f.payload.length > 0) {
            out.push(
              frame(Frame.WindowUpdate, 0, 1, u32(f.payload.length)),
              frame(Frame.WindowUpdate, 0, 0, u32(f.payload.length)),
            );
          }
          if (!unanswered) {
            out.push(frame(Frame.Ping, 0, 0, u32(0xb0, ++sent)));
            unanswered = true;
          }
          await c.write(concatBytes(out));
        } else if (f.type === Frame.Headers) {
          c.hpack.decode(f.payload);
        }
        ended = f.stream === 1 && (f.flags & END_STREAM) !== 0;
      }
      assertEquals(goaway, undefined, "the client was cut off");
      assert(ended, "the response did not end");
      assertEquals(received, BLOCKS * MESSAGE);
      // Enough PINGs that counting them would have cut the client off.
      assert(sent > budget, `only ${sent} PINGs sent`);
    },
  );
});

// --- Refused streams ---

Deno.test("h2 attacks: a flood of streams past SETTINGS_MAX_CONCURRENT_STREAMS ends in ENHANCE_YOUR_CALM", async () => {
  const limits = {
    connectionAbuseBudget: 50,
    maxStreamsPerAddress: 1000,
    maxStreamsPerNode: 1000,
  };
  await withServer(limits, async (server, clients) => {
    const c = await open(server, clients);
    const greeting = await c.greeting();
    assert(greeting.kind === "settings", "no SETTINGS from the server");
    const max = MAX_STREAMS_PER_CONNECTION;
    assertEquals(greeting.settings.get(SETTINGS_MAX_CONCURRENT_STREAMS), max);
    // The streams it allows, held open, then 70 more.
    await c.send(
      concatBytes(ids(max + 70).map((id) => holdFrame(id, GENESIS))),
    );
    const first = await c.until((f) =>
      f.type === Frame.RstStream || f.type === Frame.Goaway
    );
    assert(first?.type === Frame.RstStream, "no stream refused");
    assertEquals(
      [first.stream, readU31(first.payload)],
      [2 * max + 1, REFUSED_STREAM],
    );
    await assertCalm(c, "refused-stream flood");
    assertEquals(await healthz(server.port), "200");
  });
});
