/**
 * The transaction pool: the choice of a block's transactions, the queue of
 * future nonces and its promotion and expiry, and the admission bounds.
 * Most tests drive it through its host, the State, as a node does.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { Account } from "../../src/chain/account.ts";
import {
  MAX_BLOCK_TXS,
  MAX_PENDING_PER_SENDER,
  MAX_QUEUED_PER_SENDER,
  MAX_QUEUED_TXS,
  MAX_UNFUNDED_PENDING_TXS,
  QUEUED_TX_TTL_MS,
  TxPool,
} from "../../src/chain/tx_pool.ts";
import { State, StateError } from "../../src/chain/state.ts";
import { txHash } from "../../src/chain/tx.ts";
import { at, setup, T0, transfer } from "./chain_setup.ts";

Deno.test("a pool over confirmed balances keeps a transaction pending, then lets a block confirm it", () => {
  const owner = Account.create();
  const bob = Account.create();
  const balances = new Map([[owner.address, 10n]]);
  const nonces = new Map<string, bigint>();
  const pool = new TxPool({ balances, nonces }, new WeakSet());
  const tx = transfer(owner, bob.address, 3n, 1n);
  assertEquals(pool.add(tx), txHash(tx));
  assertEquals(pool.pendingCount, 1);
  assertEquals(pool.balance(owner.address), 7n);
  assertEquals(pool.nonce(owner.address), 1n);
  assertEquals(pool.blockTxs(), [tx]);
  // The host commits the block to the confirmed maps, then tells the pool.
  balances.set(owner.address, 7n);
  balances.set(bob.address, 3n);
  nonces.set(owner.address, 1n);
  pool.confirm([tx]);
  assertEquals(pool.pendingCount, 0);
  assertEquals(pool.blockTxs(), []);
  assertEquals(pool.balance(bob.address), 3n);
});

Deno.test("a pool drops after a block what no longer applies and promotes what does", () => {
  const owner = Account.create();
  const bob = Account.create();
  const balances = new Map([[owner.address, 10n]]);
  const nonces = new Map<string, bigint>();
  const pool = new TxPool({ balances, nonces }, new WeakSet());
  const spend = transfer(owner, bob.address, 10n, 1n);
  const queued = transfer(owner, bob.address, 1n, 3n);
  pool.add(spend);
  pool.add(queued);
  assert(pool.hasQueued(txHash(queued)));
  // Another block spent nonce 1 and 2 elsewhere, leaving 5.
  balances.set(owner.address, 5n);
  nonces.set(owner.address, 2n);
  pool.confirm([]);
  assertEquals([...pool.pending().values()], [queued]);
  assertEquals(pool.takePromoted(), [queued]);
  assertThrows(() => pool.add(spend), StateError, "wrong nonce");
});

Deno.test("createBlock takes at most MAX_BLOCK_TXS; the rest stays pending", () => {
  const { auth, owner, bob, state } = setup(1_000_000n);
  const n = MAX_BLOCK_TXS + 1;
  for (let i = 1; i <= n; i++) {
    state.applyTx(transfer(owner, bob.address, 1n, BigInt(i)));
  }
  const blk = state.createBlock(auth)!;
  assertEquals(blk.txs.length, MAX_BLOCK_TXS);
  state.applyBlock(blk);
  assertEquals(state.pendingTxs().length, 1);
  assertEquals(state.createBlock(auth)!.txs.length, 1);
});

Deno.test("a full pool: every sender gets a share of the block, whatever its times", () => {
  const { auth, owner, bob, state } = setup(1_000_000n);
  const carol = Account.create();
  state.applyTx(transfer(owner, carol.address, 10n, 1n, at(0)));
  state.applyBlock(state.createBlock(auth)!);
  // The owner floods the pool with transfers dated before carol's.
  const n = MAX_BLOCK_TXS + 100;
  for (let i = 2; i <= n + 1; i++) {
    state.applyTx(transfer(owner, bob.address, 1n, BigInt(i), at(-100_000)));
  }
  const honest = transfer(carol, bob.address, 1n, 1n, at(1));
  state.applyTx(honest);
  const blk = state.createBlock(auth)!;
  assertEquals(blk.txs.length, MAX_BLOCK_TXS);
  assert(blk.txs.some((t) => txHash(t) === txHash(honest)));
  // The owner's nonces still run in order, so the block applies.
  const owners = blk.txs.filter((t) => t.from === owner.address);
  assertEquals(owners.map((t) => t.nonce), owners.map((_, i) => BigInt(i + 2)));
  state.applyBlock(blk);
  assertEquals(state.pendingTxs().length, n - (MAX_BLOCK_TXS - 1));
});

Deno.test("nonces 3, 2, 1 sent in that order are queued, promoted and confirmed in one block", () => {
  const { auth, owner, bob, state } = setup();
  // Signed in the order they are sent, so nonce 3 has the earliest time.
  const third = transfer(owner, bob.address, 3n, 3n, at(1));
  const second = transfer(owner, bob.address, 2n, 2n, at(2));
  const first = transfer(owner, bob.address, 1n, 1n, at(3));
  state.applyTx(third);
  state.applyTx(second);
  assert(state.hasQueued(txHash(third)));
  assert(state.hasQueued(txHash(second)));
  assertEquals(state.pendingTxs(), []);
  assertEquals(state.nonce(owner.address, true), 0n);
  assertThrows(() => state.applyTx(third), StateError, "already queued");
  state.applyTx(first);
  assertEquals(state.pendingTxs(), [first, second, third]);
  assertEquals(state.queuedTxs(), []);
  assertEquals(state.takePromoted(), [second, third]);
  assertEquals(state.takePromoted(), []);
  assertEquals(state.balance(owner.address, true), 994n);
  const blk = state.createBlock(auth)!;
  assertEquals(blk.txs, [first, second, third]);
  state.applyBlock(blk);
  assertEquals(state.nonce(owner.address), 3n);
  assertEquals(state.balance(bob.address), 6n);
  assertEquals(state.pendingTxs(), []);
});

Deno.test("pendingCount counts pending transactions, not queued ones", () => {
  const { auth, owner, bob, state } = setup();
  assertEquals(state.pendingCount, 0);
  state.applyTx(transfer(owner, bob.address, 2n, 2n, at(1)));
  assertEquals(state.pendingCount, 0);
  state.applyTx(transfer(owner, bob.address, 1n, 1n, at(2)));
  assertEquals(state.pendingCount, 2);
  state.applyBlock(state.createBlock(auth)!);
  assertEquals(state.pendingCount, 0);
});

Deno.test("a confirmed block fills the gap of queued transactions", () => {
  const { auth, owner, bob, state } = setup();
  const twin = new State(state.genesis);
  const first = transfer(owner, bob.address, 1n, 1n);
  const second = transfer(owner, bob.address, 2n, 2n);
  twin.applyTx(first);
  state.applyTx(second);
  assert(state.hasQueued(txHash(second)));
  const b1 = twin.createBlock(auth)!;
  twin.applyBlock(b1);
  state.applyBlock(b1);
  assertEquals(state.pendingTxs(), [second]);
  assertEquals(state.takePromoted(), [second]);
  // A queued transaction whose nonce another one took is dropped.
  const stale = transfer(owner, bob.address, 9n, 4n);
  state.applyTx(stale);
  assert(state.hasQueued(txHash(stale)));
  twin.applyTx(second);
  twin.applyTx(transfer(owner, bob.address, 5n, 3n));
  twin.applyTx(transfer(owner, bob.address, 6n, 4n));
  state.applyBlock(twin.createBlock(auth)!);
  assertEquals(state.queuedTxs(), []);
  assertEquals(state.pendingTxs(), []);
  assertEquals(state.takePromoted(), []);
});

Deno.test("future transactions: only funded senders, bounded per sender and in total, signature checked", () => {
  const { owner, bob, state } = setup();
  // bob has no balance: a free key cannot fill the queue.
  assertThrows(
    () => state.applyTx(transfer(bob, owner.address, 0n, 2n)),
    StateError,
    "wrong nonce: expected 1, got 2 (future transactions are queued only for accounts with a balance)",
  );
  const forged = bob.signTx({
    from: owner.address,
    to: bob.address,
    value: 1n,
    nonce: 2n,
    time: at(1),
  });
  assertThrows(() => state.applyTx(forged), StateError, "invalid signature");
  // With nonce 1 next, nonces 2 .. MAX_QUEUED_PER_SENDER + 1 fit (that many
  // queued, as the README says); the next one is too far ahead.
  for (let n = 2; n <= MAX_QUEUED_PER_SENDER + 1; n++) {
    state.applyTx(transfer(owner, bob.address, 1n, BigInt(n)));
  }
  assertEquals(state.queuedTxs().length, MAX_QUEUED_PER_SENDER);
  assertThrows(
    () =>
      state.applyTx(
        transfer(owner, bob.address, 1n, BigInt(MAX_QUEUED_PER_SENDER + 2)),
      ),
    StateError,
    `wrong nonce: expected 1, got ${
      MAX_QUEUED_PER_SENDER + 2
    } (at most ${MAX_QUEUED_PER_SENDER} nonces ahead are queued)`,
  );
  assertThrows(
    () => state.applyTx(transfer(owner, bob.address, 2n, 2n)),
    StateError,
    "nonce 2 of",
  );
});

Deno.test("the queue is bounded in total and a gap that never fills expires", () => {
  const auth = Account.create();
  const perSender = MAX_QUEUED_PER_SENDER;
  const senders = Array.from(
    { length: Math.ceil(MAX_QUEUED_TXS / perSender) + 1 },
    () => Account.create(),
  );
  const genesis = auth.signGenesis({
    chain: "c",
    authority: auth.address,
    balances: new Map(senders.map((a) => [a.address, 1000n])),
    time: T0,
  });
  let now = 0;
  const state = new State(genesis, { now: () => now });
  const to = senders[0].address;
  // Every sender's nonce 1 is missing, and never comes.
  let queued = 0;
  for (const a of senders) {
    for (let n = 2; n <= perSender + 1 && queued < MAX_QUEUED_TXS; n++) {
      state.applyTx(transfer(a, to, 1n, BigInt(n)));
      queued++;
    }
  }
  assertEquals(state.queuedTxs().length, MAX_QUEUED_TXS);
  const last = senders.at(-1)!;
  assertThrows(
    () => state.applyTx(transfer(last, to, 1n, 60n)),
    StateError,
    `the queue of future transactions is full (${MAX_QUEUED_TXS})`,
  );
  now += QUEUED_TX_TTL_MS - 1;
  assertEquals(state.queuedTxs().length, MAX_QUEUED_TXS);
  now += 1;
  assertEquals(state.queuedTxs(), [], "expired");
  // The room is free again, and the gap may still fill later.
  const late = transfer(last, to, 1n, 3n);
  state.applyTx(late);
  state.applyTx(transfer(last, to, 1n, 1n));
  state.applyTx(transfer(last, to, 1n, 2n));
  assertEquals(state.pendingTxs().length, 3);
  assertEquals(state.takePromoted(), [late]);
});

Deno.test("20,000 value-0 transactions from fresh keys do not lock out a funded account", () => {
  const { auth, owner, bob, state } = setup();
  const spam = 20_000;
  let accepted = 0;
  let refused = 0;
  for (let i = 0; i < spam; i++) {
    const fresh = Account.create();
    try {
      state.applyTx(transfer(fresh, fresh.address, 0n, 1n, at(i % 60)));
      accepted++;
    } catch (e) {
      assert(e instanceof StateError);
      assert(
        e.message.endsWith(
          `too many pending transactions from accounts without balance (${MAX_UNFUNDED_PENDING_TXS}); try again later`,
        ),
        e.message,
      );
      refused++;
    }
  }
  assertEquals(accepted, MAX_UNFUNDED_PENDING_TXS);
  assertEquals(refused, spam - MAX_UNFUNDED_PENDING_TXS);
  // A funded account still gets in, and into the next block.
  const pay = transfer(owner, bob.address, 25n, 1n, at(100));
  state.applyTx(pay);
  const blk = state.createBlock(auth)!;
  assert(blk.txs.includes(pay));
  state.applyBlock(blk);
  assertEquals(state.balance(bob.address), 25n);
  assertEquals(state.pendingTxs(), []);
});

Deno.test("one sender holds at most MAX_PENDING_PER_SENDER pending transactions", () => {
  const { auth, owner, bob, state } = setup(1_000_000n);
  for (let i = 1; i <= MAX_PENDING_PER_SENDER; i++) {
    state.applyTx(transfer(owner, bob.address, 1n, BigInt(i)));
  }
  const over = BigInt(MAX_PENDING_PER_SENDER + 1);
  assertThrows(
    () => state.applyTx(transfer(owner, bob.address, 1n, over)),
    StateError,
    `too many pending transactions from ${
      owner.address.slice(0, 7)
    } (${MAX_PENDING_PER_SENDER})`,
  );
  // Another sender is not held up.
  state.applyTx(transfer(bob, owner.address, 0n, 1n));
  // A block frees room.
  state.applyBlock(state.createBlock(auth)!);
  state.applyTx(transfer(owner, bob.address, 1n, over));
});

/**
 * Replaces the wall clock (`Date.now`) and the monotonic clock
 * (`performance.now`) for `fn`; both stand still where the real ones were
 * and move only when told.
 */
