/**
 * End-to-end: an authority started on a store without checkpoints signs
 * them for the blocks it replays; a regular node that syncs the chain
 * checks each against its own state and keeps (serves) those that match.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { makeChain, type TestChain } from "../fixtures.ts";
import { blockHash } from "../../src/chain/block.ts";
import {
  decodeSigCheckpoint,
  type SigCheckpoint,
  verifyCheckpoint,
} from "../../src/chain/checkpoint.ts";
import { stateHash } from "../../src/chain/state_hash.ts";
import { State } from "../../src/chain/state.ts";
import { CHECKPOINTS_FILE } from "../../src/store/checkpoint_store.ts";
import {
  type BcnProcess,
  freePort,
  nodeStartArgs,
  poll,
  startBcn,
  withServingBcn,
  withTempDir,
  writeChainDir,
} from "./helpers.ts";
import { createPeerClients } from "../../src/rpc/registry.ts";
import { PeerTransport } from "../../src/rpc/transport.ts";
import { timeNow } from "../../src/chain/time.ts";
import { txBytes } from "../../src/chain/tx.ts";

const PASS = "password";

const nodeArgs = (
  port: number,
  dir: string,
  extra: string[],
  seed?: number,
): string[] => [...nodeStartArgs(port, dir, seed, PASS), ...extra];

// Writes `chain` to TMP/boot and runs `fn` while its authority, started
// with `extra`, serves.
async function withBootstrap(
  chain: TestChain,
  extra: string[],
  fn: (
    tmp: string,
    boot: { dir: string; port: number; bcn: BcnProcess },
  ) => Promise<void>,
): Promise<void> {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, "boot");
    await writeChainDir(dir, chain, PASS);
    const port = freePort();
    await withServingBcn(
      nodeArgs(port, dir, extra),
      port,
      (bcn) => fn(tmp, { dir, port, bcn }),
    );
  });
}

async function readCheckpoints(dir: string): Promise<SigCheckpoint[]> {
  const text = await Deno.readTextFile(
    join(dir, "blockstore", CHECKPOINTS_FILE),
  ).catch(() => "");
  return text.split("\n").filter((l) => l !== "").map((l) =>
    decodeSigCheckpoint(l)
  );
}

Deno.test("an authority signs checkpoints for the blocks it replays; a regular node checks and keeps them", async () => {
  const chain = makeChain(10, 2);
  // The expected checkpoints at blocks 4 and 8.
  const state = new State(chain.genesis);
  const expected = new Map<bigint, { block: string; state: string }>();
  for (const b of chain.blocks) {
    state.applyBlock(b);
    if (b.number % 4n === 0n) {
      expected.set(b.number, {
        block: blockHash(b),
        state: stateHash(state.confirmed()).hash,
      });
    }
  }
  await withBootstrap(chain, [
    "--period",
    "60s",
    "--checkpoint-interval",
    "4",
  ], async (tmp, boot) => {
    const signed = await readCheckpoints(boot.dir);
    assertEquals(signed.map((c) => c.number), [4n, 8n]);
    for (const c of signed) {
      assert(verifyCheckpoint(c, chain.authority.address));
      assertEquals(
        { block: c.block, state: c.state },
        expected.get(c.number),
      );
      assertEquals(c.interval, 4n);
    }
    const reg = join(tmp, "reg");
    const port = freePort();
    await withServingBcn(
      nodeArgs(port, reg, ["--period", "200ms", "--sync", "full"], boot.port),
      port,
      async (regular) => {
        const kept = await poll(
          "the regular node keeps checkpoints 4 and 8",
          async () => {
            const cs = await readCheckpoints(reg);
            return cs.length === 2 ? cs : undefined;
          },
          { describe: () => regular.output().stderr },
        );
        assertEquals(kept.map((c) => c.number), [4n, 8n]);
        assert(!regular.output().stderr.includes("error: checkpoint"));
      },
    );
  });
});

Deno.test("--assume-valid: a full sync names the blocks it takes on trust, and says when it cannot", async () => {
  const chain = makeChain(8, 2);
  await withBootstrap(chain, ["--period", "60s"], async (tmp, boot) => {
    const known = blockHash(chain.blocks[5]);
    for (
      const [hash, line] of [
        [
          known,
          "assume-valid: transaction signatures of blocks 1 to 6 are not recovered",
        ],
        [
          "ab".repeat(32),
          "warning: --assume-valid abababa not used: no peer holds a block of that hash; every transaction signature is checked",
        ],
      ]
    ) {
      const dir = join(tmp, hash.slice(0, 4));
      const port = freePort();
      const regular = await startBcn(nodeArgs(port, dir, [
        "--period",
        "60s",
        "--sync",
        "full",
        "--assume-valid",
        hash,
      ], boot.port));
      try {
        await regular.waitFor(`<=> gRPC 127.0.0.1:${port}\n`);
      } finally {
        const res = await regular.stop();
        assert(res.stderr.includes(line), res.stderr);
      }
      assertEquals(
        await Deno.readTextFile(join(dir, "blockstore", "block.store")),
        await Deno.readTextFile(join(boot.dir, "blockstore", "block.store")),
      );
    }
  });
});

Deno.test("a new node joins from a checkpoint, serves at once, backfills, and ends with the same block.store", async () => {
  const chain = makeChain(10, 2);
  await withBootstrap(chain, [
    "--period",
    "60s",
    "--checkpoint-interval",
    "4",
  ], async (tmp, boot) => {
    const reg = join(tmp, "reg");
    const port = freePort();
    await withServingBcn(
      nodeArgs(port, reg, ["--period", "200ms"], boot.port),
      port,
      async (regular) => {
        await poll(
          "the backfill ends",
          () => regular.output().stderr.includes("backfill done"),
          {
            describe: () => regular.output().stderr,
          },
        );
        const err = regular.output().stderr;
        assert(err.includes("joined from checkpoint 8 of peer"), err);
        assertEquals(
          await Deno.readTextFile(join(reg, "blockstore", "block.store")),
          await Deno.readTextFile(join(boot.dir, "blockstore", "block.store")),
        );
      },
    );
  });
});

Deno.test("the authority signs checkpoints of the blocks it proposes; a regular node checks them as they come", async () => {
  const chain = makeChain(10, 2);
  await withBootstrap(chain, [
    "--period",
    "200ms",
    "--checkpoint-interval",
    "4",
  ], async (tmp, boot) => {
    const transport = new PeerTransport(`127.0.0.1:${boot.port}`, "connect");
    try {
      const reg = join(tmp, "reg");
      const port = freePort();
      await withServingBcn(
        nodeArgs(port, reg, ["--period", "200ms", "--sync", "full"], boot.port),
        port,
        async (regular) => {
          const { tx } = createPeerClients(transport);
          // Blocks 11 and 12, one transfer each (the owner's next nonces).
          for (const nonce of [21n, 22n]) {
            const signed = chain.owner.signTx({
              from: chain.owner.address,
              to: chain.others[0].address,
              value: 1n,
              nonce,
              time: timeNow(),
            });
            await tx.txSend({ Tx: txBytes(signed) });
            await poll(
              `block ${nonce - 10n}`,
              () => boot.bcn.output().stderr.includes(`blk ${nonce - 10n}:`),
            );
          }
          const signed = await poll(
            "checkpoint 12 on the authority",
            async () => {
              const cs = await readCheckpoints(boot.dir);
              return cs.some((c) => c.number === 12n) ? cs : undefined;
            },
          );
          assertEquals(signed.map((c) => c.number), [4n, 8n, 12n]);
          const kept = await poll(
            "checkpoint 12 on the regular node",
            async () => {
              const cs = await readCheckpoints(reg);
              return cs.some((c) => c.number === 12n) ? cs : undefined;
            },
            { describe: () => regular.output().stderr },
          );
          assertEquals(kept.at(-1), signed.at(-1));
          assert(!regular.output().stderr.includes("error"));
        },
      );
    } finally {
      transport.close();
    }
  });
});
