/**
 * End-to-end: a real `bcn` regular node restarting against a seed whose
 * store repeats a block, as the reference Go node's does (it writes a
 * block once per stream that delivers it, and its BlockSync counts lines,
 * not block numbers). The seed here is a small server in the test that
 * answers the way such a node does.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import {
  blockHash,
  decodeSigBlock,
  encodeSigBlock,
  type SigBlock,
} from "../../src/chain/block.ts";
import { encodeSigGenesis } from "../../src/chain/genesis.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { PeerRegistry } from "../../src/rpc/registry.ts";
import { startServer } from "../../src/rpc/server.ts";
import {
  freePort,
  nodeStartArgs,
  printedState,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const encoder = new TextEncoder();

/** `blk       N: HASH7 -> PARENT7`, as the state prints the last block. */
function blkLine(block: SigBlock): string {
  return `blk ${String(block.number).padStart(7)}: ${
    blockHash(block).slice(0, 7)
  } -> ${block.parent.slice(0, 7)}`;
}

Deno.test("a regular node restarting against a seed that resends a held block starts and serves", async () => {
  const chain = makeChain(4, 1);
  const byNumber = (...numbers: number[]) =>
    numbers.map((n) => chain.blocks[n - 1]);
  // The seed's store, line by line; the test changes it between runs.
  let lines = byNumber(1, 2);
  const asked: bigint[] = [];
  const seed = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: (router) => {
      router.service(Block, {
        genesisSync: () => ({
          Genesis: encoder.encode(encodeSigGenesis(chain.genesis)),
        }),
        // The reference's loop: skip Number - 1 lines, send the rest.
        async *blockSync(req) {
          asked.push(req.Number);
          for (const b of lines.slice(Math.max(0, Number(req.Number) - 1))) {
            await Promise.resolve();
            yield { Block: encoder.encode(encodeSigBlock(b)) };
          }
        },
      });
    },
  });
  const registry = new PeerRegistry({ protocol: "connect" });
  try {
    await withTempDir(async (tmp) => {
      const port = freePort();
      const addr = `127.0.0.1:${port}`;
      const args = nodeStartArgs(port, tmp, seed.addr);
      const served = `<=> gRPC ${addr}\n`;

      // First run: blocks 1 and 2.
      const first = await startBcn(args, { cwd: tmp });
      try {
        const out = await first.waitFor(served);
        assert(printedState(out)?.includes(blkLine(chain.blocks[1])), out);
      } finally {
        const res = await first.stop();
        assertEquals(res.code, 0, res.stderr);
      }

      // The seed wrote block 2 twice and went on to block 4: asked from
      // 3, its line 3 is block 2 again.
      lines = byNumber(1, 2, 2, 3, 4);
      asked.length = 0;
      const second = await startBcn(args, { cwd: tmp });
      try {
        const out = await second.waitFor(served);
        assert(
          printedState(out)?.includes(blkLine(chain.blocks[3])),
          `block 4 expected in\n${out}`,
        );
        assertEquals(asked[0], 3n);
        // It serves: its own BlockSync brings each block once.
        const numbers: bigint[] = [];
        const stream = registry.clients(addr).block.blockSync({ Number: 1n });
        for await (const res of stream) {
          numbers.push(decodeSigBlock(res.Block).number);
          if (numbers.length > 10) break;
        }
        assertEquals(numbers, [1n, 2n, 3n, 4n]);
      } finally {
        const res = await second.stop();
        assertEquals(res.code, 0, res.stderr);
        assert(!res.stderr.includes("rejected"), res.stderr);
      }
      const stored = await Deno.readTextFile(
        join(tmp, "blockstore", "block.store"),
      );
      assertEquals(
        stored,
        chain.blocks.map((b) => encodeSigBlock(b) + "\n").join(""),
      );
    });
  } finally {
    registry.close();
    await seed.close();
  }
});
