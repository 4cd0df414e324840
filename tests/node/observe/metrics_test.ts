/**
 * The node's metrics: RPC calls counted by service, method and code through
 * a real server (unary, error, server stream), blocks and apply times, the
 * collector's snapshot, and the shipped Grafana dashboard asking only for
 * metrics a node exports.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { Metrics } from "../../../src/node/observe/metrics.ts";
import { Account } from "../../../src/rpc/gen/account_pb.ts";
import { Block } from "../../../src/rpc/gen/block_pb.ts";
import { Node as NodeService } from "../../../src/rpc/gen/node_pb.ts";
import { Tx } from "../../../src/rpc/gen/tx_pb.ts";
import { startServer } from "../../../src/rpc/server.ts";
import { parseExposition } from "../exposition.ts";

function fresh(): Metrics {
  return new Metrics({ version: "9.9.9", chain: "test" });
}

Deno.test("RPC calls are counted by service, method and code, and timed", async () => {
  const metrics = fresh();
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    interceptors: [metrics.rpcInterceptor()],
    routes: (router) => {
      router.service(Block, {
        genesisSync: () => {
          throw new ConnectError("no genesis", Code.NotFound);
        },
        async *blockSync() {
          for (let i = 0; i < 3; i++) yield { Block: new Uint8Array([i]) };
        },
        blockReceive: async (reqs) => {
          for await (const _ of reqs) { /* drain */ }
          return {};
        },
        async *blockSearch() {},
      });
    },
  });
  try {
    const client = createClient(
      Block,
      createConnectTransport({
        baseUrl: `http://${server.addr}`,
        httpVersion: "1.1",
      }),
    );
    for (let i = 0; i < 2; i++) {
      await client.genesisSync({}).catch(() => {});
    }
    let n = 0;
    for await (const _ of client.blockSync({ Number: 1n })) n++;
    assertEquals(n, 3);
    const s = parseExposition(metrics.render());
    assertEquals(
      s.get(
        'bcn_rpc_requests_total{service="Block",method="GenesisSync",code="not_found"}',
      ),
      2,
    );
    assertEquals(
      s.get(
        'bcn_rpc_requests_total{service="Block",method="BlockSync",code="ok"}',
      ),
      1,
    );
    assertEquals(
      s.get(
        'bcn_rpc_duration_seconds_count{service="Block",method="GenesisSync"}',
      ),
      2,
    );
    assertEquals(
      s.get(
        'bcn_rpc_duration_seconds_bucket{service="Block",method="BlockSync",le="+Inf"}',
      ),
      1,
    );
  } finally {
    await server.close();
  }
});

Deno.test("a stream left early counts as canceled, one that fails by its code", async () => {
  const metrics = fresh();
  const interceptor = metrics.rpcInterceptor();
  const method = Block.method.blockSearch;
  const call = (messages: AsyncIterable<unknown>) =>
    interceptor(() =>
      Promise.resolve({ stream: true, message: messages } as never)
    )({ service: Block, method } as never);
  async function* endless() {
    for (;;) yield {};
  }
  async function* failing() {
    yield {};
    throw new ConnectError("gone", Code.Unavailable);
  }
  const left = await call(endless()) as unknown as {
    message: AsyncIterable<unknown>;
  };
  for await (const _ of left.message) break;
  const failed = await call(failing()) as unknown as {
    message: AsyncIterable<unknown>;
  };
  await assertRejects(async () => {
    for await (const _ of failed.message) { /* read on */ }
  }, ConnectError);
  const s = parseExposition(metrics.render());
  const key = (code: string) =>
    `bcn_rpc_requests_total{service="Block",method="BlockSearch",code="${code}"}`;
  assertEquals(s.get(key("canceled")), 1);
  assertEquals(s.get(key("unavailable")), 1);
  assertEquals(s.get(key("ok")), 0);
});

Deno.test("every labelled counter starts at 0 for its known labels", () => {
  const s = parseExposition(fresh().render());
  for (const relay of ["tx", "block"]) {
    assertEquals(s.get(`bcn_relay_sent_total{relay="${relay}"}`), 0, relay);
    assertEquals(s.get(`bcn_relay_dropped_total{relay="${relay}"}`), 0, relay);
  }
  // Every method of the four services, with code ok.
  const services = [Block, Tx, Account, NodeService];
  let methods = 0;
  for (const service of services) {
    for (const method of service.methods) {
      methods++;
      assertEquals(
        s.get(
          `bcn_rpc_requests_total{service="${service.typeName}",method="${method.name}",code="ok"}`,
        ),
        0,
        method.name,
      );
    }
  }
  assertEquals(methods, 14);
  // And no labelled counter of the registry is left without a sample.
  const text = fresh().render();
  const counters = [...text.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) =>
    m[1]
  );
  assert(counters.length >= 7);
  for (const name of counters) {
    assert(
      [...s.keys()].some((k) => k === name || k.startsWith(`${name}{`)),
      `${name} has samples before any event`,
    );
  }
});

