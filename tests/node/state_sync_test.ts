import { assert, assertEquals, assertRejects } from "../assert.ts";
import { makeChain, type TestChain } from "../fixtures.ts";
import { exists, withTempDir } from "../support.ts";
import {
  blockHash,
  encodeSigBlock,
  type SigBlock,
} from "../../src/chain/block.ts";
import {
  decodeSigGenesis,
  encodeSigGenesis,
  verifyGenesis,
} from "../../src/chain/genesis.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import { listKeys } from "../../src/store/key_store.ts";
import { PeerRegistry } from "../../src/rpc/registry.ts";
import { blockSyncMethods } from "../../src/rpc/block_service.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { startServer } from "../../src/rpc/server.ts";
import type { NodeConfig } from "../../src/node/config.ts";
import { Ledger } from "../../src/node/ledger.ts";
import {
  GENESIS_TIMEOUT_MS,
  MAX_HELD_COPIES,
  peerSyncSource,
  StateSync,
  type StateSyncOptions,
  SyncError,
  type SyncSource,
} from "../../src/node/state_sync.ts";

const encoder = new TextEncoder();
const SEED = "127.0.0.1:1";

function regular(dir: string, extra: Partial<NodeConfig> = {}): NodeConfig {
  return {
    node: "127.0.0.1:2",
    bootstrap: false,
    seed: SEED,
    keyStoreDir: `${dir}/keys`,
    blockStoreDir: `${dir}/blocks`,
    chain: "blockchain",
    ...extra,
  };
}

/** A peer that serves `chain` from memory, with faults on request. */
function fakeSource(chain: TestChain, faults: {
  genesisBytes?: Uint8Array;
  // Throw after this many blocks on the first `times` streams.
  breakAfter?: number;
  breakTimes?: number;
  // Replace block number n by these bytes.
  replace?: Map<bigint, Uint8Array>;
} = {}): SyncSource & { requests: bigint[] } {
  let broken = 0;
  const requests: bigint[] = [];
  return {
    requests,
    genesis() {
      return Promise.resolve(
        faults.genesisBytes ?? encoder.encode(encodeSigGenesis(chain.genesis)),
      );
    },
    async *blocks(_peer, from) {
      requests.push(from);
      let sent = 0;
      for (const b of chain.blocks) {
        if (b.number < from) continue;
        if (
          faults.breakAfter !== undefined && sent === faults.breakAfter &&
          broken < (faults.breakTimes ?? 1)
        ) {
          broken++;
          throw new Error("Premature close");
        }
        await Promise.resolve();
        yield faults.replace?.get(b.number) ??
          encoder.encode(encodeSigBlock(b));
        sent++;
      }
    },
  };
}

const peersOf = (...p: string[]) => ({ peers: () => p });
const quiet = { log: () => {}, retryDelayMs: 1 };

/** Syncs a regular node in `dir` from SEED (quiet, fast retries by default). */
function syncRegular(dir: string, options: Partial<StateSyncOptions>) {
  return new StateSync(regular(dir), {
    peers: peersOf(SEED),
    ...quiet,
    ...options,
  }).syncState();
}

