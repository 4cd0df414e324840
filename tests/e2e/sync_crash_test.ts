/**
 * End-to-end: a node killed while it syncs (in the middle of a group commit,
 * as likely as not) repairs its store on the next start and completes it;
 * a clean stop leaves a snapshot the next start uses.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import {
  confirmedSection,
  exists,
  freePort,
  nodeStartArgs,
  startBcn,
  withServingBcn,
  withTempDir,
  writeChainDir,
} from "./helpers.ts";

const PASS = "password";

const args = (port: number, dir: string, seed?: number): string[] => [
  ...nodeStartArgs(port, dir, seed, PASS),
  "--period",
  "60s",
];

Deno.test("a node killed while syncing repairs its store at the next start and completes it", async () => {
  const chain = makeChain(400, 2);
  await withTempDir(async (tmp) => {
    const boot = join(tmp, "boot");
    await writeChainDir(boot, chain, PASS);
    const bootPort = freePort();
    await withServingBcn(args(bootPort, boot), bootPort, async () => {
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
    });
  });
});
