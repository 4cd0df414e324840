/**
 * Reading a file of `\n`-ended lines a piece at a time.
 *
 * @module
 */

const NL = 0x0a;

/** Options of {@link fileLines}. */
export interface FileLinesOptions {
  /** Stops the reading (checked before each read and after each line). */
  signal?: AbortSignal;
  /** Bytes read at a time; 64 KiB by default. */
  chunkSize?: number;
  /** Lines passed over first, without copying them. */
  skip?: number;
}

/**
 * The lines of `file` from where it stands (each a fresh copy, without
 * its `\n`; an unended last line is left out), closing the file when done
 * or when the loop is left. A line longer than a read is gathered in
 * pieces and joined once, so reading it costs its length, not its length
 * squared.
 *
 * @example
 * ```ts
 * import { fileLines } from "./file_lines.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "a\nbc\n");
 * for await (const line of fileLines(await Deno.open(path))) {
 *   console.log(line.length); // 1, then 2
 * }
 * await Deno.remove(path);
 * ```
 */
export async function* fileLines(
  file: Deno.FsFile,
  options: FileLinesOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const { signal } = options;
  let skip = options.skip ?? 0;
  try {
    const buf = new Uint8Array(options.chunkSize ?? 64 * 1024);
    // Bytes of the current line read so far, from earlier reads.
    let parts: Uint8Array[] = [];
    let partsLen = 0;
    for (;;) {
      signal?.throwIfAborted();
      const n = await file.read(buf);
      signal?.throwIfAborted();
      if (n === null) return;
      let start = 0;
      for (;;) {
        const nl = buf.subarray(start, n).indexOf(NL);
        if (nl < 0) break;
        const end = start + nl;
        if (skip > 0) {
          skip--;
        } else {
          const line = new Uint8Array(partsLen + end - start);
          let off = 0;
          for (const p of parts) {
            line.set(p, off);
            off += p.length;
          }
          line.set(buf.subarray(start, end), off);
          yield line;
          signal?.throwIfAborted();
        }
        parts = [];
        partsLen = 0;
        start = end + 1;
      }
      if (start < n && skip === 0) {
        parts.push(buf.slice(start, n));
        partsLen += n - start;
      }
    }
  } finally {
    file.close();
  }
}
