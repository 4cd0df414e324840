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
import { VerifyPool } from "../../src/node/verify/pool.ts";
import { Ledger } from "../../src/node/ledger.ts";
import { runProposer } from "../../src/node/proposer.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import { makeTempDir, waitFor } from "../support.ts";

interface Harness {
  chain: TestChain;
  ledger: Ledger;
  dir: string;
  relayedTxs: SigTx[];
  /** Every transaction given to onAccepted, in order. */
  accepted: SigTx[];
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
      accepted: [],
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
      onAccepted: (tx) => {
        h.accepted.push(tx);
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

Deno.test("submitTx relays new transactions; offerTx drops repeats and invalid ones", async () => {
  await withLedger(0, async (h) => {
    const tx = pay(h, 5n, 1n);
    await h.ledger.submitTx(tx);
    assertEquals(h.relayedTxs, [tx]);
    assertEquals(await h.ledger.offerTx(tx), false);
    // Too far ahead to be queued.
    assertEquals(await h.ledger.offerTx(pay(h, 5n, 900n)), false);
    assertEquals(h.relayedTxs.length, 1);
    await assertRejects(
      () => h.ledger.submitTx(pay(h, 10n ** 12n, 2n)),
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
    await h.ledger.submitTx(fourth);
    await h.ledger.submitTx(third);
    assert(h.ledger.state.hasQueued(txHash(third)));
    assertEquals(h.relayedTxs, [], "queued transactions are not relayed");
    const second = pay(h, 2n, 2n);
    assertEquals(await h.ledger.receiveBlock(h.chain.blocks[0]), "applied");
    assertEquals(h.relayedTxs, []);
    await h.ledger.submitTx(second);
    assertEquals(h.relayedTxs, [second, third, fourth]);
    assertEquals(h.ledger.state.queuedTxs(), []);
    // A gap filled by a confirmed block promotes too.
    const sixth = pay(h, 6n, 6n);
    await h.ledger.submitTx(sixth);
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
    await h.ledger.submitTx(pay(h, 5n, 1n));
    await h.ledger.submitTx(pay(h, 6n, 2n));
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
    await h.ledger.submitTx(stale);
    assertEquals(await h.ledger.receiveBlock(h.chain.blocks[0]), "applied");
    assertEquals(h.ledger.state.pendingTxs(), []);
    assertEquals(await h.ledger.proposeBlock(h.chain.authority), undefined);
    await h.ledger.submitTx(pay(h, 1n, 2n));
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
    await h.ledger.submitTx(pay(h, 5n, 1n));
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
    assertEquals(await h.ledger.offerTx(pay(h, 5n, 1n), peer), true);
    assertEquals(await h.ledger.offerTx(pay(h, 5n, 2n)), true);
    await h.ledger.submitTx(pay(h, 5n, 3n));
    assertEquals(await h.ledger.receiveBlock(b1, peer), "applied");
    assertEquals(
      await h.ledger.commitBlock(b2, { origin: "127.0.0.1:1124" }),
      "applied",
    );
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

Deno.test("grouped blocks are appended with one flush and announced only once durable", async () => {
  await withLedger(5, async (h) => {
    const store = h.ledger.store;
    const writes: number[] = [];
    const append = store.appendLines.bind(store);
    store.appendLines = (lines) => {
      writes.push(lines.length);
      return append(lines);
    };
    for (const b of h.chain.blocks.slice(0, 4)) {
      assertEquals(await h.ledger.commitBlock(b, { group: true }), "applied");
    }
    // Applied, not yet durable: nothing written, nothing announced.
    assertEquals(h.ledger.state.lastNumber, 4n);
    assertEquals(await storeLines(h.dir), []);
    assertEquals(h.relayedBlocks, []);
    assertEquals(h.events, []);
    await h.ledger.flush();
    assertEquals(writes, [4]);
    assertEquals(
      await storeLines(h.dir),
      h.chain.blocks.slice(0, 4).map(encodeSigBlock),
    );
    assertEquals(h.relayedBlocks, h.chain.blocks.slice(0, 4));
    // A relayed block is durable before receiveBlock resolves.
    assertEquals(await h.ledger.receiveBlock(h.chain.blocks[4]), "applied");
    assertEquals(writes, [4, 1]);
    assertEquals(h.relayedBlocks.length, 5);
  });
});

Deno.test("a group is flushed once it is full, or after its delay", async () => {
  const chain = makeChain(5, 1);
  const dir = await makeTempDir("bcn_ledger_");
  try {
    const store = await BlockStore.open(dir);
    await store.writeGenesis(chain.genesis);
    const confirmed: bigint[] = [];
    const ledger = new Ledger(new State(chain.genesis), store, {
      onBlock: (b) => confirmed.push(b.number),
      maxBlocks: 2,
      maxDelayMs: 20,
    });
    await ledger.commitBlock(chain.blocks[0], { group: true });
    assertEquals(confirmed, []);
    await ledger.commitBlock(chain.blocks[1], { group: true });
    assertEquals(confirmed, [1n, 2n], "full at 2 blocks");
    await ledger.commitBlock(chain.blocks[2], { group: true });
    assertEquals(confirmed, [1n, 2n]);
    // Bounded wait for the timer's flush.
    for (let i = 0; i < 100 && confirmed.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assertEquals(confirmed, [1n, 2n, 3n], "flushed after its delay");
    await ledger.idle();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a crash during a group commit: the torn tail is repaired, nothing confirmed is lost", async () => {
  const chain = makeChain(9, 2);
  const dir = await makeTempDir("bcn_ledger_");
  try {
    const store = await BlockStore.open(dir);
    await store.writeGenesis(chain.genesis);
    const confirmed: bigint[] = [];
    let fatal: Error | undefined;
    const ledger = new Ledger(new State(chain.genesis), store, {
      onBlock: (b) => confirmed.push(b.number),
      onFatal: (e) => fatal = e,
    });
    for (const b of chain.blocks.slice(0, 4)) {
      await ledger.commitBlock(b, { group: true });
    }
    await ledger.flush();
    // The next group's write dies part-way: half its bytes reach the file,
    // as when the process is killed in the middle of the write.
    store.appendLines = async (lines) => {
      const bytes = new TextEncoder().encode(
        lines.map((l) => new TextDecoder().decode(l) + "\n").join(""),
      );
      using file = await Deno.open(store.blocksPath, { append: true });
      // (Not at a line boundary: the last line is torn.)
      await file.write(bytes.subarray(0, Math.floor(bytes.length / 2) + 7));
      throw new Error("killed");
    };
    for (const b of chain.blocks.slice(4, 8)) {
      await ledger.commitBlock(b, { group: true });
    }
    await assertRejects(() => ledger.flush(), Error, "cannot append block 5-8");
    assert(fatal);
    // Only durable blocks were ever announced.
    assertEquals(confirmed, [1n, 2n, 3n, 4n]);
    // The next start repairs the torn tail and replays a valid prefix that
    // holds every confirmed block.
    const warnings: string[] = [];
    const reopened = await BlockStore.open(dir, {
      onWarning: (m) => warnings.push(m),
    });
    assertEquals(warnings.length, 1);
    const state = new State(chain.genesis);
    for await (const b of reopened.blocks()) state.applyBlock(b);
    assert(state.lastNumber >= 4n, `replayed to ${state.lastNumber}`);
    // Every confirmed block is there, as it was announced.
    assertEquals(
      (await storeLines(dir)).slice(0, confirmed.length),
      chain.blocks.slice(0, confirmed.length).map(encodeSigBlock),
    );
    // And the node completes it: the rest follows in order.
    const again = new Ledger(state, reopened);
    for (const b of chain.blocks) await again.commitBlock(b, { group: true });
    await again.flush();
    assertEquals(
      await storeLines(dir),
      chain.blocks.map(encodeSigBlock),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("submitTx verifies in the pool, applies in arrival order, with in-place errors", async () => {
  const chain = makeChain(0, 1);
  const dir = await makeTempDir("bcn_ledger_");
  const pool = new VerifyPool({ workers: 2 });
  try {
    const store = await BlockStore.open(dir);
    await store.writeGenesis(chain.genesis);
    const relayed: SigTx[] = [];
    const ledger = new Ledger(new State(chain.genesis), store, {
      onTx: (tx) => relayed.push(tx),
      pool,
    });
    const pays = Array.from({ length: 12 }, (_, i) =>
      chain.owner.signTx({
        from: chain.owner.address,
        to: chain.others[0].address,
        value: 1n,
        nonce: BigInt(i + 1),
        time: timeNow(),
      }));
    // All at once: nonce n + 1 must not be applied before nonce n.
    const hashes = await Promise.all(pays.map((t) => ledger.submitTx(t)));
    assertEquals(hashes, pays.map(txHash));
    assertEquals(relayed, pays);
    // The same one-line errors as verifying in place.
    const forged = { ...pays[0], nonce: 13n, value: 2n };
    const serial = new Ledger(new State(chain.genesis), store);
    for (const t of pays) await serial.submitTx(t);
    const expected = await assertRejects(
      () => serial.submitTx(forged),
      StateError,
    );
    await assertRejects(
      () => ledger.submitTx(forged),
      StateError,
      expected.message,
    );
    assertEquals(await ledger.offerTx(pays[3]), false);
    assertEquals(relayed.length, 12);
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("receiveBlock with a pool: the same outcomes and messages as in place", async () => {
  const chain = makeChain(2, 2);
  const pool = new VerifyPool({ workers: 2 });
  const dirs: string[] = [];
  try {
    const run = async (withPool: boolean) => {
      const dir = await makeTempDir("bcn_ledger_");
      dirs.push(dir);
      const store = await BlockStore.open(dir);
      await store.writeGenesis(chain.genesis);
      const logs: string[] = [];
      const ledger = new Ledger(new State(chain.genesis), store, {
        log: (m) => logs.push(m),
        ...(withPool ? { pool } : {}),
      });
      const forged = Account.create().signBlock(chain.blocks[0]);
      const outcomes = [
        await ledger.receiveBlock(forged),
        await ledger.receiveBlock(chain.blocks[0]),
        await ledger.receiveBlock(chain.blocks[0]),
        await ledger.receiveBlock(chain.blocks[1]),
      ];
      return { outcomes, logs, lines: await storeLines(dir) };
    };
    const pooled = await run(true);
    assertEquals(pooled.outcomes, ["rejected", "applied", "known", "applied"]);
    assertEquals(pooled, await run(false));
  } finally {
    pool.close();
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("onAccepted gets every accepted transaction, pending or queued, once", async () => {
  await withLedger(0, async (h) => {
    const first = pay(h, 1n, 1n);
    const third = pay(h, 3n, 3n);
    const second = pay(h, 2n, 2n);
    await h.ledger.submitTx(first);
    await h.ledger.submitTx(third); // queued: kept, not relayed yet
    assertEquals(h.accepted, [first, third]);
    assertEquals(h.relayedTxs, [first]);
    // Repeats and invalid transactions are not accepted.
    assertEquals(await h.ledger.offerTx(first), false);
    assertEquals(await h.ledger.offerTx(pay(h, 10n ** 12n, 2n)), false);
    assertEquals(await h.ledger.offerTx(second), true);
    // The promoted third was accepted already: not again.
    assertEquals(h.accepted, [first, third, second]);
    assertEquals(h.relayedTxs, [first, second, third]);
  });
});

Deno.test("restoreTxs keeps what still applies and counts what it drops", async () => {
  await withLedger(1, async (h) => {
    // Block 1 of the fixture confirms the owner's nonce 1.
    assertEquals(await h.ledger.receiveBlock(h.chain.blocks[0]), "applied");
    const confirmed = h.chain.blocks[0].txs[0];
    const [second, third, fifth] = [2n, 3n, 5n].map((n) => pay(h, n, n));
    const forged = { ...pay(h, 4n, 4n), value: 40n }; // signature broken
    const broke = pay(h, 10n ** 12n, 4n); // more than the balance
    assertEquals(
      await h.ledger.restoreTxs([
        confirmed,
        second,
        second,
        third,
        forged,
        broke,
        fifth,
      ]),
      { kept: 3, dropped: 4 },
    );
    assertEquals(h.ledger.state.pendingTxs(), [second, third]);
    assertEquals(h.ledger.state.queuedTxs(), [fifth]);
    assertEquals(h.accepted, [second, third, fifth]);
    assertEquals(await h.ledger.restoreTxs([]), { kept: 0, dropped: 0 });
  });
});

Deno.test("submitTx answers once onAccepted kept the tx, without holding up the next", async () => {
  const chain = makeChain(0, 1);
  const dir = await makeTempDir("bcn_ledger_");
  try {
    const store = await BlockStore.open(dir);
    await store.writeGenesis(chain.genesis);
    const keeps: PromiseWithResolvers<void>[] = [];
    let mode: "wait" | "throw" | "reject" = "wait";
    const ledger = new Ledger(new State(chain.genesis), store, {
      onAccepted: () => {
        if (mode === "throw") throw new Error("disk gone");
        const keep = Promise.withResolvers<void>();
        keeps.push(keep);
        if (mode === "reject") keep.reject(new Error("disk full"));
        return keep.promise;
      },
    });
    const pay = (nonce: bigint) =>
      chain.owner.signTx({
        from: chain.owner.address,
        to: chain.others[0].address,
        value: 1n,
        nonce,
        time: timeNow(),
      });
    const answered: string[] = [];
    const first = pay(1n);
    const second = pay(2n);
    const a = ledger.submitTx(first).then((h) => answered.push(h));
    const b = ledger.offerTx(second).then((fresh) => {
      assert(fresh);
      answered.push("second");
    });
    // Both applied (the second did not wait for the first to be kept)...
    assert(await waitFor(() => keeps.length === 2, 2000));
    assertEquals(ledger.state.pendingTxs(), [first, second]);
    // ...and neither answered before it is kept.
    await new Promise((resolve) => setTimeout(resolve, 20));
    assertEquals(answered, []);
    keeps[1].resolve();
    await b;
    assertEquals(answered, ["second"]);
    keeps[0].resolve();
    await a;
    assertEquals(answered, ["second", txHash(first)]);
    // A keeper that fails costs the copy, not the transaction.
    mode = "reject";
    assertEquals(
      await ledger.submitTx(pay(3n)),
      txHash(ledger.state.pendingTxs()[2]),
    );
    mode = "throw";
    assertEquals(
      await ledger.submitTx(pay(4n)),
      txHash(ledger.state.pendingTxs()[3]),
    );
    assertEquals(ledger.state.pendingCount, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
