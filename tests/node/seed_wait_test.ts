import { assertEquals, assertRejects } from "../assert.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { SyncError } from "../../src/node/sync_error.ts";
import { encodeSigBlock } from "../../src/chain/block.ts";
import { encodeSigGenesis } from "../../src/chain/genesis.ts";
import type { NodeConfig } from "../../src/node/config.ts";
import { StateSync, type SyncSource } from "../../src/node/state_sync.ts";
import { makeChain } from "../fixtures.ts";
import { withTempDir } from "../support.ts";
import {
  seedFailure,
  seedRetryDelay,
  waitForSeed,
} from "../../src/node/seed_wait.ts";

const SEED = "127.0.0.1:1122";

/** A refused connection as a failed genesis fetch reports it. */
function refused(): SyncError {
  const cause = Object.assign(
    new Error("connect ECONNREFUSED 127.0.0.1:1122"),
    {
      code: "ECONNREFUSED",
    },
  );
  return new SyncError(`cannot fetch the genesis from seed ${SEED}`, {
    kind: "unreachable",
    cause: new ConnectError(
      "fetch failed",
      Code.Unavailable,
      undefined,
      undefined,
      cause,
    ),
  });
}

Deno.test("seed retry pauses: 0.5s doubling to 30s, give or take 20%", () => {
  const mid = () => 0.5;
  assertEquals(
    [1, 2, 3, 4, 5, 6, 7, 8, 50].map((n) => seedRetryDelay(n, mid)),
    [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
  );
  assertEquals(seedRetryDelay(1, () => 0), 400);
  assertEquals(seedRetryDelay(7, () => 0.999999), 36000);
  assertEquals(seedRetryDelay(2, mid, 10, 15), 15);
});

Deno.test("seed failures in a few words", () => {
  assertEquals(seedFailure(SEED, refused()), "connection refused");
  assertEquals(
    seedFailure(SEED, new ConnectError("node starting", Code.Unavailable)),
    "unavailable: node starting",
  );
  assertEquals(
    seedFailure(SEED, new ConnectError("", Code.DeadlineExceeded)),
    "no answer in time",
  );
  assertEquals(seedFailure(SEED, new Error("odd\nmore")), "odd");
});

Deno.test("waitForSeed tries again, one line each, until the seed answers", async () => {
  const log: string[] = [];
  let tries = 0;
  const value = await waitForSeed(SEED, () => {
    tries++;
    return tries < 4 ? Promise.reject(refused()) : Promise.resolve("genesis");
  }, {
    signal: new AbortController().signal,
    log: (m) => log.push(m),
    firstMs: 1,
    random: () => 0.5,
  });
  assertEquals([value, tries], ["genesis", 4]);
  assertEquals(log, [
    `seed ${SEED} unreachable (connection refused); retrying in 0s`,
    `seed ${SEED} unreachable (connection refused); retrying in 0s`,
    `seed ${SEED} unreachable (connection refused); retrying in 0s`,
  ]);
});

Deno.test("waitForSeed: the pause in the line as a user reads it", async () => {
  const log: string[] = [];
  const stop = new AbortController();
  await assertRejects(
    () =>
      waitForSeed(SEED, () => Promise.reject(refused()), {
        signal: stop.signal,
        log: (m) => {
          log.push(m);
          // Stopped during the first pause: at once, with no second try.
          stop.abort(new Error("stopped"));
        },
        random: () => 0.5,
      }),
    Error,
    "stopped",
  );
  assertEquals(log, [
    `seed ${SEED} unreachable (connection refused); retrying in 0.5s`,
  ]);
});

Deno.test("waitForSeed: an invalid genesis is not retried", async () => {
  const log: string[] = [];
  let tries = 0;
  await assertRejects(
    () =>
      waitForSeed(SEED, () => {
        tries++;
        return Promise.reject(
          new SyncError(`invalid genesis signature from ${SEED}`),
        );
      }, { signal: new AbortController().signal, log: (m) => log.push(m) }),
    SyncError,
    "invalid genesis signature",
  );
  assertEquals([tries, log], [1, []]);
  // Already stopped: not even one try.
  await assertRejects(
    () =>
      waitForSeed(SEED, () => {
        tries++;
        return Promise.resolve(1);
      }, { signal: AbortSignal.abort(new Error("gone")), log: () => {} }),
    Error,
    "gone",
  );
  assertEquals(tries, 1);
});

// ------------------------------------------- a first start's state sync

const encoder = new TextEncoder();

function firstStart(dir: string): NodeConfig {
  return {
    node: "127.0.0.1:2",
    bootstrap: false,
    seed: SEED,
    keyStoreDir: `${dir}/keys`,
    blockStoreDir: `${dir}/blocks`,
    chain: "blockchain",
  };
}

Deno.test("a first start with waitForSeed waits for its seed, then syncs", async () => {
  const chain = makeChain(1, 1);
  await withTempDir(async (dir) => {
    let tries = 0;
    const log: string[] = [];
    const source: SyncSource = {
      genesis() {
        tries++;
        if (tries < 3) {
          return Promise.reject(
            Object.assign(new Error("connect ECONNREFUSED"), {
              code: "ECONNREFUSED",
            }),
          );
        }
        return Promise.resolve(
          encoder.encode(encodeSigGenesis(chain.genesis)),
        );
      },
      async *blocks(_peer, from) {
        for (const b of chain.blocks) {
          if (b.number >= from) yield encoder.encode(encodeSigBlock(b));
        }
        await Promise.resolve();
      },
    };
    const state = await new StateSync(firstStart(dir), {
      peers: { peers: () => [SEED] },
      source,
      // One try per attempt of the wait, never the bounded retries' five.
      maxAttempts: 5,
      retryDelayMs: 1,
      waitForSeed: true,
      log: (m) => log.push(m),
      workers: 1,
    }).syncState();
    assertEquals(tries, 3);
    assertEquals(state.lastNumber, 1n);
    assertEquals(
      log.filter((m) => m.startsWith(`seed ${SEED} unreachable`)).length,
      2,
    );
  });
});

Deno.test("a first start with waitForSeed still refuses a bad genesis at once", async () => {
  const chain = makeChain(0, 1);
  await withTempDir(async (dir) => {
    let tries = 0;
    const bad = { ...chain.genesis, chain: "forged" };
    await assertRejects(
      () =>
        new StateSync(firstStart(dir), {
          peers: { peers: () => [SEED] },
          source: {
            genesis: () => {
              tries++;
              return Promise.resolve(encoder.encode(encodeSigGenesis(bad)));
            },
            blocks: () => {
              throw new Error("unused");
            },
          },
          waitForSeed: true,
          log: () => {},
          workers: 1,
        }).syncState(),
      SyncError,
      `invalid genesis signature from ${SEED}`,
    );
    assertEquals(tries, 1);
  });
});
