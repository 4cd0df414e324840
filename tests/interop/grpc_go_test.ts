/**
 * Interoperability with grpc-go, the stack of the reference Go node: a
 * grpc-go server that speaks only gRPC over cleartext HTTP/2 (bcn must fall
 * back to gRPC and sync from it), and a grpc-go client syncing from bcn's
 * one-port server; and no crash when a grpc-go server stops gracefully
 * (HTTP/2 GOAWAY, issue 8). The Go side is `tests/interop/grpc_go/main.go`; these
 * tests need the Go toolchain and are ignored, saying so, without it.
 */
import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { blockHash, encodeSigBlock } from "../../src/chain/block.ts";
import { encodeSigGenesis } from "../../src/chain/genesis.ts";
import { peerSyncSource, StateSync } from "../../src/node/state_sync.ts";
import { blockSyncMethods } from "../../src/rpc/block_service.ts";
import { PeerRegistry } from "../../src/rpc/registry.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { startServer } from "../../src/rpc/server.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import { Node } from "../../src/node/node.ts";
import { parseExposition } from "../node/exposition.ts";
import { freePort, withTempDir } from "../e2e/helpers.ts";
import { canBind } from "../rpc/harness.ts";
import {
  buildGo,
  hasGo,
  runGoawayScenario,
  runVictimRound,
  startGoServer,
  writeChain,
} from "./goaway_scenario.ts";
import { openBlockStream, openTxStream } from "../../src/node/relay.ts";

const GO = await hasGo();
if (!GO) console.log("grpc-go interop tests ignored: no Go toolchain on PATH");

async function storeOf(dir: string, chain: ReturnType<typeof makeChain>) {
  const store = await BlockStore.open(dir);
  await store.writeGenesis(chain.genesis);
  for (const b of chain.blocks) await store.appendBlock(b);
  return store;
}

Deno.test({
  name: "bcn syncs from a grpc-go server (falls back to gRPC over HTTP/2)",
  ignore: !GO,
  fn: () =>
    withTempDir(async (dir) => {
      const bin = await buildGo();
      const chain = makeChain(4, 2);
      await storeOf(`${dir}/go_store`, chain);
      // Resolves once it is listening.
      const go = await startGoServer(bin, `${dir}/go_store`);
      const addr = go.addr;
      const registry = new PeerRegistry({ protocol: "auto" });
      try {
        const state = await new StateSync({
          node: "127.0.0.1:1",
          bootstrap: false,
          seed: addr,
          keyStoreDir: `${dir}/keys`,
          blockStoreDir: `${dir}/blocks`,
          chain: "blockchain",
        }, {
          peers: { peers: () => [addr] },
          source: peerSyncSource(registry),
          log: () => {},
        }).syncState();
        assertEquals(state.lastNumber, 4n);
        assertEquals(state.lastHash, blockHash(chain.blocks[3]));
        assertEquals(registry.protocolOf(addr), "grpc");
        assertEquals(
          await Deno.readTextFile(`${dir}/blocks/block.store`),
          await Deno.readTextFile(`${dir}/go_store/block.store`),
        );
      } finally {
        registry.close();
        await go.stop();
      }
    }),
});

Deno.test({
  name: "a grpc-go client syncs from bcn's one-port server",
  ignore: !GO,
  fn: () =>
    withTempDir(async (dir) => {
      const bin = await buildGo();
      const chain = makeChain(3, 3);
      const store = await storeOf(`${dir}/store`, chain);
      const server = await startServer({
        hostname: "127.0.0.1",
        port: 0,
        routes: (r) => {
          r.service(Block, blockSyncMethods({ store }));
        },
      });
      try {
        const out = await new Deno.Command(bin, {
          args: ["sync", server.addr],
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(30_000),
        }).output();
        const dec = new TextDecoder();
        assert(out.success, dec.decode(out.stderr));
        const lines = dec.decode(out.stdout).trimEnd().split("\n");
        assertEquals(lines, [
          `genesis ${encodeSigGenesis(chain.genesis)}`,
          ...chain.blocks.map((b) => `block ${encodeSigBlock(b)}`),
        ]);
      } finally {
        await server.close();
      }
    }),
});

// Issue 8: under Deno 2.9.6 a GOAWAY on a `node:http2` client session that
// served calls and then idled could kill the process (denoland/deno#36788).
// The victims run as child processes, since the crash cannot be caught.
// Measured before the fix (one long-lived session per peer): a round with
// 8 such sessions crashed in 6 of 10 runs, so three rounds miss it about
// once in 16. A `node:http2` session per call fixed this case but not the
// next one; bcn's own HTTP/2 client (h2c_client.ts) fixes both.
Deno.test({
  name: "gRPC clients survive a grpc-go graceful stop (GOAWAY) after idling",
  ignore: !GO,
  fn: () =>
    withTempDir(async (dir) => {
      const bin = await buildGo();
      await writeChain(`${dir}/store`, 3);
      for (let round = 1; round <= 3; round++) {
        const r = await runVictimRound({
          bin,
          storeDir: `${dir}/store`,
          idleMs: 2000,
        });
        assert(
          !r.crashed,
          `round ${round}: the client process died (exit ${r.code})\n${r.stderr}`,
        );
        assertEquals(r.stdout, "idle\nsurvived\n");
      }
    }),
});

