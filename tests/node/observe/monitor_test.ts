/**
 * The node monitor on its own, with a real state, a fake node and a clock
 * moved by hand: how far behind it believes the node is (from verified
 * blocks only), catching up, phases through the sync source, no peers, a
 * stalled chain, an unreachable authority, and the routes' answers.
 */
import { assert, assertEquals } from "../../assert.ts";
import { makeChain } from "../../fixtures.ts";
import { parseExposition } from "../exposition.ts";
import { State } from "../../../src/chain/state.ts";
import { EventBus } from "../../../src/node/events.ts";
import {
  HEARD_BLOCK_PERIODS,
  type MonitoredNode,
  NO_PEERS_GRACE_PERIODS,
  NodeMonitor,
  STALL_PERIODS,
} from "../../../src/node/observe/monitor.ts";
import type { RelayStats } from "../../../src/node/observe/metrics.ts";
import {
  DEFAULT_DISCOVER_TIMEOUT_MS,
  DEFAULT_MAX_FAILURES,
} from "../../../src/node/peers.ts";
import {
  countedSource,
  type SyncSource,
} from "../../../src/node/state_sync.ts";
import { decodeStatus } from "../../../src/node/observe/status.ts";

const chain = makeChain(6, 2);
const RELAY: RelayStats = { sent: 0, dropped: 0, reconnects: 0, queued: 0 };
const SEED = "127.0.0.1:9";
const OTHER = "127.0.0.1:7";
const PERIOD_MS = 1000;

interface Mutable {
  ready: boolean;
  catchingUp: boolean;
  peers: string[];
}

interface Fake {
  node: MonitoredNode;
  state: State;
  set: (p: Partial<Mutable>) => void;
}

function fake(
  options: { blocks: number; bootstrap?: boolean; periodMs?: number },
): Fake {
  const state = new State(chain.genesis);
  for (const b of chain.blocks.slice(0, options.blocks)) state.applyBlock(b);
  const m: Mutable = { ready: false, catchingUp: false, peers: [] };
  const bootstrap = options.bootstrap ?? false;
  const node: MonitoredNode = {
    config: {
      node: "127.0.0.1:1",
      bootstrap,
      seed: bootstrap ? undefined : SEED,
      chain: "test",
    },
    events: new EventBus(),
    discovery: {
      timeoutMs: DEFAULT_DISCOVER_TIMEOUT_MS,
      maxFailures: DEFAULT_MAX_FAILURES,
    },
    periodMs: options.periodMs ?? PERIOD_MS,
    addr: () => "127.0.0.1:1",
    ledger: () => m.ready ? { state } : undefined,
    peers: () => m.peers,
    catchingUp: () => m.catchingUp,
    relays: () => ({ tx: RELAY, block: RELAY }),
  };
  return { node, state, set: (p) => Object.assign(m, p) };
}

/** A clock the test moves. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** A serving monitor of `f` with the seed among its peers. */
function serving(f: Fake, now: () => number): NodeMonitor {
  const monitor = new NodeMonitor(f.node, { now });
  f.set({ ready: true, peers: [SEED, OTHER] });
  monitor.serving();
  monitor.peersChanged([SEED, OTHER]);
  return monitor;
}

/** `source` counted into `monitor`, as the node counts its peers' streams. */
function counted(monitor: NodeMonitor, source: SyncSource): SyncSource {
  return countedSource(source, {
    onStream: (from) => monitor.syncStream(from),
    onBlock: () => monitor.metrics.onSyncBlock(),
  });
}

/** A sync source that yields blocks `from`.. `last` of the test chain. */
function chainSource(last: number): SyncSource {
  return {
    genesis: () => Promise.reject(new Error("unused")),
    async *blocks(_peer, from) {
      for (let n = Number(from); n <= last; n++) {
        yield new TextEncoder().encode(String(n));
      }
    },
  };
}

function metricsOf(monitor: NodeMonitor): Map<string, number> {
  return parseExposition(monitor.httpRoutes()["/metrics"]().body);
}

