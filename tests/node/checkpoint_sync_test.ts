import { assert, assertEquals, assertRejects } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { blockBytes, blockHash } from "../../src/chain/block.ts";
import { encodeSigCheckpoint } from "../../src/chain/checkpoint.ts";
import { genesisHash } from "../../src/chain/genesis.ts";
import { stateChunks, stateHash } from "../../src/chain/state_hash.ts";
import {
  type CheckpointMessage,
  CheckpointRefused,
  type CheckpointSource,
  fetchCheckpointState,
} from "../../src/node/checkpoint_sync.ts";
import { checkpointOfChain } from "./checkpoint_fixture.ts";

const chain = makeChain(4, 1);
const { checkpoint: signed, state } = checkpointOfChain(chain);
const enc = new TextEncoder();
const empty = new Uint8Array(0);
const first: CheckpointMessage = {
  checkpoint: enc.encode(encodeSigCheckpoint(signed)),
  block: blockBytes(chain.blocks[3]),
  accounts: empty,
};
const chunks = [...stateChunks(state.confirmed())].map((t) => ({
  checkpoint: empty,
  block: empty,
  accounts: enc.encode(t),
}));

function source(
  messages: CheckpointMessage[],
  then?: (signal: AbortSignal) => Promise<void>,
): CheckpointSource {
  return {
    async *checkpoint(_peer, _number, _state, signal) {
      for (const m of messages) yield m;
      await then?.(signal);
    },
  };
}

Deno.test("fetchCheckpointState: an honest answer gives the state at the checkpoint", async () => {
  const got = await fetchCheckpointState(
    source([first, ...chunks]),
    "p",
    chain.genesis,
    { signal: new AbortController().signal },
  );
  assertEquals(got.checkpoint.number, 4n);
  assertEquals(got.state.lastHash, state.lastHash);
  assertEquals(got.state.balances, state.confirmed().balances);
  assertEquals(got.state.nonces, state.confirmed().nonces);
});

Deno.test("fetchCheckpointState: a peer that goes quiet, or takes too long, is refused in time", async () => {
  const hang = (signal: AbortSignal) =>
    new Promise<void>((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
  const quiet = await assertRejects(
    () =>
      fetchCheckpointState(source([first], hang), "p", chain.genesis, {
        signal: new AbortController().signal,
        idleMs: 50,
      }),
    CheckpointRefused,
  );
  assertEquals(
    quiet.message,
    "peer p: checkpoint refused: sent nothing for 50 ms",
  );
  // A peer that keeps the stream open without a word, within the quiet
  // bound: the total bound ends it.
  const slowPeer: CheckpointSource = {
    async *checkpoint(_p, _n, _s, signal) {
      yield first;
      for (let i = 0; i < 1000 && !signal.aborted; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
  const slow = await assertRejects(
    () =>
      fetchCheckpointState(slowPeer, "p", chain.genesis, {
        signal: new AbortController().signal,
        timeoutMs: 30,
        idleMs: 5_000,
      }),
    CheckpointRefused,
  );
  assertEquals(
    slow.message,
    "peer p: checkpoint refused: took more than 30 ms",
  );
});

Deno.test("fetchCheckpointState: total bytes and accounts are bounded", async () => {
  const bytes = await assertRejects(
    () =>
      fetchCheckpointState(source([first, ...chunks]), "p", chain.genesis, {
        signal: new AbortController().signal,
        maxTotalBytes: first.checkpoint.length + first.block.length,
      }),
    CheckpointRefused,
  );
  assert(bytes.message.includes("bytes in all"), bytes.message);
  const many = await assertRejects(
    () =>
      fetchCheckpointState(source([first, ...chunks]), "p", chain.genesis, {
        signal: new AbortController().signal,
        maxAccounts: 1,
      }),
    CheckpointRefused,
  );
  assert(many.message.includes("accounts, more than 1"), many.message);
});

Deno.test("fetchCheckpointState: a state with long receivers joins with the default bounds", async () => {
  // Any client can name a 1 MiB receiver in a transfer of 0: five of
  // them must not put checkpoint sync out of reach for the whole chain,
  // nor one of 5 MiB (a message holds 16 MiB).
  const balances = new Map<string, bigint>();
  for (const c of "abcd") balances.set(c.repeat(1024 * 1024), 0n);
  balances.set("e".repeat(5 * 1024 * 1024), 0n);
  const long = { balances, nonces: new Map<string, bigint>() };
  const h = stateHash(long);
  const c = chain.authority.signCheckpoint({
    chain: chain.genesis.chain,
    genesis: genesisHash(chain.genesis),
    interval: 4n,
    number: 4n,
    block: blockHash(chain.blocks[3]),
    state: h.hash,
    accounts: BigInt(h.accounts),
  });
  const got = await fetchCheckpointState(
    source([
      { ...first, checkpoint: enc.encode(encodeSigCheckpoint(c)) },
      ...[...stateChunks(long)].map((t) => ({
        checkpoint: empty,
        block: empty,
        accounts: enc.encode(t),
      })),
    ]),
    "p",
    chain.genesis,
    { signal: new AbortController().signal },
  );
  assertEquals(got.state.balances, balances);
});
