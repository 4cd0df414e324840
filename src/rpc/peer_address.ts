/**
 * Peer addresses, `host:port` (IPv6 in brackets): one parser for every
 * address, whether from flags or reported by peers.
 *
 * @module
 */

/**
 * Splits `host:port` (IPv6 in brackets); throws a one-line error if
 * malformed.
 *
 * @example
 * ```ts
 * import { splitHostPort } from "./peer_address.ts";
 *
 * console.log(splitHostPort("[::1]:1122")); // { hostname: "::1", port: 1122 }
 * ```
 */
export function splitHostPort(
  addr: string,
): { hostname: string; port: number } {
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

/**
 * Whether `addr` looks like a peer address: `host:port` or `[v6]:port` with
 * a port from 1 to 65535.
 *
 * @example
 * ```ts
 * import { isPeerAddress } from "./peer_address.ts";
 *
 * console.log(isPeerAddress("127.0.0.1:1122")); // true
 * console.log(isPeerAddress("127.0.0.1")); // false
 * ```
 */
export function isPeerAddress(addr: string): boolean {
  try {
    return splitHostPort(addr).port >= 1;
  } catch {
    return false;
  }
}
