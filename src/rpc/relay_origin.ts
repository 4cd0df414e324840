/**
 * The origin of a relay stream: a bcn sender names itself (its advertised
 * `host:port`) in a request header so that the receiver does not relay the
 * items back to it (see `node/relay.ts`).
 *
 * @module
 */
import { isPeerAddress } from "./peer_address.ts";

/**
 * The request header of a relay stream (`Tx.TxReceive`,
 * `Block.BlockReceive`) in which a bcn sender gives its advertised address,
 * so the receiver does not relay the items back to it. Unknown metadata to
 * gRPC servers such as the reference node, which ignore it.
 */
export const RELAY_ORIGIN_HEADER = "bcn-origin";

/**
 * The origin a relay stream announces in {@link RELAY_ORIGIN_HEADER}, or
 * `undefined` when there is none or it is not a `host:port` address (a
 * reference node's streams carry none).
 *
 * @example
 * ```ts
 * import { RELAY_ORIGIN_HEADER, relayOrigin } from "./relay_origin.ts";
 *
 * const headers = new Headers({ [RELAY_ORIGIN_HEADER]: "127.0.0.1:1123" });
 * console.log(relayOrigin(headers)); // 127.0.0.1:1123
 * console.log(relayOrigin(new Headers())); // undefined
 * ```
 */
export function relayOrigin(headers: Headers): string | undefined {
  const origin = headers.get(RELAY_ORIGIN_HEADER)?.trim();
  return origin && isPeerAddress(origin) ? origin : undefined;
}
