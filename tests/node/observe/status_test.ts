/**
 * The node status: health decisions, the JSON answer and its decoding.
 */
import { assert, assertEquals, assertThrows } from "../../assert.ts";
import {
  decodeStatus,
  encodeStatus,
  type HealthInput,
  healthOf,
} from "../../../src/node/observe/status.ts";
import { formatStatus } from "../../../src/cli/status_format.ts";
import { STATUS } from "./status_fixture.ts";

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
    healthOf({ ...BASE, phase: "syncing" }).reason,
    "syncing from peers: at block 5",
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

const WAIT = { pending: 3, forMs: 5_000, periodMs: 1000 };
const CUT = { node: "127.0.0.1:1122", forMs: 12_400 };

Deno.test("health: stalled from the grace on, and only with transactions pending", () => {
  const stall = { ...BASE, stallGraceMs: 5_000 };
  assertEquals(healthOf({ ...stall, waiting: { ...WAIT, forMs: 4_999 } }), {
    ok: true,
    reason: "ok",
  });
  assertEquals(healthOf({ ...stall, waiting: WAIT }), {
    ok: false,
    reason:
      "stalled: no new block for 5 periods (5s) while 3 transactions are pending",
  });
  assertEquals(
    healthOf({ ...stall, waiting: { ...WAIT, pending: 0 } }).ok,
    true,
  );
  // No grace given: never stalled.
  assertEquals(healthOf({ ...BASE, waiting: WAIT }).ok, true);
  assertEquals(
    healthOf({
      ...stall,
      stallGraceMs: 500,
      waiting: { pending: 1, forMs: 1_500, periodMs: 1000 },
    }).reason,
    "stalled: no new block for 1 period (1s) while 1 transaction is pending",
  );
});

Deno.test("health: authority unreachable, and the order of the reasons", () => {
  const unreachable =
    "authority unreachable for 12s: 127.0.0.1:1122 does not answer";
  assertEquals(healthOf({ ...BASE, authorityUnreachable: CUT }), {
    ok: false,
    reason: unreachable,
  });
  const all = {
    ...BASE,
    stallGraceMs: 5_000,
    waiting: WAIT,
    authorityUnreachable: CUT,
    noPeersForMs: 45_500,
  };
  // Behind and catching up come first: the node knows what it misses.
  assertEquals(
    healthOf({ ...all, highestKnown: 7n }).reason,
    "behind: at block 5, peers have block 7",
  );
  // A stall names the unreachable authority as its likely cause.
  assertEquals(
    healthOf(all).reason,
    `stalled: no new block for 5 periods (5s) while 3 transactions are pending; ${unreachable}`,
  );
  // No peer at all says more than the authority alone.
  assertEquals(
    healthOf({ ...all, waiting: undefined }).reason,
    "no peers for 45s",
  );
  assertEquals(
    healthOf({ ...all, waiting: undefined, noPeersForMs: 1_000 }).reason,
    unreachable,
  );
  // Starting, syncing and stopping say nothing of either.
  assertEquals(healthOf({ ...all, phase: "stopping" }).reason, "stopping");
});

Deno.test("the status JSON round-trips, u64 values exactly", () => {
  const text = encodeStatus(STATUS);
  assert(text.includes('"number":18446744073709551615'), text);
  assert(text.includes('"chain":"dev \\"chain\\""'), text);
  assertEquals(JSON.parse(text).peers, STATUS.peers);
  const back = decodeStatus(text);
  assertEquals(encodeStatus(back), text);
  assertEquals(back.lastBlock.number, STATUS.lastBlock.number);
  assertEquals(back, STATUS);
  assert(
    text.includes(
      '"pending":3,"noNewBlockPeriods":0,"stalled":false,"peers"',
    ),
    text,
  );
  assert(text.includes('"isAuthority":true,"authorityReachable":true,'), text);
});

Deno.test("an older node's status, without the stall and authority fields, decodes", () => {
  const old = encodeStatus({
    ...STATUS,
    noNewBlockPeriods: undefined,
    stalled: undefined,
    authorityReachable: undefined,
  });
  assert(!old.includes("stalled"), old);
  assert(!old.includes("authorityReachable"), old);
  const back = decodeStatus(old);
  assertEquals(
    [back.noNewBlockPeriods, back.stalled, back.authorityReachable],
    [undefined, undefined, undefined],
  );
  assertEquals(back.pending, 3n);
  // Printed as before.
  const text = formatStatus(back);
  assert(text.includes("pending   3 txs\n"), text);
  assert(text.includes(`authority ${"ef".repeat(32)} (this node)`), text);
});

Deno.test("a malformed status is refused naming the field", () => {
  const text = encodeStatus(STATUS);
  assertThrows(
    () => decodeStatus(text.replace('"isAuthority":true', '"isAuthority":1')),
    Error,
    "status.isAuthority: expected a boolean",
  );
  assertThrows(
    () => decodeStatus(text.replace('"stalled":false', '"stalled":"no"')),
    Error,
    "status.stalled: expected a boolean",
  );
  assertThrows(
    () =>
      decodeStatus(
        text.replace('"noNewBlockPeriods":0', '"noNewBlockPeriods":-1'),
      ),
    Error,
    "noNewBlockPeriods",
  );
  assertThrows(
    () => decodeStatus(text.replace(/"pending":3,/, "")),
    Error,
    "pending: missing",
  );
  assertThrows(() => decodeStatus("<html>"), Error);
});
