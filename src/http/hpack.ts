/**
 * HPACK (RFC 7541), as much as a gRPC client needs: a decoder for a server's
 * header blocks (static and dynamic table, Huffman strings) and an encoder
 * that writes every field as a literal without indexing, so the server's
 * decoder state never depends on ours. A malformed block throws an
 * {@link HpackError} (`COMPRESSION_ERROR`); the decoder's memory is bounded
 * by its table size and header list limit.
 *
 * @module
 */
import { decodeUtf8, encodeUtf8 } from "../util/utf8.ts";

/** A header block that cannot be decoded (RFC 7540 `COMPRESSION_ERROR`). */
export class HpackError extends Error {
  /** Names the error, for logs. */
  override name = "HpackError";
}

/** One header field: a lower-case name and its value. */
export type HeaderField = [name: string, value: string];

// RFC 7541 Appendix A.
const STATIC_TABLE: readonly HeaderField[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

// RFC 7541 Appendix B is a canonical Huffman code, so the code length of
// each symbol (0-255, then EOS) defines it: one letter per symbol, "A" for
// 5 bits up to "Z" for 30 bits.
const HUFFMAN_LENGTHS =
  "ISXXXXXXXTZXXZXXXXXXXXZXXXXXXXXXBFFHIBDGFFDGDBBBAAABBBBBBBCDKBHFIBCCCCCC" +
  "CCCCCCCCCCCCCCCCDCDIOIJBKABABABBBACCBBBABCBAABCCCCCKGJIXPRPPRRRSRSSSSSTST" +
  "TRSTSSSSQRSRSSTRQPRRSSQSRRTQRSSQQRQSRSSPRRRSRRSVVPORSRUVVVWWVTUOQVWWVWTQQV" +
  "VXWWWPTPQRQQSRRUUTTVSVWVVWWWWWXWWWWWVZ";
const EOS = 256;

/**
 * The Huffman code as a machine that reads four bits a step: for each
 * state (an inner node of the code tree, the root first) and each nibble,
 * the next state and the symbol emitted on the way (at most one: the
 * shortest code has five bits), or a failure. Reading a step per nibble
 * instead of per bit makes a Huffman-coded flood cost the node a quarter
 * of the steps.
 */
interface HuffmanMachine {
  /** `state * 16 + nibble` -> next state, or -1 for a bad code or EOS. */
  next: Int16Array;
  /** `state * 16 + nibble` -> the symbol emitted, or -1. */
  emit: Int16Array;
  /** Whether input may end in the state (valid padding, RFC 7541 §5.2). */
  accepts: Uint8Array;
}

let huffman: HuffmanMachine | undefined;

function huffmanMachine(): HuffmanMachine {
  if (huffman) return huffman;
  const lengths = Array.from(HUFFMAN_LENGTHS, (c) => c.charCodeAt(0) - 60);
  // The tree of the canonical code: inner nodes by index, children as
  // `node * 2 + bit`; a leaf is stored as -(symbol + 1).
  const children: number[] = [0, 0];
  const depth: number[] = [0];
  const allOnes: boolean[] = [true];
  const order = lengths.map((_, s) => s).sort((a, b) =>
    lengths[a] - lengths[b] || a - b
  );
  let code = 0;
  let prev = lengths[order[0]];
  for (const symbol of order) {
    code <<= lengths[symbol] - prev;
    prev = lengths[symbol];
    let node = 0;
    for (let bit = lengths[symbol] - 1; bit > 0; bit--) {
      const b = (code >>> bit) & 1;
      if (children[node * 2 + b] === 0) {
        const child = depth.length;
        depth.push(depth[node] + 1);
        allOnes.push(allOnes[node] && b === 1);
        children.push(0, 0);
        children[node * 2 + b] = child;
      }
      node = children[node * 2 + b];
    }
    children[node * 2 + (code & 1)] = -(symbol + 1);
    code++;
  }
  const states = depth.length;
  const next = new Int16Array(states * 16);
  const emit = new Int16Array(states * 16).fill(-1);
  for (let state = 0; state < states; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      for (let bit = 3; bit >= 0 && node >= 0; bit--) {
        const child = children[node * 2 + ((nibble >> bit) & 1)];
        if (child >= 0) node = child;
        else if (-child - 1 === EOS) node = -1;
        else {
          emit[state * 16 + nibble] = -child - 1;
          node = 0;
        }
      }
      next[state * 16 + nibble] = node;
    }
  }
  // Padding: fewer than eight bits, all ones (a prefix of EOS).
  const accepts = Uint8Array.from(depth, (d, n) => d < 8 && allOnes[n] ? 1 : 0);
  return huffman = { next, emit, accepts };
}

