/**
 * End-to-end: a new node refuses every hostile checkpoint in one line
 * naming the peer and the reason, writes nothing of it, and syncs in full
 * instead; a peer without the Checkpoint service (a reference node) is
 * asked once and the node syncs in full; a checkpoint the authority signed
 * that the chain does not reproduce is found by the backfill, and the node
 * stops so that its next start syncs in full.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { Account } from "../../src/chain/account.ts";
import { blockBytes } from "../../src/chain/block.ts";
import { BACKFILL_FILE, HEAD_DIR } from "../../src/node/backfill.ts";
import { CHECKPOINT_STATE_FILE } from "../../src/store/checkpoint_store.ts";
import {
  encodeStateChunk,
  stateAccounts,
  stateHash,
} from "../../src/chain/state_hash.ts";
import {
  blockStoreLines,
  exists,
  freePort,
  nodeStartArgs,
  poll,
  startBcn,
  withTempDir,
} from "./helpers.ts";
import {
  answer,
  honestCheckpoint,
  type PeerMessage,
  startPeer,
} from "./checkpoint_peer.ts";

const chain = makeChain(8, 2);
const good = honestCheckpoint(chain, 8n, 4n);

const regularArgs = (port: number, dir: string, seed: string): string[] => [
  ...nodeStartArgs(port, dir, seed),
  "--period",
  "60s",
];
// What block.store holds once the node has the whole chain.
const chainText = blockStoreLines(chain).join("");

// Starts a new node against `peer` and returns its stderr once it serves
// (and its block.store, which must be the chain's).
async function joinAgainst(
  tmp: string,
  name: string,
  checkpoint: (() => PeerMessage[]) | undefined,
): Promise<{ stderr: string; calls: number }> {
  const peer = await startPeer(chain, join(tmp, name, "peer"), checkpoint);
  try {
    const dir = join(tmp, name, "node");
    const port = freePort();
    const node = await startBcn(regularArgs(port, dir, peer.addr));
    let stderr: string;
    try {
      await node.waitFor(`<=> gRPC 127.0.0.1:${port}\n`);
    } finally {
      const res = await node.stop();
      stderr = res.stderr;
      assertEquals(res.code, 0, res.stderr);
    }
    assertEquals(
      await Deno.readTextFile(join(dir, "blockstore", "block.store")),
      chainText,
    );
    // Nothing of a refused checkpoint was written.
    for (const f of [BACKFILL_FILE, CHECKPOINT_STATE_FILE, HEAD_DIR]) {
      assert(!await exists(join(dir, "blockstore", f)), f);
    }
    return { stderr, calls: peer.calls() };
  } finally {
    await peer.close();
  }
}

const enc = new TextEncoder();

const HOSTILE: [string, () => PeerMessage[], string][] = [
  [
    "a wrong signature",
    () =>
      answer(
        Account.create().signCheckpoint(good.record),
        good.block,
        good.chunks,
      ),
    "it is not signed by the authority",
  ],
  [
    "a state that does not hash to the signed value",
    () => {
      const accounts = stateAccounts(good.state.confirmed()).map((a, i) =>
        i === 0 ? { ...a, balance: a.balance + 1n } : a
      );
      return answer(good.signed, good.block, [encodeStateChunk(accounts)]);
    },
    "the state hashes to",
  ],
  [
    "a block N that does not match",
    () => answer(good.signed, blockBytes(chain.blocks[6]), good.chunks),
    "sent block 7 for checkpoint 8",
  ],
  [
    "a truncated state stream",
    () => answer(good.signed, good.block, []),
    "the state stream ended after 0 of",
  ],
  [
    "an oversized chunk",
    () => [
      ...answer(good.signed, good.block, []),
      {
        Accounts: enc.encode(
          `[["${"a".repeat(5 * 1024 * 1024)}",0,0],["b",0,0]]`,
        ),
      },
    ],
    "state chunk 1: 5242900 bytes in 2 accounts, more than 1048576",
  ],
  [
    "more accounts than the checkpoint says",
    () => answer(good.signed, good.block, [...good.chunks, ...good.chunks]),
    "the state holds more than the",
  ],
  [
    "a checkpoint from another chain",
    () =>
      answer(
        chain.authority.signCheckpoint({ ...good.record, chain: "other" }),
        good.block,
        good.chunks,
      ),
    'it is of another chain ("other"',
  ],
];

for (const [what, send, reason] of HOSTILE) {
  Deno.test(`a hostile checkpoint is refused in one line and the node syncs in full: ${what}`, async () => {
    await withTempDir(async (tmp) => {
      const { stderr } = await joinAgainst(tmp, "h", send);
      const lines = stderr.split("\n").filter((l) =>
        l.includes("checkpoint refused")
      );
      assertEquals(lines.length, 1, stderr);
      assert(
        /^warning: peer 127\.0\.0\.1:\d+: checkpoint refused: /.test(lines[0]),
        lines[0],
      );
      assert(lines[0].includes(reason), lines[0]);
      assert(
        stderr.includes("no bcn peer offers a checkpoint: syncing in full"),
        stderr,
      );
    });
  });
}

Deno.test("a peer without the Checkpoint service (a reference node): the node syncs in full", async () => {
  await withTempDir(async (tmp) => {
    const { stderr } = await joinAgainst(tmp, "r", undefined);
    assert(
      stderr.includes("no bcn peer offers a checkpoint: syncing in full"),
      stderr,
    );
    assert(!stderr.includes("checkpoint refused"), stderr);
  });
});

Deno.test("an honest peer's checkpoint is taken, and the result is the same chain", async () => {
  await withTempDir(async (tmp) => {
    const peer = await startPeer(
      chain,
      join(tmp, "peer"),
      () => answer(good.signed, good.block, good.chunks),
    );
    try {
      const dir = join(tmp, "node");
      const port = freePort();
      const node = await startBcn(regularArgs(port, dir, peer.addr));
      try {
        await node.waitFor(`<=> gRPC 127.0.0.1:${port}\n`);
        await poll(
          "the backfill ends",
          () => node.output().stderr.includes("backfill done"),
          { describe: () => node.output().stderr },
        );
      } finally {
        const res = await node.stop();
        assert(res.stderr.includes("joined from checkpoint 8"), res.stderr);
        assert(res.stderr.includes("backfill done"), res.stderr);
      }
      assertEquals(
        await Deno.readTextFile(join(dir, "blockstore", "block.store")),
        chainText,
      );
    } finally {
      await peer.close();
    }
  });
});

Deno.test("a signed checkpoint the chain does not reproduce stops the node after the backfill; the next start syncs in full", async () => {
  await withTempDir(async (tmp) => {
    // The authority signs a state the chain never had, streamed so that
    // it hashes to the signed value: only the backfill can tell.
    const accounts = stateAccounts(good.state.confirmed()).map((a, i) =>
      i === 0 ? { ...a, balance: a.balance + 1n } : a
    );
    const fake = {
      balances: new Map(accounts.map((a) => [a.address, a.balance])),
      nonces: new Map(
        accounts.filter((a) => a.nonce > 0n).map((a) => [a.address, a.nonce]),
      ),
    };
    const signed = chain.authority.signCheckpoint({
      ...good.record,
      state: stateHash(fake).hash,
    });
    const peer = await startPeer(
      chain,
      join(tmp, "peer"),
      () => answer(signed, good.block, [encodeStateChunk(accounts)]),
    );
    try {
      const dir = join(tmp, "node");
      const port = freePort();
      const node = await startBcn(regularArgs(port, dir, peer.addr));
      const res = await node.waitExit(30_000);
      assert(res.code !== 0, res.stderr);
      const line = res.stderr.split("\n").find((l) =>
        l.startsWith("error: backfill: ")
      );
      assert(line, res.stderr);
      assert(
        line.includes(
          `blocks 1 to 8 reproduce state ${good.record.state.slice(0, 7)}`,
        ),
        line,
      );
      assert(line.includes(`(from peer ${peer.addr})`), line);
      assert(!await exists(join(dir, "blockstore", BACKFILL_FILE)));
      // The next start syncs in full from what block.store holds.
      const again = await startBcn([
        ...regularArgs(port, dir, peer.addr),
        "--sync",
        "full",
      ]);
      try {
        await again.waitFor(`<=> gRPC 127.0.0.1:${port}\n`);
      } finally {
        await again.stop();
      }
      assertEquals(
        await Deno.readTextFile(join(dir, "blockstore", "block.store")),
        chainText,
      );
    } finally {
      await peer.close();
    }
  });
});

Deno.test("a mixed network: the seed has no Checkpoint service, a bcn peer it knows has one; the node joins from that peer's", async () => {
  await withTempDir(async (tmp) => {
    const bcnPeer = await startPeer(
      chain,
      join(tmp, "bcn"),
      () => answer(good.signed, good.block, good.chunks),
    );
    const seed = await startPeer(
      chain,
      join(tmp, "seed"),
      undefined,
      () => [bcnPeer.addr],
    );
    try {
      const dir = join(tmp, "node");
      const port = freePort();
      const node = await startBcn(regularArgs(port, dir, seed.addr));
      try {
        await node.waitFor(`<=> gRPC 127.0.0.1:${port}\n`);
        await poll(
          "the backfill ends",
          () => node.output().stderr.includes("backfill done"),
          { describe: () => node.output().stderr },
        );
      } finally {
        const res = await node.stop();
        assert(
          res.stderr.includes(
            `joined from checkpoint 8 of peer ${bcnPeer.addr}`,
          ),
          res.stderr,
        );
        assert(res.stderr.includes("backfill done"), res.stderr);
      }
      assert(bcnPeer.calls() >= 1);
      assertEquals(
        await Deno.readTextFile(join(dir, "blockstore", "block.store")),
        chainText,
      );
    } finally {
      await seed.close();
      await bcnPeer.close();
    }
  });
});
