/**
 * What a node says about itself on `GET /status` and `GET /healthz`, and
 * how `bcn node status` reads and prints it.
 *
 * @module
 */
import {
  DecodeError,
  encodeString,
  encodeU64,
  Fields,
  type JsonValue,
  parseObject,
} from "../../chain/json.ts";
import { asTime, formatTime, type Time } from "../../chain/time.ts";

/** Where a node is in its life. */
export type NodePhase = "starting" | "syncing" | "serving" | "stopping";

/** The answer of `GET /healthz`. */
export interface Health {
  /** Whether the node serves and is not behind its peers. */
  ok: boolean;
  /** `ok`, or one line saying why not. */
  reason: string;
}

/** What {@link healthOf} decides from. */
export interface HealthInput {
  /** Where the node is. */
  phase: NodePhase;
  /** Whether a catch-up sync is running. */
  catchingUp: boolean;
  /** The last confirmed block. */
  height: bigint;
  /** The highest block number the node has heard of. */
  highestKnown: bigint;
  /** How long the node has had no peer that counts (see below), in ms. */
  noPeersForMs?: number;
  /** From how long {@link HealthInput.noPeersForMs} makes it unhealthy. */
  noPeersGraceMs: number;
  /**
   * Transactions pending now (more than 0), for how long no new block has
   * come while they were pending (ms), and the node's period (ms, to say
   * that wait in periods); absent when none is pending.
   */
  waiting?: { pending: number; forMs: number; periodMs: number };
  /**
   * From how long {@link HealthInput.waiting} makes the chain stalled;
   * never when absent.
   */
  stallGraceMs?: number;
  /**
   * Set while a regular node cannot reach the authority: the address it
   * reaches it at (`host:port`, its seed) and for how long it has not (ms).
   */
  authorityUnreachable?: { node: string; forMs: number };
  /**
   * Set while a node that joined from a checkpoint backfills its block
   * store: the blocks it holds (1..held) and the checkpoint's block.
   */
  backfill?: Backfilling;
}

/** A block store being backfilled: blocks 1..held of 1..checkpoint. */
export interface Backfilling {
  /** The last block `block.store` holds. */
  held: bigint;
  /** The checkpoint's block, where the backfill ends. */
  checkpoint: bigint;
}

/**
 * The health of a node: not ok while it starts (reads its genesis and
 * replays its block store), syncs, catches up, is behind a block it has
 * heard of, stops, sees no new block for `stallGraceMs` while transactions
 * are pending (stalled), has had no peer for `noPeersGraceMs` or more, or
 * cannot reach the authority; checked in that order, the first that holds
 * is the reason.
 *
 * @example
 * ```ts
 * import { healthOf } from "./status.ts";
 *
 * const h = healthOf({
 *   phase: "serving",
 *   catchingUp: true,
 *   height: 5n,
 *   highestKnown: 9n,
 *   noPeersGraceMs: 30_000,
 * });
 * console.log(h.reason); // catching up: at block 5, peers have block 9
 *
 * const stalled = healthOf({
 *   phase: "serving",
 *   catchingUp: false,
 *   height: 5n,
 *   highestKnown: 5n,
 *   noPeersGraceMs: 30_000,
 *   waiting: { pending: 2, forMs: 6_000, periodMs: 1000 },
 *   stallGraceMs: 5_000,
 * });
 * console.log(stalled.reason); // stalled: no new block for 6 periods (6s) while 2 transactions are pending
 * ```
 */
