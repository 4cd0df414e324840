import { assert, assertEquals, assertRejects } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { sanitizedTest, waitFor } from "../support.ts";
import { blockHash, encodeSigBlock } from "../../src/chain/block.ts";
import { peerHasBlock, runCatchUpPoller } from "../../src/node/catch_up.ts";
import { MAX_HELD_COPIES, type SyncSource } from "../../src/node/state_sync.ts";

const chain = makeChain(3, 1);
const utf8 = new TextEncoder();

/** What a fake peer does when asked for blocks. */
type Behaviour = "none" | "has" | "wrong" | "fails" | "hangs";

interface FakeNet {
  source: SyncSource;
  /** Every BlockSync call: [peer, from]. */
  calls: [string, bigint][];
  /** Streams that were cancelled or ran to their end. */
  closed: number;
}

/** A source whose peers behave as `peers` says, holding the fixture chain. */
function fakeNet(peers: Record<string, Behaviour>): FakeNet {
  const net: FakeNet = {
    calls: [],
    closed: 0,
    source: {
      genesis: () => Promise.reject(new Error("not used")),
      async *blocks(peer, from, signal) {
        net.calls.push([peer, from]);
        try {
          switch (peers[peer] ?? "fails") {
            case "none":
              return;
            case "fails":
              throw new Error(`connection refused by ${peer}`);
            case "hangs":
              await new Promise((_, reject) => {
                signal.addEventListener("abort", () => reject(signal.reason));
              });
              return;
            case "wrong":
              yield utf8.encode(encodeSigBlock(chain.blocks[2]));
              return;
            case "has":
              for (const b of chain.blocks.slice(Number(from) - 1)) {
                yield utf8.encode(encodeSigBlock(b));
              }
          }
        } finally {
          net.closed++;
        }
      },
    },
  };
  return net;
}

sanitizedTest(
  "peerHasBlock reads only the first block of the answer",
  async () => {
    const net = fakeNet({ a: "has", b: "none", c: "wrong", d: "fails" });
    const signal = new AbortController().signal;
    assertEquals(await peerHasBlock(net.source, "a", 1n, { signal }), true);
    assertEquals(net.closed, 1, "the rest of the stream is cancelled");
    assertEquals(await peerHasBlock(net.source, "b", 1n, { signal }), false);
    await assertRejects(
      () => peerHasBlock(net.source, "c", 1n, { signal }),
      Error,
      "peer c sent block 3 for block 1",
    );
    await assertRejects(
      () => peerHasBlock(net.source, "d", 1n, { signal }),
      Error,
      "connection refused by d",
    );
    assertEquals(net.closed, 4);
  },
);

/**
 * A reference peer whose store holds the fixture chain with block 2 written
 * twice (lines 1 2 2 3); its BlockSync counts lines, not block numbers.
 */
function repeatingSource(): SyncSource & { sent: number } {
  const lines = [1, 2, 2, 3].map((n) => chain.blocks[n - 1]);
  const source = {
    sent: 0,
    genesis: () => Promise.reject(new Error("not used")),
    async *blocks(_peer: string, from: bigint) {
      for (const b of lines.slice(Number(from) - 1)) {
        await Promise.resolve();
        source.sent++;
        yield utf8.encode(encodeSigBlock(b));
      }
    },
  };
  return source;
}

sanitizedTest(
  "peerHasBlock skips held blocks a reference peer resends, and checks the hash it knows",
  async () => {
    const signal = new AbortController().signal;
    // Asked from 3, its line 3 is block 2 again, then block 3.
    assertEquals(
      await peerHasBlock(repeatingSource(), "ref", 3n, { signal }),
      true,
    );
    const b2 = chain.blocks[1];
    assertEquals(
      await peerHasBlock(repeatingSource(), "ref", 3n, {
        signal,
        heldHash: (n) => n === 2n ? blockHash(b2) : undefined,
      }),
      true,
    );
    // A node that holds another block 2 refuses the answer.
    const other = "cd".repeat(32);
    await assertRejects(
      () =>
        peerHasBlock(repeatingSource(), "ref", 3n, {
          signal,
          heldHash: (n) => n === 2n ? other : undefined,
        }),
      Error,
      `peer ref sent block 2 with hash ${
        blockHash(b2).slice(0, 7)
      }, but this node holds block 2 with hash cdcdcdc`,
    );
    // Asked from 4, it has only held blocks: not ahead.
    assertEquals(
      await peerHasBlock(repeatingSource(), "ref", 4n, { signal }),
      false,
    );
  },
);

