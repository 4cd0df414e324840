/** The abortable pause: it resolves, true or false, and never rejects. */
import { assertEquals } from "../assert.ts";
import { sleep } from "../../src/util/sleep.ts";

Deno.test("sleep resolves true when the time passed", async () => {
  assertEquals(await sleep(1), true);
  assertEquals(await sleep(1, new AbortController().signal), true);
});

Deno.test("sleep resolves false when aborted, before or during", async () => {
  const stop = new AbortController();
  const waiting = sleep(60_000, stop.signal);
  stop.abort();
  assertEquals(await waiting, false);
  assertEquals(await sleep(60_000, stop.signal), false);
});
