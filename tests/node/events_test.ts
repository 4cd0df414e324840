import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  blockEvent,
  decodeEvent,
  type Event,
  EventType,
  txEvent,
} from "../../src/chain/event.ts";
import { Node } from "../../src/rpc/gen/node_pb.ts";
import { startServer } from "../../src/rpc/server.ts";
import {
  EventBus,
  streamSubscribeMethods,
  SubscriberTooSlow,
} from "../../src/node/events.ts";
import { waitFor } from "../support.ts";

const chain = makeChain(3, 2);
const blocks = chain.blocks.map(blockEvent);
const txs = chain.blocks.flatMap((b) => b.txs.map(txEvent));

/** Reads `n` events from `it`. */
async function take(it: AsyncIterator<Event>, n: number): Promise<Event[]> {
  const out: Event[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

Deno.test("EventBus fans out to subscribers by type", async () => {
  const bus = new EventBus();
  const controller = new AbortController();
  const signal = controller.signal;
  const onlyBlocks = bus.subscribe([EventType.Block], { signal });
  const onlyTxs = bus.subscribe([EventType.Tx], { signal });
  const all = bus.subscribe([], { signal });
  const allByZero = bus.subscribe([EventType.All], { signal });
  assertEquals(bus.subscriberCount, 4);
  const published = [txs[0], blocks[0], txs[1], blocks[1], txs[2]];
  for (const e of published) bus.publish(e);
  assertEquals(await take(onlyBlocks, 2), [blocks[0], blocks[1]]);
  assertEquals(await take(onlyTxs, 3), [txs[0], txs[1], txs[2]]);
  assertEquals(await take(all, 5), published);
  assertEquals(await take(allByZero, 5), published);
  // A waiting reader gets the next event as soon as it is published.
  const pending = onlyBlocks.next();
  bus.publish(blocks[2]);
  assertEquals(await pending, { value: blocks[2], done: false });
  controller.abort();
  assertEquals(bus.subscriberCount, 0);
});

Deno.test("EventBus disconnects a slow subscriber after what it had", async () => {
  const bus = new EventBus();
  const controller = new AbortController();
  const slow = bus.subscribe([], { signal: controller.signal, capacity: 5 });
  const fast = bus.subscribe([], { signal: controller.signal, capacity: 5 });
  const fastGot: Event[] = [];
  const reading = (async () => {
    for await (const e of fast) {
      fastGot.push(e);
      if (fastGot.length === 20) break;
    }
  })();
  for (let i = 0; i < 20; i++) {
    bus.publish(i % 2 === 0 ? txs[i % txs.length] : blocks[i % blocks.length]);
    await new Promise((resolve) => setTimeout(resolve, 0)); // fast keeps up
    if (i === 4) assertEquals(bus.subscriberCount, 2, "5 queued: still on");
    if (i === 5) assertEquals(bus.subscriberCount, 1, "6th event: slow off");
    assertEquals(bus.slowDisconnects, i < 5 ? 0 : 1, `after event ${i}`);
  }
  await reading;
  assertEquals(fastGot.length, 20);
  assertEquals(bus.subscriberCount, 0, "slow dropped, fast returned");
  // Leaving by itself is not being too slow.
  assertEquals(bus.slowDisconnects, 1);
  // The slow one still yields the 5 it had, then fails.
  assertEquals((await take(slow, 5)).length, 5);
  const err = await assertRejects(
    () => slow.next(),
    SubscriberTooSlow,
    "subscriber too slow: more than 5 events queued",
  );
  assertEquals((err as SubscriberTooSlow).capacity, 5);
  assertEquals(await slow.next(), { value: undefined, done: true });
});

Deno.test("EventBus: abort and return() unsubscribe and end a waiting reader", async () => {
  const bus = new EventBus();
  const controller = new AbortController();
  const sub = bus.subscribe([EventType.Tx], { signal: controller.signal });
  const other = bus.subscribe([EventType.Tx]);
  assertEquals(bus.subscriberCount, 2);
  const waiting = sub.next();
  controller.abort();
  assertEquals(await waiting, { value: undefined, done: true });
  assertEquals(bus.subscriberCount, 1);
  bus.publish(txs[0]);
  assertEquals(await sub.next(), { value: undefined, done: true });
  await other.return?.();
  assertEquals(bus.subscriberCount, 0);
  // Already aborted: never subscribed.
  const late = bus.subscribe([], { signal: controller.signal });
  assertEquals(bus.subscriberCount, 0);
  assertEquals(await late.next(), { value: undefined, done: true });
  assertThrows(() => bus.subscribe([], { capacity: 0 }), RangeError);
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
