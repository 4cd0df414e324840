import { assertEquals, assertRejects } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { exists, withTempDir } from "../support.ts";
import { checkStartInputs } from "../../src/node/genesis_setup.ts";
import { SyncError } from "../../src/node/sync_error.ts";
import type { NodeConfig } from "../../src/node/config.ts";
import { BlockStore } from "../../src/store/block_store.ts";

function bootstrap(dir: string): NodeConfig {
  return {
    node: "127.0.0.1:1122",
    bootstrap: true,
    keyStoreDir: `${dir}/keys`,
    blockStoreDir: `${dir}/blocks`,
    chain: "blockchain",
  };
}

Deno.test("a bootstrap's first start needs passwords and a balance; a started chain does not", async () => {
  await withTempDir(async (dir) => {
    await assertRejects(
      () => checkStartInputs(bootstrap(dir)),
      SyncError,
      "authority password (--authpass or BCN_AUTHPASS) must be at least",
    );
    const store = await BlockStore.open(`${dir}/blocks`);
    await store.writeGenesis(makeChain(0, 1).genesis);
    assertEquals(await checkStartInputs(bootstrap(dir)), undefined);
  });
});

Deno.test({
  name:
    "a store the node may not read is that error, not a request for passwords",
  permissions: { read: false },
  async fn() {
    await assertRejects(
      () => checkStartInputs(bootstrap("/nonexistent-bcn-test")),
      Deno.errors.NotCapable,
      "Requires read access",
    );
  },
});

Deno.test("a store path that is a file is refused before anything is written", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/keys`, "not a directory");
    const cfg = {
      ...bootstrap(dir),
      authPass: "password",
      ownerPass: "password",
      balance: 1000n,
    };
    await assertRejects(
      () => checkStartInputs(cfg),
      SyncError,
      `key store ${dir}/keys is not a directory`,
    );
    await assertRejects(
      () =>
        checkStartInputs({
          ...cfg,
          keyStoreDir: `${dir}/k2`,
          blockStoreDir: `${dir}/keys`,
        }),
      SyncError,
      `block store ${dir}/keys is not a directory`,
    );
    assertEquals(await exists(`${dir}/blocks`), false);
  });
});
