/**
 * The check of a hex-prefix search field, which the block and transaction
 * searches share.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** A search prefix: 1 to 64 lowercase hex characters. */
const HEX_PREFIX_RE = /^[0-9a-f]{1,64}$/;

/**
 * The hex prefix of search field `field`, lowercased; InvalidArgument naming
 * the field when it is not 1 to 64 hex characters.
 *
 * @example
 * ```ts
 * import { hexPrefixField } from "./hex_prefix.ts";
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
