import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { genesisHash } from "../../src/chain/genesis.ts";
import { encodeSigTx, type SigTx } from "../../src/chain/tx.ts";
import {
  MAX_PENDING_FILE_BYTES,
  PENDING_COMPACT_MIN_LINES,
  PENDING_FILE,
  PendingStore,
} from "../../src/store/pending_store.ts";
import { exists, sanitizedTest, withTempDir } from "../support.ts";

const chain = makeChain(1, 20);
const GENESIS = genesisHash(chain.genesis);
const TXS: readonly SigTx[] = chain.blocks[0].txs;

/** The file's lines, without the trailing empty one. */
async function fileLines(dir: string): Promise<string[]> {
  const text = await Deno.readTextFile(`${dir}/${PENDING_FILE}`);
  assert(text.endsWith("\n"), text);
  return text.slice(0, -1).split("\n");
}

sanitizedTest(
  "PendingStore: no pool, no file; recorded txs read back in order",
  async () => {
    await withTempDir(async (dir) => {
      const pool: SigTx[] = [];
      const store = new PendingStore(dir, GENESIS, { current: () => pool });
      assertEquals(await store.read(), { missing: true });
      await store.compact();
      assert(!await exists(store.path));
      for (const tx of TXS.slice(0, 5)) {
        pool.push(tx);
        store.record(tx);
      }
      await store.flush();
      const lines = await fileLines(dir);
      assertEquals(lines[0], `{"version":1,"genesis":"${GENESIS}"}`);
      assertEquals(lines.slice(1), TXS.slice(0, 5).map(encodeSigTx));
      assertEquals(store.lines, 5);
      // A second store (the next run) reads them back.
      const next = new PendingStore(dir, GENESIS, { current: () => [] });
      const read = await next.read();
      assert("txs" in read, "unusable" in read ? read.unusable : "missing");
      assertEquals(read.txs.map(encodeSigTx), TXS.slice(0, 5).map(encodeSigTx));
      assertEquals(read.unreadable, 0);
      // close() writes the pool as it is: 2 confirmed meanwhile.
      pool.splice(0, 2);
      await store.close();
      assertEquals(
        (await fileLines(dir)).slice(1),
        TXS.slice(2, 5).map(encodeSigTx),
      );
      store.record(TXS[5]); // ignored once closed
      await store.flush();
      assertEquals((await fileLines(dir)).length, 4);
      // An empty pool at close leaves no file.
      const empty = new PendingStore(dir, GENESIS, { current: () => [] });
      await empty.close();
      assert(!await exists(store.path));
    });
  },
);

sanitizedTest(
  "PendingStore: the first write of a run rewrites what the last run left",
  async () => {
    await withTempDir(async (dir) => {
      const old = new PendingStore(dir, GENESIS, { current: () => TXS });
      await old.compact();
      assertEquals((await fileLines(dir)).length, TXS.length + 1);
      const pool = [TXS[0]];
      const store = new PendingStore(dir, GENESIS, { current: () => pool });
      store.record(TXS[0]);
      await store.flush();
      assertEquals(await fileLines(dir), [
        `{"version":1,"genesis":"${GENESIS}"}`,
        encodeSigTx(TXS[0]),
      ]);
    });
  },
);

sanitizedTest(
  "PendingStore: the journal is rewritten with the pool once it is long",
  async () => {
    await withTempDir(async (dir) => {
      // A small pool that keeps changing: many more lines than transactions.
      const pool: SigTx[] = [];
      const store = new PendingStore(dir, GENESIS, { current: () => pool });
      await store.compact();
      const bound = PENDING_COMPACT_MIN_LINES;
      let maxLines = 0;
      // Bounded: three times the bound, one tx at a time.
      for (let i = 0; i < 3 * bound; i++) {
        const tx = TXS[i % TXS.length];
        pool.splice(0, pool.length, tx);
        store.record(tx);
        if (i % 64 === 63) {
          await store.flush();
          maxLines = Math.max(maxLines, store.lines);
        }
      }
      await store.flush();
      assert(maxLines <= bound + 64, `${maxLines} lines`);
      assert(store.lines <= bound, `${store.lines} lines`);
      const read = await store.read();
      assert("txs" in read);
      assert(read.txs.length === store.lines);
    });
  },
);

