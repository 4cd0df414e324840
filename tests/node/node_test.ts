import { assert, assertEquals, assertRejects } from "../assert.ts";
import { timeNow } from "../../src/chain/time.ts";
import { encodeSigTx } from "../../src/chain/tx.ts";
import type { NodeConfig } from "../../src/node/config.ts";
import { Node } from "../../src/node/node.ts";
import { PeerRegistry } from "../../src/rpc/registry.ts";
import { readKey } from "../../src/store/key_store.ts";
import { freePort, withTempDir } from "../e2e/helpers.ts";

function bootstrap(dir: string, port: number): NodeConfig {
  return {
    node: `127.0.0.1:${port}`,
    bootstrap: true,
    keyStoreDir: `${dir}/keys`,
    blockStoreDir: `${dir}/blocks`,
    chain: "test",
    authPass: "password",
    ownerPass: "password",
    balance: 1000n,
    periodMs: 30,
  };
}

async function refused(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return false;
  } catch {
    return true;
  }
}

Deno.test("start, serve, stop: finished resolves and the port is closed", async () => {
  await withTempDir(async (dir) => {
    const port = freePort();
    const lines: string[] = [];
    const node = new Node(bootstrap(dir, port), {
      out: (t) => lines.push(t),
      log: () => {},
    });
    await node.start();
    assert(lines.at(-1)!.startsWith("<=> gRPC 127.0.0.1:"));
    assert(!await refused(port));
    await node.stop();
    await node.finished;
    assert(await refused(port));
  });
});

Deno.test("stop() while start() is under way leaves nothing listening", async () => {
  await withTempDir(async (dir) => {
    const port = freePort();
    let stopping: Promise<void> | undefined;
    const node = new Node(bootstrap(dir, port), {
      // Stop right after the sync, before the server starts.
      out: (t) => {
        if (t.startsWith("=== Sync state")) stopping = node.stop();
      },
      log: () => {},
    });
    await assertRejects(() => node.start());
    await stopping;
    await node.finished;
    assert(await refused(port));
  });
});

Deno.test("a block store that fails stops the node; finished rejects with why", async () => {
  await withTempDir(async (dir) => {
    const port = freePort();
    const cfg = bootstrap(dir, port);
    let owner = "";
    const node = new Node(cfg, {
      out: (t) => {
        owner = /owner\s+([0-9a-f]{64})/.exec(t)?.[1] ?? owner;
      },
      log: () => {},
    });
    await node.start();
    const registry = new PeerRegistry({ protocol: "connect" });
    try {
      // The next append cannot open block.store.
      await Deno.mkdir(`${cfg.blockStoreDir}/block.store`);
      const account = await readKey(cfg.keyStoreDir, owner, "password");
      const tx = account.signTx({
        from: owner,
        to: "bob",
        value: 1n,
        nonce: 1n,
        time: timeNow(),
      });
      await registry.clients(node.addr).tx.txSend({
        Tx: new TextEncoder().encode(encodeSigTx(tx)),
      });
      const timeout = setTimeout(() => node.stop(), 10_000);
      await assertRejects(() => node.finished, Error, "cannot append block 1");
      clearTimeout(timeout);
      assertEquals(await refused(port), true);
    } finally {
      registry.close();
      await node.stop();
    }
  });
});
