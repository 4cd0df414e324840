import { assertEquals, assertRejects } from "../assert.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  blockHash,
  decodeSigBlock,
  encodeSigBlock,
  type SigBlock,
} from "../../src/chain/block.ts";
import { genesisHash } from "../../src/chain/genesis.ts";
import type { Ledger } from "../../src/node/ledger.ts";
import type { BlockStore } from "../../src/store/block_store.ts";
import { State } from "../../src/chain/state.ts";
import {
  blockRelayMethods,
  blockSyncMethods,
} from "../../src/rpc/block_service.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { makeChain, type TestChain } from "../fixtures.ts";
import {
  assertCode,
  type TestNode,
  withNode as withServedNode,
} from "./harness.ts";

const utf8 = new TextEncoder();

/**
 * Runs `fn` against a node serving the Block service on `chain` with its
 * first `applied` blocks confirmed.
 */
function withNode(
  chain: TestChain,
  applied: number,
  fn: (node: TestNode) => Promise<void>,
): Promise<void> {
  return withServedNode(chain, {
    applied,
    routes: (r, { ledger, store }) => {
      r.service(Block, {
        ...blockSyncMethods({ store }),
        ...blockRelayMethods({ ledger }),
      });
    },
  }, fn);
}

async function* relay(
  messages: readonly Uint8Array[],
): AsyncGenerator<{ Block: Uint8Array }> {
  for (const m of messages) yield { Block: m };
}

function bytes(block: SigBlock): Uint8Array {
  return utf8.encode(encodeSigBlock(block));
}

async function stored(ledger: Ledger): Promise<string[]> {
  const out: string[] = [];
  for await (const b of ledger.store.blocks()) out.push(blockHash(b));
  return out;
}

Deno.test("BlockReceive applies the next block and drops the rest", async () => {
  const chain = makeChain(4, 2);
  await withNode(chain, 2, async ({ ledger, clients }) => {
    const [b1, b2, b3, b4] = chain.blocks;
    // Block 3 signed by someone else than the authority.
    const forged = chain.others[0].signBlock(b3);
    await clients.block.blockReceive(relay([
      utf8.encode("not a block"),
      bytes(b1), // known
      bytes(forged), // rejected
      bytes(b4), // ahead
      bytes(b3), // applied
      bytes(b3), // known now
    ]));
    assertEquals(ledger.state.lastNumber, 3n);
    assertEquals(ledger.state.lastHash, blockHash(b3));
    assertEquals(await stored(ledger), [b1, b2, b3].map((b) => blockHash(b)));

    // The same stream goes on past a bad block to the next good one.
    await clients.block.blockReceive(relay([bytes(forged), bytes(b4)]));
    assertEquals(ledger.state.lastNumber, 4n);
    assertEquals(await stored(ledger), chain.blocks.map((b) => blockHash(b)));
  });
});

Deno.test("BlockReceive of a block made from the node's pending txs", async () => {
  const chain = makeChain(1, 1);
  await withNode(chain, 1, async ({ ledger, clients }) => {
    // The authority's twin state sees the same pending transaction.
    const twin = new State(chain.genesis);
    twin.applyBlock(chain.blocks[0]);
    const tx = chain.owner.signTx({
      from: chain.owner.address,
      to: chain.others[2].address,
      value: 50n,
      nonce: 2n,
      time: chain.blocks[0].time,
    });
    twin.applyTx(tx);
    await ledger.submitTx(tx);
    const next = twin.createBlock(chain.authority)!;
    await clients.block.blockReceive(relay([bytes(next)]));
    assertEquals(ledger.state.lastNumber, 2n);
    assertEquals(ledger.state.pendingTxs(), []);
    assertEquals(ledger.state.balance(chain.others[2].address), 50n);
  });
});

