import { assert, assertEquals, assertThrows } from "../assert.ts";
import { Account } from "../../src/chain/account.ts";
import {
  blockHash,
  blockLeaves,
  type SigBlock,
} from "../../src/chain/block.ts";
import { U64_MAX } from "../../src/chain/json.ts";
import { merkleRoot } from "../../src/chain/merkle.ts";
import { State, StateError } from "../../src/chain/state.ts";
import { MAX_QUEUED_PER_SENDER } from "../../src/chain/tx_pool.ts";
import { at, setup, T0, transfer } from "./chain_setup.ts";

// A snapshot of everything observable, to prove a rejection changed nothing.
function snapshot(state: State, accounts: string[]): string {
  return JSON.stringify({
    text: state.toString(),
    last: [String(state.lastNumber), state.lastHash],
    acc: accounts.map((a) => [
      String(state.balance(a)),
      String(state.balance(a, true)),
      String(state.nonce(a)),
      String(state.nonce(a, true)),
    ]),
    pending: state.pendingTxs().length,
  });
}

Deno.test("state starts with the genesis balances and last block 0", () => {
  const { owner, genesis, state } = setup();
  assertEquals(state.balance(owner.address), 1000n);
  assertEquals(state.balance(owner.address, true), 1000n);
  assertEquals(state.lastNumber, 0n);
  assertEquals(state.lastHash, state.genesisHash);
  assertEquals(state.authority, genesis.authority);
});

Deno.test("applyTx moves value in the pending state only", () => {
  const { owner, bob, state } = setup();
  state.applyTx(transfer(owner, bob.address, 10n, 1n));
  assertEquals(state.balance(owner.address, true), 990n);
  assertEquals(state.balance(bob.address, true), 10n);
  assertEquals(state.nonce(owner.address, true), 1n);
  assertEquals(state.balance(owner.address), 1000n);
  assertEquals(state.balance(bob.address), undefined);
  assertEquals(state.pendingTxs().length, 1);
});

Deno.test("applyTx rejects bad signature, wrong nonce, insufficient funds, duplicates", () => {
  const { owner, bob, state } = setup();
  const accts = [owner.address, bob.address];
  const before = snapshot(state, accts);
  // Signed by bob but claiming to be from owner.
  const forged = bob.signTx({
    from: owner.address,
    to: bob.address,
    value: 1n,
    nonce: 1n,
    time: at(1),
  });
  assertThrows(() => state.applyTx(forged), StateError, "invalid signature");
  assertThrows(
    () => state.applyTx(transfer(owner, bob.address, 1n, 0n)),
    StateError,
    "wrong nonce: expected 1, got 0",
  );
  // From the future, and too far ahead to be queued.
  assertThrows(
    () => state.applyTx(transfer(owner, bob.address, 1n, 1000n)),
    StateError,
    `wrong nonce: expected 1, got 1000 (at most ${MAX_QUEUED_PER_SENDER} nonces ahead are queued)`,
  );
  assertThrows(
    () => state.applyTx(transfer(owner, bob.address, 1001n, 1n)),
    StateError,
    "insufficient funds",
  );
  assertEquals(snapshot(state, accts), before);
  const ok = transfer(owner, bob.address, 1n, 1n);
  state.applyTx(ok);
  assertThrows(() => state.applyTx(ok), StateError, "already pending");
});

Deno.test("value 0 from an account without balance creates both entries", () => {
  const { bob, state } = setup();
  const carol = Account.create();
  state.applyTx(transfer(bob, carol.address, 0n, 1n));
  assertEquals(state.balance(bob.address, true), 0n);
  assertEquals(state.balance(carol.address, true), 0n);
});

Deno.test("a transfer to oneself keeps the balance and raises the nonce", () => {
  const { owner, state } = setup();
  state.applyTx(transfer(owner, owner.address, 600n, 1n));
  assertEquals(state.balance(owner.address, true), 1000n);
  assertEquals(state.nonce(owner.address, true), 1n);
});

Deno.test("a credit past 2^64-1 is rejected", () => {
  const auth = Account.create();
  const a = Account.create();
  const b = Account.create();
  // Only a hand-built genesis can hold more than a u64 in total.
  const g = auth.signGenesis({
    chain: "c",
    authority: auth.address,
    balances: new Map([[a.address, U64_MAX], [b.address, 1n]]),
    time: T0,
  });
  const state = new State(g);
  const before = snapshot(state, [a.address, b.address]);
  assertThrows(
    () => state.applyTx(transfer(a, b.address, U64_MAX, 1n)),
    StateError,
    "would overflow",
  );
  assertEquals(snapshot(state, [a.address, b.address]), before);
  state.applyTx(transfer(a, b.address, U64_MAX - 1n, 1n));
  assertEquals(state.balance(b.address, true), U64_MAX);
});

Deno.test("createBlock + applyBlock confirms pending transactions", () => {
  const { auth, owner, bob, state } = setup();
  state.applyTx(transfer(owner, bob.address, 10n, 1n));
  state.applyTx(transfer(owner, bob.address, 20n, 2n));
  const blk = state.createBlock(auth)!;
  assertEquals(blk.number, 1n);
  assertEquals(blk.parent, state.genesisHash);
  assertEquals(blk.txs.length, 2);
  state.applyBlock(blk);
  assertEquals(state.lastNumber, 1n);
  assertEquals(state.lastHash, blockHash(blk));
  assertEquals(state.balance(owner.address), 970n);
  assertEquals(state.balance(bob.address), 30n);
  assertEquals(state.nonce(owner.address), 2n);
  assertEquals(state.pendingTxs().length, 0);
  assertEquals(state.createBlock(auth), undefined);
});

