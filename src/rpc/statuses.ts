/**
 * What the service handlers share: the check of a hex-prefix search field,
 * and the status of a block store that cannot be read.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { messageWithoutPaths } from "../util/errors.ts";
import { BLOCKS_FILE, GENESIS_FILE } from "../store/block_store.ts";

/** A search prefix: 1 to 64 lowercase hex characters. */
const HEX_PREFIX_RE = /^[0-9a-f]{1,64}$/;

/**
 * The hex prefix of search field `field`, lowercased; InvalidArgument naming
 * the field when it is not 1 to 64 hex characters.
 *
 * @example
 * ```ts
 * import { hexPrefixField } from "./statuses.ts";
 *
 * console.log(hexPrefixField("AB12", "Hash")); // "ab12"
 * ```
 */
export function hexPrefixField(value: string, field: string): string {
  const prefix = value.toLowerCase();
  if (!HEX_PREFIX_RE.test(prefix)) {
    throw new ConnectError(
      `${field}: expected a prefix of 1 to 64 hex characters`,
      Code.InvalidArgument,
    );
  }
  return prefix;
}

/**
 * The status of a call that failed reading the block store: Internal,
 * `cannot read the block store: REASON`.
 *
 * @example
 * ```ts
 * import { blockStoreError } from "./statuses.ts";
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
 * import { storeReason } from "./statuses.ts";
 *
 * storeReason(new Error("/srv/.blockstore1122/block.store line 7: bad JSON"));
 * // "block.store line 7: bad JSON"
 * ```
 */
export function storeReason(err: unknown): string {
  // The client learns what failed, not where the node keeps its store.
  return messageWithoutPaths(err).replace(
    new RegExp(`\\S*[/\\\\](${BLOCKS_FILE}|${GENESIS_FILE})\\b`, "g"),
    "$1",
  );
}
