import { assert, assertEquals } from "../assert.ts";
import { AbuseMeter, AddressMeters } from "../../src/http/abuse_meter.ts";

Deno.test("AbuseMeter: spending past the budget fails; points come back with time", () => {
  const m = new AbuseMeter(10, 5, 0);
  assert(m.spend(10, 0));
  assert(!m.spend(1, 0));
  // 1 s later 5 points came back.
  assertEquals(m.used(1000), 6);
  assert(m.spend(4, 1000));
  assert(!m.above(1, 1000));
  assert(m.above(0.5, 1000));
  assertEquals(m.used(10_000), 0);
});

Deno.test("AddressMeters: an address over budget stays blocked until it is back under half", () => {
  const meters = new AddressMeters(10, 1000);
  assert(meters.spend("a", 5));
  assert(!meters.blocked("a"));
  assert(!meters.spend("a", 6));
  assert(meters.blocked("a"));
  assert(!meters.blocked("b"));
});

Deno.test("AddressMeters: filling the table with new addresses does not unblock one", () => {
  // No refill: nothing goes back to zero on its own.
  const meters = new AddressMeters(10, 0);
  assert(!meters.spend("blocked", 11));
  for (let i = 0; i < 5000; i++) meters.spend(`fresh-${i}`, 1);
  assert(meters.blocked("blocked"));
});