function withClocks(
  fn: (clocks: {
    jumpWall: (ms: number) => void;
    advanceMonotonic: (ms: number) => void;
  }) => void,
): void {
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
    fn({
      jumpWall: (ms) => wall += ms,
      advanceMonotonic: (ms) => monotonic += ms,
    });
  } finally {
    Date.now = realDateNow;
    performance.now = realPerformanceNow;
  }
}

Deno.test("a queued transaction survives a 20-minute jump of the wall clock: its TTL is monotonic", () => {
  const { owner, bob, genesis } = setup();
  let monotonic = 0;
  const state = new State(genesis, { now: () => monotonic });
  const queued = transfer(owner, bob.address, 1n, 2n);
  withClocks(({ jumpWall }) => {
    state.applyTx(queued);
    jumpWall(20 * 60_000);
    assertEquals(state.queuedTxs(), [queued]);
  });
  monotonic += QUEUED_TX_TTL_MS;
  assertEquals(state.queuedTxs(), [], "expired by the injected clock");
});

Deno.test("by default the queue ages by performance.now, never Date.now", () => {
  withClocks(({ jumpWall, advanceMonotonic }) => {
    const { owner, bob, genesis } = setup();
    const state = new State(genesis);
    const queued = transfer(owner, bob.address, 1n, 2n);
    state.applyTx(queued);
    jumpWall(20 * 60_000);
    assertEquals(state.queuedTxs(), [queued], "the wall clock jumped");
    advanceMonotonic(QUEUED_TX_TTL_MS - 1);
    assertEquals(state.queuedTxs(), [queued]);
    advanceMonotonic(1);
    assertEquals(state.queuedTxs(), [], "the monotonic clock moved");
  });
});