export function healthOf(input: HealthInput): Health {
  const at = `at block ${input.height}`;
  const ahead = input.highestKnown > input.height
    ? `, peers have block ${input.highestKnown}`
    : "";
  switch (input.phase) {
    case "starting":
      return {
        ok: false,
        reason: "starting: reading its genesis and replaying its block store",
      };
    case "syncing":
      return { ok: false, reason: `syncing from peers: ${at}${ahead}` };
    case "stopping":
      return { ok: false, reason: "stopping" };
  }
  if (input.catchingUp) {
    return { ok: false, reason: `catching up: ${at}${ahead}` };
  }
  const fill = input.backfill;
  if (fill) {
    return {
      ok: false,
      reason:
        `backfilling: serving from checkpoint ${fill.checkpoint}, block.store holds ${fill.held} of blocks 1 to ${fill.checkpoint}`,
    };
  }
  if (ahead) return { ok: false, reason: `behind: ${at}${ahead}` };
  const cut = input.authorityUnreachable;
  const unreachable = cut
    ? `authority unreachable for ${
      seconds(cut.forMs)
    }s: ${cut.node} does not answer`
    : undefined;
  const wait = input.waiting;
  if (
    wait && wait.pending > 0 && input.stallGraceMs !== undefined &&
    wait.forMs >= input.stallGraceMs
  ) {
    const txs = wait.pending === 1
      ? "1 transaction is"
      : `${wait.pending} transactions are`;
    // The likely cause goes on the same line.
    const cause = unreachable ? `; ${unreachable}` : "";
    const periods = Math.floor(wait.forMs / wait.periodMs);
    return {
      ok: false,
      reason: `stalled: no new block for ${periods} ${
        periods === 1 ? "period" : "periods"
      } (${seconds(wait.forMs)}s) while ${txs} pending${cause}`,
    };
  }
  const alone = input.noPeersForMs;
  if (alone !== undefined && alone >= input.noPeersGraceMs) {
    return {
      ok: false,
      reason: `no peers for ${seconds(alone)}s`,
    };
  }
  if (unreachable) return { ok: false, reason: unreachable };
  return { ok: true, reason: "ok" };
}

/** Whole seconds of `ms`. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** What `GET /status` answers. */
export interface NodeStatus {
  /** The bcn version. */
  version: string;
  /** The address the node serves on. */
  node: string;
  /** The chain name, from the genesis. */
  chain: string;
  /** The genesis identifier. */
  genesis: string;
  /** The last confirmed block (number 0 and the genesis before any). */
  lastBlock: { number: bigint; hash: string; time: Time };
  /** Pending transactions. */
  pending: bigint;
  /**
   * Whole periods the pending transactions have waited with no new block (0
   * when none is pending). Absent from nodes older than this field.
   */
  noNewBlockPeriods?: bigint;
  /**
   * Whether that wait is long enough to call the chain stalled. Absent from
   * nodes older than this field.
   */
  stalled?: boolean;
  /** Peers that answered peer discovery. */
  peers: string[];
  /** Whether it is catching up (or syncing at start). */
  catchingUp: boolean;
  /** The highest block number it has heard of. */
  highestKnownBlock: bigint;
  /** How many blocks it believes it is behind. */
  behind: bigint;
  /** The authority address, from the genesis. */
  authority: string;
  /** Whether this node holds the authority key and proposes blocks. */
  isAuthority: boolean;
  /**
   * Whether the node reaches the authority: always on the authority itself.
   * Absent from nodes older than this field.
   */
  authorityReachable?: boolean;
  /** Seconds since the node process started the node. */
  uptimeSeconds: bigint;
  /**
   * Present while the node backfills the block store below the checkpoint
   * it joined from. Absent from nodes older than this field.
   */
  backfill?: Backfilling;
  /** What `GET /healthz` answers now. */
  health: Health;
}

/**
 * The status as one line of JSON, u64 values as plain numbers (the chain's
 * canonical JSON conventions).
 *
 * @example
 * ```ts ignore
 * import { encodeStatus } from "./status.ts";
 * console.log(encodeStatus(status));
 * ```
 */
