/** A small chain for the tests of the state and the pool. */
import { Account } from "../../src/chain/account.ts";
import { newGenesis } from "../../src/chain/genesis.ts";
import { parseTime, type Time } from "../../src/chain/time.ts";
import { State } from "../../src/chain/state.ts";
import type { SigTx } from "../../src/chain/tx.ts";

/** The time the test transactions are dated from. */
export const T0 = parseTime("2024-05-01T10:00:00Z");

/** A time `seconds` after 2024-05-01T10:00:00Z. */
export function at(seconds: number): Time {
  return {
    unixNano: T0.unixNano + BigInt(seconds) * 1_000_000_000n,
    offsetMinutes: 0,
  };
}

/** A new state whose owner holds `balance`, an authority and a bob. */
export function setup(balance = 1000n) {
  const auth = Account.create();
  const owner = Account.create();
  const bob = Account.create();
  const genesis = auth.signGenesis(
    newGenesis("test", {
      authority: auth.address,
      balances: [[owner.address, balance]],
    }),
  );
  return { auth, owner, bob, genesis, state: new State(genesis) };
}

/** A transfer signed by `from`, dated by its nonce unless given a time. */
export function transfer(
  from: Account,
  to: string,
  value: bigint,
  nonce: bigint,
  time = at(Number(nonce)),
): SigTx {
  return from.signTx({ from: from.address, to, value, nonce, time });
}
