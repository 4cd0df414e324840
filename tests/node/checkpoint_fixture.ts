/** Checkpoints of a test chain, signed by its authority. */
import { blockHash } from "../../src/chain/block.ts";
import type { SigCheckpoint } from "../../src/chain/checkpoint.ts";
import { genesisHash } from "../../src/chain/genesis.ts";
import { State } from "../../src/chain/state.ts";
import { stateHash } from "../../src/chain/state_hash.ts";
import type { TestChain } from "../fixtures.ts";

/**
 * The authority's checkpoint at the last block of `chain` (every block
 * applied; its state hashed), with that block's number as the interval.
 */
export function checkpointOfChain(
  chain: TestChain,
): { checkpoint: SigCheckpoint; state: State } {
  const state = new State(chain.genesis);
  for (const b of chain.blocks) state.applyBlock(b);
  const { hash, accounts } = stateHash(state.confirmed());
  const last = chain.blocks[chain.blocks.length - 1];
  const checkpoint = chain.authority.signCheckpoint({
    chain: chain.genesis.chain,
    genesis: genesisHash(chain.genesis),
    interval: last.number,
    number: last.number,
    block: blockHash(last),
    state: hash,
    accounts: BigInt(accounts),
  });
  return { checkpoint, state };
}