/**
 * Decodes a Huffman-coded HPACK string (RFC 7541 §5.2).
 *
 * @example
 * ```ts
 * import { huffmanDecode } from "./hpack.ts";
 * // "www.example.com", RFC 7541 C.4.1
 * const bytes = Uint8Array.from(
 *   "f1e3c2e5f23a6ba0ab90f4ff".match(/../g)!.map((h) => parseInt(h, 16)),
 * );
 * console.log(new TextDecoder().decode(huffmanDecode(bytes)));
 * ```
 */
export function huffmanDecode(bytes: Uint8Array): Uint8Array {
  const { next, emit, accepts } = huffmanMachine();
  // Every symbol takes at least five bits.
  const out = new Uint8Array(Math.ceil(bytes.length * 8 / 5));
  let n = 0;
  let state = 0;
  for (let i = 0; i < bytes.length; i++) {
    for (let shift = 4; shift >= 0; shift -= 4) {
      const at = state * 16 + ((bytes[i] >> shift) & 0xf);
      const symbol = emit[at];
      state = next[at];
      if (state < 0) throw new HpackError("invalid Huffman code or EOS");
      if (symbol >= 0) out[n++] = symbol;
    }
  }
  if (!accepts[state]) throw new HpackError("invalid Huffman padding");
  return out.subarray(0, n);
}

/** Limits of a {@link HpackDecoder}. */
export interface HpackDecoderOptions {
  /**
   * The dynamic table size this side announced (SETTINGS_HEADER_TABLE_SIZE);
   * default 4,096, the protocol's default.
   */
  tableSize?: number;
  /**
   * The largest decoded header list, counted as RFC 7540 §6.5.2 does (name,
   * value and 32 per field); default 64 KiB.
   */
  maxHeaderListSize?: number;
}

interface DynamicEntry {
  field: HeaderField;
  size: number;
}

/**
 * An HPACK decoder for one connection: decode every header block the peer
 * sends, in order (its dynamic table carries over from block to block).
 *
 * @example
 * ```ts
 * import { HpackDecoder } from "./hpack.ts";
 * // ":status: 200", indexed (RFC 7541 C.3 style)
 * console.log(new HpackDecoder().decode(Uint8Array.of(0x88))); // [[":status", "200"]]
 * ```
 */
export class HpackDecoder {
  readonly #limit: number;
  readonly #maxList: number;
  #max: number;
  #size = 0;
  /** Newest first, as HPACK indexes them. */
  #table: DynamicEntry[] = [];

  /** A decoder with an empty dynamic table. */
  constructor(options: HpackDecoderOptions = {}) {
    this.#limit = options.tableSize ?? 4096;
    this.#max = this.#limit;
    this.#maxList = options.maxHeaderListSize ?? 64 * 1024;
  }

  /**
   * Decodes one complete header block; throws {@link HpackError}, also
   * when the list is larger than `maxHeaderListSize`.
   */
  decode(block: Uint8Array): HeaderField[] {
    const { fields, tooLarge } = this.decodeList(block);
    if (tooLarge) {
      throw new HpackError(`header list larger than ${this.#maxList} bytes`);
    }
    return fields;
  }

