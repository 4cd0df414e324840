import { assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import {
  blockEvent,
  type Event,
  EventType,
  txEvent,
} from "../../src/chain/event.ts";
import { EventBus } from "../../src/node/events.ts";
import { SubscriberTooSlow } from "../../src/rpc/event_feed.ts";

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
