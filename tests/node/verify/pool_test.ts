import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { makeChain } from "../../fixtures.ts";
import { Account } from "../../../src/chain/account.ts";
import {
  blockHash,
  encodeSigBlock,
  type SigBlock,
} from "../../../src/chain/block.ts";
import { State, StateError } from "../../../src/chain/state.ts";
import { encodeSigTx, txHash } from "../../../src/chain/tx.ts";
import {
  type Checked,
  verifiedBlocks,
  VerifyPool,
} from "../../../src/node/verify/pool.ts";

const encoder = new TextEncoder();
const line = (b: SigBlock) => encoder.encode(encodeSigBlock(b));

async function* slowly(
  items: Uint8Array[],
  onPull?: (i: number) => void,
): AsyncIterable<Uint8Array> {
  for (let i = 0; i < items.length; i++) {
    // Uneven timing, so batches of different sizes are in flight at once.
    if (i % 7 === 0) await new Promise((r) => setTimeout(r, 1));
    onPull?.(i);
    yield items[i];
  }
}

async function withPool(
  workers: number,
  fn: (pool: VerifyPool) => Promise<void>,
): Promise<void> {
  const pool = new VerifyPool({ workers });
  try {
    await fn(pool);
  } finally {
    pool.close();
  }
}

function value<T>(r: Checked<T>): T {
  if ("error" in r) throw new Error(r.error);
  return r.value;
}

Deno.test("the pipeline yields every block in source order, verified", async () => {
  const chain = makeChain(60, 3);
  await withPool(3, async (pool) => {
    const out: SigBlock[] = [];
    const source = slowly(chain.blocks.map(line));
    for await (const r of verifiedBlocks(pool, source, { batch: 4 })) {
      out.push(value(r));
    }
    assertEquals(out.map((b) => b.number), chain.blocks.map((b) => b.number));
    assertEquals(out.map(blockHash), chain.blocks.map(blockHash));
    // Applying them in order gives what applying the originals gives.
    const a = new State(chain.genesis);
    const b = new State(chain.genesis);
    for (const block of out) a.applyBlock(block);
    for (const block of chain.blocks) b.applyBlock(block);
    assertEquals(a.toString(), b.toString());
  });
});

Deno.test("the pipeline reads at most maxBlocks ahead of its consumer", async () => {
  const chain = makeChain(80, 1);
  await withPool(2, async (pool) => {
    let pulled = 0;
    let consumed = 0;
    let most = 0;
    const source = slowly(chain.blocks.map(line), (i) => {
      pulled = i + 1;
      most = Math.max(most, pulled - consumed);
    });
    for await (
      const r of verifiedBlocks(pool, source, { maxBlocks: 10, batch: 3 })
    ) {
      value(r);
      consumed++;
      // A slow consumer: the source must wait for it.
      await new Promise((r) => setTimeout(r, 2));
    }
    assertEquals(consumed, 80);
    assert(most <= 10, `read ${most} blocks ahead, bound 10`);
  });
});

Deno.test("the pipeline reads at most maxBytes ahead of its consumer", async () => {
  const chain = makeChain(40, 2);
  const lines = chain.blocks.map(line);
  const size = lines[0].length;
  await withPool(2, async (pool) => {
    let pulledBytes = 0;
    let consumedBytes = 0;
    let most = 0;
    const source = slowly(lines, (i) => {
      pulledBytes += lines[i].length;
      most = Math.max(most, pulledBytes - consumedBytes);
    });
    for await (
      const r of verifiedBlocks(pool, source, { maxBytes: 4 * size })
    ) {
      consumedBytes += encoder.encode(encodeSigBlock(value(r))).length;
      await new Promise((r) => setTimeout(r, 1));
    }
    // The block that crosses the bound is the last one read.
    assert(most <= 5 * size + 64, `read ${most} bytes ahead`);
  });
});

