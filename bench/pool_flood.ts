/**
 * The pending pool under a flood, and the queue of future transactions under
 * gaps that never fill:
 *
 * 1. 20,000 value-0 transfers from fresh keys are offered to a state: how
 *    many are kept, what a refused one costs beside an accepted one (which
 *    pays for a signature recovery), and whether a funded transfer still
 *    gets into the next block.
 * 2. Funded senders queue future nonces whose gap never fills, round after
 *    round, with a clock that moves past the queue's time to live between
 *    rounds: the queue stays bounded and the heap flat.
 *
 *   deno run --v8-flags=--expose-gc bench/pool_flood.ts [spam] [rounds]
 *
 * Signing is done before anything is timed. In part 2 the same signed
 * transactions are offered again each round (after they expired), so only
 * the first round pays for their signature checks.
 */
import { Account } from "../src/chain/account.ts";
import { timeNow } from "../src/chain/time.ts";
import { State } from "../src/chain/state.ts";
import {
  MAX_QUEUED_PER_SENDER,
  MAX_QUEUED_TXS,
  QUEUED_TX_TTL_MS,
} from "../src/chain/tx_pool.ts";
import type { SigTx } from "../src/chain/tx.ts";

const spam = Number(Deno.args[0] ?? 20_000);
const rounds = Number(Deno.args[1] ?? 50);
const gc = (globalThis as { gc?: () => void }).gc;

const auth = Account.create();
const owner = Account.create();
const perSender = MAX_QUEUED_PER_SENDER;
const senders = Array.from(
  { length: Math.ceil(MAX_QUEUED_TXS / perSender) + 1 },
  () => Account.create(),
);
const genesis = auth.signGenesis({
  chain: "bench",
  authority: auth.address,
  balances: new Map(
    [owner, ...senders].map((a) => [a.address, 1_000_000n]),
  ),
  time: timeNow(),
});

// ------------------------------------------------------------ 1. the flood
console.log(`signing ${spam} transfers from fresh keys...`);
const time = timeNow();
const flood: SigTx[] = [];
for (let i = 0; i < spam; i++) {
  const fresh = Account.create();
  flood.push(fresh.signTx({
    from: fresh.address,
    to: fresh.address,
    value: 0n,
    nonce: 1n,
    time,
  }));
}
const state = new State(genesis);
let accepted = 0;
let acceptedMs = 0;
let refusedMs = 0;
for (const tx of flood) {
  const t0 = performance.now();
  try {
    state.applyTx(tx);
    accepted++;
    acceptedMs += performance.now() - t0;
  } catch {
    refusedMs += performance.now() - t0;
  }
}
const refused = spam - accepted;
const pay = owner.signTx({
  from: owner.address,
  to: senders[0].address,
  value: 25n,
  nonce: 1n,
  time: timeNow(),
});
state.applyTx(pay);
const block = state.createBlock(auth)!;
console.log(
  `flood: ${accepted} kept, ${refused} refused; ` +
    `${(acceptedMs * 1000 / Math.max(1, accepted)).toFixed(1)} us per kept, ` +
    `${(refusedMs * 1000 / Math.max(1, refused)).toFixed(1)} us per refused; ` +
    `the funded transfer is in the next block: ${block.txs.includes(pay)} ` +
    `(${block.txs.length} txs)`,
);

// --------------------------------------------------------- 2. the queue
let now = 0;
const queue = new State(genesis, { now: () => now });
// Nonce 1 never comes: every one of these waits for good.
const future: SigTx[] = [];
for (const a of senders) {
  for (let n = 2; n <= perSender + 1; n++) {
    if (future.length === MAX_QUEUED_TXS + perSender) break;
    future.push(a.signTx({
      from: a.address,
      to: owner.address,
      value: 1n,
      nonce: BigInt(n),
      time,
    }));
  }
}
function heapMiB(): number {
  gc?.();
  return Deno.memoryUsage().heapUsed / 2 ** 20;
}
const heaps: string[] = [];
let maxQueued = 0;
let refusedFull = 0;
for (let r = 1; r <= rounds; r++) {
  for (const tx of future) {
    try {
      queue.applyTx(tx);
    } catch {
      refusedFull++;
    }
  }
  maxQueued = Math.max(maxQueued, queue.queuedTxs().length);
  now += QUEUED_TX_TTL_MS; // all of them expire
  if (r === 1 || r % 10 === 0) heaps.push(`${r}: ${heapMiB().toFixed(1)}`);
}
console.log(
  `queue: ${rounds} rounds of ${future.length} future txs; at most ${maxQueued} ` +
    `queued (bound ${MAX_QUEUED_TXS}); ${refusedFull} refused as full; ` +
    `${queue.queuedTxs().length} left after expiry; heap MiB by round ` +
    `(gc ${gc ? "on" : "off: run with --v8-flags=--expose-gc"}): ${
      heaps.join(", ")
    }`,
);
