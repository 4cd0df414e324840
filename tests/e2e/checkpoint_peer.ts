/**
 * A peer in the test's own process for the checkpoint tests: it serves a
 * chain's genesis and blocks honestly (GenesisSync, BlockSync), answers
 * peer discovery with no peers, and serves the Checkpoint service only when
 * given one (a reference-style peer has none and answers Unimplemented).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { blockBytes, blockHash } from "../../src/chain/block.ts";
import {
  type Checkpoint,
  encodeSigCheckpoint,
  type SigCheckpoint,
} from "../../src/chain/checkpoint.ts";
import { genesisHash } from "../../src/chain/genesis.ts";
import { State } from "../../src/chain/state.ts";
import { stateChunks, stateHash } from "../../src/chain/state_hash.ts";
import { blockSyncMethods } from "../../src/rpc/block_service.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { Checkpoint as CheckpointService } from "../../src/rpc/gen/checkpoint_pb.ts";
import { Node as NodeService } from "../../src/rpc/gen/node_pb.ts";
import { type RpcServer, startServer } from "../../src/rpc/server.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import type { TestChain } from "../fixtures.ts";

/** One message of a CheckpointSync answer. */
export interface PeerMessage {
  Checkpoint?: Uint8Array;
  Block?: Uint8Array;
  Accounts?: Uint8Array;
}

const utf8 = new TextEncoder();

/** The honest checkpoint of `chain` at block `number`, and its parts. */
export function honestCheckpoint(
  chain: TestChain,
  number: bigint,
  interval: bigint,
) {
  const state = new State(chain.genesis);
  for (const b of chain.blocks.slice(0, Number(number))) state.applyBlock(b);
  const { hash, accounts } = stateHash(state.confirmed());
  const record: Checkpoint = {
    chain: chain.genesis.chain,
    genesis: genesisHash(chain.genesis),
    interval,
    number,
    block: blockHash(chain.blocks[Number(number) - 1]),
    state: hash,
    accounts: BigInt(accounts),
  };
  return {
    record,
    signed: chain.authority.signCheckpoint(record),
    block: blockBytes(chain.blocks[Number(number) - 1]),
    chunks: [...stateChunks(state.confirmed())],
    state,
  };
}

/** The messages of an answer: checkpoint and block, then the chunks. */
export function answer(
  c: SigCheckpoint,
  block: Uint8Array,
  chunks: readonly string[],
): PeerMessage[] {
  return [
    { Checkpoint: utf8.encode(encodeSigCheckpoint(c)), Block: block },
    ...chunks.map((t) => ({ Accounts: utf8.encode(t) })),
  ];
}

/**
 * Serves `chain` from a store in `dir` on a free port; `checkpoint()`
 * gives the CheckpointSync answer (none: no Checkpoint service), `peers()`
 * the PeerDiscover answer; each block BlockSync sends waits
 * `blockDelayMs` first.
 */
export async function startPeer(
  chain: TestChain,
  dir: string,
  checkpoint?: () => PeerMessage[],
  peers: () => string[] = () => [],
  blockDelayMs = 0,
): Promise<RpcServer & { calls: () => number }> {
  const store = await BlockStore.open(dir);
  await store.writeGenesis(chain.genesis);
  await store.appendLines(chain.blocks.map(blockBytes));
  let calls = 0;
  const service: ServiceImpl<typeof CheckpointService> = {
    async *checkpointSync() {
      calls++;
      for (const m of checkpoint!()) yield m;
    },
  };
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: (router) => {
      const sync = blockSyncMethods({ store });
      router.service(Block, {
        ...sync,
        // A slow peer, so a test can look at a backfill under way.
        async *blockSync(req, ctx) {
          for await (const res of sync.blockSync(req, ctx)) {
            if (blockDelayMs > 0) {
              await new Promise((r) => setTimeout(r, blockDelayMs));
            }
            yield res;
          }
        },
      });
      router.service(NodeService, {
        peerDiscover: () => ({ Peers: peers() }),
      });
      if (checkpoint) router.service(CheckpointService, service);
    },
  });
  return Object.assign(server, { calls: () => calls });
}
