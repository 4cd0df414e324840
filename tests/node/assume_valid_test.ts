import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { Account } from "../../src/chain/account.ts";
import {
  blockHash,
  encodeSigBlock,
  type SigBlock,
} from "../../src/chain/block.ts";
import { merkleRoot } from "../../src/chain/merkle.ts";
import { State, StateError } from "../../src/chain/state.ts";
import { txHash } from "../../src/chain/tx.ts";
import { verifiedBlocks, VerifyPool } from "../../src/node/verify/pool.ts";

const encoder = new TextEncoder();

// A chain whose block 2 (signed by the authority) holds a transaction whose
// signature is not its sender's: only assume-valid lets it through.
function chainWithBadTx() {
  const chain = makeChain(3, 1);
  const [b1, b2, b3] = chain.blocks;
  const forger = Account.create();
  const tx = { ...b2.txs[0], sig: forger.signTx(b2.txs[0]).sig };
  const bad = chain.authority.signBlock({
    number: 2n,
    parent: blockHash(b1),
    txs: [tx],
    merkleRoot: merkleRoot([txHash(tx)]),
    time: b2.time,
  });
  const tail = chain.authority.signBlock({ ...b3, parent: blockHash(bad) });
  return { chain, blocks: [b1, bad, tail] };
}

async function applyAll(
  blocks: SigBlock[],
  state: State,
  assumeValidTo?: bigint,
): Promise<void> {
  const pool = new VerifyPool({ workers: 1 });
  try {
    const lines = (async function* () {
      for (const b of blocks) yield encoder.encode(encodeSigBlock(b));
    })();
    for await (const r of verifiedBlocks(pool, lines, { assumeValidTo })) {
      if ("error" in r) throw new Error(r.error);
      state.applyBlock(r.value);
    }
  } finally {
    pool.close();
  }
}

Deno.test("assume-valid: transaction signatures up to the block are not recovered", async () => {
  const { chain, blocks } = chainWithBadTx();
  const checked = new State(chain.genesis);
  let error: unknown;
  await applyAll(blocks, checked).catch((e) => error = e);
  assert(error instanceof StateError);
  assert(error.message.includes("block 2: tx"), error.message);
  assert(error.message.includes("invalid signature"), error.message);
  assertEquals(checked.lastNumber, 1n);

  const assumed = new State(chain.genesis);
  await applyAll(blocks, assumed, 2n);
  assertEquals(assumed.lastNumber, 3n);
  assertEquals(assumed.lastHash, blockHash(blocks[2]));
});

Deno.test("assume-valid: the rest of a block is checked all the same", async () => {
  const { chain, blocks } = chainWithBadTx();
  // Not signed by the authority.
  const other = Account.create().signBlock(blocks[0]);
  await assertThrowsAsync(
    () => applyAll([other], new State(chain.genesis), 5n),
    "invalid signature: not signed by the authority",
  );
  // A wrong Merkle root.
  const root = chain.authority.signBlock({
    ...blocks[0],
    merkleRoot: "0".repeat(64),
  });
  await assertThrowsAsync(
    () => applyAll([root], new State(chain.genesis), 5n),
    "wrong Merkle root",
  );
  // A nonce that does not follow, and funds that are not there.
  const tx = blocks[0].txs[0];
  for (
    const [change, why] of [
      [{ nonce: 2n }, "wrong nonce"],
      [{ value: 10n ** 18n }, "insufficient funds"],
    ] as const
  ) {
    const t = { ...tx, ...change };
    const b = chain.authority.signBlock({
      ...blocks[0],
      txs: [t],
      merkleRoot: merkleRoot([txHash(t)]),
    });
    await assertThrowsAsync(
      () => applyAll([b], new State(chain.genesis), 5n),
      why,
    );
  }
  // Above the assume-valid block, a bad transaction signature is refused.
  let error: unknown;
  await applyAll(blocks, new State(chain.genesis), 1n).catch((e) => error = e);
  assert(error instanceof StateError && error.message.includes("block 2"));
});

async function assertThrowsAsync(
  fn: () => Promise<unknown>,
  includes: string,
): Promise<void> {
  let error: unknown;
  await fn().catch((e) => error = e);
  assert(error instanceof Error, `expected an error with ${includes}`);
  assert(error.message.includes(includes), error.message);
}
