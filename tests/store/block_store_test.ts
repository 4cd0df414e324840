import { assert, assertEquals, assertRejects } from "../assert.ts";
import { sanitizedTest as test, withTempDir } from "../support.ts";
import { join } from "node:path";
import {
  blockHash,
  encodeSigBlock,
  type SigBlock,
} from "../../src/chain/block.ts";
import { encodeSigGenesis, genesisHash } from "../../src/chain/genesis.ts";
import {
  BLOCKS_FILE,
  BlockStore,
  BlockStoreError,
  GENESIS_FILE,
} from "../../src/store/block_store.ts";
import { makeChain } from "../fixtures.ts";

const POSIX = Deno.build.os !== "windows";
const enc = new TextEncoder();

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function storeText(blocks: readonly SigBlock[]): string {
  return blocks.map((b) => encodeSigBlock(b) + "\n").join("");
}

async function quietOpen(
  dir: string,
): Promise<{ store: BlockStore; warnings: string[] }> {
  const warnings: string[] = [];
  const store = await BlockStore.open(dir, {
    onWarning: (m) => warnings.push(m),
  });
  return { store, warnings };
}

const chain = makeChain(5, 2);

test("genesis: absent, written, read back as value and bytes", async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, "a", "store");
    const { store } = await quietOpen(dir);
    assertEquals(await store.readGenesis(), undefined);
    assertEquals(await store.readGenesisBytes(), undefined);

    await store.writeGenesis(chain.genesis);
    const text = encodeSigGenesis(chain.genesis);
    assertEquals(await Deno.readTextFile(join(dir, GENESIS_FILE)), text);
    assertEquals(await store.readGenesisBytes(), enc.encode(text));
    const back = await store.readGenesis();
    assert(back !== undefined);
    assertEquals(genesisHash(back), genesisHash(chain.genesis));
    if (POSIX) {
      assertEquals((await Deno.stat(dir)).mode! & 0o777, 0o700);
      assertEquals(
        (await Deno.stat(join(dir, GENESIS_FILE))).mode! & 0o777,
        0o600,
      );
    }
    // Same genesis again: fine; a different one: refused, file unchanged.
    await store.writeGenesis(chain.genesis);
    await assertRejects(
      () => store.writeGenesis(makeChain(0, 0).genesis),
      BlockStoreError,
      "already holds a different genesis",
    );
    assertEquals(await Deno.readTextFile(join(dir, GENESIS_FILE)), text);
    // Only genesis.json in the directory: no temporary file left.
    const names = (await collect(Deno.readDir(dir))).map((e) => e.name);
    assertEquals(names, [GENESIS_FILE]);
  });
});

test("genesis: a malformed file is an error naming the file", async () => {
  await withTempDir(async (dir) => {
    const { store } = await quietOpen(dir);
    await Deno.writeTextFile(join(dir, GENESIS_FILE), '{"chain":"x"}');
    await assertRejects(
      () => store.readGenesis(),
      BlockStoreError,
      `${join(dir, GENESIS_FILE)}: genesis.`,
    );
  });
});

test("a missing or empty block.store holds no blocks", async () => {
  await withTempDir(async (dir) => {
    const { store, warnings } = await quietOpen(dir);
    assertEquals(await collect(store.blocks()), []);
    assertEquals(await collect(store.blockLines()), []);
    await Deno.writeFile(join(dir, BLOCKS_FILE), new Uint8Array(0));
    const again = await quietOpen(dir);
    assertEquals(await collect(again.store.blocks()), []);
    assertEquals([...warnings, ...again.warnings], []);
  });
});

test("appended blocks come back in order, one line each", async () => {
  await withTempDir(async (dir) => {
    const { store } = await quietOpen(dir);
    // Concurrent appends are serialised in call order.
    await Promise.all(chain.blocks.map((b) => store.appendBlock(b)));
    const path = join(dir, BLOCKS_FILE);
    assertEquals(await Deno.readTextFile(path), storeText(chain.blocks));
    if (POSIX) assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);

    const blocks = await collect(store.blocks());
    assertEquals(blocks.map(blockHash), chain.blocks.map(blockHash));
    const lines = await collect(store.blockLines());
    assertEquals(
      lines.map((l) => new TextDecoder().decode(l)),
      chain.blocks.map(encodeSigBlock),
    );
    // Tiny chunks: lines spanning many reads.
    const small = await collect(store.blocks({ chunkSize: 7 }));
    assertEquals(small.map(blockHash), chain.blocks.map(blockHash));
    // A reopened store reads the same.
    const { store: reopened, warnings } = await quietOpen(dir);
    const again = await collect(reopened.blocks());
    assertEquals(again.map(blockHash), chain.blocks.map(blockHash));
    assertEquals(warnings, []);
  });
});

