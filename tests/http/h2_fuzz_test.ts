/**
 * A seeded fuzz test of the two parsers that read an HTTP/2 peer's bytes
 * before anything else does: the frame reader (`h2_frames.ts`) and the
 * HPACK decoder (`hpack.ts`). Valid inputs come from the encoders (frames,
 * and header blocks with every HPACK representation, Huffman strings and a
 * dynamic table to follow), then are mutated: bit flips, truncations,
 * insertions, repeated stretches, huge lengths and integers, splices; the
 * frame bytes are pushed split at random points.
 *
 * What must hold: a valid input reads back exactly (frames) or decodes to
 * what a small model of the dynamic table expects (HPACK); a mutated one
 * reads as a plain walk of the bytes does, or decodes as a second decoder
 * written here from RFC 7541 does; any input ends in a result or the
 * module's own error (`H2ProtocolError`, `HpackError`), never a TypeError,
 * RangeError or other; a frame is never longer than MAX_FRAME_SIZE; a
 * decoded header list is never larger than the decoder's
 * `maxHeaderListSize`. The seed is fixed, so a failure replays: its
 * message names the seed, the round and the input.
 */
import { assert, assertEquals } from "../assert.ts";
import {
  Frame,
  frame,
  FrameReader,
  H2Error,
  type H2Frame,
  H2ProtocolError,
  MAX_FRAME_SIZE,
  PADDED,
  readSettings,
  unpad,
} from "../../src/http/h2_frames.ts";
import {
  type HeaderField,
  HpackDecoder,
  HpackError,
  huffmanDecode,
} from "../../src/http/hpack.ts";
import {
  hpackIndexed,
  hpackInt,
  hpackSizeUpdate,
  hpackString,
} from "./h2_raw_client.ts";
import { Dice } from "../dice.ts";
import { concatBytes } from "../../src/util/bytes.ts";

/** The PRNG's seed: change it to explore, keep it to replay. */
const SEED = 0x2f19_c0de;
/** Inputs per test (each valid, then mutated). */
const ROUNDS = 4000;
/** Mutations applied to one input at most. */
const MAX_MUTATIONS = 6;
/** Bytes of one mutated input at most: the work per input stays small. */
const MAX_INPUT_BYTES = 64 * 1024;
/** Pieces one input is pushed in at most. */
const MAX_SPLITS = 12;
/**
 * How long one test may run at most; it takes about a second. A loop past
 * it stops (a slow machine tests fewer inputs rather than hangs).
 */