sanitizedTest(
  "peerHasBlock refuses a peer that resends a held block forever",
  async () => {
    let sent = 0;
    const source: SyncSource = {
      genesis: () => Promise.reject(new Error("not used")),
      async *blocks() {
        for (let i = 0; i < 10_000; i++) {
          await Promise.resolve();
          sent++;
          yield utf8.encode(encodeSigBlock(chain.blocks[0]));
        }
      },
    };
    await assertRejects(
      () =>
        peerHasBlock(source, "loop", 2n, {
          signal: new AbortController().signal,
        }),
      Error,
      `peer loop resent blocks this node holds ${
        MAX_HELD_COPIES + 1n
      } times before block 2`,
    );
    assertEquals(sent, Number(MAX_HELD_COPIES) + 1);
  },
);

sanitizedTest(
  "the poller finds a reference peer ahead past the held blocks it resends",
  async () => {
    const source = repeatingSource();
    const controller = new AbortController();
    const behind: [string, bigint][] = [];
    const running = runCatchUpPoller({
      periodMs: 5,
      peers: { peers: () => ["ref"] },
      self: "me",
      source,
      lastNumber: () => 2n,
      heldHash: (n) => n === 2n ? blockHash(chain.blocks[1]) : undefined,
      onBehind: (peer, n) => {
        behind.push([peer, n]);
        controller.abort();
      },
      signal: controller.signal,
    });
    try {
      assert(await waitFor(() => behind.length > 0, 5000));
    } finally {
      controller.abort();
      await running;
    }
    assertEquals(behind, [["ref", 3n]]);
  },
);

sanitizedTest(
  "peerHasBlock gives up on a peer that does not answer",
  async () => {
    const net = fakeNet({ slow: "hangs" });
    const signal = new AbortController().signal;
    await assertRejects(
      () => peerHasBlock(net.source, "slow", 1n, { signal, timeoutMs: 50 }),
      Error,
      "no answer from slow within 50 ms",
    );
    assertEquals(net.closed, 1);
  },
);

sanitizedTest(
  "the poller asks peers in turn from the next block and reports one ahead",
  async () => {
    const net = fakeNet({ self: "has", p1: "fails", p2: "none", p3: "has" });
    const controller = new AbortController();
    const behind: [string, bigint][] = [];
    let last = 1n;
    const running = runCatchUpPoller({
      periodMs: 5,
      peers: { peers: () => ["self", "p1", "p2", "p3"] },
      self: "self",
      source: net.source,
      lastNumber: () => last,
      onBehind: (peer, n) => {
        behind.push([peer, n]);
        last = 3n; // caught up
      },
      signal: controller.signal,
    });
    try {
      assert(await waitFor(() => behind.length > 0, 5000));
      // The caught-up node keeps asking, from its new next block.
      assert(await waitFor(() => net.calls.length >= 8, 5000));
    } finally {
      controller.abort();
      await running;
    }
    assertEquals(behind, [["p3", 2n]]);
    assert(net.calls.every(([peer]) => peer !== "self"), "never itself");
    // Two peers a round, in turn: p1 p2, p3 p1, p2 p3, ...
    assertEquals(
      net.calls.slice(0, 6).map(([p]) => p),
      ["p1", "p2", "p3", "p1", "p2", "p3"],
    );
    assertEquals(net.calls[0][1], 2n);
    assertEquals(net.calls.at(-1)![1], 4n);
  },
);

sanitizedTest(
  "the poller does not report a block that arrived meanwhile",
  async () => {
    const net = fakeNet({ p: "has" });
    const controller = new AbortController();
    let behind = 0;
    let last = 0n;
    const running = runCatchUpPoller({
      periodMs: 5,
      peers: { peers: () => ["p"] },
      self: "me",
      source: {
        genesis: net.source.genesis,
        blocks: (peer, from, signal) => {
          // A relayed block lands while the peer is asked.
          last = from;
          return net.source.blocks(peer, from, signal);
        },
      },
      lastNumber: () => last,
      onBehind: () => behind++,
      signal: controller.signal,
    });
    try {
      assert(await waitFor(() => net.calls.length >= 3, 5000));
    } finally {
      controller.abort();
      await running;
    }
    assertEquals(behind, 0);
  },
);