test("from: start at a block number", async () => {
  await withTempDir(async (dir) => {
    const { store } = await quietOpen(dir);
    for (const b of chain.blocks) await store.appendBlock(b);
    const numbers = async (from: bigint, chunkSize?: number) =>
      (await collect(store.blocks({ from, chunkSize }))).map((b) => b.number);
    assertEquals(await numbers(0n), [1n, 2n, 3n, 4n, 5n]);
    assertEquals(await numbers(1n), [1n, 2n, 3n, 4n, 5n]);
    assertEquals(await numbers(3n), [3n, 4n, 5n]);
    assertEquals(await numbers(3n, 5), [3n, 4n, 5n]);
    assertEquals(await numbers(5n), [5n]);
    assertEquals(await numbers(6n), []);
    assertEquals(await numbers(1n << 64n), []);
    const lines = await collect(store.blockLines({ from: 4n, chunkSize: 3 }));
    assertEquals(
      lines.map((l) => new TextDecoder().decode(l)),
      chain.blocks.slice(3).map(encodeSigBlock),
    );
  });
});

test("blockLines from a byte offset; lineEndingAt reads the line ending there", async () => {
  await withTempDir(async (dir) => {
    const { store } = await quietOpen(dir);
    assertEquals(await store.lineEndingAt(10), "block.store is missing");
    for (const b of chain.blocks) await store.appendBlock(b);
    const text = (blocks: readonly SigBlock[]) =>
      blocks.map((b) => encodeSigBlock(b));
    const decode = (lines: Uint8Array[]) =>
      lines.map((l) => new TextDecoder().decode(l));
    // The end of block 2's line, as a snapshot records it.
    const offset = enc.encode(storeText(chain.blocks.slice(0, 2))).length;
    for (const chunkSize of [undefined, 7]) {
      assertEquals(
        decode(await collect(store.blockLines({ offset, chunkSize }))),
        text(chain.blocks.slice(2)),
      );
      // `from` counts lines from the offset: line 2 there is block 4.
      assertEquals(
        decode(
          await collect(store.blockLines({ offset, from: 2n, chunkSize })),
        ),
        text(chain.blocks.slice(3)),
      );
    }
    const line = await store.lineEndingAt(offset);
    assert(typeof line !== "string", String(line));
    assertEquals(decode([line]), text(chain.blocks.slice(1, 2)));
    assertEquals(
      await store.lineEndingAt(offset - 1),
      "no block ends where the snapshot says",
    );
    const size = (await Deno.stat(join(dir, BLOCKS_FILE))).size;
    assertEquals(
      await store.lineEndingAt(size + 1),
      `block.store is shorter (${size} bytes) than the snapshot says (${
        size + 1
      })`,
    );
  });
});

test("break closes the file", async () => {
  await withTempDir(async (dir) => {
    const { store } = await quietOpen(dir);
    for (const b of chain.blocks) await store.appendBlock(b);
    let seen = 0;
    for await (const b of store.blocks()) {
      seen++;
      if (b.number === 2n) break;
    }
    assertEquals(seen, 2);
    for await (const _ of store.blockLines({ from: 3n })) break;
    // The sanitizers fail this test if a handle is still open; the file can
    // be cut and removed.
    const path = join(dir, BLOCKS_FILE);
    await Deno.truncate(path, 0);
    await Deno.remove(path);
    assertEquals(await collect(store.blocks()), []);
  });
});

test("an abort stops the iteration and closes the file", async () => {
  await withTempDir(async (dir) => {
    const { store } = await quietOpen(dir);
    for (const b of chain.blocks) await store.appendBlock(b);
    const ac = new AbortController();
    const seen: bigint[] = [];
    await assertRejects(
      async () => {
        for await (const b of store.blocks({ signal: ac.signal })) {
          seen.push(b.number);
          if (b.number === 3n) ac.abort(new Error("stop"));
        }
      },
      Error,
      "stop",
    );
    assertEquals(seen, [1n, 2n, 3n]);
    // An already aborted signal yields nothing.
    await assertRejects(
      () => collect(store.blockLines({ signal: AbortSignal.abort() })),
      DOMException,
    );
  });
});

test("open cuts off a torn last line without a newline", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, BLOCKS_FILE);
    const good = storeText(chain.blocks.slice(0, 3));
    const torn = encodeSigBlock(chain.blocks[3]).slice(0, 100);
    await Deno.writeTextFile(path, good + torn);
    const { store, warnings } = await quietOpen(dir);
    assertEquals(warnings, [
      `block.store: cut off a torn last line (100 bytes) left by an ` +
      "interrupted write",
    ]);
    assertEquals(await Deno.readTextFile(path), good);
    const blocks = await collect(store.blocks());
    assertEquals(blocks.map((b) => b.number), [1n, 2n, 3n]);
    // Appending goes on cleanly after the repair.
    await store.appendBlock(chain.blocks[3]);
    assertEquals(
      await Deno.readTextFile(path),
      storeText(chain.blocks.slice(0, 4)),
    );
  });
});

