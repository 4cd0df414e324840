/**
 * End-to-end: a node killed while it syncs (in the middle of a group commit,
 * as likely as not) repairs its store on the next start and completes it;
 * a clean stop leaves a snapshot the next start uses.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { blockBytes } from "../../src/chain/block.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import { writeKey } from "../../src/store/key_store.ts";
import {
  confirmedSection,
  exists,
  freePort,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const PASS = "password";

function args(port: number, dir: string, seed?: number): string[] {
  return [
    "node",
    "start",
    "--node",
    `127.0.0.1:${port}`,
    ...(seed === undefined ? ["--bootstrap", "--authpass", PASS] : [
      "--seed",
      `127.0.0.1:${seed}`,
    ]),
    "--keystore",
    join(dir, "keystore"),
    "--blockstore",
    join(dir, "blockstore"),
    "--period",
    "60s",
  ];
}

Deno.test("a node killed while syncing repairs its store at the next start and completes it", async () => {
  const chain = makeChain(400, 2);
  await withTempDir(async (tmp) => {
    const boot = join(tmp, "boot");
    const store = await BlockStore.open(join(boot, "blockstore"));
    await store.writeGenesis(chain.genesis);
    await store.appendLines(chain.blocks.map(blockBytes));
    await writeKey(join(boot, "keystore"), chain.authority, PASS);
    const bootPort = freePort();
    const bootstrap = await startBcn(args(bootPort, boot));
    try {
      await bootstrap.waitFor(`<=> gRPC 127.0.0.1:${bootPort}\n`);
      const reg = join(tmp, "reg");
      const stored = join(reg, "blockstore", "block.store");
      const first = await startBcn(args(freePort(), reg, bootPort));
      try {
        // Killed as soon as a first group is on disk (bounded wait).
        for (let i = 0; i < 3000; i++) {
          const size = await Deno.stat(stored).then((s) => s.size, () => 0);
          if (size > 0) break;
          await new Promise((r) => setTimeout(r, 10));
        }
      } finally {
        await first.stop("SIGKILL");
      }
      // And a write torn part-way, as a kill in the middle of one leaves.
      await Deno.writeTextFile(stored, '{"number":', { append: true });
      const port = freePort();
      const second = await startBcn(args(port, reg, bootPort));
      let out: string;
      try {
        out = await second.waitFor(`<=> gRPC 127.0.0.1:${port}\n`, 60_000);
      } finally {
        const res = await second.stop();
        assertEquals(res.code, 0, res.stderr);
      }
      assertEquals(
        await Deno.readTextFile(stored),
        await Deno.readTextFile(join(boot, "blockstore", "block.store")),
      );
      // The clean stop kept a snapshot; the next start uses it (no
      // warning) and prints the same confirmed state.
      assert(await exists(join(reg, "blockstore", "snapshot.json")));
      const port3 = freePort();
      const third = await startBcn(args(port3, reg, bootPort));
      try {
        const again = await third.waitFor(`<=> gRPC 127.0.0.1:${port3}\n`);
        assertEquals(confirmedSection(again), confirmedSection(out));
      } finally {
        const res = await third.stop();
        assertEquals(res.code, 0, res.stderr);
        assert(!res.stderr.includes("snapshot"), res.stderr);
      }
    } finally {
      await bootstrap.stop();
    }
  });
});
