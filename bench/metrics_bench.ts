/**
 * What a Prometheus scrape costs a node: rendering `/metrics` with every
 * RPC method of the four services called (14 methods x 2 codes, with their
 * latency histograms), beside the cost of observing one RPC call.
 * `deno task bench` (compare within one run: the machine is shared).
 */
import { Metrics, RPC_BUCKETS } from "../src/node/observe/metrics.ts";
import { Registry } from "../src/util/prometheus.ts";

const metrics = new Metrics({ version: "0.1.0", chain: "bench" });
metrics.collect(() => ({
  height: 123_456n,
  highestKnown: 123_456n,
  syncing: false,
  pending: 10_000,
  peers: 12,
  relays: {
    tx: { queued: 40, dropped: 3, sent: 100_000 },
    block: { queued: 2, dropped: 0, sent: 50_000 },
  },
  subscribers: 5,
  slowSubscribers: 1,
}));
// Fill the RPC series as a busy node would.
const registry = new Registry();
const requests = registry.counter("r_total", "R.", [
  "service",
  "method",
  "code",
]);
const seconds = registry.histogram("r_seconds", "S.", {
  buckets: RPC_BUCKETS,
  labelNames: ["service", "method"],
});
for (let m = 0; m < 14; m++) {
  for (const code of ["ok", "not_found"]) {
    requests.inc({ service: `S${m % 4}`, method: `M${m}`, code });
  }
  seconds.observe(0.01 * m, { service: `S${m % 4}`, method: `M${m}` });
}
for (let i = 0; i < 1000; i++) metrics.onBlockApplied(0.001);

Deno.bench(
  "render the node's /metrics",
  { group: "scrape", baseline: true },
  () => {
    metrics.render();
  },
);

Deno.bench(
  "render 14 methods x 2 codes with histograms",
  { group: "scrape" },
  () => {
    registry.render();
  },
);

Deno.bench("observe one RPC call (counter + histogram)", () => {
  requests.inc({ service: "S1", method: "M1", code: "ok" });
  seconds.observe(0.003, { service: "S1", method: "M1" });
});