export function encodeStatus(s: NodeStatus): string {
  const str = encodeString;
  return `{"version":${str(s.version)},"node":${str(s.node)},"chain":${
    str(s.chain)
  },"genesis":${str(s.genesis)},"lastBlock":{"number":${
    encodeU64(s.lastBlock.number)
  },"hash":${str(s.lastBlock.hash)},"time":"${
    formatTime(s.lastBlock.time)
  }"},"pending":${encodeU64(s.pending)}${
    s.noNewBlockPeriods === undefined
      ? ""
      : `,"noNewBlockPeriods":${encodeU64(s.noNewBlockPeriods)}`
  }${s.stalled === undefined ? "" : `,"stalled":${s.stalled}`},"peers":[${
    s.peers.map(str).join(",")
  }],"catchingUp":${s.catchingUp},"highestKnownBlock":${
    encodeU64(s.highestKnownBlock)
  },"behind":${encodeU64(s.behind)},"authority":${
    str(s.authority)
  },"isAuthority":${s.isAuthority}${
    s.authorityReachable === undefined
      ? ""
      : `,"authorityReachable":${s.authorityReachable}`
  },"uptimeSeconds":${encodeU64(s.uptimeSeconds)}${
    s.backfill === undefined
      ? ""
      : `,"backfill":{"held":${encodeU64(s.backfill.held)},"checkpoint":${
        encodeU64(s.backfill.checkpoint)
      }}`
  },"health":{"ok":${s.health.ok},"reason":${str(s.health.reason)}}}`;
}

/**
 * Decodes what {@link encodeStatus} wrote; throws a `DecodeError` naming
 * the field that is missing or wrong. The fields newer than the first
 * status (`noNewBlockPeriods`, `stalled`, `authorityReachable`) may be
 * missing: an older node does not write them.
 *
 * @example
 * ```ts ignore
 * import { decodeStatus } from "./status.ts";
 * const status = decodeStatus(await (await fetch(url)).text());
 * ```
 */
export function decodeStatus(input: string | Uint8Array): NodeStatus {
  const f = parseObject(input, "status");
  const last = new Fields(f.raw("lastBlock"), f.at("lastBlock"));
  const health = new Fields(f.raw("health"), f.at("health"));
  const backfill = optional(f, "backfill", (n) => {
    const b = new Fields(f.raw(n), f.at(n));
    return { held: b.u64("held"), checkpoint: b.u64("checkpoint") };
  });
  return {
    ...(backfill ? { backfill } : {}),
    version: f.string("version"),
    node: f.string("node"),
    chain: f.string("chain"),
    genesis: f.hash("genesis"),
    lastBlock: {
      number: last.u64("number"),
      hash: last.hash("hash"),
      time: asTime(last.raw("time"), last.at("time")),
    },
    pending: f.u64("pending"),
    noNewBlockPeriods: optional(f, "noNewBlockPeriods", (n) => f.u64(n)),
    stalled: optional(f, "stalled", (n) => bool(f.raw(n), `status.${n}`)),
    peers: f.array("peers").map((p, i) => {
      if (typeof p !== "string") {
        throw new DecodeError(`status.peers[${i}]`, "expected a string");
      }
      return p;
    }),
    catchingUp: bool(f.raw("catchingUp"), "status.catchingUp"),
    highestKnownBlock: f.u64("highestKnownBlock"),
    behind: f.u64("behind"),
    authority: f.string("authority"),
    isAuthority: bool(f.raw("isAuthority"), "status.isAuthority"),
    authorityReachable: optional(
      f,
      "authorityReachable",
      (n) => bool(f.raw(n), `status.${n}`),
    ),
    uptimeSeconds: f.u64("uptimeSeconds"),
    health: {
      ok: bool(health.raw("ok"), "status.health.ok"),
      reason: health.string("reason"),
    },
  };
}

/** `read(name)`, or undefined when the field is missing (or null). */
function optional<T>(
  f: Fields,
  name: string,
  read: (name: string) => T,
): T | undefined {
  try {
    f.raw(name);
  } catch {
    // `raw` throws only for a missing field.
    return undefined;
  }
  return read(name);
}

function bool(v: JsonValue, path: string): boolean {
  if (typeof v !== "boolean") throw new DecodeError(path, "expected a boolean");
  return v;
}
