import { assert, assertEquals, assertRejects } from "../assert.ts";
import { makeChain, type TestChain } from "../fixtures.ts";
import { Account } from "../../src/chain/account.ts";
import {
  blockHash,
  encodeSigBlock,
  type SigBlock,
} from "../../src/chain/block.ts";
import { type Event, EventType } from "../../src/chain/event.ts";
import { timeNow } from "../../src/chain/time.ts";
import { State, StateError } from "../../src/chain/state.ts";
import { type SigTx, txHash } from "../../src/chain/tx.ts";
import { Ledger } from "../../src/node/ledger.ts";
import { runProposer } from "../../src/node/proposer.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import { makeTempDir, waitFor } from "../support.ts";

interface Harness {
  chain: TestChain;
  ledger: Ledger;
  dir: string;
  relayedTxs: SigTx[];
  relayedBlocks: SigBlock[];
  /** The `origin` of every onTx and onBlock call, in order. */
  origins: (string | undefined)[];
  events: Event[];
  behind: bigint[];
}

async function withLedger(
  blocks: number,
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const chain = makeChain(blocks, 1);
  const dir = await makeTempDir("bcn_ledger_");
  try {
    const store = await BlockStore.open(dir);
    await store.writeGenesis(chain.genesis);
    const h: Harness = {
      chain,
      dir,
      relayedTxs: [],
      relayedBlocks: [],
      origins: [],
      events: [],
      behind: [],
      ledger: undefined as unknown as Ledger,
    };
    h.ledger = new Ledger(new State(chain.genesis), store, {
      onTx: (tx, origin) => {
        h.relayedTxs.push(tx);
        h.origins.push(origin);
      },
      onBlock: (b, origin) => {
        h.relayedBlocks.push(b);
        h.origins.push(origin);
      },
      onEvent: (e) => h.events.push(e),
      onBehind: (n) => h.behind.push(n),
      log: () => {},
    });
    await fn(h);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function pay(h: Harness, value: bigint, nonce: bigint): SigTx {
  return h.chain.owner.signTx({
    from: h.chain.owner.address,
    to: h.chain.others[0].address,
    value,
    nonce,
    time: timeNow(),
  });
}

async function storeLines(dir: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(`${dir}/block.store`)).split("\n").filter(
      Boolean,
    );
  } catch {
    return [];
  }
}

Deno.test("receiveBlock applies, stores, relays and publishes the next block", async () => {
  await withLedger(3, async (h) => {
    const [b1, b2, b3] = h.chain.blocks;
    assertEquals(await h.ledger.receiveBlock(b1), "applied");
    assertEquals(await h.ledger.receiveBlock(b1), "known");
    assertEquals(await h.ledger.receiveBlock(b3), "ahead");
    assertEquals(h.behind, [3n]);
    assertEquals(await h.ledger.receiveBlock(b2), "applied");
    assertEquals(h.ledger.state.lastHash, blockHash(b2));
    assertEquals(await storeLines(h.dir), [b1, b2].map(encodeSigBlock));
    // Known and future blocks are not relayed again: no relay storms.
    assertEquals(h.relayedBlocks, [b1, b2]);
    assertEquals(
      new TextDecoder().decode(h.events[0].body),
      encodeSigBlock(b1),
    );
    // One block event and one per transaction, per confirmed block.
    assertEquals(
      h.events.map((e) => e.type),
      [EventType.Block, EventType.Tx, EventType.Block, EventType.Tx],
    );
  });
});

Deno.test("receiveBlock rejects an invalid block and stores nothing", async () => {
  await withLedger(1, async (h) => {
    const forged = Account.create().signBlock(h.chain.blocks[0]);
    assertEquals(await h.ledger.receiveBlock(forged), "rejected");
    assertEquals(h.ledger.state.lastNumber, 0n);
    assertEquals(await storeLines(h.dir), []);
    assertEquals(h.relayedBlocks, []);
    assertEquals(h.events, []);
  });
});

Deno.test("sendTx relays new transactions; receiveTx drops repeats and invalid ones", async () => {
  await withLedger(0, async (h) => {
    const tx = pay(h, 5n, 1n);
    h.ledger.sendTx(tx);
    assertEquals(h.relayedTxs, [tx]);
    assertEquals(h.ledger.receiveTx(tx), false);
    // Too far ahead to be queued.
    assertEquals(h.ledger.receiveTx(pay(h, 5n, 900n)), false);
    assertEquals(h.relayedTxs.length, 1);
    await assertRejects(
      () =>
        Promise.resolve().then(() => h.ledger.sendTx(pay(h, 10n ** 12n, 2n))),
      StateError,
      "insufficient funds",
    );
  });
});

Deno.test("a queued transaction is relayed once the nonce before it arrives, also by a block", async () => {
  await withLedger(1, async (h) => {
    // Block 1 of the fixture spends the owner's nonce 1.
    const third = pay(h, 3n, 3n);
    const fourth = pay(h, 4n, 4n);
    h.ledger.sendTx(fourth);
    h.ledger.sendTx(third);
    assert(h.ledger.state.hasQueued(txHash(third)));
    assertEquals(h.relayedTxs, [], "queued transactions are not relayed");
    const second = pay(h, 2n, 2n);
    assertEquals(await h.ledger.receiveBlock(h.chain.blocks[0]), "applied");
    assertEquals(h.relayedTxs, []);
    h.ledger.sendTx(second);
    assertEquals(h.relayedTxs, [second, third, fourth]);
    assertEquals(h.ledger.state.queuedTxs(), []);
    // A gap filled by a confirmed block promotes too.
    const sixth = pay(h, 6n, 6n);
    h.ledger.sendTx(sixth);
    const twin = new State(h.chain.genesis);
    twin.applyBlock(h.chain.blocks[0]);
    for (const tx of [second, third, fourth, pay(h, 5n, 5n)]) twin.applyTx(tx);
    const block = twin.createBlock(h.chain.authority)!;
    assertEquals(block.txs.length, 4);
    assertEquals(await h.ledger.receiveBlock(block), "applied");
    assertEquals(h.relayedTxs.at(-1), sixth);
    assertEquals(h.ledger.state.pendingTxs(), [sixth]);
  });
});

