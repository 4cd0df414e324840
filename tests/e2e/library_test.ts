/**
 * A program that imports the library (`mod.ts`) runs with permissions scoped
 * to exactly what it touches: its two store directories and its peer's
 * address. With write access to another directory instead, it stops on
 * Deno's permission error and leaves no store behind.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { blockHash } from "../../src/chain/block.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import { writeKey } from "../../src/store/key_store.ts";
import {
  CONFIG_PATH,
  DENO,
  exists,
  freePort,
  SRC_DIR,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const PROGRAM = fileURLToPath(new URL("./library_sync.ts", import.meta.url));

/** Runs the library program with exactly `permissions`. */
async function runProgram(
  permissions: string[],
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(DENO, {
    args: ["run", "--config", CONFIG_PATH, ...permissions, PROGRAM, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(60_000),
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test("a library program syncs with permissions scoped to its stores and its peer, and fails cleanly without them", async () => {
  await withTempDir(async (tmp) => {
    const chain = makeChain(3, 2);
    const seedStore = await BlockStore.open(join(tmp, "seed/blockstore"));
    await seedStore.writeGenesis(chain.genesis);
    for (const b of chain.blocks) await seedStore.appendBlock(b);
    await writeKey(join(tmp, "seed/keystore"), chain.authority, "password");
    const port = freePort();
    const seed = `127.0.0.1:${port}`;
    const node = await startBcn([
      "node",
      "start",
      "--node",
      seed,
      "--bootstrap",
      "--authpass",
      "password",
      "--period",
      "1h",
      "--keystore",
      join(tmp, "seed/keystore"),
      "--blockstore",
      join(tmp, "seed/blockstore"),
    ], { cwd: tmp });
    try {
      await node.waitFor(`<=> gRPC ${seed}\n`);
      const keys = join(tmp, "lib/keystore");
      const blocks = join(tmp, "lib/blockstore");
      // Its stores, the library's source (its verification workers load
      // their module from there), its peer.
      const scoped = [
        `--allow-read=${keys},${blocks},${SRC_DIR}`,
        `--allow-write=${keys},${blocks}`,
        `--allow-net=${seed}`,
      ];
      const ok = await runProgram(scoped, [seed, keys, blocks]);
      assertEquals(ok.stderr, "");
      assertEquals(ok.code, 0);
      assertEquals(ok.stdout, `synced 3 ${blockHash(chain.blocks[2])}\n`);
      assertEquals(
        await Deno.readFile(join(blocks, "block.store")),
        await Deno.readFile(join(tmp, "seed/blockstore/block.store")),
      );

      // Without read access to the library's source it verifies on the main
      // thread, and says so in one line.
      const keys1 = join(tmp, "lib1/keystore");
      const blocks1 = join(tmp, "lib1/blockstore");
      const serial = await runProgram([
        `--allow-read=${keys1},${blocks1}`,
        `--allow-write=${keys1},${blocks1}`,
        `--allow-net=${seed}`,
      ], [seed, keys1, blocks1]);
      assertEquals(serial.code, 0, serial.stderr);
      assertEquals(serial.stdout, ok.stdout);
      assert(
        /^no read access to \S*verify[\\/]worker\.ts: verifying on the main thread\n$/
          .test(serial.stderr),
        serial.stderr,
      );

      // Write access to another directory: Deno's permission error, exit 1,
      // and no store (not even a directory) where it was not allowed.
      const other = join(tmp, "other");
      const keys2 = join(tmp, "lib2/keystore");
      const blocks2 = join(tmp, "lib2/blockstore");
      const denied = await runProgram([
        `--allow-read=${keys2},${blocks2},${other}`,
        `--allow-write=${other}`,
        `--allow-net=${seed}`,
      ], [seed, keys2, blocks2]);
      assertEquals(denied.code, 1, denied.stderr);
      assertEquals(denied.stdout, "");
      assert(
        /NotCapable: Requires write access to "[^"]*lib2/.test(denied.stderr),
        denied.stderr,
      );
      assert(!(await exists(join(tmp, "lib2"))), "nothing written in lib2");
    } finally {
      await node.stop();
    }
  });
});
