import { assert, assertEquals } from "../assert.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { decodeSigTx } from "../../src/chain/tx.ts";
import { Tx } from "../../src/rpc/gen/tx_pb.ts";
import { PasswordThrottle } from "../../src/rpc/password_throttle.ts";
import { txMethods } from "../../src/rpc/tx_service.ts";
import { KeyStoreError, writeKey } from "../../src/store/key_store.ts";
import { makeChain } from "../fixtures.ts";
import { assertCode, withNode } from "./harness.ts";

const ACCOUNT = "ab".repeat(32);

/** A clock tests move by hand. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => t += ms };
}

/** A password check that fails as a wrong password does. */
function wrong(): Promise<never> {
  return Promise.reject(
    new KeyStoreError("wrong-password", "cannot decrypt key: wrong password"),
  );
}

/** The outcome of one attempt: "ok", "wrong" or "throttled". */
async function outcome(
  throttle: PasswordThrottle,
  check: () => Promise<unknown>,
  account = ACCOUNT,
): Promise<string> {
  try {
    await throttle.attempt(account, check);
    return "ok";
  } catch (e) {
    if (e instanceof KeyStoreError) return "wrong";
    if (e instanceof ConnectError && e.code === Code.ResourceExhausted) {
      return "throttled";
    }
    throw e;
  }
}

Deno.test("PasswordThrottle: after 3 wrong passwords each attempt waits longer, up to the bound", async () => {
  const clock = fakeClock();
  const throttle = new PasswordThrottle({ now: clock.now });
  let checks = 0;
  const counted = () => {
    checks++;
    return wrong();
  };
  for (let i = 0; i < 3; i++) {
    assertEquals(await outcome(throttle, counted), "wrong");
  }
  assertEquals(throttle.waitMs(ACCOUNT), 500);
  // Too early: refused without trying the password, and the wait stays.
  for (let i = 0; i < 5; i++) {
    assertEquals(await outcome(throttle, counted), "throttled");
  }
  assertEquals(checks, 3);
  assertEquals(throttle.waitMs(ACCOUNT), 500);
  // Each later wrong password doubles the wait, up to 10 s.
  for (const wait of [1000, 2000, 4000, 8000, 10_000, 10_000]) {
    clock.advance(throttle.waitMs(ACCOUNT) - 1);
    assertEquals(await outcome(throttle, counted), "throttled");
    clock.advance(1);
    assertEquals(await outcome(throttle, counted), "wrong");
    assertEquals(throttle.waitMs(ACCOUNT), wait);
  }
  assertEquals(checks, 9);
  assertEquals(throttle.stats(), { wrongPasswords: 9, throttled: 11 });
  // Other accounts are not affected.
  assertEquals(
    await outcome(throttle, () => Promise.resolve(), "cd".repeat(32)),
    "ok",
  );
});

Deno.test("PasswordThrottle: the right password works at once after the wait and clears the record", async () => {
  const clock = fakeClock();
  const throttle = new PasswordThrottle({ now: clock.now });
  for (let i = 0; i < 5; i++) await outcome(throttle, wrong);
  assertEquals(await outcome(throttle, wrong), "throttled");
  // Even the right password waits...
  assertEquals(await outcome(throttle, () => Promise.resolve()), "throttled");
  clock.advance(throttle.waitMs(ACCOUNT));
  // ...and then works at once.
  assertEquals(
    await throttle.attempt(ACCOUNT, () => Promise.resolve("key")),
    "key",
  );
  assertEquals(throttle.waitMs(ACCOUNT), 0);
  // The count starts again: three free wrong passwords.
  for (let i = 0; i < 3; i++) {
    assertEquals(await outcome(throttle, wrong), "wrong");
  }
  assertEquals(await outcome(throttle, wrong), "throttled");
});

Deno.test("PasswordThrottle: concurrent attempts run one at a time, and the queue is bounded", async () => {
  const clock = fakeClock();
  const throttle = new PasswordThrottle({ now: clock.now, maxQueued: 8 });
  let running = 0;
  let most = 0;
  let checks = 0;
  const slow = async () => {
    checks++;
    running++;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, 1));
    running--;
    return wrong();
  };
  // 9 fit (one running, 8 queued); the 10th and later are refused at once.
  const results = await Promise.all(
    Array.from({ length: 12 }, () => outcome(throttle, slow)),
  );
  assertEquals(most, 1);
  assertEquals(checks, 3);
  assertEquals(results.filter((r) => r === "wrong").length, 3);
  assertEquals(results.filter((r) => r === "throttled").length, 9);
  assertEquals(throttle.stats(), { wrongPasswords: 3, throttled: 9 });
});

Deno.test("PasswordThrottle: wrong passwords are forgotten after a quiet while", async () => {
  const clock = fakeClock();
  const throttle = new PasswordThrottle({ now: clock.now, forgetMs: 60_000 });
  for (let i = 0; i < 4; i++) await outcome(throttle, wrong);
  clock.advance(60_000);
  for (let i = 0; i < 3; i++) {
    assertEquals(await outcome(throttle, wrong), "wrong");
  }
  assertEquals(await outcome(throttle, wrong), "throttled");
});

