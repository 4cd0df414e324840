/**
 * The decoder of a chunked request body (RFC 9112 §7.1): a state machine fed
 * the body's bytes in pieces of any size, so it can be tested and fuzzed
 * without a socket (`h1_server.ts` feeds it). Strict on purpose: anything
 * another parser on the way could read differently (a bare CR or LF, a size
 * that is not plain hex, no CRLF after the data) is an error, not a guess.
 *
 * @module
 */

/** A chunk-size line or a trailer line at most, without its CRLF. */
export const MAX_CHUNK_LINE = 1024;
/** The trailer section at most, like a request head. */
export const MAX_TRAILER_BYTES = 64 * 1024;
/**
 * Hex digits of a chunk size at most: 8 allow chunks just under 4 GiB,
 * far above any message bcn takes, and the size stays an exact number.
 */
const MAX_SIZE_DIGITS = 8;
/** Characters of a client's size quoted back in an error at most. */
const MAX_QUOTED = 32;

const CR = 13;
const LF = 10;
const HTAB = 9;
const DEL = 0x7f;
const SIZE = new RegExp(`^[0-9A-Fa-f]{1,${MAX_SIZE_DIGITS}}$`);

/**
 * A chunked body that is not well formed; the server answers 400.
 *
 * @example
 * ```ts
 * import { ChunkedDecoder, ChunkedError } from "./h1_chunked.ts";
 *
 * try {
 *   new ChunkedDecoder().push(new TextEncoder().encode("-2\r\n"), () => {});
 * } catch (e) {
 *   if (e instanceof ChunkedError) console.log(e.status, e.message);
 * }
 * ```
 */
export class ChunkedError extends Error {
  /** The HTTP status to answer. */
  readonly status = 400;

  /** A body error with one line saying what was wrong. */
  constructor(message: string) {
    super(message);
    this.name = "ChunkedError";
  }
}

type State =
  | "size"
  | "data"
  | "data-cr"
  | "data-lf"
  | "trailers"
  | "ended"
  | "failed";

/**
 * Decodes one chunked body. {@link ChunkedDecoder.push} takes the bytes
 * that follow the request head, as many as are at hand, and passes each
 * piece of chunk data on (a view into those bytes, not a copy). Extensions
 * and trailer fields are read and dropped: nothing in bcn uses them.
 *
 * @example
 * ```ts
 * import { ChunkedDecoder } from "./h1_chunked.ts";
 *
 * const decoder = new ChunkedDecoder();
 * const bytes = new TextEncoder().encode("5\r\nhello\r\n0\r\n\r\nGET /next");
 * const parts: Uint8Array[] = [];
 * const used = decoder.push(bytes, (data) => parts.push(data));
 * console.log(used, decoder.ended); // 15 true: "GET /next" is not the body's
 * ```
 */
export class ChunkedDecoder {
  #state: State = "size";
  /** Data bytes left in the current chunk. */
  #left = 0;
  /** The line read so far (size or trailer), as char codes. */
  #line = "";
  /** Whether the line so far ends with a CR (its LF may be next). */
  #cr = false;
  #trailerBytes = 0;
  #error: ChunkedError | undefined;

  /** Whether the last chunk and the trailer section have been read. */
  get ended(): boolean {
    return this.#state === "ended";
  }

  /**
   * Decodes `input`, calling `onData` for each piece of chunk data (never
   * empty). Returns how many bytes of `input` belong to the body: all of
   * them, unless the body ended inside it. Throws a {@link ChunkedError}
   * when the body is malformed, and again on every later call.
   */
  push(input: Uint8Array, onData: (data: Uint8Array) => void): number {
    if (this.#error) throw this.#error;
    let i = 0;
    try {
      while (i < input.length && this.#state !== "ended") {
        switch (this.#state) {
          case "data": {
            const n = Math.min(this.#left, input.length - i);
            onData(input.subarray(i, i + n));
            i += n;
            this.#left -= n;
            if (this.#left === 0) this.#state = "data-cr";
            break;
          }
          case "data-cr":
          case "data-lf": {
            const want = this.#state === "data-cr" ? CR : LF;
            if (input[i++] !== want) this.#fail("chunk not followed by CRLF");
            this.#state = this.#state === "data-cr" ? "data-lf" : "size";
            break;
          }
          default: {
            // "size" or "trailers": a line; the byte after a whole line is
            // the next state's.
            i = this.#readLine(input, i);
          }
        }
      }
    } catch (e) {
      // After an error the body's bytes are no longer followed: a throw
      // from onData leaves the decoder as unusable as a malformed body.
      this.#error = e instanceof ChunkedError
        ? e
        : new ChunkedError("chunked body cut short by its reader");
      this.#state = "failed";
      throw e;
    }
    return i;
  }

  /** Reads line bytes from `input[i]` on; returns where it stopped. */
  #readLine(input: Uint8Array, i: number): number {
    for (; i < input.length; i++) {
      const b = input[i];
      if (this.#cr) {
        // A CR is only ever the start of the line's end.
        if (b !== LF) this.#fail("control character in a chunk line");
        this.#cr = false;
        this.#endLine();
        return i + 1;
      }
      if (b === CR) {
        this.#cr = true;
        continue;
      }
      // A bare LF (or another control) that another parser would take for
      // a line end, or worse.
      if ((b < 0x20 && b !== HTAB) || b === DEL) {
        this.#fail("control character in a chunk line");
      }
      if (this.#line.length >= MAX_CHUNK_LINE) {
        this.#fail("chunk line too long");
      }
      this.#line += String.fromCharCode(b);
    }
    return i;
  }

  /** A whole line is in: a chunk size, or a trailer line. */
  #endLine(): void {
    const line = this.#line;
    this.#line = "";
    if (this.#state === "trailers") {
      this.#trailerBytes += line.length + 2;
      if (this.#trailerBytes > MAX_TRAILER_BYTES) {
        this.#fail(`trailers larger than ${MAX_TRAILER_BYTES / 1024} KiB`);
      }
      if (line === "") this.#state = "ended";
      return;
    }
    // chunk-size [; extensions], maybe with spaces before the ";"
    const semi = line.indexOf(";");
    const size = (semi < 0 ? line : line.slice(0, semi)).replace(
      /[ \t]+$/,
      "",
    );
    if (!SIZE.test(size)) {
      this.#fail(`bad chunk size ${JSON.stringify(size.slice(0, MAX_QUOTED))}`);
    }
    this.#left = parseInt(size, 16);
    this.#state = this.#left === 0 ? "trailers" : "data";
  }

  #fail(message: string): never {
    throw new ChunkedError(message);
  }
}
