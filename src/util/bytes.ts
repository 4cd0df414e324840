/**
 * Byte strings put together and compared, the few ways every layer needs.
 *
 * @module
 */

/**
 * Byte strings, one after the other, in a new buffer.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./bytes.ts";
 *
 * console.log(concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]));
 * // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * The lines, each followed by `\n`, in a new buffer.
 *
 * @example
 * ```ts
 * import { joinLines } from "./bytes.ts";
 *
 * console.log(joinLines([new Uint8Array([97]), new Uint8Array([98])]));
 * // Uint8Array(4) [ 97, 10, 98, 10 ]
 * ```
 */
export function joinLines(lines: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const l of lines) size += l.length + 1;
  const out = new Uint8Array(size);
  let off = 0;
  for (const l of lines) {
    out.set(l, off);
    out[off + l.length] = 0x0a;
    off += l.length + 1;
  }
  return out;
}

/**
 * Whether two byte strings are the same bytes.
 *
 * @example
 * ```ts
 * import { equalBytes } from "./bytes.ts";
 *
 * console.log(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2]))); // true
 * ```
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The unsigned big-endian integer of bytes (0 for none).
 *
 * @example
 * ```ts
 * import { bytesToBigint } from "./bytes.ts";
 *
 * console.log(bytesToBigint(new Uint8Array([1, 0]))); // 256n
 * ```
 */
export function bytesToBigint(b: Uint8Array): bigint {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}
