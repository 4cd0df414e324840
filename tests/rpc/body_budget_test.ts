import { assert, assertEquals, assertRejects } from "../assert.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { BodyBudget } from "../../src/rpc/body_budget.ts";

async function* chunks(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

/** A 5-byte envelope prefix announcing `length` payload bytes. */
function prefix(length: number): Uint8Array {
  const p = new Uint8Array(5);
  new DataView(p.buffer).setUint32(1, length);
  return p;
}

Deno.test("BodyBudget: envelopes hold their bytes until each is whole", async () => {
  const budget = new BodyBudget(1000, 1000);
  const seen: number[] = [];
  const metered = budget.meter(
    chunks(
      prefix(10),
      new Uint8Array(4),
      // The rest of the first envelope and 3 bytes of the second's prefix,
      new Uint8Array(6 + 3),
      // the rest of it (an empty envelope), then 20 empty envelopes.
      new Uint8Array(2),
      new Uint8Array(100),
    ),
    { key: "a", contentType: "application/grpc+proto" },
  );
  assertEquals(metered.released, false);
  for await (const _ of metered.body) seen.push(budget.used);
  assertEquals(seen, [5, 9, 3, 0, 0]);
  assertEquals(budget.used, 0); // the body ended: nothing held
  assertEquals(metered.released, true);
});

Deno.test("BodyBudget: past an address's share the body fails with resource_exhausted", async () => {
  const budget = new BodyBudget(1000, 100);
  const held = budget.meter(chunks(prefix(500), new Uint8Array(90)), {
    key: "a",
    contentType: "application/grpc",
  });
  const it = held.body[Symbol.asyncIterator]();
  await it.next();
  await it.next();
  assertEquals(budget.used, 95);
  // Another call from the same address: refused; from another: served.
  const more = budget.meter(chunks(new Uint8Array(10)), {
    key: "a",
    contentType: "application/json",
  });
  const err = await assertRejects(async () => {
    for await (const _ of more.body) { /* refused */ }
  });
  assert(err instanceof ConnectError);
  assertEquals(err.code, Code.ResourceExhausted);
  assert(err.rawMessage.includes("from your address"), err.rawMessage);
  const other = budget.meter(chunks(new Uint8Array(10)), {
    key: "b",
    contentType: "application/json",
  });
  for await (const _ of other.body) { /* served */ }
  // Releasing the held call gives its bytes back.
  held.release();
  assertEquals(budget.used, 0);
});

Deno.test("BodyBudget: past the node's bound every address is refused", async () => {
  const budget = new BodyBudget(50, 40);
  const a = budget.meter(chunks(new Uint8Array(40)), {
    key: "a",
    contentType: "application/json",
  });
  await a.body[Symbol.asyncIterator]().next();
  const err = await assertRejects(async () => {
    for await (
      const _ of budget.meter(chunks(new Uint8Array(20)), {
        key: "b",
        contentType: "application/json",
      }).body
    ) { /* refused */ }
  });
  assert((err as ConnectError).rawMessage.includes("on this node"));
  a.release();
  a.release(); // once only
  assertEquals(budget.used, 0);
});
