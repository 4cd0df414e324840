/**
 * The configuration of a node, as `bcn node start` builds it from its flags.
 *
 * @module
 */

import type { PeerProtocol } from "../rpc/client.ts";

export type { PeerProtocol };

/** Everything a node needs to start. */
export interface NodeConfig {
  /** The address this node serves on, `host:port`. */
  node: string;
  /** Whether this is the bootstrap (and authority) node. */
  bootstrap: boolean;
  /** A regular node's seed: the bootstrap node's address. */
  seed?: string;
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
  /** The base period of the proposer, discovery and relays, in ms. */
  periodMs?: number;
  /** How to reach peers; `auto` by default. */
  peerProtocol?: PeerProtocol;
  /** Block and transaction verification workers; one per core by default. */
  verifyWorkers?: number;
  /** Replay and verify the whole block store, ignoring any snapshot. */
  reverify?: boolean;
}

/** Splits `host:port` (IPv6 in brackets); throws a one-line error if malformed. */
export function splitHostPort(
  addr: string,
): { hostname: string; port: number } {
  // One parser for every address: flags, and what peers report.
  const m = addr.length <= 300
    ? /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(addr)
    : null;
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error(
      `invalid address ${JSON.stringify(addr)}: expected host:port`,
    );
  }
  return { hostname: m[1] ?? m[2], port };
}

/** The default store directory suffix: the port of `--node`. */
export function portOf(addr: string): number {
  return splitHostPort(addr).port;
}
