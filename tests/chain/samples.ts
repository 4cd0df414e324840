/**
 * Deterministic accounts and chain values shared by the chain tests.
 */
import { Account } from "../../src/chain/account.ts";
import type { Block, SigBlock } from "../../src/chain/block.ts";
import type { Genesis, SigGenesis } from "../../src/chain/genesis.ts";
import { parseTime } from "../../src/chain/time.ts";
import { merkleRoot } from "../../src/chain/merkle.ts";
import { type SigTx, type Tx, txHash } from "../../src/chain/tx.ts";

/** UTF-8 encoder. */
export const enc = new TextEncoder();
/** UTF-8 decoder. */
export const dec = new TextDecoder();

/** Sender with a balance in {@link makeGenesis}. */
export const alice = new Account(0xa11cen);
/** Receiver. */
export const bob = new Account(0xb0bn);
/** The genesis authority and block signer. */
export const authority = new Account(0x5eedn);
/** An account that signs what it should not. */
export const mallory = new Account(0xbadn);

/** The canonical form of {@link fixedTx}'s time. */
export const TIME = "2024-05-01T10:00:00.12Z";

/** A transaction with fixed fields. */
export const fixedTx: Tx = {
  from: alice.address,
  to: bob.address,
  value: 5n,
  nonce: 1n,
  time: parseTime("2024-05-01T10:00:00.120+00:00"),
};

/** A transfer to bob signed by `signer`. */
export function makeTx(nonce: bigint, value = 1n, signer = alice): SigTx {
  return signer.signTx({
    from: signer.address,
    to: bob.address,
    value,
    nonce,
    time: parseTime(`2024-05-01T10:00:0${nonce % 10n}Z`),
  });
}

/** A genesis with alice funded, signed by `signer`. */
export function makeGenesis(signer = authority): SigGenesis {
  const g: Genesis = {
    chain: "blockchain",
    authority: authority.address,
    balances: new Map([[alice.address, 1000n], [bob.address, 0n]]),
    time: parseTime("2024-05-01T09:00:00Z"),
  };
  return signer.signGenesis(g);
}

/** A block of `txs` on `parent`, signed by `signer`. */
export function makeBlock(
  parent: string,
  txs: SigTx[],
  number = 1n,
  signer = authority,
): SigBlock {
  const b: Block = {
    number,
    parent,
    txs,
    merkleRoot: merkleRoot(txs.map(txHash)),
    time: parseTime("2024-05-01T11:00:00.5+01:00"),
  };
  return signer.signBlock(b);
}
