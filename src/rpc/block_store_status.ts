/**
 * The status a call answers when reading the block store failed, the same
 * for every service that reads it.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { messageOf } from "../util/errors.ts";

/**
 * The status of a call that failed reading the block store: Internal,
 * `cannot read the block store: REASON`.
 *
 * @example
 * ```ts
 * import { blockStoreError } from "./block_store_status.ts";
 *
 * console.log(blockStoreError(new Error("EIO")).message);
 * // [internal] cannot read the block store: EIO
 * ```
 */
export function blockStoreError(err: unknown): ConnectError {
  return new ConnectError(
    `cannot read the block store: ${messageOf(err)}`,
    Code.Internal,
  );
}