Deno.test("a bad block in the middle of a window fails at its place, the same way as the serial path", async () => {
  const chain = makeChain(40, 2);
  const lines = chain.blocks.map(line);
  // Block 17: garbage; block 23: signed by someone else.
  lines[16] = encoder.encode('{"number":17,"parent":"x"}');
  const forged = Account.create().signBlock(chain.blocks[22]);
  lines[22] = line(forged);
  await withPool(2, async (pool) => {
    const results: Checked<SigBlock>[] = [];
    for await (const r of verifiedBlocks(pool, slowly(lines))) results.push(r);
    assertEquals(results.length, 40);
    const bad = results[16];
    assert("error" in bad);
    // The same message decoding it here gives.
    let serial = "";
    try {
      const { decodeSigBlock } = await import("../../../src/chain/block.ts");
      decodeSigBlock(lines[16]);
    } catch (e) {
      serial = (e as Error).message;
    }
    assertEquals(bad.error, serial);
    // Applying in order stops at block 17 exactly; the forged block 23 is
    // refused with the serial path's error.
    const state = new State(chain.genesis);
    for (const r of results.slice(0, 16)) state.applyBlock(value(r));
    assertEquals(state.lastNumber, 16n);
    const later = new State(chain.genesis);
    for (const b of chain.blocks.slice(0, 22)) later.applyBlock(b);
    const serialError = (() => {
      try {
        new State(chain.genesis).applyBlock(forged);
      } catch (e) {
        return (e as Error).message;
      }
    })();
    const err = (() => {
      try {
        later.applyBlock(value(results[22]));
      } catch (e) {
        return e as Error;
      }
    })();
    assert(err instanceof StateError);
    assertEquals(err.message, serialError);
    assertEquals(later.lastNumber, 22n);
  });
});

Deno.test("transactions are decoded and verified in the pool, in order", async () => {
  const chain = makeChain(3, 4);
  const txs = chain.blocks.flatMap((b) => b.txs);
  const forged = { ...txs[5], value: txs[5].value + 1n };
  const items = txs.map((t) => encoder.encode(encodeSigTx(t)));
  items[5] = encoder.encode(encodeSigTx(forged));
  items[7] = encoder.encode("{");
  await withPool(2, async (pool) => {
    const results = await pool.verifyTxs(items);
    assertEquals(results.length, txs.length);
    for (const [i, r] of results.entries()) {
      if (i === 7) {
        assert("error" in r);
        continue;
      }
      const tx = value(r);
      assertEquals(txHash(tx), txHash(i === 5 ? forged : txs[i]));
    }
  });
});

Deno.test("requests made at once go to different workers", async () => {
  const chain = makeChain(2, 4);
  const items = chain.blocks[0].txs.map((t) => encoder.encode(encodeSigTx(t)));
  await withPool(2, async (pool) => {
    // Started and idle.
    await pool.verifyTxs(items);
    assert(pool.hasIdleWorker);
    // Two requests in the same tick: each worker takes one, so none is idle
    // (they used to go to the same worker, the other one idling).
    const both = [pool.verifyTxs(items), pool.verifyTxs(items)];
    assert(!pool.hasIdleWorker);
    for (const results of await Promise.all(both)) {
      assertEquals(results.length, items.length);
    }
    assert(pool.hasIdleWorker);
  });
});

Deno.test("a closed pool refuses work and fails what is under way", async () => {
  const pool = new VerifyPool({ workers: 1 });
  const chain = makeChain(1, 1);
  const pending = pool.verifyBlocks([line(chain.blocks[0])]);
  pool.close();
  await assertRejects(() => pending, Error, "closed");
  await assertRejects(
    () => pool.verifyBlocks([line(chain.blocks[0])]),
    Error,
    "closed",
  );
});

Deno.test({
  name:
    "a worker that cannot start (no read access to its module): the work runs on this thread, said once",
  permissions: { read: false },
  async fn() {
    const chain = makeChain(6, 2);
    const logs: string[] = [];
    const pool = new VerifyPool({ workers: 2, log: (m) => logs.push(m) });
    try {
      const got: bigint[] = [];
      for await (
        const r of verifiedBlocks(pool, slowly(chain.blocks.map(line)))
      ) {
        assert("value" in r, "error" in r ? r.error : "");
        got.push(r.value.number);
      }
      assertEquals(got, chain.blocks.map((b) => b.number));
      const [tx] = await pool.verifyTxs([
        encoder.encode(encodeSigTx(chain.blocks[0].txs[0])),
      ]);
      assert("value" in tx);
      assertEquals(txHash(tx.value), txHash(chain.blocks[0].txs[0]));
      assertEquals(logs.length, 1, logs.join("\n"));
      assert(
        /^no read access to .*verify[\\/]worker\.ts: verifying on the main thread$/
          .test(logs[0]),
        logs[0],
      );
    } finally {
      pool.close();
    }
  },
});
