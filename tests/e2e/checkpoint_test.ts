/**
 * End-to-end: an authority started on a store without checkpoints signs
 * them for the blocks it replays; a regular node that syncs the chain
 * checks each against its own state and keeps (serves) those that match.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { blockBytes, blockHash } from "../../src/chain/block.ts";
import {
  decodeSigCheckpoint,
  type SigCheckpoint,
  verifyCheckpoint,
} from "../../src/chain/checkpoint.ts";
import { stateHash } from "../../src/chain/state_hash.ts";
import { State } from "../../src/chain/state.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import { CHECKPOINTS_FILE } from "../../src/store/checkpoint_store.ts";
import { writeKey } from "../../src/store/key_store.ts";
import { freePort, poll, startBcn, withTempDir } from "./helpers.ts";
import { createPeerClients } from "../../src/rpc/registry.ts";
import { PeerTransport } from "../../src/rpc/transport.ts";
import { timeNow } from "../../src/chain/time.ts";
import { txBytes } from "../../src/chain/tx.ts";

const PASS = "password";

function nodeArgs(
  port: number,
  dir: string,
  extra: string[],
  seed?: number,
): string[] {
  return [
    "node",
    "start",
    "--node",
    `127.0.0.1:${port}`,
    ...(seed === undefined ? ["--bootstrap", "--authpass", PASS] : [
      "--seed",
      `127.0.0.1:${seed}`,
    ]),
    "--keystore",
    join(dir, "keystore"),
    "--blockstore",
    join(dir, "blockstore"),
    ...extra,
  ];
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
  await withTempDir(async (tmp) => {
    const boot = join(tmp, "boot");
    const store = await BlockStore.open(join(boot, "blockstore"));
    await store.writeGenesis(chain.genesis);
    await store.appendLines(chain.blocks.map(blockBytes));
    await writeKey(join(boot, "keystore"), chain.authority, PASS);
    const bootPort = freePort();
    const bootstrap = await startBcn(
      nodeArgs(bootPort, boot, [
        "--period",
        "60s",
        "--checkpoint-interval",
        "4",
      ]),
    );
    try {
      await bootstrap.waitFor(`<=> gRPC 127.0.0.1:${bootPort}\n`);
      const signed = await readCheckpoints(boot);
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
      const regular = await startBcn(
        nodeArgs(port, reg, ["--period", "200ms", "--sync", "full"], bootPort),
      );
      try {
        await regular.waitFor(`<=> gRPC 127.0.0.1:${port}\n`);
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
      } finally {
        await regular.stop();
      }
    } finally {
      await bootstrap.stop();
    }
  });
});

Deno.test("--assume-valid: a full sync names the blocks it takes on trust, and says when it cannot", async () => {
  const chain = makeChain(8, 2);
  await withTempDir(async (tmp) => {
    const boot = join(tmp, "boot");
    const store = await BlockStore.open(join(boot, "blockstore"));
    await store.writeGenesis(chain.genesis);
    await store.appendLines(chain.blocks.map(blockBytes));
    await writeKey(join(boot, "keystore"), chain.authority, PASS);
    const bootPort = freePort();
    const bootstrap = await startBcn(
      nodeArgs(bootPort, boot, ["--period", "60s"]),
    );
    try {
      await bootstrap.waitFor(`<=> gRPC 127.0.0.1:${bootPort}\n`);
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
        ], bootPort));
        try {
          await regular.waitFor(`<=> gRPC 127.0.0.1:${port}\n`);
        } finally {
          const res = await regular.stop();
          assert(res.stderr.includes(line), res.stderr);
        }
        assertEquals(
          await Deno.readTextFile(join(dir, "blockstore", "block.store")),
          await Deno.readTextFile(join(boot, "blockstore", "block.store")),
        );
      }
    } finally {
      await bootstrap.stop();
    }
  });
});

Deno.test("a new node joins from a checkpoint, serves at once, backfills, and ends with the same block.store", async () => {
  const chain = makeChain(10, 2);
  await withTempDir(async (tmp) => {
    const boot = join(tmp, "boot");
    const store = await BlockStore.open(join(boot, "blockstore"));
    await store.writeGenesis(chain.genesis);
    await store.appendLines(chain.blocks.map(blockBytes));
    await writeKey(join(boot, "keystore"), chain.authority, PASS);
    const bootPort = freePort();
    const bootstrap = await startBcn(
      nodeArgs(bootPort, boot, [
        "--period",
        "60s",
        "--checkpoint-interval",
        "4",
      ]),
    );
    try {
      await bootstrap.waitFor(`<=> gRPC 127.0.0.1:${bootPort}\n`);
      const reg = join(tmp, "reg");
      const port = freePort();
      const regular = await startBcn(
        nodeArgs(port, reg, ["--period", "200ms"], bootPort),
      );
      try {
        await regular.waitFor(`<=> gRPC 127.0.0.1:${port}\n`);
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
          await Deno.readTextFile(join(boot, "blockstore", "block.store")),
        );
      } finally {
        await regular.stop();
      }
    } finally {
      await bootstrap.stop();
    }
  });
});

Deno.test("the authority signs checkpoints of the blocks it proposes; a regular node checks them as they come", async () => {
  const chain = makeChain(10, 2);
  await withTempDir(async (tmp) => {
    const boot = join(tmp, "boot");
    const store = await BlockStore.open(join(boot, "blockstore"));
    await store.writeGenesis(chain.genesis);
    await store.appendLines(chain.blocks.map(blockBytes));
    await writeKey(join(boot, "keystore"), chain.authority, PASS);
    const bootPort = freePort();
    const bootstrap = await startBcn(
      nodeArgs(bootPort, boot, [
        "--period",
        "200ms",
        "--checkpoint-interval",
        "4",
      ]),
    );
    const transport = new PeerTransport(`127.0.0.1:${bootPort}`, "connect");
    try {
      await bootstrap.waitFor(`<=> gRPC 127.0.0.1:${bootPort}\n`);
      const reg = join(tmp, "reg");
      const port = freePort();
      const regular = await startBcn(
        nodeArgs(port, reg, ["--period", "200ms", "--sync", "full"], bootPort),
      );
      try {
        await regular.waitFor(`<=> gRPC 127.0.0.1:${port}\n`);
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
            () => bootstrap.output().stderr.includes(`blk ${nonce - 10n}:`),
          );
        }
        const signed = await poll(
          "checkpoint 12 on the authority",
          async () => {
            const cs = await readCheckpoints(boot);
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
      } finally {
        await regular.stop();
      }
    } finally {
      transport.close();
      await bootstrap.stop();
    }
  });
});
