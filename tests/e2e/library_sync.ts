/**
 * A program that uses bcn as a library, as a user's would: it imports
 * `mod.ts` and syncs a block store from one running node. Run by
 * `library_test.ts` with permissions scoped to exactly what it touches.
 *
 *     deno run ... library_sync.ts SEED KEYSTORE BLOCKSTORE
 *
 * Prints `synced <number> <hash>`.
 */
import { StateSync } from "../../mod.ts";

const [seed, keyStoreDir, blockStoreDir] = Deno.args;
// A plain list of peers, no address of its own, no source to close.
const state = await new StateSync({
  bootstrap: false,
  seed,
  keyStoreDir,
  blockStoreDir,
  chain: "blockchain",
}, { peers: [seed] }).syncState();
console.log(`synced ${state.lastNumber} ${state.lastHash}`);
