/**
 * Text to UTF-8 bytes and back, through one shared encoder and decoder
 * (both are stateless for whole inputs, so every module may share them).
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The UTF-8 bytes of a text (a lone surrogate becomes U+FFFD).
 *
 * @example
 * ```ts
 * import { encodeUtf8 } from "./utf8.ts";
 *
 * console.log(encodeUtf8("é")); // Uint8Array(2) [ 195, 169 ]
 * ```
 */
export function encodeUtf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/**
 * The text of UTF-8 bytes, leniently: a malformed sequence becomes U+FFFD
 * and a leading byte order mark is dropped. Chain data, which must be valid
 * UTF-8, is read by `chain/json.ts`'s strict decoder instead.
 *
 * @example
 * ```ts
 * import { decodeUtf8 } from "./utf8.ts";
 *
 * console.log(decodeUtf8(new Uint8Array([104, 105]))); // "hi"
 * ```
 */
export function decodeUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
