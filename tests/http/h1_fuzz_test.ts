/**
 * A seeded fuzz test of the HTTP/1.1 request-head parser (`h1_head.ts`) and
 * the chunked-body decoder (`h1_chunked.ts`): valid heads and bodies,
 * mutated (bit flips, inserted and deleted bytes, CR, LF, NUL, VT, DEL,
 * NBSP, huge numbers, splices of one input into another), are fed whole
 * and split at random points. Every input must parse or be refused with
 * the module's own error (a status of 400, 431, 501 or 505 for a head); any
 * other exception (a TypeError, a RangeError) fails the test, as does a
 * split input decoded differently from the whole, or a parsed head that
 * breaks the framing rules. The seed is fixed, so a failure can be
 * replayed: the message names the seed, the round and the input.
 */
import { assert, assertEquals } from "../assert.ts";
import {
  framingOf,
  HeadError,
  indexOfHeadEnd,
  latin1,
  parseHead,
} from "../../src/http/h1_head.ts";
import { ChunkedDecoder, ChunkedError } from "../../src/http/h1_chunked.ts";
import { Dice } from "../dice.ts";

/** The PRNG's seed: change it to explore, keep it to replay. */
const SEED = 0x6b3c_11a5;
/** Mutated inputs per test. */
const ROUNDS = 10_000;
/** Mutations applied to one input at most. */
const MAX_MUTATIONS = 6;
/** Bytes of one input at most: the work per input stays small. */
const MAX_INPUT_BYTES = 8 * 1024;
/** Points where one input is split at most. */
const MAX_SPLITS = 8;
/**
 * How long one test may run at most; it takes about a second. A loop past
 * it stops (a slow machine tests fewer inputs rather than hangs).
 */
const TIME_BUDGET_MS = 30_000;

const bytesOf = (text: string): number[] =>
  Array.from(text, (c) => c.charCodeAt(0));

/** Bytes that parsers on the way are known to read differently. */
const SPECIAL = bytesOf('\r\n\x00\x0b\x0c\x7f\xa0\xff \t:;,="-+\\?#');
/** Texts that are numbers too large, signed or in another base. */
const HUGE = [
  "ffffffffffffffff1",
  "99999999999999999999999",
  "-1",
  "+2",
  "0x10",
  "1e9",
  "00000000000000000001",
  "Infinity",
  "NaN",
  "4294967296",
  "9007199254740993",
  "999999999999999",
  "000000000000042",
].map(bytesOf);

/** Field values put in place of another: framing, Host, odd bytes. */
const VALUES = [
  ...HUGE,
  ...[
    "chunked",
    "Chunked",
    "\x0bchunked",
    "chunked\x0c",
    "\xa0chunked",
    "gzip, chunked",
    "chunked, chunked",
    "chunked;q=1",
    "",
    "0",
    "1, 1",
    "x",
    "[::1]:5",
    "::1:5",
    "x\\y?",
    "close",
    "100-continue",
  ].map(bytesOf),
];

/** Applies one random mutation to `input`. */
function mutate(dice: Dice, input: number[], corpus: number[][]): number[] {
  const at = dice.int(input.length + 1);
  switch (dice.int(8)) {
    case 0: { // a bit flip
      if (input.length === 0) return input;
      const i = dice.int(input.length);
      input[i] ^= 1 << dice.int(8);
      return input;
    }
    case 1: // an inserted byte, any or a special one
      input.splice(at, 0, dice.int(2) ? dice.int(256) : dice.pick(SPECIAL));
      return input;
    case 2: // deleted bytes
      input.splice(at, 1 + dice.int(4));
      return input;
    case 3: // a huge number in place of a few bytes
      input.splice(at, dice.int(4), ...dice.pick(HUGE));
      return input;
    case 4: { // a splice: our start, another input's end
      const other = dice.pick(corpus);
      return [...input.slice(0, at), ...other.slice(dice.int(other.length))];
    }
    case 5: { // a stretch repeated (more fields, more chunks)
      const len = 1 + dice.int(40);
      const part = input.slice(at, at + len);
      const times = 1 + dice.int(dice.int(10) === 0 ? 200 : 4);
      const copies: number[] = [];
      for (let i = 0; i < times; i++) copies.push(...part);
      input.splice(at, 0, ...copies);
      return input;
    }
    case 6: { // a field's value (or a chunk line's end) replaced
      const colon = input.indexOf(dice.int(2) ? 0x3a : 0x3b, at);
      if (colon < 0) return input;
      let end = input.indexOf(13, colon);
      if (end < 0) end = input.length;
      input.splice(colon + 1, end - colon - 1, ...dice.pick(VALUES));
      return input;
    }
    default: // cut short
      return input.slice(0, at);
  }
}