Deno.test("BlockSearch by number, hash prefix and parent prefix", async () => {
  const chain = makeChain(4, 1);
  await withNode(chain, 4, async ({ clients }) => {
    const search = async (
      req: { Number?: bigint; Hash?: string; Parent?: string },
    ): Promise<string[]> => {
      const out: string[] = [];
      for await (const res of clients.block.blockSearch(req)) {
        const block = decodeSigBlock(res.Block);
        assertEquals(
          encodeSigBlock(block),
          new TextDecoder().decode(res.Block),
        );
        out.push(blockHash(block));
      }
      return out;
    };
    const hashes = chain.blocks.map((b) => blockHash(b));
    assertEquals(await search({ Number: 1n }), [hashes[0]]);
    assertEquals(await search({ Number: 3n }), [hashes[2]]);
    assertEquals(await search({ Number: 4n }), [hashes[3]]);
    assertEquals(await search({ Number: 5n }), []);
    assertEquals(
      await search({ Hash: hashes[2].slice(0, 8).toUpperCase() }),
      [hashes[2]],
    );
    assertEquals(await search({ Hash: hashes[3] }), [hashes[3]]);
    assertEquals(await search({ Parent: hashes[1].slice(0, 8) }), [hashes[2]]);
    assertEquals(
      await search({ Parent: genesisHash(chain.genesis) }),
      [hashes[0]],
    );
    assertEquals(await search({ Hash: "ab".repeat(32) }), []);
    // A one-digit prefix: at most the first block that has it.
    const first = await search({ Hash: hashes[3][0] });
    assertEquals(first, [hashes.find((h) => h[0] === hashes[3][0])!]);
  });
});

Deno.test("BlockSearch needs exactly one valid criterion", async () => {
  const chain = makeChain(1, 1);
  await withNode(chain, 1, async ({ clients }) => {
    const drain = async (
      req: { Number?: bigint; Hash?: string; Parent?: string },
    ): Promise<void> => {
      for await (const _ of clients.block.blockSearch(req)) { /* drain */ }
    };
    for (
      const req of [
        {},
        { Number: 1n, Hash: "ab" },
        { Hash: "ab", Parent: "cd" },
        { Number: 1n, Parent: "cd" },
      ]
    ) {
      await assertCode(
        () => drain(req),
        Code.InvalidArgument,
        "exactly one of Number, Hash or Parent",
      );
    }
    await assertCode(
      () => drain({ Parent: "not hex" }),
      Code.InvalidArgument,
      "Parent: expected a prefix",
    );
    await assertCode(
      () => drain({ Hash: "a".repeat(65) }),
      Code.InvalidArgument,
      "Hash: expected a prefix",
    );
  });
});

/** A failure as the ledger reports it, with the path Deno's error names. */
const STORE_FAILURE = new Error(
  "cannot append block 2 to the block store: Permission denied (os error 13): open '/srv/bcn/.blockstore1122/block.store'",
);

Deno.test("BlockReceive and GenesisSync tell a store failure without the node's paths", async () => {
  const chain = makeChain(2, 1);
  await withServedNode(chain, {
    applied: 1,
    routes: (r, { ledger }) => {
      r.service(Block, {
        ...blockSyncMethods({
          store: {
            readGenesisBytes: () => Promise.reject(STORE_FAILURE),
          } as unknown as BlockStore,
        }),
        ...blockRelayMethods({
          ledger: {
            store: ledger.store,
            receiveBlock: () => Promise.reject(STORE_FAILURE),
          },
        }),
      });
    },
  }, async ({ clients }) => {
    const relayed = await assertRejects(
      () => clients.block.blockReceive(relay([bytes(chain.blocks[1])])),
      ConnectError,
    ) as ConnectError;
    assertEquals(Code[relayed.code], Code[Code.Internal]);
    assertEquals(
      relayed.rawMessage,
      "cannot keep block 2: cannot append block 2 to the block store: Permission denied",
    );
    // Connect would say only "internal error": the client learns what
    // failed, as BlockSync tells it.
    await assertCode(
      () => clients.block.genesisSync({}),
      Code.Internal,
      "cannot read the block store: cannot append block 2 to the block store: Permission denied",
    );
  });
});