Deno.test("proposeBlock makes no block without pending transactions", async () => {
  await withLedger(0, async (h) => {
    assertEquals(await h.ledger.proposeBlock(h.chain.authority), undefined);
    assertEquals(await storeLines(h.dir), []);
  });
});

Deno.test("proposeBlock confirms the pending transactions that apply", async () => {
  await withLedger(0, async (h) => {
    h.ledger.sendTx(pay(h, 5n, 1n));
    h.ledger.sendTx(pay(h, 6n, 2n));
    const block = (await h.ledger.proposeBlock(h.chain.authority))!;
    assertEquals(block.number, 1n);
    assertEquals(block.txs.length, 2);
    assertEquals(h.ledger.state.lastNumber, 1n);
    assertEquals(h.ledger.state.pendingTxs(), []);
    assertEquals(await storeLines(h.dir), [encodeSigBlock(block)]);
    assertEquals(h.relayedBlocks, [block]);
  });
});

Deno.test("proposeBlock leaves out a pending transaction that no longer applies", async () => {
  await withLedger(1, async (h) => {
    // Pending: nonce 1 from the owner. Block 1 of the fixture chain also
    // spends nonce 1, so once it is confirmed the pending one is stale.
    const stale = pay(h, 1n, 1n);
    h.ledger.sendTx(stale);
    assertEquals(await h.ledger.receiveBlock(h.chain.blocks[0]), "applied");
    assertEquals(h.ledger.state.pendingTxs(), []);
    assertEquals(await h.ledger.proposeBlock(h.chain.authority), undefined);
    h.ledger.sendTx(pay(h, 1n, 2n));
    const block = (await h.ledger.proposeBlock(h.chain.authority))!;
    assertEquals(block.number, 2n);
    assertEquals(block.txs.map((t) => t.nonce), [2n]);
  });
});

Deno.test("a failed append is reported as fatal and rejects", async () => {
  await withLedger(1, async (h) => {
    let fatal: Error | undefined;
    const store = h.ledger.store;
    const ledger = new Ledger(new State(h.chain.genesis), store, {
      onFatal: (e) => fatal = e,
    });
    // Make block.store a directory so the append cannot open it.
    await Deno.mkdir(`${h.dir}/block.store`);
    await assertRejects(
      () => ledger.receiveBlock(h.chain.blocks[0]),
      Error,
      "cannot append block 1",
    );
    assert(fatal?.message.includes("cannot append block 1"));
    // The state is ahead of the store now: every later change is refused.
    await assertRejects(
      () => ledger.proposeBlock(h.chain.authority),
      Error,
      "cannot append block 1",
    );
  });
});

Deno.test("the proposer proposes on its period and stops on abort", async () => {
  await withLedger(0, async (h) => {
    h.ledger.sendTx(pay(h, 5n, 1n));
    const controller = new AbortController();
    const running = runProposer(h.ledger, h.chain.authority, {
      periodMs: 20,
      signal: controller.signal,
    });
    assert(
      await waitFor(() => h.relayedBlocks.length > 0, 5000),
      "a block was proposed",
    );
    controller.abort();
    await running;
    // Rounds with no pending transaction make no block.
    assertEquals(h.relayedBlocks.length, 1);
    assertEquals(h.ledger.state.lastNumber, 1n);
  });
});

Deno.test("commitBlock applies the next block, says known, throws for a bad one", async () => {
  await withLedger(2, async (h) => {
    const [b1, b2] = h.chain.blocks;
    assertEquals(await h.ledger.commitBlock(b1), "applied");
    assertEquals(await h.ledger.commitBlock(b1), "known");
    await assertRejects(
      () => h.ledger.commitBlock(Account.create().signBlock(b2)),
      StateError,
      "invalid signature",
    );
    assertEquals(await h.ledger.commitBlock(b2), "applied");
    assertEquals(h.relayedBlocks, [b1, b2]);
    assertEquals(await storeLines(h.dir), [b1, b2].map(encodeSigBlock));
  });
});

Deno.test("the relay hooks get the peer each tx or block came from", async () => {
  await withLedger(3, async (h) => {
    const [b1, b2, b3] = h.chain.blocks;
    const peer = "127.0.0.1:1123";
    assertEquals(h.ledger.receiveTx(pay(h, 5n, 1n), peer), true);
    assertEquals(h.ledger.receiveTx(pay(h, 5n, 2n)), true);
    h.ledger.sendTx(pay(h, 5n, 3n));
    assertEquals(await h.ledger.receiveBlock(b1, peer), "applied");
    assertEquals(await h.ledger.commitBlock(b2, "127.0.0.1:1124"), "applied");
    assertEquals(await h.ledger.receiveBlock(b3), "applied");
    assertEquals(h.origins, [
      peer,
      undefined,
      undefined,
      peer,
      "127.0.0.1:1124",
      undefined,
    ]);
  });
});
