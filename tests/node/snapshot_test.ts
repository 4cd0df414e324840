import { assert, assertEquals, assertRejects } from "../assert.ts";
import { makeChain, type TestChain } from "../fixtures.ts";
import { withTempDir } from "../support.ts";
import { blockBytes } from "../../src/chain/block.ts";
import { State } from "../../src/chain/state.ts";
import type { NodeConfig } from "../../src/node/config.ts";
import { Ledger } from "../../src/node/ledger.ts";
import {
  encodeSnapshot,
  readSnapshot,
  SNAPSHOT_FILE,
  writeSnapshot,
} from "../../src/node/snapshot.ts";
import { StateSync, SyncError } from "../../src/node/state_sync.ts";
import { BlockStore } from "../../src/store/block_store.ts";

function bootstrap(dir: string, extra: Partial<NodeConfig> = {}): NodeConfig {
  return {
    node: "127.0.0.1:2",
    bootstrap: true,
    keyStoreDir: `${dir}/keys`,
    blockStoreDir: `${dir}/blocks`,
    chain: "blockchain",
    ...extra,
  };
}

/** Replays `dir`'s store as a restarting bootstrap; returns state and log. */
async function restart(
  dir: string,
  extra: Partial<NodeConfig> = {},
): Promise<{ state: State; log: string[] }> {
  const log: string[] = [];
  const state = await new StateSync(bootstrap(dir, extra), {
    peers: { peers: () => [] },
    log: (m) => log.push(m),
    workers: 2,
  }).syncState();
  return { state, log };
}

/** The state after the first `n` blocks, applied one by one. */
function stateAt(chain: TestChain, n: number): State {
  const s = new State(chain.genesis);
  for (const b of chain.blocks.slice(0, n)) s.applyBlock(b);
  return s;
}

/** The size of block.store holding the first `n` blocks. */
function lengthAt(chain: TestChain, n: number): number {
  return chain.blocks.slice(0, n).reduce(
    (a, b) => a + blockBytes(b).length + 1,
    0,
  );
}

async function makeStore(dir: string, chain: TestChain): Promise<BlockStore> {
  const store = await BlockStore.open(`${dir}/blocks`);
  await store.writeGenesis(chain.genesis);
  await store.appendLines(chain.blocks.map(blockBytes));
  return store;
}

// Spoils block 1's line in place (same length): a replay from the start
// fails on it, a replay from a snapshot past it does not read it.
async function spoilFirstLine(dir: string): Promise<void> {
  const path = `${dir}/blocks/block.store`;
  const bytes = await Deno.readFile(path);
  bytes[1] = "x".charCodeAt(0);
  await Deno.writeFile(path, bytes);
}

Deno.test("a ledger's snapshot restores the same state, replaying only the blocks after it", async () => {
  const chain = makeChain(12, 2);
  await withTempDir(async (dir) => {
    const store = await makeStore(dir, { ...chain, blocks: [] });
    const ledger = new Ledger(new State(chain.genesis), store);
    for (const b of chain.blocks.slice(0, 8)) {
      await ledger.commitBlock(b, { group: true });
    }
    await ledger.snapshot();
    for (const b of chain.blocks.slice(8)) await ledger.commitBlock(b);
    await spoilFirstLine(dir);
    const { state, log } = await restart(dir);
    assertEquals(log, []);
    assertEquals(state.toString(), stateAt(chain, 12).toString());
    assertEquals(state.lastBlock, chain.blocks[11]);
    // --reverify ignores the snapshot: it replays (and here trips on) block 1.
    await assertRejects(
      () => restart(dir, { reverify: true }),
      SyncError,
      "line 1",
    );
  });
});

Deno.test("a clean ledger snapshot is written only when the state moved on", async () => {
  const chain = makeChain(3, 1);
  await withTempDir(async (dir) => {
    const store = await makeStore(dir, { ...chain, blocks: [] });
    const ledger = new Ledger(new State(chain.genesis), store, {
      snapshotEvery: 2,
    });
    await ledger.snapshot();
    const path = `${dir}/blocks/${SNAPSHOT_FILE}`;
    await assertRejects(() => Deno.stat(path), Deno.errors.NotFound);
    await ledger.commitBlock(chain.blocks[0]);
    await assertRejects(() => Deno.stat(path), Deno.errors.NotFound);
    // The second block makes it due.
    await ledger.commitBlock(chain.blocks[1]);
    const r = await readSnapshot(store, new State(chain.genesis).genesisHash);
    assert("snapshot" in r, "unusable" in r ? r.unusable : "missing");
    assertEquals(r.snapshot.state.lastNumber, 2n);
    assertEquals(r.snapshot.length, lengthAt(chain, 2));
  });
});

