import { assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import type { PeerRegistry } from "../../src/rpc/registry.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import { CheckpointStore } from "../../src/store/checkpoint_store.ts";
import { CheckpointJoiner } from "../../src/node/checkpoint_join.ts";
import type { NodeConfig } from "../../src/node/config.ts";
import type { StateSync } from "../../src/node/state_sync.ts";
import { VerifyPool } from "../../src/node/verify/pool.ts";
import { withTempDir } from "../support.ts";

const chain = makeChain(2, 1);

Deno.test("checkpoint join: a node names itself to the seed by its advertised address, and never asks itself", async () => {
  await withTempDir(async (dir) => {
    const asked: string[] = [];
    const told: string[] = [];
    // No peer has the Checkpoint service (reference nodes).
    const transport = (peer: string) =>
      ({
        stream() {
          asked.push(peer);
          throw new ConnectError("no such service", Code.Unimplemented);
        },
      }) as unknown as Transport;
    const registry = {
      transport,
      clients: () => ({
        node: {
          peerDiscover(req: { Peer: string }) {
            told.push(req.Peer);
            // The seed lists this node, by both its addresses, and a peer.
            return Promise.resolve({
              Peers: ["10.0.0.5:1122", "0.0.0.0:1122", "10.0.0.6:1122"],
            });
          },
        },
      }),
    } as unknown as PeerRegistry;
    const config = {
      node: "0.0.0.0:1122",
      advertise: "10.0.0.5:1122",
      seed: "10.0.0.1:1122",
      bootstrap: false,
      sync: "checkpoint",
      blockStoreDir: dir,
      keyStoreDir: dir,
      chain: chain.genesis.chain,
    } as NodeConfig;
    const pool = new VerifyPool({ workers: 1 });
    const logs: string[] = [];
    try {
      const joiner = new CheckpointJoiner({
        config,
        registry,
        discovery: { peers: () => [] },
        pool,
        signal: new AbortController().signal,
        log: (m) => logs.push(m),
      });
      const sync = {
        setUpGenesis: () => Promise.resolve(chain.genesis),
      } as unknown as StateSync;
      const joined = await joiner.join(
        sync,
        await BlockStore.open(dir),
        await CheckpointStore.open(dir),
      );
      assertEquals(joined, undefined);
      assertEquals(told, ["10.0.0.5:1122"]);
      assertEquals(asked, ["10.0.0.1:1122", "10.0.0.6:1122"]);
      assertEquals(logs, ["no bcn peer offers a checkpoint: syncing in full"]);
    } finally {
      pool.close();
    }
  });
});

Deno.test("checkpoint join: peers that answer nothing hold a new node for one bound in all", async () => {
  await withTempDir(async (dir) => {
    const asked: string[] = [];
    // Every peer accepts the call and then sends nothing, until aborted.
    const transport = (peer: string) =>
      ({
        stream(_method: unknown, signal: AbortSignal) {
          asked.push(peer);
          return new Promise((_, reject) =>
            signal.addEventListener("abort", () => reject(signal.reason), {
              once: true,
            })
          );
        },
      }) as unknown as Transport;
    const registry = {
      transport,
      clients: () => ({
        node: {
          peerDiscover: () => Promise.resolve({ Peers: [] }),
        },
      }),
    } as unknown as PeerRegistry;
    const config = {
      node: "127.0.0.1:1122",
      seed: "127.0.0.1:1",
      bootstrap: false,
      sync: "checkpoint",
      blockStoreDir: dir,
      keyStoreDir: dir,
      chain: chain.genesis.chain,
    } as NodeConfig;
    const pool = new VerifyPool({ workers: 1 });
    const logs: string[] = [];
    try {
      const joiner = new CheckpointJoiner({
        config,
        registry,
        discovery: {
          peers: () => ["127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"],
        },
        pool,
        signal: new AbortController().signal,
        log: (m) => logs.push(m),
        joinTimeoutMs: 300,
      });
      const sync = {
        setUpGenesis: () => Promise.resolve(chain.genesis),
      } as unknown as StateSync;
      const joined = await joiner.join(
        sync,
        await BlockStore.open(dir),
        await CheckpointStore.open(dir),
      );
      assertEquals(joined, undefined);
      // The first peer used the whole bound; the others were not asked.
      assertEquals(asked, ["127.0.0.1:1"]);
      assertEquals(logs.length, 2, logs.join("\n"));
      assertEquals(
        logs[1],
        "no checkpoint joined within 0.3s: syncing in full",
      );
    } finally {
      pool.close();
    }
  });
});
