/**
 * Canonical JSON (FORMAT.md section 1): strings, u64, hashes, bytes,
 * maps, field errors and strict parsing.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  asBytes,
  asHash,
  compareUtf8,
  DecodeError,
  encodeBytes,
  encodeString,
  encodeU64,
  parseHash,
  parseJson,
  parseObject,
  toBase64,
  U64_MAX,
} from "../../src/chain/json.ts";
import { parseTime } from "../../src/chain/time.ts";
import { decodeSigTx, encodeSigTx } from "../../src/chain/tx.ts";
import {
  decodeSigGenesis,
  encodeGenesis,
  type Genesis,
} from "../../src/chain/genesis.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);
const SIG = toBase64(new Uint8Array(65).fill(7));

/** A SigTx JSON text with raw (unescaped) field fragments replaceable. */
function txText(over: Record<string, string> = {}): string {
  const f: Record<string, string> = {
    from: `"${A}"`,
    to: `"${B}"`,
    value: "5",
    nonce: "1",
    time: `"2024-05-01T10:00:00Z"`,
    sig: `"${SIG}"`,
    ...over,
  };
  return `{${
    Object.entries(f).filter(([, v]) => v !== "").map(([k, v]) => `"${k}":${v}`)
      .join(",")
  }}`;
}

const enc = new TextEncoder();

// ------------------------------------------------------------------ strings

Deno.test("string: HTML characters are escaped as \\u003c \\u003e \\u0026", () => {
  assertEquals(encodeString("<a>&b"), '"\\u003ca\\u003e\\u0026b"');
  // JSON.stringify does not escape them: the two encodings differ here.
  assert(JSON.stringify("<a>&b") !== encodeString("<a>&b"));
});

Deno.test("string: U+2028 and U+2029 are escaped", () => {
  assertEquals(encodeString("x\u2028y\u2029z"), '"x\\u2028y\\u2029z"');
  // Neighbours are written as themselves.
  assertEquals(encodeString("\u2027\u202a"), '"\u2027\u202a"');
});

Deno.test("string: short escapes for \\b \\f \\n \\r \\t", () => {
  assertEquals(encodeString("\b\f\n\r\t"), '"\\b\\f\\n\\r\\t"');
});

Deno.test("string: other control characters as \\u00xx with lowercase hex", () => {
  assertEquals(
    encodeString("\x00\x01\x07\x0b\x0e\x1a\x1f"),
    '"\\u0000\\u0001\\u0007\\u000b\\u000e\\u001a\\u001f"',
  );
  // Space and DEL (0x7f) are not control characters for Go: written raw.
  assertEquals(encodeString(" \x7f"), '" \x7f"');
  assert(!encodeString("\x1b").includes("\\u001B"));
});

Deno.test("string: quote and backslash escaped with a backslash", () => {
  assertEquals(encodeString('a"b\\c'), '"a\\"b\\\\c"');
  // '/' is not escaped.
  assertEquals(encodeString("a/b"), '"a/b"');
});

Deno.test("string: U+FFFD and other non-ASCII written as themselves", () => {
  assertEquals(encodeString("\ufffd"), '"\ufffd"');
  assertEquals(encodeString("é日本😀\u00a0"), '"é日本😀\u00a0"');
  // Never as an escape.
  assert(!encodeString("\ufffd").includes("\\u"));
});

Deno.test("string: a lone surrogate is refused by the encoder", () => {
  for (const s of ["\ud800", "a\udc00b", "\ud83d", "x\ude00", "\udc00\ud800"]) {
    assertThrows(() => encodeString(s), RangeError, "lone surrogate");
  }
  // A well-formed pair is fine.
  assertEquals(encodeString("\ud83d\ude00"), '"😀"');
  // Through a type encoder too.
  const tx = decodeSigTx(txText());
  assertThrows(
    () => encodeSigTx({ ...tx, to: "b\ud800" }),
    RangeError,
    "lone surrogate",
  );
});

