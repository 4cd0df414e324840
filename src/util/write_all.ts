/**
 * Writing a whole buffer to something whose `write` may take only part.
 *
 * @module
 */

/**
 * Writes every byte of `data` to `file` or a connection (a single `write`
 * may be partial).
 *
 * @example
 * ```ts
 * import { writeAll } from "./write_all.ts";
 * const path = await Deno.makeTempFile();
 * using f = await Deno.open(path, { write: true });
 * await writeAll(f, new Uint8Array([1, 2, 3]));
 * ```
 */
export async function writeAll(
  file: { write(p: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < data.length) {
    off += await file.write(data.subarray(off));
  }
}
