import { assert, assertEquals, assertRejects } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  blockEvent,
  decodeEvent,
  EventType,
  txEvent,
} from "../../src/chain/event.ts";
import { EventBus } from "../../src/node/events.ts";
import { PeerDiscovery } from "../../src/node/peers.ts";
import { Node } from "../../src/rpc/gen/node_pb.ts";
import {
  peerDiscoverMethods,
  streamSubscribeMethods,
} from "../../src/rpc/node_service.ts";
import { PeerRegistry } from "../../src/rpc/registry.ts";
import { startServer } from "../../src/rpc/server.ts";
import { waitFor } from "../support.ts";

const chain = makeChain(3, 2);
const blocks = chain.blocks.map(blockEvent);
const txs = chain.blocks.flatMap((b) => b.txs.map(txEvent));

Deno.test("peerDiscover answers known peers and itself; bootstrap remembers callers", () => {
  const registry = new PeerRegistry();
  const discovery = new PeerDiscovery({
    self: "127.0.0.1:1",
    registry,
    periodMs: 1000,
  });
  const regular = peerDiscoverMethods(discovery, { remembersCallers: false });
  const bootstrap = peerDiscoverMethods(discovery, { remembersCallers: true });
  // deno-lint-ignore no-explicit-any
  const call = (m: typeof regular, peer: string): any =>
    // deno-lint-ignore no-explicit-any
    m.peerDiscover({ Peer: peer } as any, {} as any);
  assertEquals(call(regular, "127.0.0.1:2"), { Peers: ["127.0.0.1:1"] });
  // Callers become candidates, listed only after they answer a round.
  call(bootstrap, "127.0.0.1:2");
  call(bootstrap, "127.0.0.1:1"); // self: ignored
  call(bootstrap, "garbage"); // malformed: ignored
  assertEquals(discovery.peers(), []);
  registry.close();
});

Deno.test({
  name: "StreamSubscribe streams the chosen events over the wire",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const bus = new EventBus();
    const server = await startServer({
      hostname: "127.0.0.1",
      port: 0,
      closeGraceMs: 50,
      routes: (router) => router.service(Node, streamSubscribeMethods(bus)),
    });
    const client = createClient(
      Node,
      createConnectTransport({
        baseUrl: `http://${server.addr}`,
        httpVersion: "1.1",
      }),
    );
    const controller = new AbortController();
    try {
      const stream = client.streamSubscribe(
        { EventTypes: [BigInt(EventType.Block)] },
        { signal: controller.signal },
      )[Symbol.asyncIterator]();
      const first = stream.next(); // sends the request
      assert(await waitFor(() => bus.subscriberCount === 1, 2000));
      for (let i = 0; i < 3; i++) {
        bus.publish(txs[i]);
        bus.publish(blocks[i]);
      }
      const got = [(await first).value];
      for (let i = 0; i < 2; i++) got.push((await stream.next()).value);
      assertEquals(
        got.map((res) => decodeEvent(res!.Event)),
        blocks,
      );
      controller.abort();
      assert(
        await waitFor(() => bus.subscriberCount === 0, 2000),
        "the server dropped the subscriber when the client went away",
      );

      // Bad types are rejected, naming the value.
      const bad = client.streamSubscribe({ EventTypes: [1n, 7n] });
      const err = await assertRejects(
        async () => {
          for await (const _ of bad) { /* nothing arrives */ }
        },
        ConnectError,
        "invalid event type 7",
      );
      assertEquals((err as ConnectError).code, Code.InvalidArgument);
    } finally {
      controller.abort();
      await server.close();
    }
  },
});

Deno.test("StreamSubscribe ends a too slow subscriber with ResourceExhausted", async () => {
  const bus = new EventBus();
  const controller = new AbortController();
  const handler = streamSubscribeMethods(bus, { capacity: 2 }).streamSubscribe;
  const stream = handler(
    // deno-lint-ignore no-explicit-any
    { EventTypes: [] } as any,
    // deno-lint-ignore no-explicit-any
    { signal: controller.signal } as any,
  )[Symbol.asyncIterator]();
  const first = stream.next(); // subscribes
  await Promise.resolve();
  assertEquals(bus.subscriberCount, 1);
  for (let i = 0; i < 4; i++) bus.publish(blocks[i % blocks.length]);
  assertEquals(decodeEvent((await first).value!.Event!), blocks[0]);
  await stream.next();
  await stream.next();
  const err = await assertRejects(
    () => stream.next(),
    ConnectError,
    "subscriber too slow: more than 2 events queued",
  );
  assertEquals((err as ConnectError).code, Code.ResourceExhausted);
  assertEquals(bus.subscriberCount, 0);
  controller.abort();
});