/**
 * Replaces the wall clock (`Date.now`) and the monotonic clock
 * (`performance.now`) while `fn` runs; both stand still and move only when
 * told.
 */
async function withClocks(
  fn: (clocks: {
    jumpWall: (ms: number) => void;
    advanceMonotonic: (ms: number) => void;
  }) => Promise<void>,
): Promise<void> {
  const realDateNow = Date.now;
  const realPerformanceNow = performance.now;
  const wall0 = Date.now();
  // Whole milliseconds, so that sums of them are exact.
  const monotonic0 = Math.floor(performance.now());
  let wall = 0;
  let monotonic = 0;
  Date.now = () => wall0 + wall;
  performance.now = () => monotonic0 + monotonic;
  try {
    await fn({
      jumpWall: (ms) => wall += ms,
      advanceMonotonic: (ms) => monotonic += ms,
    });
  } finally {
    Date.now = realDateNow;
    performance.now = realPerformanceNow;
  }
}

Deno.test("PasswordThrottle: waits by the monotonic clock; a wall-clock jump neither ends nor lengthens them", async () => {
  await withClocks(async ({ jumpWall, advanceMonotonic }) => {
    const throttle = new PasswordThrottle();
    for (let i = 0; i < 3; i++) {
      assertEquals(await outcome(throttle, wrong), "wrong");
    }
    assertEquals(throttle.waitMs(ACCOUNT), 500);
    // A guesser who could move the wall clock gets no earlier try...
    jumpWall(20 * 60_000);
    assertEquals(await outcome(throttle, wrong), "throttled");
    assertEquals(throttle.waitMs(ACCOUNT), 500);
    // ...and the owner waits no longer when it goes back.
    jumpWall(-40 * 60_000);
    advanceMonotonic(500);
    assertEquals(await outcome(throttle, () => Promise.resolve()), "ok");
  });
});

Deno.test("PasswordThrottle: one warning line per interval, with the counts", async () => {
  const clock = fakeClock();
  const lines: string[] = [];
  const throttle = new PasswordThrottle({
    now: clock.now,
    logIntervalMs: 60_000,
    log: (m) => lines.push(m),
  });
  const tryPassword = () =>
    throttle.attempt(ACCOUNT, wrong, { client: "10.0.0.7" }).catch(() => {});
  await tryPassword();
  assertEquals(lines.length, 1);
  for (let i = 0; i < 20; i++) {
    await tryPassword();
    clock.advance(1000);
  }
  assertEquals(lines.length, 1);
  clock.advance(40_000);
  await tryPassword();
  assertEquals(lines.length, 2);
  assert(lines[0].startsWith("warning: 1 wrong password(s) and 0 throttled"));
  // 20 attempts after the first line, then this one: 21 in all.
  const stats = throttle.stats();
  assertEquals(stats.wrongPasswords + stats.throttled, 22);
  assert(
    lines[1].includes(
      `${
        stats.wrongPasswords - 1
      } wrong password(s) and ${stats.throttled} throttled attempt(s) on 1 key(s) in the last 60s, last on account ${ACCOUNT} from 10.0.0.7`,
    ),
    lines[1],
  );
  for (const line of lines) assert(!line.includes("\n"), line);
});

Deno.test("TxSign: a burst of wrong passwords is throttled, then the right one works", async () => {
  const chain = makeChain(0, 1);
  const clock = fakeClock();
  const lines: string[] = [];
  const throttle = new PasswordThrottle({
    now: clock.now,
    log: (m) => lines.push(m),
  });
  const PASSWORD = "the right password";
  await withNode(chain, {
    setup: (node) => writeKey(node.keyStoreDir, chain.owner, PASSWORD).then(),
    routes: (r, { ledger, keyStoreDir }) =>
      r.service(
        Tx,
        txMethods({ ledger, keyStoreDir, passwordThrottle: throttle }),
      ),
  }, async ({ clients }) => {
    const sign = (Password: string) =>
      clients.tx.txSign({
        From: chain.owner.address,
        To: chain.others[0].address,
        Value: 1n,
        Password,
      });
    // A burst of 40 guesses, 8 at a time, as fast as the node answers.
    const codes: string[] = [];
    for (let round = 0; round < 5; round++) {
      const settled = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => sign(`guess ${round}-${i}`)),
      );
      for (const s of settled) {
        assert(s.status === "rejected");
        codes.push(Code[(s.reason as ConnectError).code]);
      }
    }
    // Only the 3 free guesses were tried; the other 37 were refused untried.
    assertEquals(codes.filter((c) => c === "PermissionDenied").length, 3);
    assertEquals(codes.filter((c) => c === "ResourceExhausted").length, 37);
    assertEquals(throttle.stats(), { wrongPasswords: 3, throttled: 37 });
    await assertCode(
      () => sign(PASSWORD),
      Code.ResourceExhausted,
      `too many wrong passwords for account ${chain.owner.address}: try again in 0.5s`,
    );
    assertEquals(lines.length, 1);
    assert(!lines[0].includes("guess"), lines[0]);
    assert(lines[0].includes("127.0.0.1"), lines[0]);

    clock.advance(500);
    const res = await sign(PASSWORD);
    assertEquals(decodeSigTx(res.Tx).from, chain.owner.address);
  });
});