test("open cuts off a complete but unparsable last line", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, BLOCKS_FILE);
    const good = storeText(chain.blocks.slice(0, 2));
    const bad = encodeSigBlock(chain.blocks[2]).slice(0, 60) + "\n";
    await Deno.writeTextFile(path, good + bad);
    const { store, warnings } = await quietOpen(dir);
    assertEquals(warnings.length, 1);
    assert(
      /^block\.store: cut off an unparsable last line \(61 bytes\)/.test(
        warnings[0],
      ),
      warnings[0],
    );
    assertEquals(await Deno.readTextFile(path), good);
    const blocks = await collect(store.blocks());
    assertEquals(blocks.map((b) => b.number), [1n, 2n]);
  });
});

test("open cuts a torn only line and a torn line longer than a chunk", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, BLOCKS_FILE);
    await Deno.writeTextFile(path, '{"number":1,"par');
    const first = await quietOpen(dir);
    assertEquals(first.warnings.length, 1);
    assertEquals((await Deno.stat(path)).size, 0);

    const big = makeChain(2, 250); // a block line of about 100 KB
    const line2 = encodeSigBlock(big.blocks[1]);
    assert(line2.length > 64 * 1024);
    const good = storeText(big.blocks.slice(0, 1));
    await Deno.writeTextFile(path, good + line2.slice(0, line2.length - 2));
    const second = await quietOpen(dir);
    assertEquals(second.warnings.length, 1);
    assert(
      new RegExp(`\\(${line2.length - 2} `).test(second.warnings[0]),
      second.warnings[0],
    );
    assertEquals(await Deno.readTextFile(path), good);
  });
});

test("a bad line mid-file is reported, never repaired", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, BLOCKS_FILE);
    const lines = chain.blocks.map((b) => encodeSigBlock(b) + "\n");
    lines[1] = lines[1].replace('"merkleRoot":"', '"merkleRoot":"zz');
    await Deno.writeTextFile(path, lines.join(""));
    const before = await Deno.readFile(path);
    const { store, warnings } = await quietOpen(dir);
    assertEquals(warnings, []);
    const seen: bigint[] = [];
    const e = await assertRejects(async () => {
      for await (const b of store.blocks()) seen.push(b.number);
    }, BlockStoreError);
    assertEquals(seen, [1n]);
    assert(
      /block\.store line 2: block\.merkleRoot: /.test(e.message),
      e.message,
    );
    assert(e.message.startsWith(path));
    // From block 3 on, the bad line is skipped unparsed.
    const rest = await collect(store.blocks({ from: 3n }));
    assertEquals(rest.map((b) => b.number), [3n, 4n, 5n]);
    assertEquals(await Deno.readFile(path), before);
  });
});

test("a line holding the wrong block number is reported", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, BLOCKS_FILE);
    const b = chain.blocks;
    await Deno.writeTextFile(path, storeText([b[0], b[2], b[1]]));
    const { store } = await quietOpen(dir);
    await assertRejects(
      () => collect(store.blocks()),
      BlockStoreError,
      "block.store line 2: holds block 3, expected block 2",
    );
  });
});

test("an incomplete last line being written is not read", async () => {
  await withTempDir(async (dir) => {
    const { store } = await quietOpen(dir);
    await store.appendBlock(chain.blocks[0]);
    // As if another append were half-way through.
    const f = await Deno.open(join(dir, BLOCKS_FILE), { append: true });
    await f.write(enc.encode(encodeSigBlock(chain.blocks[1]).slice(0, 50)));
    f.close();
    const blocks = await collect(store.blocks({ chunkSize: 16 }));
    assertEquals(blocks.map((x) => x.number), [1n]);
  });
});

test("open keeps a whole last block that lacks its newline and adds it", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, BLOCKS_FILE);
    await Deno.writeTextFile(
      join(dir, GENESIS_FILE),
      encodeSigGenesis(chain.genesis),
    );
    // A crash between writing block 4 and writing its newline.
    const good = storeText(chain.blocks.slice(0, 3));
    await Deno.writeTextFile(path, good + encodeSigBlock(chain.blocks[3]));
    const { store, warnings } = await quietOpen(dir);
    assertEquals(warnings, [
      "block.store: the last line, block 4, was whole but lacked its " +
      "newline (an interrupted write): kept it and added the newline",
    ]);
    assertEquals(
      await Deno.readTextFile(path),
      storeText(chain.blocks.slice(0, 4)),
    );
    const blocks = await collect(store.blocks());
    assertEquals(blocks.map((b) => b.number), [1n, 2n, 3n, 4n]);
    // The next append lands on its own line.
    await store.appendBlock(chain.blocks[4]);
    assertEquals(await Deno.readTextFile(path), storeText(chain.blocks));
    const again = await quietOpen(dir);
    assertEquals(again.warnings, []);
    const all = await collect(again.store.blocks());
    assertEquals(all.map(blockHash), chain.blocks.map(blockHash));
  });
});

