/**
 * The text `bcn node status` prints: the node's status (its wire format is
 * `node/observe/status.ts`) as one fact per line.
 *
 * @module
 */
import { formatTime } from "../chain/time.ts";
import type { NodeStatus } from "../node/observe/status.ts";

/**
 * The status as `bcn node status` prints it: one fact per line.
 *
 * @example
 * ```ts
 * import { formatStatus } from "./status_format.ts";
 * import { decodeStatus } from "../node/observe/status.ts";
 *
 * const res = await fetch("http://127.0.0.1:1122/status");
 * console.log(formatStatus(decodeStatus(await res.text())));
 * ```
 */
export function formatStatus(s: NodeStatus): string {
  const sync = s.catchingUp
    ? `catching up, ${s.behind} blocks behind (peers have ${s.highestKnownBlock})`
    : s.behind > 0n
    ? `behind by ${s.behind} blocks (peers have ${s.highestKnownBlock})`
    : "in sync";
  const peers = s.peers.length === 0
    ? "none"
    : `${s.peers.length}: ${s.peers.join(" ")}`;
  const periods = s.noNewBlockPeriods ?? 0n;
  const waiting = periods > 0n
    ? `, no new block for ${periods} ${periods === 1n ? "period" : "periods"}${
      s.stalled ? " (stalled)" : ""
    }`
    : "";
  const authority = s.isAuthority
    ? " (this node)"
    : s.authorityReachable === false
    ? " (unreachable)"
    : "";
  return [
    `node      ${s.node} (bcn ${s.version}, up ${
      formatUptime(s.uptimeSeconds)
    })`,
    `chain     ${s.chain}, genesis ${s.genesis}`,
    `block     ${s.lastBlock.number} ${s.lastBlock.hash} ${
      formatTime(s.lastBlock.time)
    }`,
    `pending   ${s.pending} txs${waiting}`,
    `peers     ${peers}`,
    `sync      ${sync}`,
    `authority ${s.authority}${authority}`,
    ...(s.backfill
      ? [
        `store     backfilling: ${s.backfill.held} of blocks 1 to ${s.backfill.checkpoint} held (serving from checkpoint ${s.backfill.checkpoint})`,
      ]
      : []),
    `health    ${s.health.reason}`,
  ].join("\n");
}

/** `1h 02m 03s`, `4m 05s`, `6s`. */
function formatUptime(seconds: bigint): string {
  const s = Number(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (h > 0) return `${h}h ${pad(m)}m ${pad(sec)}s`;
  if (m > 0) return `${m}m ${pad(sec)}s`;
  return `${sec}s`;
}