sanitizedTest(
  "PendingStore: bad lines are counted, a foreign or huge file is unusable",
  async () => {
    await withTempDir(async (dir) => {
      const store = new PendingStore(dir, GENESIS, { current: () => [] });
      const header = `{"version":1,"genesis":"${GENESIS}"}`;
      const path = store.path;
      // A damaged line and a torn last one; the valid ones are read.
      await Deno.writeTextFile(
        path,
        `${header}\n${encodeSigTx(TXS[0])}\nnot json\n${encodeSigTx(TXS[1])}\n${
          encodeSigTx(TXS[2]).slice(0, 40)
        }`,
      );
      const read = await store.read();
      assert("txs" in read);
      assertEquals(
        read.txs.map(encodeSigTx),
        [TXS[0], TXS[1]].map(encodeSigTx),
      );
      assertEquals(read.unreadable, 2);
      const other = genesisHash(makeChain(0, 1).genesis);
      await Deno.writeTextFile(path, `{"version":1,"genesis":"${other}"}\n`);
      assertEquals(await store.read(), {
        unusable: "it belongs to another chain",
      });
      await Deno.writeTextFile(path, `{"version":2,"genesis":"${GENESIS}"}\n`);
      assertEquals(await store.read(), { unusable: "unknown version 2" });
      await Deno.writeTextFile(path, `${encodeSigTx(TXS[0])}\n`);
      const noHeader = await store.read();
      assert(
        "unusable" in noHeader &&
          noHeader.unusable.startsWith("it has no valid"),
        JSON.stringify(noHeader),
      );
      await Deno.writeTextFile(path, "");
      await Deno.truncate(path, MAX_PENDING_FILE_BYTES + 1);
      const huge = await store.read();
      assert(
        "unusable" in huge && huge.unusable.startsWith("it is too large"),
        JSON.stringify(huge),
      );
    });
  },
);

sanitizedTest(
  "PendingStore: a failed write is reported once, and the next one rewrites all",
  async () => {
    await withTempDir(async (dir) => {
      const pool: SigTx[] = [];
      const warnings: string[] = [];
      const store = new PendingStore(dir, GENESIS, {
        current: () => pool,
        onWarning: (m) => warnings.push(m),
      });
      await store.compact();
      // A directory where the file goes: every write fails, even as root.
      await Deno.mkdir(store.path);
      for (const tx of TXS.slice(0, 3)) {
        pool.push(tx);
        store.record(tx);
        await store.flush();
      }
      assertEquals(warnings.length, 1, warnings.join("\n"));
      assert(
        warnings[0].startsWith(`warning: cannot write ${store.path}: `),
        warnings[0],
      );
      await Deno.remove(store.path);
      pool.push(TXS[3]);
      store.record(TXS[3]);
      await store.flush();
      assertEquals(
        (await fileLines(dir)).slice(1),
        TXS.slice(0, 4).map(encodeSigTx),
      );
      // Nothing half-written is left beside it.
      assertEquals(
        [...Deno.readDirSync(dir)].map((e) => e.name),
        [PENDING_FILE],
      );
    });
  },
);

sanitizedTest(
  "PendingStore.record resolves once the tx is in the file, one append for many",
  async () => {
    await withTempDir(async (dir) => {
      const pool: SigTx[] = [];
      const store = new PendingStore(dir, GENESIS, { current: () => pool });
      await store.compact();
      pool.push(TXS[0], TXS[1], TXS[2]);
      const first = store.record(TXS[0]);
      const second = store.record(TXS[1]);
      // Recorded before the write started: the same write, the same promise.
      assert(first === second, "two records before a write share it");
      await first;
      assertEquals(store.lines, 2);
      assertEquals(
        (await fileLines(dir)).slice(1),
        TXS.slice(0, 2).map(encodeSigTx),
      );
      const third = store.record(TXS[2]);
      assert(third !== first, "a record after the write gets the next one");
      await third;
      assertEquals(
        (await fileLines(dir)).slice(1),
        TXS.slice(0, 3).map(encodeSigTx),
      );
      await store.close();
      // After close nothing more is written, and the promise still settles.
      await store.record(TXS[3]);
      assertEquals((await fileLines(dir)).length, 4);
    });
  },
);