Deno.test("blocks, apply times and the collector's snapshot are exported", () => {
  const metrics = fresh();
  metrics.onBlockApplied(0.003);
  metrics.onBlockConfirmed({ txs: [{}, {}] } as never);
  metrics.onSyncBlock();
  let slow = 1;
  metrics.collect(() => ({
    height: 7n,
    highestKnown: 10n,
    syncing: true,
    pending: 4,
    peers: 2,
    relays: {
      tx: { queued: 5, dropped: 1, sent: 9 },
      block: { queued: 0, dropped: 0, sent: 3 },
    },
    subscribers: 1,
    slowSubscribers: slow,
    pendingWaitSeconds: 6.5,
    stalled: true,
    authorityReachable: false,
  }));
  let s = parseExposition(metrics.render());
  assertEquals(s.get('bcn_info{version="9.9.9",chain="test"}'), 1);
  assertEquals(s.get("bcn_block_height"), 7);
  assertEquals(s.get("bcn_sync_highest_known_block"), 10);
  assertEquals(s.get("bcn_sync_behind_blocks"), 3);
  assertEquals(s.get("bcn_sync_active"), 1);
  assertEquals(s.get("bcn_sync_blocks_total"), 1);
  assertEquals(s.get("bcn_blocks_confirmed_total"), 1);
  assertEquals(s.get("bcn_txs_confirmed_total"), 2);
  assertEquals(s.get('bcn_block_apply_seconds_bucket{le="0.0025"}'), 0);
  assertEquals(s.get('bcn_block_apply_seconds_bucket{le="0.005"}'), 1);
  assertEquals(s.get("bcn_pending_txs"), 4);
  assertEquals(s.get("bcn_pending_wait_seconds"), 6.5);
  assertEquals(s.get("bcn_chain_stalled"), 1);
  assertEquals(s.get("bcn_authority_reachable"), 0);
  assertEquals(s.get("bcn_peers"), 2);
  assertEquals(s.get('bcn_relay_queue_items{relay="tx"}'), 5);
  assertEquals(s.get('bcn_relay_dropped_total{relay="tx"}'), 1);
  assertEquals(s.get('bcn_relay_sent_total{relay="block"}'), 3);
  assertEquals(s.get("bcn_subscribers"), 1);
  assertEquals(s.get("bcn_subscribers_slow_disconnected_total"), 1);
  assert(s.get('bcn_process_memory_bytes{kind="heapUsed"}')! > 0);
  // Totals kept elsewhere only move the counters up.
  slow = 3;
  s = parseExposition(metrics.render());
  assertEquals(s.get("bcn_subscribers_slow_disconnected_total"), 3);
});

Deno.test("a snapshot without the stall and authority facts exports neither", () => {
  const metrics = fresh();
  metrics.collect(() => ({
    height: 1n,
    highestKnown: 1n,
    syncing: false,
    pending: 0,
    peers: 0,
    relays: {},
    subscribers: 0,
    slowSubscribers: 0,
  }));
  const s = parseExposition(metrics.render());
  assertEquals(s.get("bcn_block_height"), 1);
  for (
    const name of [
      "bcn_pending_wait_seconds",
      "bcn_chain_stalled",
      "bcn_authority_reachable",
    ]
  ) {
    assertEquals(s.get(name), undefined, name);
  }
});

Deno.test("the Grafana dashboard asks only for metrics a node exports", async () => {
  const dashboard = JSON.parse(
    await Deno.readTextFile(
      new URL("../../../contrib/grafana/bcn.json", import.meta.url),
    ),
  );
  const text = fresh().render();
  const exported = new Set(
    [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
      type === "histogram"
        ? [`${name}_bucket`, `${name}_sum`, `${name}_count`]
        : [name]
    ),
  );
  const exprs: string[] = dashboard.panels.flatMap((
    p: { targets: { expr: string }[] },
  ) => p.targets.map((t) => t.expr));
  assert(exprs.length >= 10, "the dashboard has queries");
  // The node picker lists the instances that export bcn_info.
  exprs.push(
    ...dashboard.templating.list.map((v: { definition?: string }) =>
      v.definition ?? ""
    ),
  );
  const used = new Set(exprs.flatMap((e) => e.match(/\bbcn_[a-z_]+/g) ?? []));
  for (const name of used) assert(exported.has(name), `${name} is exported`);
  // And every metric appears on the board.
  for (const name of exported) {
    const base = name.replace(/_(bucket|sum|count)$/, "");
    assert(
      [...used].some((u) => u.startsWith(base)),
      `${base} is on the dashboard`,
    );
  }
});