Deno.test("string: a raw lone surrogate in decoder input is rejected", () => {
  assertThrows(
    () => decodeSigTx(txText({ to: '"b\ud800"' })),
    DecodeError,
    "lone surrogate",
  );
  assertThrows(() => parseJson('"\udc00"'), DecodeError, "lone surrogate");
});

Deno.test("string: a \\u escape of a lone surrogate is rejected", () => {
  for (
    const esc of [
      "\\ud800",
      "\\uD800",
      "\\udc00",
      "\\udfff",
      "\\ud800x",
      "\\ud800\\u0041",
      "\\ud800\\ud800",
      "\\ud800\\n",
      "\\ude00\\ud83d",
    ]
  ) {
    assertThrows(
      () => decodeSigTx(txText({ to: `"${esc}"` })),
      DecodeError,
      "lone surrogate",
    );
  }
  // A valid escaped pair decodes and is re-encoded as raw UTF-8.
  const tx = decodeSigTx(txText({ to: '"\\ud83d\\ude00\\u00e9"' }));
  assertEquals(tx.to, "😀é");
  assert(encodeSigTx(tx).includes('"to":"😀é"'));
});

Deno.test("string: decoder reads escapes, re-encoder writes the canonical form", () => {
  const tx = decodeSigTx(
    txText({
      to: '"\\u003C\\/\\u0041<>&\\u2028\\u0000\\b\\f\\n\\r\\t\\"\\\\"',
    }),
  );
  assertEquals(tx.to, '</A<>&\u2028\x00\b\f\n\r\t"\\');
  assert(
    encodeSigTx(tx).includes(
      '"to":"\\u003c/A\\u003c\\u003e\\u0026\\u2028\\u0000\\b\\f\\n\\r\\t\\"\\\\"',
    ),
  );
});

Deno.test("string: raw control characters and bad escapes are rejected", () => {
  for (
    const bad of ['"a\nb"', '"a\x00"', '"\\x41"', '"\\u12"', '"\\u12g4"', '"a']
  ) {
    assertThrows(() => parseJson(bad), DecodeError);
  }
});

