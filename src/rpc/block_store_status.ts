/**
 * The status a call answers when reading the block store failed, the same
 * for every service that reads it.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { messageWithoutPaths } from "../util/errors.ts";
import { BLOCKS_FILE, GENESIS_FILE } from "../store/block_store.ts";

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
    `cannot read the block store: ${storeReason(err)}`,
    Code.Internal,
  );
}

/**
 * What a store failure was, in one line a client may read: without the
 * node's paths (see {@link messageWithoutPaths}), its block files named by
 * their file name alone.
 *
 * @example
 * ```ts
 * import { storeReason } from "./block_store_status.ts";
 *
 * storeReason(new Error("/srv/.blockstore1122/block.store line 7: bad JSON"));
 * // "block.store line 7: bad JSON"
 * ```
 */
export function storeReason(err: unknown): string {
  // The client learns what failed, not where the node keeps its store.
  return messageWithoutPaths(err).replace(STORE_FILE_PATH, "$1");
}

/** A path ending in one of the block store's files (names taken literally). */
const STORE_FILE_PATH = new RegExp(
  `\\S*[/\\\\](${
    [BLOCKS_FILE, GENESIS_FILE].map((f) => f.replaceAll(".", "\\.")).join("|")
  })\\b`,
  "g",
);
