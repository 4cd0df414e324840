import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { blockHash } from "../../src/chain/block.ts";
import { genesisHash } from "../../src/chain/genesis.ts";
import { Account } from "../../src/chain/account.ts";
import { verifyCheckpoint } from "../../src/chain/checkpoint.ts";
import { State } from "../../src/chain/state.ts";
import { stateHash } from "../../src/chain/state_hash.ts";
import { CheckpointStore } from "../../src/store/checkpoint_store.ts";
import { CheckpointKeeper } from "../../src/node/checkpoints.ts";
import { withTempDir } from "../support.ts";

const chain = makeChain(6, 1);

Deno.test("checkpoint keeper: the authority signs once a checkpoint block is durable", async () => {
  await withTempDir(async (dir) => {
    const store = await CheckpointStore.open(dir);
    const keeper = new CheckpointKeeper({
      store,
      genesis: chain.genesis,
      authority: chain.authority,
      interval: 3n,
      log: () => {},
    });
    const state = new State(chain.genesis);
    for (const b of chain.blocks.slice(0, 3)) {
      state.applyBlock(b);
      keeper.applied(b, state, false);
    }
    await keeper.idle();
    assertEquals(store.all(), []); // not durable yet
    keeper.durable(chain.blocks[2]);
    await keeper.idle();
    const [c] = store.all();
    assertEquals(c.number, 3n);
    assertEquals(c.block, blockHash(chain.blocks[2]));
    assertEquals(c.state, stateHash(state.confirmed()).hash);
    assertEquals(c.genesis, genesisHash(chain.genesis));
    assert(verifyCheckpoint(c, chain.authority.address));
    assertEquals(keeper.served()?.number, 3n);
    assert(await store.readState(c));
  });
});

Deno.test("checkpoint keeper: a regular node keeps a matching checkpoint and refuses the others, in one line each", async () => {
  await withTempDir(async (dir) => {
    // The authority's checkpoints at 3 and 6.
    const signed = new Map<bigint, ReturnType<Account["signCheckpoint"]>>();
    const state = new State(chain.genesis);
    for (const b of chain.blocks) {
      state.applyBlock(b);
      if (b.number % 3n !== 0n) continue;
      const { hash, accounts } = stateHash(state.confirmed());
      signed.set(
        b.number,
        chain.authority.signCheckpoint({
          chain: chain.genesis.chain,
          genesis: genesisHash(chain.genesis),
          interval: 3n,
          number: b.number,
          block: blockHash(b),
          state: hash,
          accounts: BigInt(accounts),
        }),
      );
    }
    const logs: string[] = [];
    const store = await CheckpointStore.open(dir);
    const keeper = new CheckpointKeeper({
      store,
      genesis: chain.genesis,
      log: (m) => logs.push(m),
    });
    assert(keeper.learn(signed.get(3n)!));
    assertEquals(keeper.interval, 3n);
    const mine = new State(chain.genesis);
    for (const b of chain.blocks) {
      mine.applyBlock(b);
      keeper.applied(b, mine, true);
    }
    assertEquals(keeper.unchecked(), [3n, 6n]);
    // Another key, another chain, a wrong state: refused, not stored.
    const forged = Account.create().signCheckpoint(signed.get(3n)!);
    assertEquals(await keeper.offer(forged, "p1"), "refused");
    const otherChain = chain.authority.signCheckpoint({
      ...signed.get(3n)!,
      genesis: "0".repeat(64),
    });
    assertEquals(await keeper.offer(otherChain, "p1"), "refused");
    const wrongState = chain.authority.signCheckpoint({
      ...signed.get(6n)!,
      state: "0".repeat(64),
    });
    assertEquals(await keeper.offer(wrongState, "p2"), "mismatch");
    assertEquals(keeper.mismatches, 1);
    assertEquals(store.all(), []);
    assertEquals(logs.length, 3);
    assert(
      logs[0].includes("peer p1: checkpoint 3 is not signed by the authority"),
    );
    assert(logs[1].includes("is from another chain"));
    assert(
      logs[2].startsWith("error: checkpoint 6 (from peer p2) does not match"),
    );
    assert(logs[2].includes("the checkpoint is not served"));
    assert(logs.every((l) => !l.includes("\n")));
    // The authority's own: kept and served.
    assertEquals(await keeper.offer(signed.get(3n)!, "p1"), "stored");
    assertEquals(await keeper.offer(signed.get(6n)!, "p1"), "stored");
    assertEquals(await keeper.offer(signed.get(6n)!, "p1"), "known");
    assertEquals(keeper.served()?.number, 6n);
    assertEquals(store.all().map((c) => c.number), [3n, 6n]);
    assert(await store.readState(signed.get(6n)!));
  });
});

Deno.test("checkpoint keeper: a held checkpoint that does not match is not served", async () => {
  await withTempDir(async (dir) => {
    const store = await CheckpointStore.open(dir);
    const state = new State(chain.genesis);
    state.applyBlock(chain.blocks[0]);
    state.applyBlock(chain.blocks[1]);
    state.applyBlock(chain.blocks[2]);
    await store.append(chain.authority.signCheckpoint({
      chain: chain.genesis.chain,
      genesis: genesisHash(chain.genesis),
      interval: 3n,
      number: 3n,
      block: blockHash(chain.blocks[2]),
      state: "0".repeat(64),
      accounts: 1n,
    }));
    const logs: string[] = [];
    const keeper = new CheckpointKeeper({
      store,
      genesis: chain.genesis,
      log: (m) => logs.push(m),
    });
    assertEquals(keeper.interval, 3n);
    assertEquals(keeper.served()?.number, 3n);
    keeper.applied(chain.blocks[2], state, true);
    await keeper.idle();
    assertEquals(keeper.served(), undefined);
    assertEquals(keeper.get(3n), undefined);
    assertEquals(logs.length, 1);
    assert(logs[0].startsWith("error: checkpoint 3 (held) does not match"));
  });
});

Deno.test("checkpoint keeper: checkpoints of another chain in the directory are not served", async () => {
  await withTempDir(async (dir) => {
    // A directory that held another chain once (its genesis replaced).
    const other = makeChain(3, 1);
    const store = await CheckpointStore.open(dir);
    const theirs = other.authority.signCheckpoint({
      chain: other.genesis.chain,
      genesis: genesisHash(other.genesis),
      interval: 3n,
      number: 3n,
      block: blockHash(other.blocks[2]),
      state: "0".repeat(64),
      accounts: 1n,
    });
    await store.append(theirs);
    const logs: string[] = [];
    const keeper = new CheckpointKeeper({
      store,
      genesis: chain.genesis,
      authority: chain.authority,
      interval: 3n,
      log: (m) => logs.push(m),
    });
    assertEquals(keeper.served(), undefined);
    assertEquals(keeper.get(3n), undefined);
    assertEquals(logs, [
      `warning: 1 checkpoints held are of another chain than genesis ${
        genesisHash(chain.genesis).slice(0, 7)
      }: not served`,
    ]);
    // This chain's checkpoint at the same block is signed and served.
    const state = new State(chain.genesis);
    for (const b of chain.blocks.slice(0, 3)) {
      state.applyBlock(b);
      keeper.applied(b, state, true);
    }
    await keeper.idle();
    assertEquals(keeper.served()?.genesis, genesisHash(chain.genesis));
    const reopened = await CheckpointStore.open(dir);
    assertEquals(reopened.keepChain(genesisHash(chain.genesis)), 0);
    assertEquals(reopened.get(3n)?.block, blockHash(chain.blocks[2]));
  });
});
