/**
 * End-to-end: while a node that joined from a checkpoint backfills, it
 * serves the current balances, says that it backfills (`/healthz`,
 * `/status`, `bcn node status`, the metric), and answers BlockSync only
 * with the blocks its block.store holds, from block 1 with no gap.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { decodeSigBlock } from "../../src/chain/block.ts";
import { decodeStatus } from "../../src/node/observe/status.ts";
import { createPeerClients } from "../../src/rpc/registry.ts";
import { PeerTransport } from "../../src/rpc/transport.ts";
import {
  blockStoreLines,
  freePort,
  nodeStartArgs,
  poll,
  runBcn,
  startBcn,
  withTempDir,
} from "./helpers.ts";
import { answer, honestCheckpoint, startPeer } from "./checkpoint_peer.ts";

const chain = makeChain(8, 2);
const good = honestCheckpoint(chain, 8n, 4n);

Deno.test("a backfilling node serves, says so, and serves no gap", async () => {
  await withTempDir(async (tmp) => {
    // 300 ms a block: the backfill takes a few seconds.
    const peer = await startPeer(
      chain,
      join(tmp, "peer"),
      () => answer(good.signed, good.block, good.chunks),
      () => [],
      300,
    );
    const dir = join(tmp, "node");
    const port = freePort();
    const addr = `127.0.0.1:${port}`;
    const transport = new PeerTransport(addr, "connect");
    const node = await startBcn([
      ...nodeStartArgs(port, dir, peer.addr),
      "--period",
      "60s",
    ]);
    try {
      await node.waitFor(`<=> gRPC ${addr}\n`);
      const { account, block } = createPeerClients(transport);
      // The balances at the checkpoint, at once.
      const who = chain.others[0].address;
      const balance = await account.accountBalance({ Address: who });
      assertEquals(balance.Balance, good.state.balance(who));
      // Said on every channel. A catch-up the join starts (asking the
      // peer for blocks after the checkpoint) comes first in /healthz
      // while it runs.
      let reason = "";
      await poll("/healthz says backfilling", async () => {
        const healthz = await fetch(`http://${addr}/healthz`);
        reason = await healthz.text();
        assertEquals(healthz.status, 503);
        return reason.startsWith("backfilling: ") || undefined;
      }, { intervalMs: 50, timeoutMs: 5_000, describe: () => reason });
      assert(
        reason.startsWith(
          "backfilling: serving from checkpoint 8, block.store holds ",
        ),
        reason,
      );
      const status = decodeStatus(
        await (await fetch(`http://${addr}/status`)).text(),
      );
      assertEquals(status.backfill?.checkpoint, 8n);
      assert(status.backfill!.held < 8n);
      const metrics = await (await fetch(`http://${addr}/metrics`)).text();
      const remaining = /^bcn_backfill_remaining_blocks (\d+)$/m.exec(metrics);
      assert(remaining && Number(remaining[1]) > 0, metrics);
      const printed = await runBcn(["node", "status", "--node", addr]);
      assert(
        printed.stdout.includes("store     backfilling: "),
        printed.stdout,
      );
      // BlockSync: blocks 1..k, in order, nothing after a gap.
      const numbers: bigint[] = [];
      for await (const res of block.blockSync({ Number: 1n })) {
        numbers.push(decodeSigBlock(res.Block).number);
      }
      assert(numbers.length < 8, String(numbers));
      assertEquals(numbers, numbers.map((_, i) => BigInt(i + 1)));
      // Then it completes.
      await poll(
        "the backfill ends",
        () => node.output().stderr.includes("backfill done"),
        {
          describe: () => node.output().stderr,
        },
      );
      const done = decodeStatus(
        await (await fetch(`http://${addr}/status`)).text(),
      );
      assertEquals(done.backfill, undefined);
      const after: bigint[] = [];
      for await (const res of block.blockSync({ Number: 1n })) {
        after.push(decodeSigBlock(res.Block).number);
      }
      assertEquals(after, chain.blocks.map((b) => b.number));
      assertEquals(
        await Deno.readTextFile(join(dir, "blockstore", "block.store")),
        blockStoreLines(chain).join(""),
      );
    } finally {
      transport.close();
      await node.stop();
      await peer.close();
    }
  });
});
