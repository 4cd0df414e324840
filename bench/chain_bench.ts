/** Micro-benchmarks of the chain core: `deno task bench`. */
import { Account } from "../src/chain/account.ts";
import { recover, sign } from "../src/chain/crypto.ts";
import { recoverAddress, SignerCache } from "../src/chain/signer_cache.ts";
import { newGenesis } from "../src/chain/genesis.ts";
import { timeNow } from "../src/chain/time.ts";
import { State } from "../src/chain/state.ts";
import { encodeSigTx, txDigest, txHash } from "../src/chain/tx.ts";

const auth = Account.create();
const owner = Account.create();
const bob = Account.create();
const tx = owner.signTx({
  from: owner.address,
  to: bob.address,
  value: 1n,
  nonce: 1n,
  time: timeNow(),
});
const digest = txDigest(tx);
const d = 0x1234567890abcdefn;

Deno.bench("sign a digest", () => {
  sign(digest, d);
});

Deno.bench("recover a signer", { group: "signer", baseline: true }, () => {
  recover(digest, tx.sig);
});

Deno.bench("recover a signer's address", { group: "signer" }, () => {
  recoverAddress(digest, tx.sig);
});

// A signer the cache has recovered twice: its table is built.
const ownerKey = recover(digest, tx.sig);
const known = new SignerCache();
known.recovered(owner.address, ownerKey);
known.recovered(owner.address, ownerKey);

Deno.bench("check a known signer's signature", { group: "signer" }, () => {
  if (!known.signedBy(digest, tx.sig, owner.address)) throw new Error("no");
});

Deno.bench("build a known signer's table", () => {
  const c = new SignerCache();
  c.recovered(owner.address, ownerKey);
  c.recovered(owner.address, ownerKey);
});

Deno.bench("transaction hash (encode + keccak, uncached)", () => {
  // A fresh object each time, so the hash cache does not answer.
  txHash({ ...tx });
});

Deno.bench("encode a signed transaction", () => {
  encodeSigTx(tx);
});

const genesis = auth.signGenesis(
  newGenesis("bench", {
    authority: auth.address,
    balances: [[owner.address, 1_000_000n]],
  }),
);
const maker = new State(genesis);
for (let i = 1n; i <= 100n; i++) {
  maker.applyTx(owner.signTx({
    from: owner.address,
    to: bob.address,
    value: 1n,
    nonce: i,
    time: timeNow(),
  }));
}
const block = maker.createBlock(auth)!;

Deno.bench("apply a 100-transaction block", (b) => {
  const state = new State(genesis);
  b.start();
  state.applyBlock(block);
  b.end();
});
