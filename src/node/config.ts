/**
 * The configuration of a node, as `bcn node start` builds it from its flags.
 *
 * @module
 */

import { splitHostPort } from "../rpc/peer_address.ts";
import type { PeerProtocol } from "../rpc/transport.ts";

/** Everything a node needs to start. */
export interface NodeConfig {
  /** The address this node serves on, `host:port`. */
  node: string;
  /** Whether this is the bootstrap (and authority) node. */
  bootstrap: boolean;
  /** A regular node's seed: the bootstrap node's address. */
  seed?: string;
  /**
   * The address peers are told to reach this node at, `host:port`
   * (`--advertise`); `node` when absent. See {@link advertisedAddress}.
   */
  advertise?: string;
  /** The key-store directory. */
  keyStoreDir: string;
  /** The block-store directory. */
  blockStoreDir: string;
  /** The chain name written to a new genesis. */
  chain: string;
  /** The authority account's password (bootstrap only). */
  authPass?: string;
  /** The initial owner's password (bootstrap, first start only). */
  ownerPass?: string;
  /** The initial owner's balance (bootstrap, first start only). */
  balance?: bigint;
  /**
   * The base period of the proposer, discovery and relays, in ms; default
   * {@link DEFAULT_PERIOD_MS}.
   */
  periodMs?: number;
  /** How to reach peers; `auto` by default. */
  peerProtocol?: PeerProtocol;
  /**
   * Addresses and CIDR ranges (e.g. `10.0.0.0/8`) that may call TxSign and
   * AccountCreate besides the node's machine (127.0.0.1 and ::1); none by
   * default.
   */
  allowKeysFrom?: string[];
  /**
   * Open connections one remote address may hold; the server's default
   * (`DEFAULT_MAX_CONNECTIONS_PER_ADDRESS`, 64) when absent.
   */
  maxConnsPerIp?: number;
  /** Block and transaction verification workers; one per core by default. */
  verifyWorkers?: number;
  /** Replay and verify the whole block store, ignoring any snapshot. */
  reverify?: boolean;
  /** Serve the block explorer on `GET /`; true when absent. */
  explorer?: boolean;
  /**
   * The authority's checkpoint interval in blocks (bootstrap only; regular
   * nodes learn it from the checkpoints); 1000 by default.
   */
  checkpointInterval?: bigint;
  /**
   * How a regular node without a block store joins: `checkpoint` (from a
   * bcn peer's checkpoint, then backfill; full sync when no peer offers
   * one) or `full` (replay every block). `checkpoint` by default when the
   * store holds no block, else `full`.
   */
  sync?: "checkpoint" | "full";
  /**
   * The hash of a block below which a full sync does not recover
   * transaction signatures (everything else is checked); none by default.
   */
  assumeValid?: string;
}

/** The default base period of a node (`--period`), in ms: 5 s. */
export const DEFAULT_PERIOD_MS = 5000;

/**
 * The base period of a node, in ms: `cfg.periodMs` or
 * {@link DEFAULT_PERIOD_MS}.
 *
 * @example
 * ```ts
 * import { periodOf } from "./config.ts";
 *
 * console.log(periodOf({ periodMs: 200 } as never)); // 200
 * ```
 */
export function periodOf(cfg: Pick<NodeConfig, "periodMs">): number {
  return cfg.periodMs ?? DEFAULT_PERIOD_MS;
}

/** The default store directory suffix: the port of `--node`. */
export function portOf(addr: string): number {
  return splitHostPort(addr).port;
}

/**
 * The address a node names itself by to its peers: `cfg.advertise`, else
 * the address it serves on. Peer discovery sends it, relays name it as the
 * origin of what they send, and it is never listed among the node's peers.
 *
 * @example
 * ```ts
 * import { advertisedAddress } from "./config.ts";
 *
 * advertisedAddress({ node: "0.0.0.0:1122", advertise: "10.0.0.5:1122" }); // "10.0.0.5:1122"
 * advertisedAddress({ node: "127.0.0.1:1122" }); // "127.0.0.1:1122"
 * ```
 */
export function advertisedAddress(
  cfg: Pick<NodeConfig, "node" | "advertise">,
): string {
  return cfg.advertise ?? cfg.node;
}

/**
 * Whether `host` is an unspecified address (`0.0.0.0`, `::`), which a node
 * may listen on but which names no machine to its peers.
 *
 * @example
 * ```ts
 * import { isUnspecifiedHost } from "./config.ts";
 *
 * isUnspecifiedHost("0.0.0.0"); // true
 * isUnspecifiedHost("::"); // true
 * isUnspecifiedHost("10.0.0.5"); // false
 * ```
 */
export function isUnspecifiedHost(host: string): boolean {
  return host === "0.0.0.0" || (host.includes(":") && /^[0:]+$/.test(host));
}
