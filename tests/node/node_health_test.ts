/**
 * The health and status a real node reports as it starts, serves, loses
 * its peers and its authority, and holds a transaction no block confirms:
 * `/healthz` and `/status` on its port, and `Unavailable` from its services
 * until its state is ready.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { assert, assertEquals } from "../assert.ts";
import { timeNow } from "../../src/chain/time.ts";
import { encodeSigTx } from "../../src/chain/tx.ts";
import type { NodeConfig } from "../../src/node/config.ts";
import { Node } from "../../src/node/node.ts";
import { NO_PEERS_GRACE_PERIODS } from "../../src/node/observe/monitor.ts";
import { decodeStatus } from "../../src/node/observe/status.ts";
import { PeerRegistry } from "../../src/rpc/registry.ts";
import { readKey } from "../../src/store/key_store.ts";
import { freePort, withTempDir } from "../e2e/helpers.ts";

const PERIOD_MS = 100;

function config(dir: string, port: number, seed?: number): NodeConfig {
  return {
    node: `127.0.0.1:${port}`,
    bootstrap: seed === undefined,
    seed: seed === undefined ? undefined : `127.0.0.1:${seed}`,
    keyStoreDir: `${dir}/${port}/keys`,
    blockStoreDir: `${dir}/${port}/blocks`,
    chain: "test",
    authPass: "password",
    ownerPass: "password",
    balance: 1000n,
    periodMs: PERIOD_MS,
  };
}

async function get(
  port: number,
  path: string,
): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: await res.text() };
}

/** Polls `check` every 50 ms for at most `ms` (and 400 rounds). */
async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 400 && Date.now() < deadline; i++) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out: ${what}`);
}

Deno.test("a starting node serves 503 with the reason, and Unavailable from its services", async () => {
  await withTempDir(async (dir) => {
    // A regular node whose seed does not answer keeps retrying the genesis.
    const port = freePort();
    const node = new Node(config(dir, port, freePort()), {
      out: () => {},
      log: () => {},
    });
    const starting = node.start().catch((e) => e);
    try {
      const health = await until("the port", () => get(port, "/healthz"));
      assertEquals(health, {
        status: 503,
        body: "starting: reading its genesis and replaying its block store\n",
      });
      assertEquals(await get(port, "/status"), health);
      assertEquals(node.health().ok, false);
      const registry = new PeerRegistry({ protocol: "connect" });
      try {
        const err = await registry.clients(`127.0.0.1:${port}`).block
          .genesisSync({}).then(() => undefined, (e) => e);
        assert(err instanceof ConnectError, String(err));
        assertEquals(Code[err.code], "Unavailable");
        assert(err.message.includes("starting"), err.message);
      } finally {
        registry.close();
      }
    } finally {
      await node.stop();
      await starting;
    }
  });
});

Deno.test("a node that loses every peer says so after the grace, and is ok again when one is back", async () => {
  await withTempDir(async (dir) => {
    const [a, b] = [freePort(), freePort()];
    const quiet = { out: () => {}, log: () => {} };
    let boot = new Node(config(dir, a), quiet);
    await boot.start();
    const regular = new Node(config(dir, b, a), quiet);
    try {
      await regular.start();
      const ok = await until("ok with a peer", async () => {
        const h = await get(b, "/healthz");
        return h.status === 200 ? h : undefined;
      });
      assertEquals(ok.body, "ok\n");
      const status = decodeStatus((await get(b, "/status")).body);
      assertEquals(status.peers, [`127.0.0.1:${a}`]);
      assertEquals(status.isAuthority, false);

      const stoppedAt = Date.now();
      await boot.stop();
      // Its one peer was the authority: that shows first (unless the
      // grace without peers is already over).
      const cut = await until("503 without the authority", async () => {
        const h = await get(b, "/healthz");
        return h.status === 503 ? h : undefined;
      });
      assert(
        new RegExp(
          `^(authority unreachable for \\d+s: 127\\.0\\.0\\.1:${a} does not answer|no peers for \\d+s)\n$`,
        ).test(cut.body),
        cut.body,
      );
      assertEquals(
        decodeStatus((await get(b, "/status")).body).authorityReachable,
        false,
      );
      const alone = await until("503 without peers", async () => {
        const h = await get(b, "/healthz");
        return h.body.startsWith("no peers for") ? h : undefined;
      });
      assert(/^no peers for \d+s\n$/.test(alone.body), alone.body);
      // Not before the grace.
      assert(
        Date.now() - stoppedAt >= NO_PEERS_GRACE_PERIODS * PERIOD_MS,
        "503 before the grace",
      );
      assertEquals(decodeStatus((await get(b, "/status")).body).health, {
        ok: false,
        reason: alone.body.trim(),
      });

      boot = new Node(config(dir, a), quiet);
      await boot.start();
      await until("ok again", async () => {
        const h = await get(b, "/healthz");
        return h.status === 200 ? h : undefined;
      });
      assertEquals(
        decodeStatus((await get(b, "/status")).body).authorityReachable,
        true,
      );
    } finally {
      await regular.stop();
      await boot.stop();
    }
  });
});

Deno.test("a transaction no block confirms makes the chain stalled until a block does", async () => {
  await withTempDir(async (dir) => {
    const [a, b] = [freePort(), freePort()];
    const quiet = { out: () => {}, log: () => {} };
    let boot = new Node(config(dir, a), quiet);
    await boot.start();
    const regular = new Node(config(dir, b, a), quiet);
    const registry = new PeerRegistry({ protocol: "connect" });
    try {
      await regular.start();
      await until("ok with the authority", async () => {
        const h = await get(b, "/healthz");
        return h.status === 200 ? h : undefined;
      });
      const [owner] = regular.state.genesis.balances.keys();
      const account = await readKey(`${dir}/${a}/keys`, owner, "password");
      const tx = new TextEncoder().encode(encodeSigTx(account.signTx({
        from: owner,
        to: owner,
        value: 1n,
        nonce: 1n,
        time: timeNow(),
      })));

      // The authority is gone: nothing will make a block.
      await boot.stop();
      await registry.clients(`127.0.0.1:${b}`).tx.txSend({ Tx: tx });
      const stalled = await until("stalled", async () => {
        const h = await get(b, "/healthz");
        return h.body.startsWith("stalled: ") ? h : undefined;
      });
      assertEquals(stalled.status, 503);
      assert(
        /^stalled: no new block for \d+ periods \(\d+s\) while 1 transaction is pending/
          .test(stalled.body),
        stalled.body,
      );
      const s = decodeStatus((await get(b, "/status")).body);
      assertEquals([s.stalled, s.pending], [true, 1n]);
      assert(s.noNewBlockPeriods! >= 1n, String(s.noNewBlockPeriods));

      // The authority is back and gets the transaction (it may have it
      // already from the regular node): its block clears the stall.
      boot = new Node(config(dir, a), quiet);
      await boot.start();
      await registry.clients(`127.0.0.1:${a}`).tx.txSend({ Tx: tx }).catch(
        () => {},
      );
      await until("ok once a block confirmed it", async () => {
        const h = await get(b, "/healthz");
        return h.status === 200 ? h : undefined;
      });
      const after = decodeStatus((await get(b, "/status")).body);
      assertEquals(
        [after.stalled, after.pending, after.noNewBlockPeriods],
        [false, 0n, 0n],
      );
      assert(after.lastBlock.number >= 1n);
    } finally {
      registry.close();
      await regular.stop();
      await boot.stop();
    }
  });
});