Deno.test("createBlock sorts by time and leaves out what does not apply", () => {
  const { auth, owner, bob, state } = setup();
  const carol = Account.create();
  // Arrives first but is later: sorted after the nonce-1 transaction.
  const second = transfer(owner, bob.address, 5n, 2n, at(20));
  const first = transfer(owner, bob.address, 5n, 1n, at(10));
  state.applyTx(first);
  state.applyTx(second);
  // Valid against the pending state of carol? No balance: value 0 applies.
  state.applyTx(transfer(carol, bob.address, 0n, 1n, at(5)));
  const blk = state.createBlock(auth)!;
  assertEquals(blk.txs.map((t) => t.nonce), [1n, 1n, 2n]);
  assertEquals(blk.txs[0].from, carol.address);
  assertEquals(blk.merkleRoot, merkleRoot(blockLeaves(blk)));
});

Deno.test("after a block, pending keeps only what still applies", () => {
  const { auth, owner, bob, state } = setup();
  // A twin state confirms a transaction that conflicts with the pending one
  // (same nonce, different value).
  const twin = new State(state.genesis);
  const pendingTx = transfer(owner, bob.address, 1n, 1n, at(1));
  const conflicting = transfer(owner, bob.address, 2n, 1n, at(2));
  state.applyTx(pendingTx);
  twin.applyTx(conflicting);
  const blk = twin.createBlock(auth)!;
  state.applyBlock(blk);
  assertEquals(state.pendingTxs().length, 0, "the conflicting tx is dropped");
  assertEquals(state.balance(owner.address, true), 998n);
  // A pending transaction that still applies stays pending.
  const next = transfer(owner, bob.address, 3n, 2n, at(3));
  state.applyTx(next);
  assertEquals(state.pendingTxs().length, 1);
  assertEquals(state.balance(owner.address, true), 995n);
});

function rejects(
  state: State,
  blk: SigBlock,
  accounts: string[],
  message: string,
): void {
  const before = snapshot(state, accounts);
  assertThrows(() => state.applyBlock(blk), StateError, message);
  assertEquals(snapshot(state, accounts), before);
}

Deno.test("applyBlock rejects each broken rule and leaves the state unchanged", () => {
  const { auth, owner, bob, state } = setup();
  const accts = [owner.address, bob.address];
  const tx1 = transfer(owner, bob.address, 10n, 1n);
  const tx2 = transfer(owner, bob.address, 10n, 2n);
  state.applyTx(tx1);
  const good = state.createBlock(auth, at(100))!;
  const base = {
    number: good.number,
    parent: good.parent,
    txs: good.txs,
    merkleRoot: good.merkleRoot,
    time: good.time,
  };
  const intruder = Account.create();
  rejects(
    state,
    intruder.signBlock(base),
    accts,
    "not signed by the authority",
  );
  rejects(
    state,
    { ...good, sig: good.sig.slice(0, 64) },
    accts,
    "invalid signature",
  );
  rejects(
    state,
    auth.signBlock({ ...base, number: 2n }),
    accts,
    "wrong number",
  );
  rejects(
    state,
    auth.signBlock({ ...base, parent: "ab".repeat(32) }),
    accts,
    "wrong parent",
  );
  rejects(
    state,
    auth.signBlock({ ...base, merkleRoot: "cd".repeat(32) }),
    accts,
    "wrong Merkle root",
  );
  rejects(
    state,
    auth.signBlock({ ...base, txs: [], merkleRoot: base.merkleRoot }),
    accts,
    "no transactions",
  );
  // Second tx of the block has a wrong nonce: the first must not stick.
  const bad = [tx1, transfer(owner, bob.address, 10n, 3n)];
  rejects(
    state,
    auth.signBlock({
      ...base,
      txs: bad,
      merkleRoot: merkleRoot(blockLeaves({ ...base, txs: bad })),
    }),
    accts,
    "wrong nonce",
  );
  const poor = [tx1, transfer(owner, bob.address, 991n, 2n)];
  rejects(
    state,
    auth.signBlock({
      ...base,
      txs: poor,
      merkleRoot: merkleRoot(blockLeaves({ ...base, txs: poor })),
    }),
    accts,
    "insufficient funds",
  );
  const forged = [bob.signTx({ ...tx2, from: owner.address })];
  rejects(
    state,
    auth.signBlock({
      ...base,
      txs: forged,
      merkleRoot: merkleRoot(blockLeaves({ ...base, txs: forged })),
    }),
    accts,
    "invalid signature",
  );
  state.applyBlock(good);
  assertEquals(state.lastNumber, 1n);
  rejects(state, good, accts, "wrong number");
});

Deno.test("toString uses the reference layout", () => {
  const { owner, state } = setup();
  const text = state.toString();
  const lines = text.split("\n");
  assertEquals(lines[0], "* Balances and nonces");
  assertEquals(
    lines[1],
    `acc ${owner.address.slice(0, 7)}:                        1000        0`,
  );
  assertEquals(lines[2], "* Last block");
  assertEquals(
    lines[3],
    `blk       0: ${state.genesisHash.slice(0, 7)} -> 0000000`,
  );
  assertEquals(lines[4], "* Pending balances and nonces");
  assert(text.endsWith("\n"));
});