  /**
   * Decodes one complete header block; throws {@link HpackError} when it
   * is malformed. A list larger than `maxHeaderListSize` is decoded to its
   * end (the dynamic table must follow the peer's) but not kept: `fields`
   * is then empty and `tooLarge` true, so that the request alone can be
   * refused.
   *
   * @example
   * ```ts
   * import { HpackDecoder } from "./hpack.ts";
   * const d = new HpackDecoder({ maxHeaderListSize: 40 });
   * console.log(d.decodeList(Uint8Array.of(0x88)).tooLarge); // false
   * console.log(d.decodeList(Uint8Array.of(0x88, 0x88)).tooLarge); // true
   * ```
   */
  decodeList(block: Uint8Array): { fields: HeaderField[]; tooLarge: boolean } {
    let fields: HeaderField[] = [];
    let tooLarge = false;
    let listSize = 0;
    let pos = 0;
    let seenField = false;
    const int = (prefixBits: number): number => {
      if (pos >= block.length) throw new HpackError("truncated header block");
      const max = (1 << prefixBits) - 1;
      let value = block[pos++] & max;
      if (value < max) return value;
      for (let shift = 0;; shift += 7) {
        if (shift > 21) throw new HpackError("integer too large");
        if (pos >= block.length) {
          throw new HpackError("truncated header block");
        }
        const b = block[pos++];
        value += (b & 0x7f) * 2 ** shift;
        if ((b & 0x80) === 0) return value;
      }
    };
    const string = (): Uint8Array => {
      if (pos >= block.length) throw new HpackError("truncated header block");
      const huffmanCoded = (block[pos] & 0x80) !== 0;
      const length = int(7);
      if (pos + length > block.length) {
        throw new HpackError("truncated header block");
      }
      const raw = block.subarray(pos, pos += length);
      return huffmanCoded ? huffmanDecode(raw) : raw;
    };
    const emit = (field: HeaderField, size: number): void => {
      listSize += size;
      if (listSize > this.#maxList) {
        tooLarge = true;
        fields = [];
      }
      if (!tooLarge) fields.push(field);
    };
    while (pos < block.length) {
      const b = block[pos];
      if (b & 0x80) {
        seenField = true;
        const entry = this.#entry(int(7));
        emit(entry.field, entry.size);
      } else if ((b & 0xe0) === 0x20) {
        // Only at the start of a block (RFC 7541 §4.2).
        if (seenField) {
          throw new HpackError("table size update after a header field");
        }
        const size = int(5);
        if (size > this.#limit) {
          throw new HpackError(
            `table size update to ${size}, above ${this.#limit}`,
          );
        }
        this.#max = size;
        this.#evict(0);
      } else {
        seenField = true;
        const indexing = (b & 0x40) !== 0;
        const index = int(indexing ? 6 : 4);
        const nameBytes = index === 0
          ? string()
          : encodeUtf8(this.#entry(index).field[0]);
        const valueBytes = string();
        const field: HeaderField = [
          decodeUtf8(nameBytes),
          decodeUtf8(valueBytes),
        ];
        const size = nameBytes.length + valueBytes.length + 32;
        if (indexing) this.#add({ field, size });
        emit(field, size);
      }
    }
    return { fields, tooLarge };
  }

  #entry(index: number): DynamicEntry {
    if (index >= 1 && index <= STATIC_TABLE.length) {
      const field = STATIC_TABLE[index - 1];
      return { field, size: field[0].length + field[1].length + 32 };
    }
    const entry = this.#table[index - STATIC_TABLE.length - 1];
    if (!entry) throw new HpackError(`header index ${index} out of range`);
    return entry;
  }

  #add(entry: DynamicEntry): void {
    this.#evict(entry.size);
    // An entry larger than the table empties it and is not added.
    if (entry.size <= this.#max) {
      this.#table.unshift(entry);
      this.#size += entry.size;
    }
  }

  // Drops the oldest entries until `room` more bytes fit.
  #evict(room: number): void {
    while (this.#table.length > 0 && this.#size + room > this.#max) {
      this.#size -= this.#table.pop()!.size;
    }
  }
}

/**
 * Encodes header fields as literals without indexing and without Huffman
 * coding (RFC 7541 §6.2.2): larger than the best encoding, but stateless,
 * and a gRPC request's headers are a few hundred bytes.
 *
 * @example
 * ```ts
 * import { encodeHeaderBlock, HpackDecoder } from "./hpack.ts";
 * const block = encodeHeaderBlock([[":method", "POST"], ["te", "trailers"]]);
 * console.log(new HpackDecoder().decode(block));
 * ```
 */
export function encodeHeaderBlock(fields: readonly HeaderField[]): Uint8Array {
  const out: number[] = [];
  const string = (s: string): void => {
    const bytes = encodeUtf8(s);
    encodeInteger(out, bytes.length, 7, 0);
    for (const b of bytes) out.push(b);
  };
  for (const [name, value] of fields) {
    out.push(0x00);
    string(name);
    string(value);
  }
  return Uint8Array.from(out);
}

/**
 * Appends an HPACK integer (RFC 7541 §5.1) to `out`: `value` in a
 * `prefixBits`-bit prefix of a first byte that carries the bits of
 * `first`, then 7 bits a byte.
 *
 * @example
 * ```ts
 * import { encodeInteger } from "./hpack.ts";
 * const out: number[] = [];
 * encodeInteger(out, 1337, 5, 0); // RFC 7541 C.1.2
 * console.log(out); // [31, 154, 10]
 * ```
 */
export function encodeInteger(
  out: number[],
  value: number,
  prefixBits: number,
  first: number,
): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(first | value);
    return;
  }
  out.push(first | max);
  for (value -= max; value >= 0x80; value = Math.floor(value / 0x80)) {
    out.push((value % 0x80) | 0x80);
  }
  out.push(value);
}