Deno.test("phases: starting, syncing once blocks are asked for, serving, stopping", async () => {
  const { node, set } = fake({ blocks: 2 });
  const monitor = new NodeMonitor(node);
  assertEquals(
    monitor.health().reason,
    "starting: reading its genesis and replaying its block store",
  );
  const routes = monitor.httpRoutes();
  assertEquals(routes["/status"]().status, 503);
  assertEquals(routes["/metrics"]().status, 200);
  const source = counted(monitor, chainSource(6));
  const it = source.blocks("p", 3n, new AbortController().signal)
    [Symbol.asyncIterator]();
  await it.next();
  // The replay got to block 2: the stream starts at 3.
  assertEquals(monitor.health().reason, "syncing from peers: at block 2");
  await it.next();
  await it.next();
  // Read, not applied: still as far as the stream's start says.
  assertEquals(monitor.health().reason, "syncing from peers: at block 2");
  await it.return?.();
  // The next stream starts after what the sync applied.
  const next = source.blocks("p", 5n, new AbortController().signal)
    [Symbol.asyncIterator]();
  await next.next();
  assertEquals(monitor.health().reason, "syncing from peers: at block 4");
  await next.return?.();
  set({ ready: true, peers: ["127.0.0.1:2"] });
  monitor.serving();
  monitor.peersChanged(["127.0.0.1:2", SEED]);
  // The ledger is the truth once ready: at block 2, nothing heard beyond.
  assertEquals(monitor.health(), { ok: true, reason: "ok" });
  monitor.stopping();
  assertEquals(monitor.health(), { ok: false, reason: "stopping" });
});

Deno.test("blocks a rejected stream read ahead are not heights: no 'peers have block 8'", async () => {
  const f = fake({ blocks: 3 });
  const c = clock();
  const monitor = new NodeMonitor(f.node, { now: c.now });
  const source = counted(monitor, chainSource(8));
  // The sync's pipeline reads blocks 4..8 ahead of applying them, then
  // rejects block 4 and leaves the stream.
  let read = 0;
  for await (
    const _ of source.blocks("bad", 4n, new AbortController().signal)
  ) read++;
  assertEquals(read, 5);
  assertEquals(monitor.health().reason, "syncing from peers: at block 3");
  f.set({ ready: true, peers: [SEED] });
  monitor.serving();
  monitor.peersChanged([SEED]);
  // The same after the start, through a catch-up's stream.
  for await (
    const _ of source.blocks("bad", 4n, new AbortController().signal)
  ) read++;
  assertEquals(monitor.health(), { ok: true, reason: "ok" });
  const s = monitor.status();
  assertEquals([s.highestKnownBlock, s.behind], [3n, 0n]);
  const m = metricsOf(monitor);
  assertEquals(m.get("bcn_sync_highest_known_block"), 3);
  assertEquals(m.get("bcn_sync_behind_blocks"), 0);
  // Received blocks are still counted as such.
  assertEquals(m.get("bcn_sync_blocks_total"), 10);
});

Deno.test("behind and catching up, as status and health say them", () => {
  const f = fake({ blocks: 5 });
  const c = clock();
  const monitor = serving(f, c.now);
  assertEquals(monitor.health(), { ok: true, reason: "ok" });
  monitor.heard(3n); // an old block: nothing changes
  assertEquals(monitor.status().behind, 0n);
  monitor.heard(9n);
  f.set({ catchingUp: true });
  const s = decodeStatus(monitor.httpRoutes()["/status"]().body);
  assertEquals(
    [s.catchingUp, s.behind, s.highestKnownBlock],
    [true, 4n, 9n],
  );
  assertEquals(s.health.reason, "catching up: at block 5, peers have block 9");
  const h = monitor.httpRoutes()["/healthz"]();
  assertEquals([h.status, h.body], [
    503,
    "catching up: at block 5, peers have block 9\n",
  ]);
  f.set({ catchingUp: false });
  assertEquals(
    monitor.health().reason,
    "behind: at block 5, peers have block 9",
  );
  assertEquals(metricsOf(monitor).get("bcn_sync_behind_blocks"), 4);
});

