import { assert, assertEquals } from "../assert.ts";
import {
  decodeStatus,
  encodeStatus,
  healthOf,
  type NodeStatus,
} from "../../src/node/observe/status.ts";
import { parseTime } from "../../src/chain/time.ts";
import { formatStatus } from "../../src/cli/status_format.ts";

Deno.test("health: a node backfilling below its checkpoint says so", () => {
  const h = healthOf({
    phase: "serving",
    catchingUp: false,
    height: 1200n,
    highestKnown: 1200n,
    noPeersGraceMs: 30_000,
    backfill: { held: 300n, checkpoint: 1000n },
  });
  assertEquals(h, {
    ok: false,
    reason:
      "backfilling: serving from checkpoint 1000, block.store holds 300 of blocks 1 to 1000",
  });
});

Deno.test("status: the backfill round-trips and is printed", () => {
  const status: NodeStatus = {
    version: "0.1.0",
    node: "127.0.0.1:1123",
    chain: "c",
    genesis: "ab".repeat(32),
    lastBlock: {
      number: 1200n,
      hash: "cd".repeat(32),
      time: parseTime("2024-05-01T10:00:00Z"),
    },
    pending: 0n,
    peers: [],
    catchingUp: false,
    highestKnownBlock: 1200n,
    behind: 0n,
    authority: "ef".repeat(32),
    isAuthority: false,
    uptimeSeconds: 3n,
    backfill: { held: 300n, checkpoint: 1000n },
    health: { ok: false, reason: "backfilling" },
  };
  const text = encodeStatus(status);
  assert(text.includes(`"backfill":{"held":300,"checkpoint":1000}`), text);
  assertEquals(decodeStatus(text).backfill, status.backfill);
  assert(
    formatStatus(status).includes(
      "store     backfilling: 300 of blocks 1 to 1000 held (serving from checkpoint 1000)",
    ),
  );
  const { backfill: _, ...older } = status;
  assertEquals(decodeStatus(encodeStatus(older)).backfill, undefined);
});
