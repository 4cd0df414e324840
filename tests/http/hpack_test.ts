import { assertEquals, assertThrows } from "../assert.ts";
import {
  encodeHeaderBlock,
  encodeInteger,
  type HeaderField,
  HpackDecoder,
  HpackError,
  huffmanDecode,
} from "../../src/http/hpack.ts";

function hex(s: string): Uint8Array {
  return Uint8Array.from(
    s.replace(/\s/g, "").match(/../g)!.map((h) => parseInt(h, 16)),
  );
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("Huffman strings of RFC 7541 C.4 decode", () => {
  assertEquals(
    text(huffmanDecode(hex("f1e3c2e5f23a6ba0ab90f4ff"))),
    "www.example.com",
  );
  assertEquals(text(huffmanDecode(hex("a8eb10649cbf"))), "no-cache");
  assertEquals(text(huffmanDecode(hex("25a849e95ba97d7f"))), "custom-key");
  assertEquals(text(huffmanDecode(hex("25a849e95bb8e8b4bf"))), "custom-value");
  assertEquals(text(huffmanDecode(new Uint8Array(0))), "");
});

Deno.test("bad Huffman strings are refused", () => {
  // Padding of 8 bits or more, padding that is not all ones, and EOS.
  assertThrows(
    () => huffmanDecode(hex("f1e3c2e5f23a6ba0ab90f4ffff")),
    HpackError,
  );
  assertThrows(() => huffmanDecode(hex("a8eb10649cbe")), HpackError);
  assertThrows(() => huffmanDecode(hex("fffffffc")), HpackError);
});

// RFC 7541 C.6: three responses with Huffman strings on one decoder whose
// table holds 256 bytes, so entries are evicted along the way.
Deno.test("responses of RFC 7541 C.6 decode, with evictions", () => {
  const d = new HpackDecoder({ tableSize: 256 });
  const date1 = "Mon, 21 Oct 2013 20:13:21 GMT";
  const location = "https://www.example.com";
  assertEquals(
    d.decode(hex(
      "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff" +
        "6e919d29ad171863c78f0b97c8e9ae82ae43d3",
    )),
    [
      [":status", "302"],
      ["cache-control", "private"],
      ["date", date1],
      ["location", location],
    ],
  );
  assertEquals(d.decode(hex("4883640effc1c0bf")), [
    [":status", "307"],
    ["cache-control", "private"],
    ["date", date1],
    ["location", location],
  ]);
  assertEquals(
    d.decode(hex(
      "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94" +
        "e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065" +
        "c003ed4ee5b1063d5007",
    )),
    [
      [":status", "200"],
      ["cache-control", "private"],
      ["date", "Mon, 21 Oct 2013 20:13:22 GMT"],
      ["location", location],
      ["content-encoding", "gzip"],
      [
        "set-cookie",
        "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
      ],
    ],
  );
});

Deno.test("encoded header blocks decode to the same fields", () => {
  const fields: HeaderField[] = [
    [":method", "POST"],
    [":path", "/block.Block/BlockSync"],
    ["content-type", "application/grpc+proto"],
    // Lengths of 127 and more take continuation bytes.
    ["x-long", "v".repeat(127)],
    ["x-longer", "w".repeat(20_000)],
    ["x-empty", ""],
  ];
  const block = encodeHeaderBlock(fields);
  assertEquals(new HpackDecoder().decode(block), fields);
  // Literals without indexing leave the decoder's table empty.
  const d = new HpackDecoder();
  d.decode(block);
  assertThrows(() => d.decode(Uint8Array.of(0x80 | 62)), HpackError, "62");
});

Deno.test("malformed header blocks are refused with HpackError", () => {
  const d = () => new HpackDecoder();
  // Index 0 and an index past both tables.
  assertThrows(() => d().decode(Uint8Array.of(0x80)), HpackError);
  assertThrows(() => d().decode(Uint8Array.of(0xff, 0x00)), HpackError);
  // A string longer than the block, and an integer cut short.
  assertThrows(() => d().decode(hex("400a6b6579")), HpackError, "truncated");
  assertThrows(() => d().decode(hex("7f")), HpackError, "truncated");
  // An integer too large for any table or string.
  assertThrows(
    () => d().decode(hex("7fffffffffff01")),
    HpackError,
    "too large",
  );
  // A table size of 4,097, above what this side announced; 4,096 is fine.
  new HpackDecoder().decode(hex("3fe11f"));
  assertThrows(() => d().decode(hex("3fe21f")), HpackError, "above 4096");
});

Deno.test("a header list above the limit is refused", () => {
  const block = encodeHeaderBlock([["x-big", "v".repeat(2000)]]);
  const d = new HpackDecoder({ maxHeaderListSize: 1000 });
  assertThrows(() => d.decode(block), HpackError, "larger than 1000");
  new HpackDecoder({ maxHeaderListSize: 3000 }).decode(block);
});

Deno.test("an entry larger than the table empties it", () => {
  const d = new HpackDecoder({ tableSize: 100 });
  // Literal with incremental indexing, new name: "a" = "b" (34 bytes).
  d.decode(hex("4001610162"));
  assertEquals(d.decode(Uint8Array.of(0x80 | 62)), [["a", "b"]]);
  // A 120-byte entry does not fit: the table is emptied.
  const value = "x".repeat(86);
  d.decode(Uint8Array.from([
    0x40,
    1,
    0x63,
    value.length,
    ...new TextEncoder().encode(value),
  ]));
  assertThrows(() => d.decode(Uint8Array.of(0x80 | 62)), HpackError);
});

Deno.test("a table size update is taken only at the start of a block", () => {
  // Two updates, then ":method: GET": fine (RFC 7541 §4.2).
  assertEquals(
    new HpackDecoder().decode(hex("20 3f e1 1f 82".replaceAll(" ", ""))),
    [
      [":method", "GET"],
    ],
  );
  // ":method: GET", then an update: a compression error.
  assertThrows(
    () => new HpackDecoder().decode(hex("8220")),
    HpackError,
    "after a header field",
  );
});

Deno.test("a list above the limit is decoded to its end, its table kept", () => {
  const d = new HpackDecoder({ maxHeaderListSize: 300 });
  // "x-big: v...v" (137 bytes as listed) with incremental indexing, then
  // referenced twice: 411 bytes in all.
  const value = "v".repeat(100);
  const insert = Uint8Array.from([
    0x40,
    5,
    ...new TextEncoder().encode("x-big"),
    value.length,
    ...new TextEncoder().encode(value),
  ]);
  const big = d.decodeList(
    Uint8Array.from([...insert, 0x80 | 62, 0x80 | 62]),
  );
  assertEquals(big, { fields: [], tooLarge: true });
  // The entry went into the table all the same: the next block uses it.
  assertEquals(d.decodeList(Uint8Array.of(0x80 | 62)), {
    fields: [["x-big", value]],
    tooLarge: false,
  });
});

Deno.test("integers encode as RFC 7541 C.1 shows", () => {
  const encoded = (value: number, bits: number, first = 0) => {
    const out: number[] = [];
    encodeInteger(out, value, bits, first);
    return out;
  };
  assertEquals(encoded(10, 5), [0x0a]); // C.1.1
  assertEquals(encoded(1337, 5), [0x1f, 0x9a, 0x0a]); // C.1.2
  assertEquals(encoded(42, 8), [0x2a]); // C.1.3
  assertEquals(encoded(31, 5, 0x20), [0x3f, 0x00]); // the prefix exactly
});