Deno.test("a block heard of counts while it may come: dropped once no catch-up got it", () => {
  const f = fake({ blocks: 2 });
  const c = clock();
  const monitor = serving(f, c.now);
  const claimMs = HEARD_BLOCK_PERIODS * PERIOD_MS;
  monitor.heard(9n);
  f.set({ catchingUp: true });
  // A catch-up that takes long keeps it, however long.
  c.advance(10 * claimMs);
  assertEquals(
    monitor.health().reason,
    "catching up: at block 2, peers have block 9",
  );
  f.set({ catchingUp: false });
  // The catch-up ended below it: no peer had it.
  assertEquals(monitor.health(), { ok: true, reason: "ok" });
  assertEquals(monitor.status().highestKnownBlock, 2n);

  // Without a catch-up, it holds for HEARD_BLOCK_PERIODS.
  monitor.heard(7n);
  c.advance(claimMs - 1);
  assertEquals(
    monitor.health().reason,
    "behind: at block 2, peers have block 7",
  );
  // Heard again: it counts from then.
  monitor.heard(7n);
  c.advance(claimMs - 1);
  assertEquals(monitor.health().ok, false);
  c.advance(1);
  assertEquals(monitor.health(), { ok: true, reason: "ok" });

  // Reached: nothing is left to be behind of.
  monitor.heard(3n);
  f.state.applyBlock(chain.blocks[2]);
  assertEquals(monitor.health(), { ok: true, reason: "ok" });
  assertEquals(monitor.status().behind, 0n);
});

Deno.test("no peers: a regular node from serving, the bootstrap only after losing them", () => {
  const c = clock();
  const grace = NO_PEERS_GRACE_PERIODS * PERIOD_MS;
  const regular = fake({ blocks: 0 });
  const r = new NodeMonitor(regular.node, { now: c.now });
  regular.set({ ready: true });
  r.serving();
  const boot = fake({ blocks: 0, bootstrap: true });
  const b = new NodeMonitor(boot.node, { now: c.now });
  boot.set({ ready: true });
  b.serving();
  c.advance(grace - 1);
  assertEquals(r.health().ok, true, "within the grace");
  c.advance(1);
  assertEquals(r.health().reason, `no peers for ${grace / 1000}s`);
  assertEquals(b.health().ok, true, "a bootstrap alone is a whole chain");
  r.peersChanged([SEED]);
  b.peersChanged(["127.0.0.1:2"]);
  assertEquals(r.health().ok, true);
  b.peersChanged([]);
  c.advance(grace - 1);
  assertEquals(b.health().ok, true, "within the grace");
  c.advance(1);
  assertEquals(b.health().ok, false);
});

Deno.test("stalled: pending transactions and no new block for STALL_PERIODS periods", () => {
  for (const bootstrap of [false, true]) {
    const f = fake({ blocks: 2, bootstrap });
    const c = clock();
    const monitor = serving(f, c.now);
    monitor.proposes = bootstrap;
    const stallMs = STALL_PERIODS * PERIOD_MS;
    // A quiet chain is not stalled, however long since its last block.
    c.advance(100 * stallMs);
    assertEquals(monitor.health(), { ok: true, reason: "ok" });
    // Two transactions arrive: the wait counts from when they are seen.
    f.state.applyTx(chain.blocks[2].txs[0]);
    f.state.applyTx(chain.blocks[2].txs[1]);
    assertEquals(monitor.health().ok, true);
    c.advance(stallMs - 1);
    let s = monitor.status();
    assertEquals(
      [s.health.ok, s.stalled, s.noNewBlockPeriods],
      [true, false, BigInt(STALL_PERIODS - 1)],
    );
    c.advance(1);
    const reason =
      `stalled: no new block for ${STALL_PERIODS} periods (${STALL_PERIODS}s) while 2 transactions are pending`;
    assertEquals(monitor.health(), { ok: false, reason });
    const h = monitor.httpRoutes()["/healthz"]();
    assertEquals([h.status, h.body], [503, `${reason}\n`]);
    s = decodeStatus(monitor.httpRoutes()["/status"]().body);
    assertEquals(
      [s.stalled, s.noNewBlockPeriods, s.pending, s.health.reason],
      [true, BigInt(STALL_PERIODS), 2n, reason],
    );
    let m = metricsOf(monitor);
    assertEquals(m.get("bcn_chain_stalled"), 1);
    assertEquals(m.get("bcn_pending_wait_seconds"), STALL_PERIODS);
    // A block confirms them: ok again.
    f.state.applyBlock(chain.blocks[2]);
    assertEquals(monitor.health(), { ok: true, reason: "ok" });
    s = monitor.status();
    assertEquals([s.stalled, s.noNewBlockPeriods], [false, 0n]);
    m = metricsOf(monitor);
    assertEquals(m.get("bcn_chain_stalled"), 0);
    assertEquals(m.get("bcn_pending_wait_seconds"), 0);
  }
});

