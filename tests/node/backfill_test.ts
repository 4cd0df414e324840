import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { blockBytes } from "../../src/chain/block.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import { Backfill } from "../../src/node/backfill.ts";
import type { SyncSource } from "../../src/node/state_sync.ts";
import { VerifyPool } from "../../src/node/verify/pool.ts";
import { withTempDir } from "../support.ts";
import { checkpointOfChain } from "./checkpoint_fixture.ts";

const chain = makeChain(4, 1);
const { checkpoint } = checkpointOfChain(chain);

Deno.test("backfill: a peer that resends held blocks without end is refused, and the next one serves", async () => {
  await withTempDir(async (dir) => {
    const store = await BlockStore.open(dir);
    const pool = new VerifyPool({ workers: 1 });
    const logs: string[] = [];
    let resent = 0;
    const source: SyncSource = {
      genesis: () => Promise.reject(new Error("not asked")),
      async *blocks(peer, from) {
        if (peer === "loop") {
          // Blocks 1 and 2, then block 1 again and again (bounded here).
          yield blockBytes(chain.blocks[0]);
          yield blockBytes(chain.blocks[1]);
          for (; resent < 20_000; resent++) yield blockBytes(chain.blocks[0]);
          return;
        }
        for (const b of chain.blocks.slice(Number(from) - 1)) {
          yield blockBytes(b);
        }
      },
    };
    try {
      const backfill = new Backfill({
        genesis: chain.genesis,
        checkpoint,
        store,
        pool,
        source,
        peers: { peers: () => ["loop", "honest"] },
        self: "me",
        signal: new AbortController().signal,
        log: (m) => logs.push(m),
      });
      await backfill.run();
      assertEquals(backfill.held, 4n);
      assert(resent < 20_000, `the peer was let resend ${resent} blocks`);
      assertEquals(logs.length, 1, logs.join("\n"));
      assert(
        logs[0].startsWith(
          "warning: backfill from loop: resent blocks this node holds",
        ),
        logs[0],
      );
    } finally {
      pool.close();
    }
  });
});