// With a `node:http2` session per call, 4 clients calling through the stop
// died (uncaught `write EPIPE`) or hung at 100% CPU in about 1 round of 15
// (6 of 80 in one measurement); with bcn's own HTTP/2 client, 0 of 80.
Deno.test({
  name: "gRPC clients survive a grpc-go graceful stop in the middle of calls",
  ignore: !GO,
  fn: () =>
    withTempDir(async (dir) => {
      const bin = await buildGo();
      await writeChain(`${dir}/store`, 3);
      const r = await runVictimRound({
        bin,
        storeDir: `${dir}/store`,
        sessions: 4,
        busy: true,
        idleMs: 1500,
      });
      assert(!r.crashed, `the client died (exit ${r.code})\n${r.stderr}`);
      assertEquals(r.stdout, "idle\nsurvived\n");
    }),
});

Deno.test({
  name: "a bcn node joined to a grpc-go seed survives the seed's graceful stop",
  ignore: !GO,
  fn: () =>
    withTempDir(async (dir) => {
      const bin = await buildGo();
      const r = await runGoawayScenario({ bin, dir, idleMs: 9000 });
      assert(!r.crashed, `the node died (exit ${r.code})\n${r.stderr}`);
      assertEquals(r.code, 0);
    }),
});

async function* items(n: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < n; i++) yield new TextEncoder().encode(`{"n":${i}}`);
}

// Relay streams name their sender in a `bcn-origin` header (no echo, issue
// 8): a grpc-go server, as the reference node, must take them as before.
Deno.test({
  name: "a grpc-go server takes bcn's relay streams with their origin header",
  ignore: !GO,
  fn: () =>
    withTempDir(async (dir) => {
      const bin = await buildGo();
      await writeChain(`${dir}/store`, 1);
      const go = await startGoServer(bin, `${dir}/store`);
      const registry = new PeerRegistry({ protocol: "auto" });
      try {
        const origin = { origin: "127.0.0.1:1123" };
        const signal = AbortSignal.timeout(20_000);
        await openTxStream(registry, origin)(go.addr, items(2), signal);
        await openBlockStream(registry, origin)(go.addr, items(3), signal);
        assertEquals(registry.protocolOf(go.addr), "grpc");
      } finally {
        registry.close();
        await go.stop();
      }
      assert(
        go.stdout().includes("received /Tx/TxReceive 2 from 127.0.0.1:1123\n"),
        go.stdout(),
      );
      assert(
        go.stdout().includes(
          "received /Block/BlockReceive 3 from 127.0.0.1:1123\n",
        ),
        go.stdout(),
      );
    }),
});

Deno.test({
  name:
    "a grpc-go client syncs from a running bcn node that also serves /metrics",
  ignore: !GO,
  fn: () =>
    withTempDir(async (dir) => {
      const bin = await buildGo();
      const port = freePort();
      const node = new Node({
        node: `127.0.0.1:${port}`,
        bootstrap: true,
        keyStoreDir: `${dir}/keys`,
        blockStoreDir: `${dir}/blocks`,
        chain: "interop",
        authPass: "password",
        ownerPass: "password",
        balance: 1000n,
      }, { out: () => {}, log: () => {} });
      await node.start();
      try {
        const out = await new Deno.Command(bin, {
          args: ["sync", `127.0.0.1:${port}`],
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(30_000),
        }).output();
        const dec = new TextDecoder();
        assert(out.success, dec.decode(out.stderr));
        assertEquals(dec.decode(out.stdout).trimEnd().split("\n"), [
          `genesis ${encodeSigGenesis(node.state.genesis)}`,
        ]);
        // The gRPC calls went through the same services, and were counted.
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        const samples = parseExposition(await res.text());
        assertEquals(
          samples.get(
            'bcn_rpc_requests_total{service="Block",method="GenesisSync",code="ok"}',
          ),
          1,
        );
        assertEquals(
          samples.get(
            'bcn_rpc_requests_total{service="Block",method="BlockSync",code="ok"}',
          ),
          1,
        );
      } finally {
        await node.stop();
      }
    }),
});

// Deno's node:http2 client sent `:authority` without brackets for an IPv6
// peer, and grpc-go answered 400; bcn's own client sends `[::1]:port`.
Deno.test({
  name: "bcn reaches a grpc-go server over IPv6 loopback ([::1])",
  ignore: !GO || !canBind("::1"),
  fn: () =>
    withTempDir(async (dir) => {
      const bin = await buildGo();
      await writeChain(`${dir}/store`, 3);
      const go = await startGoServer(bin, `${dir}/store`, { host: "::1" });
      const registry = new PeerRegistry({ protocol: "auto" });
      try {
        assert(go.addr.startsWith("[::1]:"), go.addr);
        const { block } = registry.clients(go.addr);
        const { Genesis } = await block.genesisSync({});
        assert(Genesis.length > 0);
        let blocks = 0;
        for await (const _ of block.blockSync({ Number: 1n })) blocks++;
        assertEquals(blocks, 3);
        assertEquals(registry.transport(go.addr).protocol, "grpc");
      } finally {
        registry.close();
        await go.stop();
      }
    }),
});
