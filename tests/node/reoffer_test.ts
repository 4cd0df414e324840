import { assert, assertEquals, assertThrows } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import type { SigTx } from "../../src/chain/tx.ts";
import {
  Reoffer,
  REOFFER_AFTER_PERIODS,
  REOFFER_MAX_PER_ROUND,
  REOFFER_MAX_WAIT_PERIODS,
  runReoffer,
} from "../../src/node/reoffer.ts";
import { waitFor } from "../support.ts";

const PERIOD = 1000;

/** Ten signed transactions, nonces 1..10, oldest first. */
function txs(n = 10): SigTx[] {
  return makeChain(1, n).blocks[0].txs.slice();
}

Deno.test("Reoffer rejects a period that is not positive", () => {
  assertThrows(() => new Reoffer({ periodMs: 0 }), RangeError, "periodMs");
});

Deno.test("Reoffer offers a transaction after it waited, then ever more rarely", () => {
  let now = 0;
  const reoffer = new Reoffer({ periodMs: PERIOD, now: () => now });
  const [tx] = txs(1);
  const offers: number[] = [];
  // Bounded: a round per period for 300 periods.
  for (let period = 0; period <= 300; period++) {
    now = period * PERIOD;
    if (reoffer.due([tx], 10).length > 0) offers.push(period);
  }
  // First after REOFFER_AFTER_PERIODS, then each wait doubles up to the cap.
  const waits = offers.map((p, i) => p - (i === 0 ? 0 : offers[i - 1]));
  assertEquals(waits.slice(0, 5), [
    REOFFER_AFTER_PERIODS,
    REOFFER_AFTER_PERIODS * 2,
    REOFFER_AFTER_PERIODS * 4,
    REOFFER_AFTER_PERIODS * 8,
    REOFFER_AFTER_PERIODS * 16,
  ]);
  assert(waits.every((w) => w <= REOFFER_MAX_WAIT_PERIODS), String(waits));
  assertEquals(waits.at(-1), REOFFER_MAX_WAIT_PERIODS);
});

Deno.test("Reoffer gives at most `limit` a round, oldest first, the rest later", () => {
  let now = 0;
  const reoffer = new Reoffer({ periodMs: PERIOD, now: () => now });
  const pool = txs(10);
  assertEquals(reoffer.due(pool, 4), []);
  now = REOFFER_AFTER_PERIODS * PERIOD;
  assertEquals(reoffer.due(pool, 4), pool.slice(0, 4));
  assertEquals(reoffer.due(pool, 4), pool.slice(4, 8));
  assertEquals(reoffer.due(pool, 4), pool.slice(8));
  assertEquals(reoffer.due(pool, 4), []);
  // No room: nothing is offered, and nothing is taken as offered.
  const other = new Reoffer({ periodMs: PERIOD, now: () => now });
  other.due(pool, 0);
  now += REOFFER_AFTER_PERIODS * PERIOD;
  assertEquals(other.due(pool, 0), []);
  assertEquals(other.due(pool, 100), pool);
});

Deno.test("Reoffer forgets what left the pool; a newcomer waits its turn", () => {
  let now = 0;
  const reoffer = new Reoffer({ periodMs: PERIOD, now: () => now });
  const [a, b, c] = txs(3);
  reoffer.due([a, b], 10);
  assertEquals(reoffer.size, 2);
  now = REOFFER_AFTER_PERIODS * PERIOD;
  // b was confirmed; c just arrived.
  assertEquals(reoffer.due([a, c], 10), [a]);
  assertEquals(reoffer.size, 2);
  now += REOFFER_AFTER_PERIODS * PERIOD;
  assertEquals(reoffer.due([a, c], 10), [c]);
  assertEquals(reoffer.due([], 10), []);
  assertEquals(reoffer.size, 0);
});

Deno.test("runReoffer offers due transactions within the room, and stops on abort", async () => {
  const pool = txs(5);
  let room = 2;
  const offered: SigTx[][] = [];
  const controller = new AbortController();
  let now = 0;
  const running = runReoffer({
    periodMs: 10,
    pending: () => pool,
    room: () => room,
    offer: (batch) => offered.push([...batch]),
    signal: controller.signal,
    // Each round is REOFFER_AFTER_PERIODS periods after the one before.
    now: () => (now += REOFFER_AFTER_PERIODS * 10),
  });
  try {
    assert(await waitFor(() => offered.length >= 2, 2000), String(offered));
    // The oldest first, two a round; the next two a round later.
    assertEquals(offered.slice(0, 2), [pool.slice(0, 2), pool.slice(2, 4)]);
    assert(offered.every((batch) => batch.length <= 2));
    room = 10 * REOFFER_MAX_PER_ROUND;
    const before = offered.length;
    assert(await waitFor(() => offered.length > before, 2000));
    assert(offered.every((batch) => batch.length <= REOFFER_MAX_PER_ROUND));
  } finally {
    controller.abort();
    await running;
  }
});

Deno.test("runReoffer logs a failed round and goes on", async () => {
  const log: string[] = [];
  let rounds = 0;
  const controller = new AbortController();
  const running = runReoffer({
    periodMs: 10,
    pending: () => {
      rounds++;
      throw new Error("no state");
    },
    room: () => 1,
    offer: () => {},
    signal: controller.signal,
    log: (m) => log.push(m),
  });
  try {
    assert(await waitFor(() => rounds >= 2, 2000));
    assertEquals(log[0], "re-offer failed: no state");
  } finally {
    controller.abort();
    await running;
  }
});