const TIME_BUDGET_MS = 30_000;

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function show(bytes: Uint8Array): string {
  const head = Array.from(
    bytes.subarray(0, 256),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  return `${bytes.length} bytes: ${head}${bytes.length > 256 ? "..." : ""}`;
}

/**
 * Byte strings that parsers misread when they are careless: HPACK integers
 * that run long or overflow (as an index, a string length, a table size
 * update), index 0, the first dynamic index, and frame lengths at and
 * past the bound.
 */
const SPECIAL: readonly Uint8Array[] = [
  Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7f),
  Uint8Array.of(0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f),
  Uint8Array.of(0x3f, 0xff, 0xff, 0xff, 0x0f),
  Uint8Array.of(0x3f, 0xe1, 0x1f),
  Uint8Array.of(0x40, 0x7f, 0xff, 0xff, 0x03),
  Uint8Array.of(0x80),
  Uint8Array.of(0xbe),
  Uint8Array.of(0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
  Uint8Array.of(0x00, 0x81, 0xff, 0x81, 0x00),
  Uint8Array.of(0xff, 0xff, 0xff),
  Uint8Array.of(0x00, 0x40, 0x01),
  Uint8Array.of(0x00, 0x40, 0x00),
  Uint8Array.of(0x80, 0x00, 0x00, 0x00),
];

/** `input` mutated 1 to MAX_MUTATIONS times; `other` is a splice source. */
function mutate(d: Dice, input: Uint8Array, other: Uint8Array): Uint8Array {
  let b: Uint8Array = input.slice();
  const n = 1 + d.int(MAX_MUTATIONS);
  for (let i = 0; i < n; i++) {
    const at = d.int(b.length + 1);
    switch (d.int(9)) {
      case 0: // a bit flipped
        if (b.length > 0) b[d.int(b.length)] ^= 1 << d.int(8);
        break;
      case 1: // a byte replaced
        if (b.length > 0) b[d.int(b.length)] = d.int(256);
        break;
      case 2: // random bytes inserted
        b = concatBytes([
          b.subarray(0, at),
          d.bytes(1 + d.int(8)),
          b.subarray(at),
        ]);
        break;
      case 3: // a stretch deleted
        b = concatBytes([b.subarray(0, at), b.subarray(at + 1 + d.int(16))]);
        break;
      case 4: // cut short
        b = b.slice(0, at);
        break;
      case 5: { // a stretch repeated (HPACK amplification, frame floods)
        const len = 1 + d.int(8);
        const piece = b.slice(at, at + len);
        const times = 2 + d.int(200);
        b = concatBytes([
          b.subarray(0, at),
          ...Array.from({ length: times }, () => piece),
          b.subarray(at),
        ]);
        break;
      }
      case 6: // a special sequence inserted
        b = concatBytes([b.subarray(0, at), d.pick(SPECIAL), b.subarray(at)]);
        break;
      case 7: // a special sequence written over
        if (b.length > 0) {
          const s = d.pick(SPECIAL);
          b = b.slice();
          b.set(
            s.subarray(0, b.length - Math.min(at, b.length)),
            Math.min(at, b.length),
          );
        }
        break;
      default: { // a piece of another input spliced in
        const from = d.int(other.length + 1);
        b = concatBytes([
          b.subarray(0, at),
          other.subarray(from, from + 1 + d.int(64)),
          b.subarray(at),
        ]);
      }
    }
    if (b.length > MAX_INPUT_BYTES) b = b.slice(0, MAX_INPUT_BYTES);
  }
  return b;
}

// --- Frames ---

/** A random frame as the reader should return it. */
function randomFrame(d: Dice): H2Frame {
  const type = d.chance(0.9) ? d.int(10) : d.int(256);
  const length = d.chance(0.02) ? MAX_FRAME_SIZE : d.size(2000);
  return {
    type,
    flags: d.int(256),
    stream: d.chance(0.3) ? 0 : d.int(2 ** 31),
    payload: d.bytes(length),
  };
}

/** A frame's bytes; the reserved bit of its stream set at random. */
function frameBytes(d: Dice, f: H2Frame): Uint8Array {
  const bytes = frame(f.type as Frame, f.flags, f.stream, f.payload);
  if (d.chance(0.2)) bytes[5] |= 0x80;
  return bytes;
}

/**
 * What the reader must make of `bytes`: the frames a plain walk finds, and
 * whether it meets a header (all 9 bytes) announcing more than
 * MAX_FRAME_SIZE.
 */
function referenceFrames(
  bytes: Uint8Array,
): { frames: H2Frame[]; tooLong: boolean } {
  const frames: H2Frame[] = [];
  let p = 0;
  while (bytes.length - p >= 9) {
    const length = (bytes[p] << 16) | (bytes[p + 1] << 8) | bytes[p + 2];
    if (length > MAX_FRAME_SIZE) return { frames, tooLong: true };
    if (bytes.length - p < 9 + length) break;
    frames.push({
      type: bytes[p + 3],
      flags: bytes[p + 4],
      stream: ((bytes[p + 5] & 0x7f) << 24 | bytes[p + 6] << 16 |
        bytes[p + 7] << 8 | bytes[p + 8]) >>> 0,
      payload: bytes.slice(p + 9, p + 9 + length),
    });
    p += 9 + length;
  }
  return { frames, tooLong: false };
}

/**
 * `bytes` pushed into a fresh reader in random pieces, every frame taken
 * after each push: the frames read and the error that ended it, if any.
 * Each frame is also handed to the payload readers a connection uses
 * (unpad, readSettings), which may throw H2ProtocolError only.
 */
function readAll(
  d: Dice,
  bytes: Uint8Array,
): { frames: H2Frame[]; error?: unknown } {
  const reader = new FrameReader();
  const frames: H2Frame[] = [];
  const cuts = Array.from(
    { length: d.int(MAX_SPLITS) },
    () => d.int(bytes.length + 1),
  ).sort((a, b) => a - b);
  let from = 0;
  try {
    for (const to of [...cuts, bytes.length]) {
      reader.push(bytes.subarray(from, to));
      from = to;
      // At most one frame per 9 bytes pushed: the loop is bounded.
      for (let i = 0; i <= bytes.length / 9; i++) {
        const f = reader.next();
        if (!f) break;
        frames.push(f);
        readPayload(f);
      }
    }
    assertEquals(reader.next(), undefined, "a frame left after the last");
  } catch (error) {
    return { frames, error };
  }
  return { frames };
}

/** The payload checks a connection makes, for frames that reach them. */
function readPayload(f: H2Frame): void {
  try {
    if (
      (f.type === Frame.Data || f.type === Frame.Headers) &&
      (f.flags & PADDED)
    ) {
      const data = unpad(f.flags, f.payload);
      assertEquals(data.length, f.payload.length - 1 - f.payload[0]);
    }
    if (f.type === Frame.Settings) {
      assertEquals(readSettings(f.payload).length, f.payload.length / 6);
    }
  } catch (e) {
    if (!(e instanceof H2ProtocolError)) throw e;
  }
}

/** A reader's frames as plain objects (payload bytes compared by value). */
function plain(frames: H2Frame[]) {
  return frames.map((f) => [f.type, f.flags, f.stream, Array.from(f.payload)]);
}

Deno.test("h2 fuzz: FrameReader reads valid and mutated frames split anywhere, or throws H2ProtocolError", () => {
  const d = new Dice(SEED);
  const started = Date.now();
  let previous: Uint8Array = new Uint8Array(0);
  let rounds = 0;
  let errors = 0;
  for (let round = 0; round < ROUNDS; round++) {
    if (Date.now() - started > TIME_BUDGET_MS) break;
    rounds++;
    const sent = Array.from({ length: 1 + d.int(8) }, () => randomFrame(d));
    const valid = concatBytes(sent.map((f) => frameBytes(d, f)));
    const where = `seed ${SEED.toString(16)}, round ${round}`;
    // The valid input reads back exactly, whatever the pieces.
    const whole = readAll(d, valid);
    if (whole.error) {
      throw new Error(`${where}: ${whole.error} on ${show(valid)}`);
    }
    assertEquals(plain(whole.frames), plain(sent), `${where}: valid input`);
    // Mutated: what a plain walk finds, or the reader's own error.
    const input = mutate(d, valid, previous);
    previous = valid;
    const got = readAll(d, input);
    const want = referenceFrames(input);
    const what = `${where}: ${show(input)}`;
    if (got.error !== undefined) {
      if (!(got.error instanceof H2ProtocolError)) {
        throw new Error(`${what}: ${got.error}`, { cause: got.error });
      }
      assertEquals(got.error.code, H2Error.FrameSizeError, what);
      errors++;
    }
    assert(
      got.frames.every((f) => f.payload.length <= MAX_FRAME_SIZE),
      `${what}: a frame past MAX_FRAME_SIZE`,
    );
    assertEquals(plain(got.frames), plain(want.frames), what);
    assertEquals(got.error !== undefined, want.tooLong, `${what}: the error`);
  }
  assert(rounds >= 100, `only ${rounds} rounds in the time budget`);
  // The mutations reach the error paths, not only the happy one.
  assert(errors > rounds / 20, `only ${errors} inputs of ${rounds} refused`);
});

// --- HPACK ---

/** A header field with its size as the decoder counts it. */
interface Entry {
  name: string;
  value: string;
  size: number;
}

const utf8 = new TextEncoder();

/**
 * The static table, as the decoder gives it (the model follows the
 * dynamic table, which is what the fuzz is about).
 */
const STATIC: readonly Entry[] = Array.from({ length: 61 }, (_, i) => {
  const [[name, value]] = new HpackDecoder().decode(hpackIndexed(i + 1));
  return { name, value, size: name.length + value.length + 32 };
});

/** Huffman-coded strings (RFC 7541 C.4 and C.6) and what they decode to. */
const HUFFMAN: readonly [string, string][] = [
  ["f1e3c2e5f23a6ba0ab90f4ff", "www.example.com"],
  ["a8eb10649cbf", "no-cache"],
  ["25a849e95ba97d7f", "custom-key"],
  ["25a849e95bb8e8b4bf", "custom-value"],
  ["6402", "302"],
  ["640eff", "307"],
  ["aec3771a4b", "private"],
  [
    "d07abe941054d444a8200595040b8166e082a62d1bff",
    "Mon, 21 Oct 2013 20:13:21 GMT",
  ],
  ["9d29ad171863c78f0b97c8e9ae82ae43d3", "https://www.example.com"],
];

/** Characters of generated names and values: one to four UTF-8 bytes. */
const ALPHABET = Array.from(
  "abcdefghijklmnopqrstuvwxyz0123456789-_.:/ ;=,é€😀",
);

/**
 * The decoder's dynamic table as RFC 7541 §4 has it: newest first,
 * entries evicted oldest first to make room, an entry larger than the
 * table empties it.
 */
class TableModel {
  max: number;
  readonly limit: number;
  entries: Entry[] = [];
  size = 0;

  constructor(limit: number) {
    this.limit = limit;
    this.max = limit;
  }

  entry(index: number): Entry {
    return index <= 61 ? STATIC[index - 1] : this.entries[index - 62];
  }

  add(e: Entry): void {
    this.evict(e.size);
    if (e.size <= this.max) {
      this.entries.unshift(e);
      this.size += e.size;
    }
  }

  resize(max: number): void {
    this.max = max;
    this.evict(0);
  }

  evict(room: number): void {
    while (this.entries.length > 0 && this.size + room > this.max) {
      this.size -= this.entries.pop()!.size;
    }
  }
}

/** A random name or value, plain or Huffman-coded: its literal and text. */
function randomString(d: Dice): { bytes: Uint8Array; text: string } {
  if (d.chance(0.15)) {
    const [code, text] = d.pick(HUFFMAN);
    const raw = hex(code);
    return { bytes: concatBytes([hpackInt(raw.length, 7, 0x80), raw]), text };
  }
  const n = d.chance(0.02) ? 4000 + d.int(4000) : d.size(200);
  const text = Array.from({ length: n }, () => d.pick(ALPHABET)).join("");
  return { bytes: hpackString(text), text };
}

/**
 * A random valid header block for `model`'s table (which it updates), and
 * what the decoder must return: the fields, or nothing and `tooLarge`
 * when their size passes `maxList`.
 */
function validBlock(
  d: Dice,
  model: TableModel,
  maxList: number,
): { block: Uint8Array; fields: HeaderField[]; tooLarge: boolean } {
  const parts: Uint8Array[] = [];
  const fields: HeaderField[] = [];
  let listSize = 0;
  for (let i = d.chance(0.1) ? 1 + d.int(2) : 0; i > 0; i--) {
    const size = d.int(model.limit + 1);
    parts.push(hpackSizeUpdate(size));
    model.resize(size);
  }
  const count = d.chance(0.05) ? d.int(100) : d.int(13);
  for (let i = 0; i < count; i++) {
    const dynamic = model.entries.length;
    const kind = d.int(4);
    let e: Entry;
    if (kind === 0 || (kind === 1 && dynamic === 0)) {
      const index = 1 + d.int(61);
      parts.push(hpackIndexed(index));
      e = model.entry(index);
    } else if (kind === 1) {
      const index = 62 + d.int(dynamic);
      parts.push(hpackIndexed(index));
      e = model.entry(index);
    } else {
      // With incremental indexing, without indexing, never indexed.
      const [bits, first] = d.pick([[6, 0x40], [4, 0x00], [4, 0x10]]);
      const value = randomString(d);
      let name: string;
      if (d.chance(0.5)) {
        const index = 1 + d.int(61 + dynamic);
        name = model.entry(index).name;
        parts.push(concatBytes([hpackInt(index, bits, first), value.bytes]));
      } else {
        const n = randomString(d);
        name = n.text;
        parts.push(
          concatBytes([hpackInt(0, bits, first), n.bytes, value.bytes]),
        );
      }
      e = {
        name,
        value: value.text,
        size: utf8.encode(name).length + utf8.encode(value.text).length + 32,
      };
      if (first === 0x40) model.add(e);
    }
    fields.push([e.name, e.value]);
    listSize += e.size;
  }
  const tooLarge = listSize > maxList;
  return {
    block: concatBytes(parts),
    fields: tooLarge ? [] : fields,
    tooLarge,
  };
}

/** A header block the reference cannot decode. */
class NotDecoded extends Error {}

const text = new TextDecoder();

/**
 * A second HPACK decoder, written from RFC 7541 over {@link TableModel}
 * with the limits the module documents (integers of at most four
 * continuation bytes, table size updates only before the first field and
 * within the announced size), Huffman strings through the module's
 * `huffmanDecode`: what the decoder must make of any block, "error" where
 * it must throw. `model` follows the block, as the decoder's table does.
 */
function referenceDecode(
  block: Uint8Array,
  model: TableModel,
  maxList: number,
): { fields: HeaderField[]; tooLarge: boolean } | "error" {
  let pos = 0;
  const int = (prefixBits: number): number => {
    if (pos >= block.length) throw new NotDecoded("truncated");
    const max = 2 ** prefixBits - 1;
    let value = block[pos++] & max;
    if (value < max) return value;
    for (let k = 0; k < 4; k++) {
      if (pos >= block.length) throw new NotDecoded("truncated");
      const b = block[pos++];
      value += (b & 0x7f) * 2 ** (7 * k);
      if ((b & 0x80) === 0) return value;
    }
    throw new NotDecoded("integer too large");
  };
  const string = (): Uint8Array => {
    if (pos >= block.length) throw new NotDecoded("truncated");
    const huffmanCoded = (block[pos] & 0x80) !== 0;
    const length = int(7);
    if (length > block.length - pos) throw new NotDecoded("truncated");
    const raw = block.slice(pos, pos + length);
    pos += length;
    return huffmanCoded ? huffmanDecode(raw) : raw;
  };
  const entry = (index: number): Entry => {
    const e = index >= 1 ? model.entry(index) : undefined;
    if (!e) throw new NotDecoded("index out of range");
    return e;
  };
  const fields: HeaderField[] = [];
  let size = 0;
  let seenField = false;
  try {
    while (pos < block.length) {
      const b = block[pos];
      if (b & 0x80) {
        const e = entry(int(7));
        fields.push([e.name, e.value]);
        size += e.size;
        seenField = true;
      } else if ((b & 0xe0) === 0x20) {
        if (seenField) throw new NotDecoded("size update after a field");
        const max = int(5);
        if (max > model.limit) throw new NotDecoded("size update");
        model.resize(max);
      } else {
        seenField = true;
        const indexing = (b & 0x40) !== 0;
        const index = int(indexing ? 6 : 4);
        const nameBytes = index === 0
          ? string()
          : utf8.encode(entry(index).name);
        const valueBytes = string();
        const e = {
          name: text.decode(nameBytes),
          value: text.decode(valueBytes),
          size: nameBytes.length + valueBytes.length + 32,
        };
        if (indexing) model.add(e);
        fields.push([e.name, e.value]);
        size += e.size;
      }
    }
  } catch (e) {
    if (e instanceof NotDecoded || e instanceof HpackError) return "error";
    throw e;
  }
  return size > maxList
    ? { fields: [], tooLarge: true }
    : { fields, tooLarge: false };
}

/** A header list's size, counted low: UTF-16 units, never above bytes. */
function listSizeOf(fields: HeaderField[]): number {
  let size = 0;
  for (const [name, value] of fields) size += name.length + value.length + 32;
  return size;
}

Deno.test("h2 fuzz: the HPACK decoder decodes valid and mutated blocks as a reference does, or throws HpackError, within its list bound", () => {
  // The Huffman strings the generator uses decode as the model says.
  for (const [code, text] of HUFFMAN) {
    assertEquals(new TextDecoder().decode(huffmanDecode(hex(code))), text);
  }
  const d = new Dice(SEED ^ 0x5eed);
  const started = Date.now();
  let previous: Uint8Array = new Uint8Array(0);
  let rounds = 0;
  let errors = 0;
  let tooLarge = 0;
  // One connection: a run of blocks on one decoder, then another.
  for (let round = 0; round < ROUNDS;) {
    if (Date.now() - started > TIME_BUDGET_MS) break;
    const tableSize = d.pick([0, 64, 256, 4096]);
    const maxList = d.pick([64, 512, 4096, 16 * 1024, 64 * 1024]);
    const model = new TableModel(tableSize);
    const options = { tableSize, maxHeaderListSize: maxList };
    const listed = new HpackDecoder(options);
    const thrown = new HpackDecoder(options);
    let mutated = new HpackDecoder(options);
    let mutatedModel = new TableModel(tableSize);
    const blocks = 1 + d.int(8);
    for (let b = 0; b < blocks && round < ROUNDS; b++, round++) {
      rounds++;
      const where = `seed ${
        (SEED ^ 0x5eed).toString(16)
      }, round ${round}, table ${tableSize}, list ${maxList}`;
      const want = validBlock(d, model, maxList);
      // The valid block: the model's fields, or too large.
      const got = listed.decodeList(want.block);
      assertEquals(
        got,
        { fields: want.fields, tooLarge: want.tooLarge },
        `${where}: ${show(want.block)}`,
      );
      if (want.tooLarge) tooLarge++;
      // The table's edges, which eviction moves: its oldest entry is there,
      // one past it is not (neither lookup changes the table).
      const n = model.entries.length;
      if (n > 0) {
        const oldest = model.entries[n - 1];
        assertEquals(
          listed.decodeList(hpackIndexed(61 + n)),
          oldest.size > maxList
            ? { fields: [], tooLarge: true }
            : { fields: [[oldest.name, oldest.value]], tooLarge: false },
          `${where}: the oldest entry`,
        );
      }
      let past: unknown;
      try {
        past = listed.decodeList(hpackIndexed(62 + n));
      } catch (e) {
        past = e instanceof HpackError ? "error" : e;
      }
      assertEquals(past, "error", `${where}: one past the table's end`);
      try {
        assertEquals(thrown.decode(want.block), want.fields);
        assert(!want.tooLarge, `${where}: decode() kept a list too large`);
      } catch (e) {
        if (!(e instanceof HpackError) || !want.tooLarge) throw e;
      }
      // The block mutated, on a decoder fed only mutated blocks (a new
      // one after an error, as the connection would end): what the
      // reference makes of it, or HpackError where the reference fails.
      const input = mutate(d, want.block, previous);
      previous = want.block;
      const expected = referenceDecode(input, mutatedModel, maxList);
      let result: { fields: HeaderField[]; tooLarge: boolean } | "error";
      try {
        result = mutated.decodeList(input);
      } catch (e) {
        if (!(e instanceof HpackError)) {
          throw new Error(`${where}: ${e} on ${show(input)}`, { cause: e });
        }
        result = "error";
      }
      assertEquals(result, expected, `${where}: ${show(input)}`);
      if (result === "error") {
        errors++;
        mutated = new HpackDecoder(options);
        mutatedModel = new TableModel(tableSize);
      } else {
        assert(
          listSizeOf(result.fields) <= maxList,
          `${where}: a list of ${listSizeOf(result.fields)} bytes`,
        );
      }
    }
  }
  assert(rounds >= 100, `only ${rounds} rounds in the time budget`);
  // The inputs reach the error paths and the list bound, not only the
  // happy path.
  assert(errors > rounds / 20, `only ${errors} of ${rounds} blocks refused`);
  assert(tooLarge > rounds / 100, `only ${tooLarge} lists too large`);
});