Deno.test("utf-8: invalid byte sequences are rejected", () => {
  const ok = enc.encode(txText({ to: '"é"' }));
  assertEquals(decodeSigTx(ok).to, "é");
  const prefix = enc.encode(txText().slice(0, txText().indexOf(B)));
  const suffix = enc.encode(txText().slice(txText().indexOf(B) + 64));
  for (
    const bad of [
      [0xff], // never valid
      [0xc3], // truncated 2-byte sequence
      [0xc0, 0xaf], // overlong '/'
      [0xe0, 0x80, 0xaf], // overlong
      [0xed, 0xa0, 0x80], // an encoded surrogate (CESU-8)
      [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
      [0x80], // stray continuation byte
    ]
  ) {
    const bytes = new Uint8Array([...prefix, ...bad, ...suffix]);
    assertThrows(() => decodeSigTx(bytes), DecodeError, "invalid UTF-8");
  }
});

// --------------------------------------------------------------------- u64

Deno.test("u64: 0 and 2^64-1 round trip exactly through decode and encode", () => {
  for (const v of ["0", "1", "9007199254740993", "18446744073709551615"]) {
    const text = txText({ value: v, nonce: v });
    const tx = decodeSigTx(text);
    assertEquals(tx.value, BigInt(v));
    assertEquals(tx.nonce, BigInt(v));
    assertEquals(encodeSigTx(tx), text);
  }
  assertEquals(encodeU64(U64_MAX), "18446744073709551615");
  assertEquals(U64_MAX, 2n ** 64n - 1n);
});

Deno.test("u64: out-of-range or non-integer values are rejected naming the field", () => {
  for (
    const v of [
      "18446744073709551616", // 2^64
      "99999999999999999999",
      "184467440737095516150",
      "-1",
      "-0",
      "1.5",
      "1.0",
      "1e3",
      "1E3",
      "1e+2",
      "0e0",
      "01",
      "00",
      '"5"',
      "true",
      "[]",
    ]
  ) {
    const e = assertThrows(
      () => decodeSigTx(txText({ value: v })),
      DecodeError,
    );
    assertEquals(e.message, "tx.value: expected an unsigned 64-bit integer");
  }
  const e = assertThrows(
    () => decodeSigTx(txText({ nonce: "-3" })),
    DecodeError,
  );
  assertEquals(e.message, "tx.nonce: expected an unsigned 64-bit integer");
});

Deno.test("u64: the encoder refuses values outside 0..2^64-1", () => {
  assertThrows(() => encodeU64(-1n), RangeError);
  assertThrows(() => encodeU64(1n << 64n), RangeError);
  assertThrows(() => encodeU64(5 as unknown as bigint), RangeError);
});

Deno.test("time: a decoded transaction re-encodes its time canonically", () => {
  const tx = decodeSigTx(txText({ time: '"2024-05-01T10:00:00.120+00:00"' }));
  assert(encodeSigTx(tx).includes('"time":"2024-05-01T10:00:00.12Z"'));
});

// ------------------------------------------------------------------- hashes

Deno.test("hash: 64 hex of either case accepted, lowercase out", () => {
  const mixed = "AbCdEf0123456789".repeat(4);
  assertEquals(asHash(mixed, "h"), mixed.toLowerCase());
  assertEquals(parseHash("F".repeat(64)), "f".repeat(64));
  assertEquals(asHash(A, "h"), A);
});

Deno.test("hash: wrong length or non-hex rejected", () => {
  for (
    const bad of [
      "a".repeat(63),
      "a".repeat(65),
      "",
      "g" + "a".repeat(63),
      "0x" + "a".repeat(62),
      " " + "a".repeat(63),
      "a".repeat(63) + "\n",
    ]
  ) {
    assertThrows(
      () => asHash(bad, "block.parent"),
      DecodeError,
      "block.parent",
    );
    assertThrows(() => parseHash(bad), DecodeError);
  }
  assertThrows(
    () => asHash(parseJson("12") as never, "x"),
    DecodeError,
    "x: expected a hash",
  );
});

// ------------------------------------------------------------------- base64

Deno.test("base64: standard alphabet with padding round trips", () => {
  const cases: [number[], string][] = [
    [[], ""],
    [[0], "AA=="],
    [[0, 1], "AAE="],
    [[0, 1, 2], "AAEC"],
    [[0xfb, 0xff, 0xbf], "+/+/"],
  ];
  for (const [bytes, b64] of cases) {
    assertEquals(encodeBytes(new Uint8Array(bytes)), `"${b64}"`);
    assertEquals(asBytes(b64, "b"), new Uint8Array(bytes));
  }
  const sig = new Uint8Array(65).map((_, i) => i * 7);
  const text = txText({ sig: encodeBytes(sig) });
  assertEquals(decodeSigTx(text).sig, sig);
  assertEquals(encodeSigTx(decodeSigTx(text)), text);
});

Deno.test("base64: invalid base64 rejected naming the field", () => {
  for (
    const bad of [
      "AA", // no padding
      "AAE", // no padding
      "A===",
      "A",
      "AA=A",
      "-_-_", // URL alphabet
      "AA ==",
      "AA==\n",
      "*AAA",
      "AAAA=",
    ]
  ) {
    assertThrows(() => asBytes(bad, "x"), DecodeError, "x: expected");
    assertThrows(
      () => decodeSigTx(txText({ sig: JSON.stringify(bad) })),
      DecodeError,
      "tx.sig: expected standard base64",
    );
  }
  assertThrows(
    () => decodeSigTx(txText({ sig: "5" })),
    DecodeError,
    "tx.sig",
  );
});

// --------------------------------------------------------------------- maps

Deno.test("map: keys sorted by UTF-8 bytes, not UTF-16 code units", () => {
  const astral = "\u{1f600}"; // UTF-8 f0 9f 98 80, UTF-16 d83d de00
  const bmpHigh = "\uff01"; // UTF-8 ef bc 81, UTF-16 ff01
  // UTF-16 (JS default) order puts the astral key first; UTF-8 order does not.
  assertEquals([bmpHigh, astral].sort(), [astral, bmpHigh]);
  assertEquals([astral, bmpHigh].sort(compareUtf8), [bmpHigh, astral]);
  assert(compareUtf8("a", "ab") < 0);
  assert(compareUtf8("b", "ab") > 0);
  assertEquals(compareUtf8("x\u{1f600}", "x\u{1f600}"), 0);
  assert(compareUtf8("\u{1f600}a", "\u{1f600}b") < 0);
  assert(compareUtf8("Z", "a") < 0);

  const g: Genesis = {
    chain: "c",
    authority: A,
    balances: new Map([[astral, 1n], ["b", 2n], [bmpHigh, 3n], ["a", 4n]]),
    time: parseTime("2024-05-01T10:00:00Z"),
  };
  assertEquals(
    encodeGenesis(g),
    `{"chain":"c","authority":"${A}","balances":{"a":4,"b":2,"${bmpHigh}":3,"${astral}":1},"time":"2024-05-01T10:00:00Z"}`,
  );
  // Decoded keys in any order are re-encoded sorted.
  const decoded = decodeSigGenesis(
    `{"chain":"c","authority":"${A}","balances":{"${astral}":1,"${bmpHigh}":3,"b":2,"a":4},"time":"2024-05-01T10:00:00Z","sig":""}`,
  );
  assertEquals(encodeGenesis(decoded), encodeGenesis(g));
});

// ------------------------------------------------------- objects and errors

Deno.test("object: a missing field is named", () => {
  for (const k of ["from", "to", "value", "nonce", "time", "sig"]) {
    const e = assertThrows(
      () => decodeSigTx(txText({ [k]: "" })),
      DecodeError,
    );
    assertEquals(e.message, `tx.${k}: missing`);
  }
  // null counts as missing.
  assertThrows(
    () => decodeSigTx(txText({ to: "null" })),
    DecodeError,
    "tx.to: missing",
  );
  // Wrong type names the field too.
  assertThrows(
    () => decodeSigTx(txText({ to: "5" })),
    DecodeError,
    "tx.to: expected a string",
  );
});

Deno.test("object: unknown fields are ignored", () => {
  const canonical = txText();
  const extra = canonical.slice(0, -1) +
    ',"extra":[1,{"a":null},"x",true,-1.5e3],"Hash":"zz"}';
  assertEquals(decodeSigTx(extra), decodeSigTx(canonical));
  assertEquals(encodeSigTx(decodeSigTx(extra)), canonical);
});

Deno.test("object: fields in another order with whitespace decode alike", () => {
  const canonical = txText();
  const messy = ` {\n\t"sig" : "${SIG}" ,\r\n "time":"2024-05-01T10:00:00Z", ` +
    `"nonce" :1,"value": 5 , "to":"${B}","from":"${A.toUpperCase()}" } \n`;
  // from is an address string, kept as is (not a hash field).
  const tx = decodeSigTx(messy);
  assertEquals(tx.from, A.toUpperCase());
  assertEquals(
    encodeSigTx({ ...tx, from: A }),
    canonical,
  );
});

Deno.test("parse: trailing garbage rejected, trailing whitespace accepted", () => {
  const t = txText();
  assertEquals(decodeSigTx(t + " \n\t\r"), decodeSigTx(t));
  for (
    const bad of [t + "x", t + "{}", t + ",", t + "}", t + "\x00", "[" + t]
  ) {
    assertThrows(() => decodeSigTx(bad), DecodeError, "tx");
  }
  assertThrows(() => parseJson("1 2"), DecodeError, "unexpected data");
  assertThrows(() => parseJson(""), DecodeError);
  assertThrows(() => parseJson("{"), DecodeError);
  assertThrows(() => parseJson('{"a":1,}'), DecodeError);
  assertThrows(() => parseJson("[1,]"), DecodeError);
  assertThrows(() => parseJson("\ufeff{}"), DecodeError);
  assertThrows(
    () => parseObject("[]", "tx"),
    DecodeError,
    "tx: expected an object",
  );
});