Deno.test("every snapshot mismatch means a full replay with a one-line warning, never a wrong state", async () => {
  const chain = makeChain(6, 2);
  const other = makeChain(6, 2);
  const good = encodeSnapshot(stateAt(chain, 4), lengthAt(chain, 4));
  const cases: [string, (dir: string) => Promise<void>, string][] = [
    [
      "a flipped byte",
      (dir) =>
        Deno.writeTextFile(
          `${dir}/blocks/${SNAPSHOT_FILE}`,
          good.replace('"number":4', '"number":5'),
        ),
      "wrong checksum",
    ],
    [
      "a torn file",
      (dir) =>
        Deno.writeTextFile(
          `${dir}/blocks/${SNAPSHOT_FILE}`,
          good.slice(0, good.length / 2),
        ),
      "no checksum",
    ],
    [
      "another chain's",
      async (dir) => {
        const store = await BlockStore.open(`${dir}/blocks`);
        await writeSnapshot(store, stateAt(other, 4), lengthAt(chain, 4));
      },
      "another chain",
    ],
    [
      "a store cut back below it",
      async (dir) => {
        await Deno.writeTextFile(`${dir}/blocks/${SNAPSHOT_FILE}`, good);
        await Deno.truncate(`${dir}/blocks/block.store`, lengthAt(chain, 3));
      },
      "stale: block.store is shorter",
    ],
    [
      "a length that is not a line's end",
      async (dir) => {
        const store = await BlockStore.open(`${dir}/blocks`);
        await writeSnapshot(store, stateAt(chain, 4), lengthAt(chain, 4) - 5);
      },
      "no block ends where the snapshot says",
    ],
    [
      "a block that is not the one it names",
      async (dir) => {
        const store = await BlockStore.open(`${dir}/blocks`);
        await writeSnapshot(store, stateAt(chain, 4), lengthAt(chain, 3));
      },
      "does not match block.store",
    ],
    [
      "balances in a bad shape",
      async (dir) => {
        // A valid checksum over a document that does not decode.
        const { keccak256Hex } = await import("../../src/chain/crypto.ts");
        const body = good.slice(0, good.indexOf(',"checksum"')) + "}";
        const bad = body.replace('"balances":[[', '"balances":[[1,');
        await Deno.writeTextFile(
          `${dir}/blocks/${SNAPSHOT_FILE}`,
          `${bad.slice(0, -1)},"checksum":"${keccak256Hex(bad)}"}\n`,
        );
      },
      "it is damaged",
    ],
  ];
  for (const [what, spoil, reason] of cases) {
    await withTempDir(async (dir) => {
      const store = await makeStore(dir, chain);
      await spoil(dir);
      // The truth is what is left in the store, replayed in full.
      let blocks = 0;
      for await (const _ of store.blocks()) blocks++;
      const { state, log } = await restart(dir);
      assertEquals(log.length, 1, `${what}: ${log.join("\n")}`);
      assert(log[0].includes(reason), `${what}: ${log[0]}`);
      assert(log[0].includes("replaying the whole block store"), log[0]);
      assertEquals(state.toString(), stateAt(chain, blocks).toString(), what);
    });
  }
});

Deno.test("no snapshot is a quiet full replay", async () => {
  const chain = makeChain(4, 1);
  await withTempDir(async (dir) => {
    await makeStore(dir, chain);
    const { state, log } = await restart(dir);
    assertEquals(log, []);
    assertEquals(state.toString(), stateAt(chain, 4).toString());
  });
});

Deno.test("a bad line in the store stops the pooled replay with the serial reader's error", async () => {
  const chain = makeChain(40, 1);
  const spoilers: [string, (lines: string[]) => void][] = [
    ["undecodable", (l) => l[20] = l[20].slice(0, 30)],
    ["out of order", (l) => [l[20], l[21]] = [l[21], l[20]]],
  ];
  for (const [what, spoil] of spoilers) {
    await withTempDir(async (dir) => {
      const store = await makeStore(dir, chain);
      const path = `${dir}/blocks/block.store`;
      const lines = (await Deno.readTextFile(path)).split("\n");
      spoil(lines);
      await Deno.writeTextFile(path, lines.join("\n"));
      let serial = "";
      try {
        for await (const _ of store.blocks()) { /* read on */ }
      } catch (e) {
        serial = (e as Error).message;
      }
      assert(serial.includes("line 21"), `${what}: ${serial}`);
      const err = await assertRejects(() => restart(dir), SyncError);
      assertEquals(
        err.message,
        `cannot replay block store ${dir}/blocks: ${serial}`,
        what,
      );
    });
  }
});
