/**
 * Applies 10,000 blocks of 10 transactions and prints the mean time per block
 * over the first and the last 1,000: they should be about equal, since a
 * block costs in proportion to itself, not to the chain.
 *
 *   deno run bench/block_growth.ts [blocks] [txsPerBlock] [fresh|fixed]
 *
 * `fresh` (the default) pays a new account in every transaction, so the
 * state grows with the chain; `fixed` pays the same accounts over and over.
 */
import { Account } from "../src/chain/account.ts";
import { newGenesis } from "../src/chain/genesis.ts";
import { timeNow } from "../src/chain/time.ts";
import { blockHash } from "../src/chain/block.ts";
import { genesisHash } from "../src/chain/genesis.ts";
import { merkleRoot } from "../src/chain/merkle.ts";
import { State } from "../src/chain/state.ts";
import { txHash } from "../src/chain/tx.ts";

const blocks = Number(Deno.args[0] ?? 10_000);
const perBlock = Number(Deno.args[1] ?? 10);
const FRESH_ACCOUNTS = Deno.args[2] !== "fixed";
const window = Math.min(1_000, Math.floor(blocks / 2));

const auth = Account.create();
const senders = Array.from({ length: perBlock }, () => Account.create());
const genesis = auth.signGenesis({
  ...newGenesis("bench", {
    authority: auth.address,
    balances: senders.map((s) => [s.address, 1_000_000_000n]),
  }),
});
// Blocks are built by hand (cheap signing only); what is timed is a node
// applying them, as a syncing node does.
const follower = new State(genesis);
const times: number[] = [];
let parent = genesisHash(genesis);
for (let n = 1; n <= blocks; n++) {
  // Each block pays new accounts, so the state keeps growing.
  const txs = senders.map((s, i) =>
    s.signTx({
      from: s.address,
      to: FRESH_ACCOUNTS ? `${n}-${i}` : senders[(i + 1) % perBlock].address,
      value: 1n,
      nonce: BigInt(n),
      time: timeNow(),
    })
  );
  const blk = auth.signBlock({
    number: BigInt(n),
    parent,
    txs,
    merkleRoot: merkleRoot(txs.map(txHash)),
    time: timeNow(),
  });
  parent = blockHash(blk);
  const t0 = performance.now();
  follower.applyBlock(blk);
  times.push(performance.now() - t0);
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const first = mean(times.slice(0, window));
const last = mean(times.slice(-window));
console.log(
  `${blocks} blocks of ${perBlock} txs, ${follower.lastNumber} applied`,
);
console.log(`mean per block, first ${window}: ${first.toFixed(3)} ms`);
console.log(`mean per block, last ${window}:  ${last.toFixed(3)} ms`);
console.log(`ratio last/first: ${(last / first).toFixed(2)}`);
