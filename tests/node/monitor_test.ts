/**
 * The node monitor on its own, with a real state and a fake node: how far
 * behind it believes the node is, catching up, phases through the sync
 * source, no peers, and the routes' answers.
 */
import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { State } from "../../src/chain/state.ts";
import { EventBus } from "../../src/node/events.ts";
import type { Ledger } from "../../src/node/ledger.ts";
import {
  type MonitoredNode,
  NO_PEERS_GRACE_PERIODS,
  NodeMonitor,
} from "../../src/node/monitor.ts";
import type { RelayStats } from "../../src/node/relay.ts";
import { decodeStatus } from "../../src/node/status.ts";

const chain = makeChain(5, 1);
const RELAY: RelayStats = { sent: 0, dropped: 0, reconnects: 0, queued: 0 };

function fake(
  options: { blocks: number; bootstrap?: boolean; periodMs?: number },
): { node: MonitoredNode; set: (p: Partial<Mutable>) => void } {
  const state = new State(chain.genesis);
  for (const b of chain.blocks.slice(0, options.blocks)) state.applyBlock(b);
  const m: Mutable = { ready: false, catchingUp: false, peers: [] };
  const node: MonitoredNode = {
    config: {
      node: "127.0.0.1:1",
      bootstrap: options.bootstrap ?? false,
      keyStoreDir: "k",
      blockStoreDir: "b",
      chain: "test",
    },
    events: new EventBus(),
    periodMs: options.periodMs ?? 1000,
    addr: () => "127.0.0.1:1",
    ledger: () => m.ready ? { state } as unknown as Ledger : undefined,
    peers: () => m.peers,
    catchingUp: () => m.catchingUp,
    relays: () => ({ tx: RELAY, block: RELAY }),
  };
  return { node, set: (p) => Object.assign(m, p) };
}

interface Mutable {
  ready: boolean;
  catchingUp: boolean;
  peers: string[];
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
  const source = monitor.countingSource({
    genesis: () => Promise.resolve(new Uint8Array()),
    async *blocks(_peer, from) {
      for (let n = from; n < from + 3n; n++) yield new Uint8Array([Number(n)]);
    },
  });
  const it = source.blocks("p", 3n, new AbortController().signal)
    [Symbol.asyncIterator]();
  await it.next();
  // The replay got to block 2: the stream starts at 3.
  assertEquals(monitor.health().reason, "syncing from peers: at block 2");
  // Block 3 counts once the next one is asked for (it was applied).
  await it.next();
  assertEquals(monitor.health().reason, "syncing from peers: at block 3");
  await it.return?.();
  set({ ready: true, peers: ["127.0.0.1:2"] });
  monitor.serving();
  // The fake ledger is at block 2; block 3 was seen.
  assertEquals(
    monitor.health().reason,
    "behind: at block 2, peers have block 3",
  );
  monitor.stopping();
  assertEquals(monitor.health(), { ok: false, reason: "stopping" });
});

Deno.test("behind and catching up, as status and health say them", () => {
  const { node, set } = fake({ blocks: 5 });
  const monitor = new NodeMonitor(node);
  set({ ready: true, peers: ["127.0.0.1:2"] });
  monitor.serving();
  assertEquals(monitor.health(), { ok: true, reason: "ok" });
  monitor.heard(3n); // an old block: nothing changes
  assertEquals(monitor.status().behind, 0n);
  monitor.heard(9n);
  set({ catchingUp: true });
  const s = decodeStatus(
    new TextDecoder().decode(
      new TextEncoder().encode(monitor.httpRoutes()["/status"]().body),
    ),
  );
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
  set({ catchingUp: false });
  assertEquals(
    monitor.health().reason,
    "behind: at block 5, peers have block 9",
  );
  const metrics = monitor.httpRoutes()["/metrics"]().body;
  assert(metrics.includes("\nbcn_sync_behind_blocks 4\n"), metrics);
});

Deno.test("no peers: a regular node from serving, the bootstrap only after losing them", async () => {
  const periodMs = 10;
  const grace = NO_PEERS_GRACE_PERIODS * periodMs;
  const regular = fake({ blocks: 0, periodMs });
  const r = new NodeMonitor(regular.node);
  regular.set({ ready: true });
  r.serving();
  const boot = fake({ blocks: 0, bootstrap: true, periodMs });
  const b = new NodeMonitor(boot.node);
  boot.set({ ready: true });
  b.serving();
  await new Promise((resolve) => setTimeout(resolve, grace + 20));
  assert(/^no peers for \d+s$/.test(r.health().reason), r.health().reason);
  assertEquals(b.health().ok, true, "a bootstrap alone is a whole chain");
  r.peersChanged(["127.0.0.1:2"]);
  b.peersChanged(["127.0.0.1:2"]);
  assertEquals(r.health().ok, true);
  b.peersChanged([]);
  assertEquals(b.health().ok, true, "within the grace");
  await new Promise((resolve) => setTimeout(resolve, grace + 20));
  assertEquals(b.health().ok, false);
});