/** A corpus input with 0 to MAX_MUTATIONS mutations, bounded in size. */
function mutant(dice: Dice, corpus: number[][]): Uint8Array {
  let input = [...dice.pick(corpus)];
  const n = dice.int(MAX_MUTATIONS + 1);
  for (let i = 0; i < n; i++) input = mutate(dice, input, corpus);
  return Uint8Array.from(input.slice(0, MAX_INPUT_BYTES));
}

/** Random cut points of `length` bytes, sorted, without 0 and `length`. */
function cuts(dice: Dice, length: number): number[] {
  const points = new Set<number>();
  const n = dice.int(MAX_SPLITS + 1);
  for (let i = 0; i < n && length > 1; i++) {
    points.add(1 + dice.int(length - 1));
  }
  return [...points].sort((a, b) => a - b);
}

/** An input for a failure message: short, every byte visible. */
function show(input: Uint8Array): string {
  return JSON.stringify(latin1(input.subarray(0, 400)));
}

const HEADS = [
  "GET / HTTP/1.1\r\nHost: x",
  "POST /Block/BlockReceive HTTP/1.1\r\nHost: 127.0.0.1:1122\r\n" +
  "Content-Type: application/connect+proto\r\nConnect-Protocol-Version: 1\r\n" +
  "Transfer-Encoding: chunked\r\nConnect-Timeout-Ms: 30000",
  "POST /Tx/TxReceive HTTP/1.1\r\nHost: [::1]:1122\r\nContent-Length: 42\r\n" +
  "Expect: 100-continue\r\nConnection: keep-alive",
  "GET /healthz?x=1 HTTP/1.0",
  "HEAD /status HTTP/1.1\r\nhost: node\r\nConnection: close",
  "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked",
  "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nX-Empty:",
].map((head) => bytesOf(`${head}\r\n\r\n`));

Deno.test(`h1 fuzz (seed 0x${SEED.toString(16)}): a mutated head parses or is refused with a HeadError, never another throw`, () => {
  const dice = new Dice(SEED);
  const deadline = performance.now() + TIME_BUDGET_MS;
  const statuses = new Map<number, number>();
  let parsed = 0;
  for (let round = 0; round < ROUNDS && performance.now() < deadline; round++) {
    const input = mutant(dice, HEADS);
    const where = `seed 0x${SEED.toString(16)} round ${round}: ${show(input)}`;
    // Where the head ends: the same however the bytes came in, searched
    // as the server does (each time from where the last search stopped).
    const whole = indexOfHeadEnd(input, 0);
    let found = -1;
    let scanned = 0;
    for (const cut of [...cuts(dice, input.length), input.length]) {
      found = indexOfHeadEnd(input.subarray(0, cut), Math.max(0, scanned - 3));
      if (found >= 0) break;
      scanned = cut;
    }
    assertEquals(found, whole, `head end, ${where}`);
    const text = latin1(whole >= 0 ? input.subarray(0, whole) : input);
    let head;
    try {
      head = parseHead(text);
    } catch (e) {
      assert(
        e instanceof HeadError,
        `not a HeadError (${(e as Error)?.name}: ${
          (e as Error)?.message
        }), ${where}`,
      );
      assert(
        [400, 431, 501, 505].includes(e.status),
        `status ${e.status}, ${where}`,
      );
      assert(!e.message.includes("\n"), `two lines, ${where}`);
      statuses.set(e.status, (statuses.get(e.status) ?? 0) + 1);
      continue;
    }
    parsed++;
    // What a parsed head promises the server.
    const lines = text.split("\r\n");
    const target = lines[0].split(" ")[1];
    assert(/^[\x21-\x7e]+$/.test(target), `target, ${where}`);
    const hosts = lines.slice(1).filter((l) => /^host:/i.test(l)).length;
    assert(hosts <= 1 && (head.http10 || hosts === 1), `Host, ${where}`);
    const te = head.header.get("transfer-encoding");
    const cl = head.header.get("content-length");
    assert(te === null || cl === null, `both framings, ${where}`);
    if (te !== null) {
      assertEquals(te.toLowerCase(), "chunked", `coding, ${where}`);
      assertEquals(head.framing, { kind: "chunked" }, where);
    }
    if (head.framing?.kind === "length") {
      assert(Number.isSafeInteger(head.framing.length), `length, ${where}`);
      assert(head.framing.length > 0, `length, ${where}`);
    }
    assert(head.url.startsWith("http://"), `url, ${where}`);
    // The framing alone agrees.
    assertEquals(framingOf(head.header, !head.http10), head.framing, where);
  }
  // The mutations reach every outcome, not only one refusal.
  assert(parsed > 0, "no mutated head parsed");
  for (const status of [400, 431, 501]) {
    assert(statuses.has(status), `no head refused with ${status}`);
  }
});

