/**
 * End-to-end test of transactions from the future: `bcn tx send` of nonces
 * 3, 2 and 1, in that order, to a real node; the first two are queued (and
 * the CLI says so), the third fills the gap, and all three are confirmed.
 */
import { join } from "node:path";
import { assertEquals } from "../assert.ts";
import { decodeSigBlock } from "../../src/chain/block.ts";
import { decodeSigGenesis } from "../../src/chain/genesis.ts";
import { timeNow } from "../../src/chain/time.ts";
import { encodeSigTx, txHash } from "../../src/chain/tx.ts";
import { readKey } from "../../src/store/key_store.ts";
import {
  bootstrapArgs,
  freePort,
  poll,
  runBcn,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const PASS = "password";
/** The bound of the wait for the block. */
const DEADLINE_MS = 30_000;

Deno.test("nonces 3, 2, 1 sent in that order: two are queued, all three confirmed", async () => {
  await withTempDir(async (dir) => {
    const port = freePort();
    const addr = `127.0.0.1:${port}`;
    const node = await startBcn(
      [...bootstrapArgs(addr, { password: PASS }), "--period", "300ms"],
      { cwd: dir },
    );
    let ok = false;
    try {
      await node.waitFor(`<=> gRPC ${addr}\n`);
      const genesis = decodeSigGenesis(
        await Deno.readFile(join(dir, `.blockstore${port}`, "genesis.json")),
      );
      const [owner] = genesis.balances.keys();
      const account = await readKey(join(dir, `.keystore${port}`), owner, PASS);
      const txs = [1n, 2n, 3n].map((nonce) =>
        account.signTx({
          from: owner,
          to: "b".repeat(64),
          value: nonce * 10n,
          nonce,
          time: timeNow(),
        })
      );
      const sent: string[] = [];
      for (const tx of [...txs].reverse()) {
        const res = await runBcn(
          ["tx", "send", "--node", addr, "--sigtx", encodeSigTx(tx)],
          { cwd: dir },
        );
        assertEquals([res.code, res.stderr], [0, ""], res.stdout);
        sent.push(res.stdout);
      }
      const [h1, h2, h3] = txs.map(txHash);
      assertEquals(sent, [
        `tx ${h3} queued\n`,
        `tx ${h2} queued\n`,
        `tx ${h1}\n`,
      ]);

      const storePath = join(dir, `.blockstore${port}`, "block.store");
      const confirmed = await poll("three transactions confirmed", async () => {
        const text = await Deno.readTextFile(storePath).catch(() => "");
        const hashes = text.split("\n").filter((l) => l !== "").flatMap((l) =>
          decodeSigBlock(l).txs.map(txHash)
        );
        return hashes.length >= 3 ? hashes : undefined;
      }, {
        timeoutMs: DEADLINE_MS,
        intervalMs: 100,
        describe: () => node.output().stderr,
      });
      assertEquals(confirmed, [h1, h2, h3]);
      const balance = await runBcn([
        "account",
        "balance",
        "--node",
        addr,
        "--account",
        owner,
      ], { cwd: dir });
      assertEquals(balance.stdout, `acc ${owner}: 940\n`);
      ok = true;
    } finally {
      const res = await node.stop();
      if (ok) assertEquals(res.code, 0, res.stderr);
    }
  });
});
