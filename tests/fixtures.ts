/**
 * Test chains with real signatures, valid under FORMAT.md section 8.
 *
 * @module
 */
import { Account } from "../src/chain/account.ts";
import { blockHash, type SigBlock } from "../src/chain/block.ts";
import {
  genesisHash,
  newGenesis,
  type SigGenesis,
} from "../src/chain/genesis.ts";
import type { Time } from "../src/chain/time.ts";
import { merkleRoot } from "../src/chain/merkle.ts";
import { type SigTx, txHash } from "../src/chain/tx.ts";

/** A signed genesis and a valid chain of blocks on it. */
export interface TestChain {
  /** Signs the genesis and every block. */
  readonly authority: Account;
  /** Holds the whole genesis balance and sends every transaction. */
  readonly owner: Account;
  /** Receivers of the owner's transactions. */
  readonly others: readonly Account[];
  /** The signed genesis. */
  readonly genesis: SigGenesis;
  /** Blocks 1..n, each on the previous one. */
  readonly blocks: readonly SigBlock[];
}

/** Options for {@link makeChain}. */
export interface MakeChainOptions {
  /** The chain name; default `blockchain`. */
  chain?: string;
  /** The owner's genesis balance; default 1,000,000,000. */
  balance?: bigint;
  /** How many receivers the owner sends to, in turn; default 3. */
  receivers?: number;
}

function later(t: Time, ms: number): Time {
  return {
    unixNano: t.unixNano + BigInt(ms) * 1_000_000n,
    offsetMinutes: t.offsetMinutes,
  };
}

/**
 * A genesis and `nBlocks` blocks of `txsPerBlock` transactions each: the
 * owner sends 1, 2, 3, ... to the receivers in turn with nonces 1, 2, 3, ...;
 * block 1's parent is the genesis identifier, block n's is block n-1's.
 * Transaction and block times rise by a millisecond each.
 *
 * @example
 * ```ts
 * import { makeChain } from "./fixtures.ts";
 * const { genesis, blocks } = makeChain(3, 2);
 * ```
 */
export function makeChain(
  nBlocks: number,
  txsPerBlock: number,
  options: MakeChainOptions = {},
): TestChain {
  if (nBlocks > 0 && txsPerBlock < 1) {
    throw new RangeError("a block needs at least one transaction");
  }
  const authority = Account.create();
  const owner = Account.create();
  const others = Array.from(
    { length: options.receivers ?? 3 },
    () => Account.create(),
  );
  const genesis = authority.signGenesis(
    newGenesis(options.chain ?? "blockchain", {
      authority: authority.address,
      balances: [[owner.address, options.balance ?? 1_000_000_000n]],
    }),
  );
  let time = genesis.time;
  let nonce = 0n;
  let parent = genesisHash(genesis);
  const blocks: SigBlock[] = [];
  for (let n = 1; n <= nBlocks; n++) {
    const txs: SigTx[] = [];
    for (let i = 0; i < txsPerBlock; i++) {
      nonce++;
      time = later(time, 1);
      txs.push(owner.signTx({
        from: owner.address,
        to: others[Number(nonce) % others.length].address,
        value: nonce,
        nonce,
        time,
      }));
    }
    time = later(time, 1);
    const block = authority.signBlock({
      number: BigInt(n),
      parent,
      txs,
      merkleRoot: merkleRoot(txs.map(txHash)),
      time,
    });
    blocks.push(block);
    parent = blockHash(block);
  }
  return { authority, owner, others, genesis, blocks };
}