const BODIES = [
  "5\r\nhello\r\n0\r\n\r\n",
  "1;ext=1\r\na\r\nA  \r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n",
  "0\r\n\r\n",
  `10\r\n${"x".repeat(16)}\r\n3 ; a=b\r\nabc\r\n0\r\nA: 1\r\nB: 2\r\n\r\n`,
  "2\r\nab\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
].map(bytesOf);

/** What decoding some pieces gave, for comparing two splits. */
interface Outcome {
  data: string;
  used: number;
  ended: boolean;
  error: string | undefined;
}

/**
 * Decodes `input` in the pieces between `points`, with a fresh decoder.
 * Throws (fails the test) on anything but a ChunkedError, or when the
 * decoder breaks its promises (empty data, bytes used that it had not).
 */
function decode(input: Uint8Array, points: number[], where: string): Outcome {
  const decoder = new ChunkedDecoder();
  let data = "";
  let used = 0;
  let calls = 0;
  let from = 0;
  try {
    for (const to of [...points, input.length]) {
      const piece = input.subarray(from, to);
      from = to;
      const n = decoder.push(piece, (d) => {
        assert(d.length > 0, `empty data, ${where}`);
        // Each call hands out at least one byte: bounded work.
        assert(++calls <= input.length, `more data calls than bytes, ${where}`);
        data += latin1(d);
      });
      assert(n >= 0 && n <= piece.length, `used ${n} of ${piece.length}`);
      used += n;
      if (decoder.ended) break;
      // Not ended: every byte is the body's.
      assertEquals(n, piece.length, `bytes left over, ${where}`);
    }
  } catch (e) {
    if (!(e instanceof ChunkedError)) {
      throw new Error(
        `not a ChunkedError (${(e as Error)?.name}: ${
          (e as Error)?.message
        }), ${where}`,
      );
    }
    assertEquals(e.status, 400, where);
    assert(!e.message.includes("\n"), `two lines, ${where}`);
    // What the failing push used is unknown: only the error is compared.
    return { data, used: -1, ended: false, error: e.message };
  }
  return { data, used, ended: decoder.ended, error: undefined };
}

Deno.test(`h1 fuzz (seed 0x${SEED.toString(16)}): a mutated chunked body decodes, whole or split, the same or throws a ChunkedError`, () => {
  const dice = new Dice(SEED ^ 0x5a5a_5a5a);
  const deadline = performance.now() + TIME_BUDGET_MS;
  let ended = 0;
  let refused = 0;
  for (let round = 0; round < ROUNDS && performance.now() < deadline; round++) {
    const input = mutant(dice, BODIES);
    const where = `seed 0x${SEED.toString(16)} round ${round}: ${show(input)}`;
    const whole = decode(input, [], where);
    const split = decode(input, cuts(dice, input.length), where);
    // Byte by byte, an error is found at the same byte and the same data
    // is handed out before it, however the input is split.
    assertEquals(split, whole, `split differently, ${where}`);
    if (whole.ended) ended++;
    if (whole.error) refused++;
  }
  assert(ended > 0, "no mutated body ended");
  assert(refused > 0, "no mutated body refused");
});