async function storedLines(dir: string): Promise<string[]> {
  try {
    const text = await Deno.readTextFile(`${dir}/blocks/block.store`);
    return text.split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

Deno.test("bootstrap creates keys and a signed genesis, then restarts from it", async () => {
  await withTempDir(async (dir) => {
    const cfg: NodeConfig = {
      ...regular(dir),
      bootstrap: true,
      seed: undefined,
      authPass: "authpass",
      ownerPass: "ownerpass",
      balance: 1000n,
    };
    const ac = new AbortController();
    const state = await new StateSync(cfg, {
      peers: peersOf(),
      signal: ac.signal,
      ...quiet,
    })
      .syncState();
    assertEquals(state.lastNumber, 0n);
    const keys = await listKeys(cfg.keyStoreDir);
    assertEquals(keys.length, 2);
    assert(keys.includes(state.authority));
    const owner = keys.find((k) => k !== state.authority)!;
    assertEquals(state.balance(owner), 1000n);
    const stored = decodeSigGenesis(
      await Deno.readFile(`${cfg.blockStoreDir}/genesis.json`),
    );
    assert(verifyGenesis(stored));
    // A restart reads the genesis and needs no owner password or balance.
    const again = await new StateSync({
      ...cfg,
      ownerPass: undefined,
      balance: undefined,
    }, { peers: peersOf(), signal: ac.signal, ...quiet }).syncState();
    assertEquals(again.genesisHash, state.genesisHash);
    assertEquals((await listKeys(cfg.keyStoreDir)).length, 2);
  });
});

Deno.test("bootstrap refuses short passwords and a zero balance before writing", async () => {
  const cases: [Partial<NodeConfig>, string][] = [
    [{ authPass: "abcd" }, "authority password"],
    [{ ownerPass: "abcd" }, "owner password"],
    [{ balance: 0n }, "must be positive"],
    [{ balance: undefined }, "must be positive"],
  ];
  for (const [bad, message] of cases) {
    await withTempDir(async (dir) => {
      const cfg: NodeConfig = {
        ...regular(dir),
        bootstrap: true,
        authPass: "password",
        ownerPass: "password",
        balance: 10n,
        ...bad,
      };
      await assertRejects(
        () =>
          new StateSync(cfg, { peers: peersOf(), ...quiet })
            .syncState(),
        SyncError,
        message,
      );
      assertEquals(await listKeys(cfg.keyStoreDir), []);
      assert(!await exists(`${cfg.blockStoreDir}/genesis.json`));
    });
  }
});

Deno.test("a regular node fetches the genesis and every block from its seed", async () => {
  const chain = makeChain(6, 2);
  await withTempDir(async (dir) => {
    const source = fakeSource(chain);
    const state = await syncRegular(dir, { source });
    assertEquals(state.lastNumber, 6n);
    assertEquals(state.lastHash, blockHash(chain.blocks[5]));
    assertEquals(
      await storedLines(dir),
      chain.blocks.map(encodeSigBlock),
    );
    // Restarted: replays its store and asks only for block 7 onwards.
    const again = fakeSource(chain);
    const restarted = await syncRegular(dir, { source: again });
    assertEquals(restarted.lastNumber, 6n);
    assertEquals(again.requests, [7n]);
  });
});

Deno.test("a stream that breaks part-way resumes from the last applied block", async () => {
  const chain = makeChain(9, 1);
  await withTempDir(async (dir) => {
    const source = fakeSource(chain, { breakAfter: 3, breakTimes: 2 });
    const state = await syncRegular(dir, { source });
    assertEquals(state.lastNumber, 9n);
    // 1..3, broken; 4..6, broken; 7..9; then a stream with nothing new.
    assertEquals(source.requests, [1n, 4n, 7n, 10n]);
    assertEquals((await storedLines(dir)).length, 9);
  });
});

Deno.test("a peer that keeps failing is given up after bounded attempts", async () => {
  const chain = makeChain(3, 1);
  await withTempDir(async (dir) => {
    const source = fakeSource(chain, { breakAfter: 0, breakTimes: 100 });
    const warnings: string[] = [];
    const state = await syncRegular(dir, {
      retryDelayMs: 1,
      maxAttempts: 3,
      source,
      log: (m) => warnings.push(m),
    });
    assertEquals(state.lastNumber, 0n);
    assertEquals(source.requests.length, 3);
    assert(warnings.some((w) => w.includes(SEED)));
  });
});

Deno.test("a genesis whose signature does not verify is refused and not written", async () => {
  const chain = makeChain(0, 1);
  const forged = encodeSigGenesis({ ...chain.genesis, chain: "other" });
  await withTempDir(async (dir) => {
    const source = fakeSource(chain, { genesisBytes: encoder.encode(forged) });
    await assertRejects(
      () => syncRegular(dir, { source }),
      SyncError,
      `invalid genesis signature from ${SEED}`,
    );
    assert(!await exists(`${dir}/blocks/genesis.json`));
  });
});

Deno.test("a bad block after good ones stops sync; the good ones stay", async () => {
  const chain = makeChain(5, 1);
  const other = makeChain(5, 1);
  const b3 = chain.blocks[2];
  const variants: [string, Uint8Array, string][] = [
    [
      "bad signature",
      encoder.encode(encodeSigBlock(other.authority.signBlock(b3))),
      "invalid signature",
    ],
    [
      "wrong number",
      encoder.encode(
        encodeSigBlock(chain.authority.signBlock({ ...b3, number: 4n })),
      ),
      "sent block 4, expected 3",
    ],
    [
      "wrong parent",
      encoder.encode(
        encodeSigBlock(
          chain.authority.signBlock({ ...b3, parent: "ab".repeat(32) }),
        ),
      ),
      "wrong parent",
    ],
    [
      "wrong Merkle root",
      encoder.encode(
        encodeSigBlock(
          chain.authority.signBlock({ ...b3, merkleRoot: "cd".repeat(32) }),
        ),
      ),
      "wrong Merkle root",
    ],
    ["undecodable", encoder.encode("{not json"), "invalid JSON"],
  ];
  for (const [, bytes, reason] of variants) {
    await withTempDir(async (dir) => {
      const source = fakeSource(chain, { replace: new Map([[3n, bytes]]) });
      const err = await assertRejects(
        () => syncRegular(dir, { source }),
        SyncError,
        `peer ${SEED}: rejected block 3`,
      );
      assert(err.message.includes(reason), err.message);
      assertEquals(
        await storedLines(dir),
        chain.blocks.slice(0, 2).map(encodeSigBlock),
      );
    });
  }
});

Deno.test("a block store of another chain than the seed's is refused", async () => {
  const mine = makeChain(2, 1);
  const seeds = makeChain(2, 1);
  await withTempDir(async (dir) => {
    const store = await BlockStore.open(`${dir}/blocks`);
    await store.writeGenesis(mine.genesis);
    await assertRejects(
      () => syncRegular(dir, { store, source: fakeSource(seeds) }),
      SyncError,
      "another chain",
    );
  });
});

Deno.test("a restarted node rides out an unreachable seed with its local store", async () => {
  const chain = makeChain(2, 1);
  await withTempDir(async (dir) => {
    const store = await BlockStore.open(`${dir}/blocks`);
    await store.writeGenesis(chain.genesis);
    for (const b of chain.blocks) await store.appendBlock(b);
    const down: SyncSource = {
      genesis: () => Promise.reject(new Error("connect ECONNREFUSED")),
      blocks: () => {
        throw new Error("connect ECONNREFUSED");
      },
    };
    const log: string[] = [];
    const state = await new StateSync(regular(dir), {
      peers: peersOf(),
      ...quiet,
      maxAttempts: 1,
      store,
      source: down,
      log: (m) => log.push(m),
    }).syncState();
    assertEquals(state.lastNumber, 2n);
    assert(
      log.some((m) =>
        m.startsWith(`warning: cannot fetch the genesis from seed ${SEED}`) &&
        m.endsWith("; continuing with the local store")
      ),
      log.join("\n"),
    );
  });
});

Deno.test("an unreachable seed is a SyncError of kind unreachable", async () => {
  await withTempDir(async (dir) => {
    const err = await assertRejects(
      () =>
        syncRegular(dir, {
          maxAttempts: 1,
          source: {
            genesis: () => Promise.reject(new Error("connect ECONNREFUSED")),
            blocks: () => {
              throw new Error("unused");
            },
          },
        }),
      SyncError,
      `cannot fetch the genesis from seed ${SEED}: connect ECONNREFUSED`,
    );
    assertEquals((err as SyncError).kind, "unreachable");
  });
});

Deno.test("an unreachable seed fails with an error naming it, after bounded retries", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const seed = `127.0.0.1:${port}`;
  const registry = new PeerRegistry({ protocol: "connect" });
  try {
    await withTempDir(async (dir) => {
      await assertRejects(
        () =>
          new StateSync(regular(dir, { seed }), {
            peers: peersOf(seed),
            ...quiet,
            maxAttempts: 2,
            source: peerSyncSource(registry),
          }).syncState(),
        SyncError,
        `cannot fetch the genesis from seed ${seed}`,
      );
      assert(!await exists(`${dir}/blocks/genesis.json`));
    });
  } finally {
    registry.close();
  }
});

// The seed's three tests, over the wire: GenesisSync, BlockSync, StateSync.
Deno.test("GenesisSync, BlockSync and StateSync over Connect", async () => {
  const chain = makeChain(7, 3);
  await withTempDir(async (dir) => {
    const store = await BlockStore.open(`${dir}/boot`);
    await store.writeGenesis(chain.genesis);
    for (const b of chain.blocks) await store.appendBlock(b);
    const server = await startServer({
      hostname: "127.0.0.1",
      port: 0,
      routes: (r) => {
        r.service(Block, blockSyncMethods({ store }));
      },
    });
    const registry = new PeerRegistry({ protocol: "connect" });
    try {
      const { block } = registry.clients(server.addr);
      const gen = decodeSigGenesis((await block.genesisSync({})).Genesis);
      assert(verifyGenesis(gen));
      assertEquals(encodeSigGenesis(gen), encodeSigGenesis(chain.genesis));

      let expected = 3;
      for await (const res of block.blockSync({ Number: 3n })) {
        const line = new TextDecoder().decode(res.Block);
        assertEquals(line, encodeSigBlock(chain.blocks[expected - 1]));
        expected++;
      }
      assertEquals(expected, 8);

      const state = await new StateSync(regular(dir, { seed: server.addr }), {
        peers: peersOf(server.addr),
        ...quiet,
        source: peerSyncSource(registry),
      }).syncState();
      assertEquals(state.lastNumber, 7n);
      assertEquals(state.lastHash, blockHash(chain.blocks[6]));
      assertEquals(
        await Deno.readTextFile(`${dir}/blocks/block.store`),
        await Deno.readTextFile(`${dir}/boot/block.store`),
      );
    } finally {
      registry.close();
      await server.close();
    }
  });
});

Deno.test("a failed append stops sync at once: it is never retried", async () => {
  const chain = makeChain(3, 1);
  await withTempDir(async (dir) => {
    const store = await BlockStore.open(`${dir}/blocks`);
    // A full disk, say: every append fails.
    store.appendLines = () => Promise.reject(new Error("No space left"));
    const source = fakeSource(chain);
    const err = await assertRejects(
      () => syncRegular(dir, { store, source }),
      SyncError,
      "cannot append block 1",
    );
    assert((err as SyncError).fatal);
    assertEquals(source.requests, [1n]);
  });
});

Deno.test("a peer that goes quiet mid-stream is given up after the idle timeout", async () => {
  const chain = makeChain(3, 1);
  await withTempDir(async (dir) => {
    const server = await startServer({
      hostname: "127.0.0.1",
      port: 0,
      routes: (r) => {
        r.service(Block, {
          genesisSync: () => ({
            Genesis: encoder.encode(encodeSigGenesis(chain.genesis)),
          }),
          async *blockSync(req, ctx) {
            for (const b of chain.blocks) {
              if (b.number >= req.Number) {
                yield { Block: encoder.encode(encodeSigBlock(b)) };
              }
            }
            // Then say nothing until the client gives up.
            await new Promise((resolve) =>
              ctx.signal.addEventListener("abort", resolve, { once: true })
            );
          },
        });
      },
    });
    const registry = new PeerRegistry({ protocol: "connect" });
    const warnings: string[] = [];
    try {
      const state = await new StateSync(regular(dir, { seed: server.addr }), {
        peers: peersOf(server.addr),
        signal: AbortSignal.timeout(20_000),
        retryDelayMs: 1,
        maxAttempts: 2,
        log: (m) => warnings.push(m),
        source: peerSyncSource(registry, { idleMs: 200 }),
      }).syncState();
      assertEquals(state.lastNumber, 3n);
      assert(
        warnings.some((w) => w.includes("no block from")),
        warnings.join("\n"),
      );
    } finally {
      registry.close();
      await server.close();
    }
  });
});

Deno.test("a peer that repeats a block is refused, not followed forever", async () => {
  const chain = makeChain(2, 1);
  let sent = 0;
  const repeating: SyncSource = {
    genesis: () =>
      Promise.resolve(encoder.encode(encodeSigGenesis(chain.genesis))),
    async *blocks() {
      // The reference's BlockSync loop without its counter: block 1 again
      // and again.
      for (let i = 0; i < 10_000; i++) {
        await Promise.resolve();
        sent++;
        yield encoder.encode(encodeSigBlock(chain.blocks[0]));
      }
    },
  };
  await withTempDir(async (dir) => {
    await assertRejects(
      () => syncRegular(dir, { source: repeating }),
      SyncError,
      `peer ${SEED}: rejected block 2: resent blocks this node holds ${
        MAX_HELD_COPIES + 1n
      } times (block 1 last), more than ${MAX_HELD_COPIES} copies each`,
    );
    assertEquals(await storedLines(dir), [encodeSigBlock(chain.blocks[0])]);
    assert(sent < 10_000, `read ${sent} blocks`);
  });
});

Deno.test("a peer cycling through blocks the node holds is refused before it rereads the store much", async () => {
  const chain = makeChain(6, 1);
  await withTempDir(async (dir) => {
    await syncRegular(dir, { source: lineSource(chain, chain.blocks) });
    // Asked from 7: blocks 3, 2, 1 again and again, each a step back.
    const cycling = lineSource(chain, []);
    cycling.blocks = async function* () {
      for (let i = 0; i < 100; i++) {
        for (const b of linesOf(chain, 3, 2, 1)) {
          await Promise.resolve();
          yield encoder.encode(encodeSigBlock(b));
        }
      }
    };
    await assertRejects(
      () => syncRegular(dir, { source: cycling }),
      SyncError,
      "resent blocks this node holds out of order",
    );
    assertEquals((await storedLines(dir)).length, 6);
  });
});

/**
 * A reference peer: its store holds `lines` (a block may be there more
 * than once) and its BlockSync counts lines, not block numbers.
 */
function lineSource(
  chain: TestChain,
  lines: readonly SigBlock[],
): SyncSource & { requests: bigint[] } {
  const requests: bigint[] = [];
  return {
    requests,
    genesis: () =>
      Promise.resolve(encoder.encode(encodeSigGenesis(chain.genesis))),
    async *blocks(_peer, from) {
      requests.push(from);
      for (const b of lines.slice(Math.max(0, Number(from) - 1))) {
        await Promise.resolve();
        yield encoder.encode(encodeSigBlock(b));
      }
    },
  };
}

/** Blocks `numbers` of `chain`, in that order (repeats allowed). */
function linesOf(chain: TestChain, ...numbers: number[]): SigBlock[] {
  return numbers.map((n) => chain.blocks[n - 1]);
}

Deno.test("a restarted node skips a held block a reference peer sends again: block 2 when asked from 3", async () => {
  const chain = makeChain(5, 1);
  await withTempDir(async (dir) => {
    await syncRegular(dir, {
      source: lineSource(chain, linesOf(chain, 1, 2)),
    });
    // The peer wrote block 2 twice: its line 3 is block 2.
    const source = lineSource(chain, linesOf(chain, 1, 2, 2, 3, 4, 5));
    const log: string[] = [];
    const state = await syncRegular(dir, {
      source,
      log: (m) => log.push(m),
    });
    assertEquals(state.lastNumber, 5n);
    assertEquals(state.lastHash, blockHash(chain.blocks[4]));
    assertEquals(await storedLines(dir), chain.blocks.map(encodeSigBlock));
    // From 3 (block 2 again, skipped, then 3..5), then from 6: block 5
    // again, which is nothing new.
    assertEquals(source.requests, [3n, 6n]);
    assertEquals(log.filter((m) => m.startsWith("warning")), []);
  });
});

Deno.test("repeats anywhere in a reference peer's stream are skipped, older held blocks checked against the store", async () => {
  const chain = makeChain(6, 1);
  await withTempDir(async (dir) => {
    // Fresh: repeats mid-stream, each of the block just applied or older.
    const first = lineSource(chain, linesOf(chain, 1, 1, 2, 1, 2, 3, 3));
    assertEquals((await syncRegular(dir, { source: first })).lastNumber, 3n);
    // Restarted: every block twice, so asked from 4 it starts at block 2,
    // held two blocks back.
    const twice = lineSource(
      chain,
      linesOf(chain, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6),
    );
    const state = await syncRegular(dir, { source: twice });
    assertEquals(state.lastNumber, 6n);
    assertEquals(await storedLines(dir), chain.blocks.map(encodeSigBlock));
  });
});

Deno.test("a block with a held number but another hash is refused, naming the peer", async () => {
  const chain = makeChain(4, 1);
  const b2 = chain.blocks[1];
  // Signed by the chain's authority, so only its hash gives it away.
  const forked = chain.authority.signBlock({ ...b2, parent: "ab".repeat(32) });
  const heldHash = blockHash(b2).slice(0, 7);
  const forkedHash = blockHash(forked).slice(0, 7);
  const cases: [string, SigBlock[]][] = [
    ["when asked from 3", [...linesOf(chain, 1, 2), forked, b2]],
    ["mid-stream", [...linesOf(chain, 1, 2, 3), forked]],
  ];
  for (const [what, lines] of cases) {
    await withTempDir(async (dir) => {
      await syncRegular(dir, {
        source: lineSource(chain, linesOf(chain, 1, 2)),
      });
      const source = lineSource(chain, [...lines, ...linesOf(chain, 4)]);
      const err = await assertRejects(
        () => syncRegular(dir, { source }),
        SyncError,
        `peer ${SEED}: rejected block `,
      );
      assert(
        err.message.endsWith(
          `sent block 2 with hash ${forkedHash}, but this node holds block 2 with hash ${heldHash}`,
        ),
        `${what}: ${err.message}`,
      );
      // Nothing after the bad block was taken.
      assert((await storedLines(dir)).length <= 3, what);
      assertEquals(
        (await storedLines(dir)).slice(0, 2),
        linesOf(chain, 1, 2).map(encodeSigBlock),
        what,
      );
    });
  }
});

Deno.test("a peer whose stream is rejected is dropped and the next peer serves", async () => {
  const chain = makeChain(5, 1);
  const other = "127.0.0.1:3";
  const b3 = chain.blocks[2];
  const bad = fakeSource(chain, {
    replace: new Map([[
      3n,
      encoder.encode(
        encodeSigBlock(chain.authority.signBlock({ ...b3, number: 4n })),
      ),
    ]]),
  });
  const good = fakeSource(chain);
  const byPeer = (badPeers: string[]): SyncSource => ({
    genesis: (peer, signal) => good.genesis(peer, signal),
    blocks: (peer, from, signal) =>
      (badPeers.includes(peer) ? bad : good).blocks(peer, from, signal),
  });
  await withTempDir(async (dir) => {
    const log: string[] = [];
    const state = await syncRegular(dir, {
      peers: peersOf(SEED, other),
      source: byPeer([SEED]),
      log: (m) => log.push(m),
    });
    assertEquals(state.lastNumber, 5n);
    assertEquals(await storedLines(dir), chain.blocks.map(encodeSigBlock));
    assertEquals(log.filter((m) => m.startsWith("warning")), [
      `warning: peer ${SEED}: rejected block 3: sent block 4, expected 3`,
    ]);
  });
  // When no peer can serve, the first one's error stops the sync; the
  // others are warnings.
  await withTempDir(async (dir) => {
    const log: string[] = [];
    await assertRejects(
      () =>
        syncRegular(dir, {
          peers: peersOf(SEED, other),
          source: byPeer([SEED, other]),
          log: (m) => log.push(m),
        }),
      SyncError,
      `peer ${SEED}: rejected block 3: sent block 4, expected 3`,
    );
    assertEquals(log.filter((m) => m.startsWith("warning")), [
      `warning: peer ${other}: rejected block 3: sent block 4, expected 3`,
    ]);
  });
});

Deno.test("a restarted node keeps a whole last block that lost its newline; the replay still verifies it", async () => {
  const chain = makeChain(6, 1);
  const other = makeChain(0, 1);
  const b4 = chain.blocks[3];
  const cases: [string, string, string | undefined][] = [
    ["valid", encodeSigBlock(b4), undefined],
    [
      "bad signature",
      encodeSigBlock(other.authority.signBlock(b4)),
      "blocks: block 4: invalid signature",
    ],
  ];
  for (const [, last, reason] of cases) {
    await withTempDir(async (dir) => {
      const text = chain.blocks.slice(0, 3).map((b) => encodeSigBlock(b) + "\n")
        .join("") + last;
      await Deno.mkdir(`${dir}/blocks`);
      await Deno.writeTextFile(
        `${dir}/blocks/genesis.json`,
        encodeSigGenesis(chain.genesis),
      );
      await Deno.writeTextFile(`${dir}/blocks/block.store`, text);
      const log: string[] = [];
      const sync = syncRegular(dir, {
        source: fakeSource(chain),
        log: (m) => log.push(m),
      });
      if (reason === undefined) {
        // Block 4 is kept, blocks 5 and 6 come from the peer after it.
        const state = await sync;
        assertEquals(state.lastNumber, 6n);
        assertEquals(state.lastHash, blockHash(chain.blocks[5]));
        assertEquals(await storedLines(dir), chain.blocks.map(encodeSigBlock));
      } else {
        // Its newline is back, and it is refused like any bad stored block.
        const err = await assertRejects(() => sync, SyncError, reason);
        assert(
          err.message.startsWith("cannot replay block store"),
          err.message,
        );
        assertEquals(
          await Deno.readTextFile(`${dir}/blocks/block.store`),
          text + "\n",
        );
      }
      assertEquals(log.filter((m) => m.includes("block.store")), [
        "block.store: the last line, block 4, was whole but lacked its " +
        "newline (an interrupted write): kept it and added the newline",
      ]);
    });
  }
});

Deno.test("a later syncBlocks commits through the node's ledger with the peer of each block", async () => {
  const chain = makeChain(5, 1);
  await withTempDir(async (dir) => {
    let served = 3;
    const full = fakeSource(chain);
    const source: SyncSource = {
      genesis: (peer, signal) => full.genesis(peer, signal),
      async *blocks(peer, from, signal) {
        for await (const bytes of full.blocks(peer, from, signal)) {
          if (from++ > served) return;
          yield bytes;
        }
      },
    };
    const sync = new StateSync(regular(dir), {
      peers: peersOf(SEED),
      ...quiet,
      source,
    });
    const state = await sync.syncState();
    assertEquals(state.lastNumber, 3n);
    served = 5;
    const committed: [bigint, string | undefined][] = [];
    const ledger = new Ledger(state, sync.store!, {
      onBlock: (block, origin) => committed.push([block.number, origin]),
    });
    await sync.syncBlocks({ ledger });
    assertEquals(committed, [[4n, SEED], [5n, SEED]]);
  });
});

Deno.test("a seed that takes the genesis call and never answers is given up", async () => {
  // A listener nobody serves: connections are made, calls never answered.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const registry = new PeerRegistry({ protocol: "connect" });
  try {
    const source = peerSyncSource(registry);
    const err = await assertRejects(() =>
      source.genesis(
        `127.0.0.1:${listener.addr.port}`,
        AbortSignal.timeout(4 * GENESIS_TIMEOUT_MS),
      )
    );
    // The call's own deadline, well before the test's.
    assert(/deadline|timed out/i.test(String(err)), String(err));
  } finally {
    registry.close();
    listener.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});
