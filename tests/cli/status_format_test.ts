/** The text `bcn node status` prints. */
import { assert, assertEquals } from "../assert.ts";
import { formatStatus } from "../../src/cli/status_format.ts";
import { STATUS } from "../node/observe/status_fixture.ts";

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

Deno.test("the text status says a stall and an unreachable authority", () => {
  const reason =
    "stalled: no new block for 7 periods (7s) while 3 transactions are pending";
  const lines = formatStatus({
    ...STATUS,
    noNewBlockPeriods: 7n,
    stalled: true,
    isAuthority: false,
    authorityReachable: false,
    health: { ok: false, reason },
  }).split("\n");
  assertEquals(lines.length, 8);
  assertEquals(
    lines[3],
    "pending   3 txs, no new block for 7 periods (stalled)",
  );
  assertEquals(lines[6], `authority ${"ef".repeat(32)} (unreachable)`);
  assertEquals(lines[7], `health    ${reason}`);
  // Waiting, not yet stalled.
  assertEquals(
    formatStatus({ ...STATUS, noNewBlockPeriods: 1n }).split("\n")[3],
    "pending   3 txs, no new block for 1 period",
  );
});
