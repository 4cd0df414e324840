/**
 * The node status: health decisions, the JSON answer and its decoding, and
 * the text `bcn node status` prints.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { parseTime } from "../../src/chain/time.ts";
import {
  decodeStatus,
  encodeStatus,
  formatStatus,
  type HealthInput,
  healthOf,
  type NodeStatus,
} from "../../src/node/status.ts";

const BASE: HealthInput = {
  phase: "serving",
  catchingUp: false,
  height: 5n,
  highestKnown: 5n,
  noPeersGraceMs: 30_000,
};

Deno.test("health: ok only when serving, in sync and not alone too long", () => {
  assertEquals(healthOf(BASE), { ok: true, reason: "ok" });
  assertEquals(healthOf({ ...BASE, noPeersForMs: 29_999 }).ok, true);
  assertEquals(healthOf({ ...BASE, phase: "starting" }), {
    ok: false,
    reason: "starting: reading its genesis and replaying its block store",
  });
  assertEquals(
    healthOf({ ...BASE, phase: "syncing", highestKnown: 8n }).reason,
    "syncing from peers: at block 5, peers have block 8",
  );
  assertEquals(healthOf({ ...BASE, phase: "stopping" }).reason, "stopping");
  assertEquals(
    healthOf({ ...BASE, catchingUp: true }).reason,
    "catching up: at block 5",
  );
  assertEquals(healthOf({ ...BASE, highestKnown: 7n }), {
    ok: false,
    reason: "behind: at block 5, peers have block 7",
  });
  assertEquals(healthOf({ ...BASE, noPeersForMs: 45_500 }), {
    ok: false,
    reason: "no peers for 45s",
  });
});

const STATUS: NodeStatus = {
  version: "0.1.0",
  node: "127.0.0.1:1122",
  chain: 'dev "chain"',
  genesis: "ab".repeat(32),
  lastBlock: {
    number: 18446744073709551615n,
    hash: "cd".repeat(32),
    time: parseTime("2026-12-01T10:00:00.123Z"),
  },
  pending: 3n,
  peers: ["127.0.0.1:1123", "[::1]:1124"],
  catchingUp: false,
  highestKnownBlock: 18446744073709551615n,
  behind: 0n,
  authority: "ef".repeat(32),
  isAuthority: true,
  uptimeSeconds: 3723n,
  health: { ok: true, reason: "ok" },
};

Deno.test("the status JSON round-trips, u64 values exactly", () => {
  const text = encodeStatus(STATUS);
  assert(text.includes('"number":18446744073709551615'), text);
  assert(text.includes('"chain":"dev \\"chain\\""'), text);
  assertEquals(JSON.parse(text).peers, STATUS.peers);
  const back = decodeStatus(text);
  assertEquals(encodeStatus(back), text);
  assertEquals(back.lastBlock.number, STATUS.lastBlock.number);
});

Deno.test("a malformed status is refused naming the field", () => {
  const text = encodeStatus(STATUS);
  assertThrows(
    () => decodeStatus(text.replace('"isAuthority":true', '"isAuthority":1')),
    Error,
    "status.isAuthority: expected a boolean",
  );
  assertThrows(
    () => decodeStatus(text.replace(/"pending":3,/, "")),
    Error,
    "pending: missing",
  );
  assertThrows(() => decodeStatus("<html>"), Error);
});

Deno.test("the text status has one fact per line", () => {
  const text = formatStatus({
    ...STATUS,
    catchingUp: true,
    behind: 4n,
    highestKnownBlock: 9n,
    isAuthority: false,
    health: {
      ok: false,
      reason: "catching up: at block 5, peers have block 9",
    },
  });
  const lines = text.split("\n");
  assertEquals(lines.length, 8);
  assertEquals(
    lines[0],
    "node      127.0.0.1:1122 (bcn 0.1.0, up 1h 02m 03s)",
  );
  assert(lines[2].startsWith("block     18446744073709551615 cdcd"), lines[2]);
  assert(lines[2].endsWith(" 2026-12-01T10:00:00.123Z"), lines[2]);
  assertEquals(lines[3], "pending   3 txs");
  assertEquals(lines[4], "peers     2: 127.0.0.1:1123 [::1]:1124");
  assertEquals(
    lines[5],
    "sync      catching up, 4 blocks behind (peers have 9)",
  );
  assertEquals(lines[6], `authority ${"ef".repeat(32)}`);
  assertEquals(
    lines[7],
    "health    catching up: at block 5, peers have block 9",
  );
  assert(formatStatus(STATUS).includes(" (this node)"));
  assert(formatStatus({ ...STATUS, peers: [] }).includes("peers     none"));
});
