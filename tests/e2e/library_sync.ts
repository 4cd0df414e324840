/**
 * A program that uses bcn as a library, as a user's would: it imports
 * `mod.ts` and syncs a block store from one running node. Run by
 * `library_test.ts` with permissions scoped to exactly what it touches.
 *
 *     deno run ... library_sync.ts SEED KEYSTORE BLOCKSTORE
 *
 * Prints `synced <number> <hash>`.
 */
import { connectSyncSource, StateSync } from "../../mod.ts";

const [seed, keyStoreDir, blockStoreDir] = Deno.args;
const source = connectSyncSource();
try {
  const state = await new StateSync({
    node: "127.0.0.1:1",
    bootstrap: false,
    seed,
    keyStoreDir,
    blockStoreDir,
    chain: "blockchain",
  }, { peers: { peers: () => [seed] }, source }).syncState();
  console.log(`synced ${state.lastNumber} ${state.lastHash}`);
} finally {
  source.close();
}