Deno.test("stalled: a new block that leaves transactions pending starts the wait again", () => {
  const f = fake({ blocks: 2 });
  const c = clock();
  const monitor = serving(f, c.now);
  const stallMs = STALL_PERIODS * PERIOD_MS;
  // Blocks 3 and 4's transactions pending, block 3 comes late.
  for (const b of chain.blocks.slice(2, 4)) {
    for (const tx of b.txs) f.state.applyTx(tx);
  }
  monitor.health();
  c.advance(stallMs);
  assertEquals(monitor.health().ok, false);
  f.state.applyBlock(chain.blocks[2]);
  assertEquals(f.state.pendingCount, 2);
  assertEquals(monitor.health().ok, true);
  c.advance(stallMs - 1);
  assertEquals(monitor.health().ok, true);
  c.advance(1);
  assert(
    monitor.health().reason.startsWith(
      `stalled: no new block for ${STALL_PERIODS} periods`,
    ),
    monitor.health().reason,
  );
});

Deno.test("authority unreachable: from when discovery drops the seed until it answers", () => {
  const f = fake({ blocks: 1 });
  const c = clock();
  const monitor = serving(f, c.now);
  assertEquals(monitor.status().authorityReachable, true);
  assertEquals(metricsOf(monitor).get("bcn_authority_reachable"), 1);
  // Discovery gave up on the seed; another peer still answers.
  monitor.peersChanged([OTHER]);
  c.advance(4_500);
  const reason = `authority unreachable for 4s: ${SEED} does not answer`;
  assertEquals(monitor.health(), { ok: false, reason });
  const s = decodeStatus(monitor.httpRoutes()["/status"]().body);
  assertEquals([s.authorityReachable, s.health.reason], [false, reason]);
  assertEquals(metricsOf(monitor).get("bcn_authority_reachable"), 0);
  // With transactions waiting, the stall says why on the same line.
  f.state.applyTx(chain.blocks[1].txs[0]);
  monitor.health();
  c.advance(STALL_PERIODS * PERIOD_MS);
  assertEquals(
    monitor.health().reason,
    `stalled: no new block for ${STALL_PERIODS} periods (${STALL_PERIODS}s) while 1 transaction is pending; authority unreachable for ${
      4 + STALL_PERIODS
    }s: ${SEED} does not answer`,
  );
  // No peer at all says that first.
  f.state.applyBlock(chain.blocks[1]);
  monitor.peersChanged([]);
  c.advance(NO_PEERS_GRACE_PERIODS * PERIOD_MS);
  assert(
    monitor.health().reason.startsWith("no peers for "),
    monitor.health().reason,
  );
  // The seed answers again.
  monitor.peersChanged([SEED]);
  assertEquals(monitor.health(), { ok: true, reason: "ok" });
  assertEquals(monitor.status().authorityReachable, true);
});

Deno.test("authority unreachable: a seed that never answered, after the first rounds", () => {
  const f = fake({ blocks: 0 });
  const c = clock();
  const monitor = new NodeMonitor(f.node, { now: c.now });
  f.set({ ready: true, peers: [OTHER] });
  monitor.serving();
  monitor.peersChanged([OTHER]);
  const firstMs = DEFAULT_MAX_FAILURES *
    (PERIOD_MS + DEFAULT_DISCOVER_TIMEOUT_MS);
  c.advance(firstMs - 1);
  assertEquals(monitor.health(), { ok: true, reason: "ok" });
  assertEquals(monitor.status().authorityReachable, true);
  c.advance(1);
  assertEquals(
    monitor.health().reason,
    `authority unreachable for ${
      Math.floor(firstMs / 1000)
    }s: ${SEED} does not answer`,
  );
});

Deno.test("the authority is never unreachable, alone or not", () => {
  const f = fake({ blocks: 1, bootstrap: true });
  const c = clock();
  const monitor = new NodeMonitor(f.node, { now: c.now });
  monitor.proposes = true;
  f.set({ ready: true });
  monitor.serving();
  monitor.peersChanged([OTHER]);
  monitor.peersChanged([]);
  c.advance(DEFAULT_MAX_FAILURES * 60_000);
  const s = monitor.status();
  assertEquals([s.authorityReachable, s.isAuthority], [true, true]);
  assert(!s.health.reason.includes("authority"), s.health.reason);
  assertEquals(metricsOf(monitor).get("bcn_authority_reachable"), 1);
});
