/** A node status with every field set, for the status tests. */
import { parseTime } from "../../../src/chain/time.ts";
import type { NodeStatus } from "../../../src/node/observe/status.ts";

/** The status of an authority at the highest block number. */
export const STATUS: NodeStatus = {
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
  noNewBlockPeriods: 0n,
  stalled: false,
  peers: ["127.0.0.1:1123", "[::1]:1124"],
  catchingUp: false,
  highestKnownBlock: 18446744073709551615n,
  behind: 0n,
  authority: "ef".repeat(32),
  isAuthority: true,
  authorityReachable: true,
  uptimeSeconds: 3723n,
  health: { ok: true, reason: "ok" },
};