test("open keeps block 1 without its newline, on the genesis or before one is fetched", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, BLOCKS_FILE);
    const line1 = encodeSigBlock(chain.blocks[0]);
    // No genesis yet: only the number can be checked; the replay checks
    // the parent once the genesis is there.
    await Deno.writeTextFile(path, line1);
    const first = await quietOpen(dir);
    assertEquals(first.warnings.length, 1);
    assert(/block 1, was whole/.test(first.warnings[0]), first.warnings[0]);
    assertEquals(await Deno.readTextFile(path), line1 + "\n");

    await Deno.writeTextFile(
      join(dir, GENESIS_FILE),
      encodeSigGenesis(chain.genesis),
    );
    await Deno.writeTextFile(path, line1);
    const second = await quietOpen(dir);
    assertEquals(second.warnings.length, 1);
    assertEquals(await Deno.readTextFile(path), line1 + "\n");
    // Block 1 of another chain on this genesis is refused.
    const other = makeChain(1, 1);
    const foreign = encodeSigBlock(other.blocks[0]);
    await Deno.writeTextFile(path, foreign);
    await assertRejects(
      () => quietOpen(dir),
      BlockStoreError,
      `its parent ${other.blocks[0].parent.slice(0, 7)} is not the genesis (${
        genesisHash(chain.genesis).slice(0, 7)
      })`,
    );
    assertEquals(await Deno.readTextFile(path), foreign);
  });
});

test("a whole last block without its newline that does not follow is an error and nothing is written", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, BLOCKS_FILE);
    const good = storeText(chain.blocks.slice(0, 3));
    const other = makeChain(4, 1);
    const cases: [string, string][] = [
      // A torn append cannot make a whole block with another number or
      // parent: the file is damaged, and cutting a whole block would lose it.
      [
        good + encodeSigBlock(chain.blocks[4]),
        "the last line holds block 5 without its final newline, but the " +
        "line before it holds block 3; it is not a torn write, so it was " +
        "left as it is: fix or remove it",
      ],
      [good + encodeSigBlock(chain.blocks[2]), "line before it holds block 3"],
      [
        good + encodeSigBlock(other.blocks[3]),
        `its parent ${other.blocks[3].parent.slice(0, 7)} is not block 3 (${
          blockHash(chain.blocks[2]).slice(0, 7)
        })`,
      ],
      [
        encodeSigBlock(chain.blocks[1]),
        "it is the first line, which must hold block 1",
      ],
      [
        storeText(chain.blocks.slice(0, 2)) + "{}\n" +
        encodeSigBlock(chain.blocks[3]),
        "but the line before it does not decode: block.txs: missing;",
      ],
    ];
    for (const [text, message] of cases) {
      await Deno.writeTextFile(path, text);
      const warnings: string[] = [];
      const e = await assertRejects(
        () => BlockStore.open(dir, { onWarning: (m) => warnings.push(m) }),
        BlockStoreError,
        message,
      );
      assert(e.message.startsWith(`${path}: the last line holds block `));
      assert(!e.message.includes("\n"));
      assertEquals(warnings, []);
      assertEquals(await Deno.readTextFile(path), text);
    }
  });
});

test("open cuts off a last line without newline that is JSON but not a block", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, BLOCKS_FILE);
    const good = storeText(chain.blocks.slice(0, 2));
    // A whole block, one byte short: the closing brace never reached disk.
    const line = encodeSigBlock(chain.blocks[2]);
    for (const torn of [line.slice(0, -1), '{"number":3}', "\0\0\0\0"]) {
      await Deno.writeTextFile(path, good + torn);
      const { warnings } = await quietOpen(dir);
      assertEquals(warnings, [
        `block.store: cut off a torn last line (${torn.length} bytes) ` +
        "left by an interrupted write",
      ]);
      assertEquals(await Deno.readTextFile(path), good);
    }
  });
});

test("blocksSize: 0 before the first block, then the file's length", async () => {
  await withTempDir(async (tmp) => {
    const { store } = await quietOpen(join(tmp, "store"));
    assertEquals(await store.blocksSize(), 0);
    await store.writeGenesis(chain.genesis);
    for (const b of chain.blocks.slice(0, 2)) await store.appendBlock(b);
    assertEquals(
      await store.blocksSize(),
      enc.encode(storeText(chain.blocks.slice(0, 2))).length,
    );
  });
});
