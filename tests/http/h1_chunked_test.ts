/**
 * The chunked-body decoder (`h1_chunked.ts`) alone: data handed out however
 * the bytes are split, where the body ends, extensions and trailers
 * dropped, and every malformed framing refused with a `ChunkedError`.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  ChunkedDecoder,
  ChunkedError,
  MAX_CHUNK_LINE,
  MAX_TRAILER_BYTES,
} from "../../src/http/h1_chunked.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Feeds `text` to a fresh decoder in pieces of `step` bytes: the data,
 * the bytes that belonged to the body, and whether it ended.
 */
function decode(
  text: string,
  step = Infinity,
): { data: string; used: number; ended: boolean } {
  const bytes = enc.encode(text);
  const decoder = new ChunkedDecoder();
  let data = "";
  let used = 0;
  for (let at = 0; at < bytes.length && !decoder.ended;) {
    const piece = bytes.subarray(at, Math.min(bytes.length, at + step));
    const n = decoder.push(piece, (d) => data += dec.decode(d));
    assert(n <= piece.length, `used ${n} of ${piece.length}`);
    used += n;
    at += piece.length;
  }
  return { data, used, ended: decoder.ended };
}

const BODY = "5\r\nhello\r\n" +
  "1;name=value\r\n \r\n" + // an extension
  "A  \r\n0123456789\r\n" + // spaces after the size
  "b ; x=y\r\nhello world\r\n" +
  "0\r\nX-Trailer: dropped\r\nY: 2\r\n\r\n";

Deno.test("chunk data comes out whole however the bytes are split, and the end is found", () => {
  for (const step of [1, 2, 3, 7, 16, Infinity]) {
    const got = decode(BODY + "GET /next HTTP/1.1\r\n", step);
    assertEquals(got.data, "hello 0123456789hello world", `step ${step}`);
    assertEquals(got.used, enc.encode(BODY).length, `step ${step}`);
    assert(got.ended, `step ${step}`);
  }
});

Deno.test("a body without trailers, an empty body, and one not yet ended", () => {
  assertEquals(decode("0\r\n\r\n"), { data: "", used: 5, ended: true });
  assertEquals(decode("3\r\nabc\r\n0\r\n\r\n"), {
    data: "abc",
    used: 13,
    ended: true,
  });
  // Upper-case hex, and a size of 8 digits.
  assertEquals(decode("00000003\r\nabc\r\n0\r\n\r\n").data, "abc");
  assertEquals(
    decode("F\r\n" + "x".repeat(15) + "\r\n0\r\n\r\n").data.length,
    15,
  );
  const half = decode("3\r\nabc\r\n0\r\n");
  assertEquals(half, { data: "abc", used: 11, ended: false });
  // After its end, a decoder takes nothing more.
  const decoder = new ChunkedDecoder();
  assertEquals(decoder.push(enc.encode("0\r\n\r\n"), () => {}), 5);
  assertEquals(decoder.push(enc.encode("1\r\nx\r\n"), () => {}), 0);
});

Deno.test("data is handed out as views of the input, never empty", () => {
  const input = enc.encode("3\r\nabc\r\n0\r\n\r\n");
  const pieces: Uint8Array[] = [];
  new ChunkedDecoder().push(input, (d) => pieces.push(d));
  assertEquals(pieces.length, 1);
  assert(pieces[0].buffer === input.buffer, "a copy");
  assertEquals(pieces[0].byteOffset, 3);
  // A size line alone hands out nothing.
  const none: Uint8Array[] = [];
  new ChunkedDecoder().push(enc.encode("3\r\n"), (d) => none.push(d));
  assertEquals(none, []);
});

/** What the decoder must refuse, and a part of its one-line message. */
const MALFORMED: [string, string][] = [
  ["ffffffffffffffff1\r\n", "bad chunk size"],
  ["-2\r\nab\r\n", "bad chunk size"],
  ["0x2\r\nab\r\n", "bad chunk size"],
  ["+2\r\nab\r\n", "bad chunk size"],
  [" 2\r\nab\r\n", "bad chunk size"],
  ["\r\n", "bad chunk size"],
  [";ext\r\n", "bad chunk size"],
  ["000000002\r\nab\r\n", "bad chunk size"],
  ["2\r\nabX\r\n", "chunk not followed by CRLF"],
  ["2\r\nab\rX", "chunk not followed by CRLF"],
  ["2\r\nab\n\r\n", "chunk not followed by CRLF"],
  ["2;a\nb\r\nab\r\n", "control character"],
  ["2\n\r\nab\r\n", "control character"],
  ["2\rab\r\n", "control character"],
  ["2;\x00\r\nab\r\n", "control character"],
  ["2;\x7f\r\nab\r\n", "control character"],
  ["2\x0b\r\nab\r\n", "control character"],
  ["2\r\nab\r\n0\r\nX: 1\nY: 2\r\n\r\n", "control character"],
  [`${"1".repeat(MAX_CHUNK_LINE + 1)}\r\n`, "chunk line too long"],
  [`1;${"e".repeat(MAX_CHUNK_LINE)}\r\n`, "chunk line too long"],
  [`0\r\nX: ${"a".repeat(MAX_CHUNK_LINE)}\r\n`, "chunk line too long"],
  [
    `0\r\n${`X: ${"a".repeat(1000)}\r\n`.repeat(MAX_TRAILER_BYTES / 1000 + 5)}`,
    "trailers larger than 64 KiB",
  ],
];

Deno.test("malformed framing throws a ChunkedError (status 400) with one line, however split", () => {
  for (const [body, message] of MALFORMED) {
    for (const step of [1, 5, Infinity]) {
      const err = assertThrows(
        () => decode(body, step),
        ChunkedError,
        message,
      ) as ChunkedError;
      assertEquals(err.status, 400);
      assert(!err.message.includes("\n"), err.message);
      assert(err.message.length < 100, err.message);
    }
  }
});

Deno.test("a line of exactly the longest length is fine", () => {
  const ext = ";" + "e".repeat(MAX_CHUNK_LINE - 2);
  assertEquals(decode(`1${ext}\r\nx\r\n0\r\n\r\n`).data, "x");
});

Deno.test("after an error, every later push throws the same error", () => {
  const decoder = new ChunkedDecoder();
  const first = assertThrows(
    () => decoder.push(enc.encode("zz\r\n"), () => {}),
    ChunkedError,
  );
  const again = assertThrows(
    () => decoder.push(enc.encode("0\r\n\r\n"), () => {}),
    ChunkedError,
  );
  assert(first === again);
  assert(!decoder.ended);
});

Deno.test("a throw from onData leaves the decoder refusing further bytes", () => {
  const decoder = new ChunkedDecoder();
  const boom = new Error("reader failed");
  const thrown = assertThrows(() =>
    decoder.push(enc.encode("2\r\nab\r\n"), () => {
      throw boom;
    })
  );
  assert(thrown === boom);
  assertThrows(
    () => decoder.push(enc.encode("0\r\n\r\n"), () => {}),
    ChunkedError,
    "cut short",
  );
});
