/** The shared UTF-8 encoder and lenient decoder. */
import { assertEquals } from "../assert.ts";
import { decodeUtf8, encodeUtf8 } from "../../src/util/utf8.ts";

Deno.test("encodeUtf8 and decodeUtf8 round-trip text", () => {
  assertEquals(encodeUtf8("é€"), new Uint8Array([195, 169, 226, 130, 172]));
  assertEquals(decodeUtf8(encodeUtf8("héllo €")), "héllo €");
});

Deno.test("decodeUtf8 replaces malformed bytes instead of throwing", () => {
  assertEquals(decodeUtf8(new Uint8Array([0x61, 0xff])), "a\ufffd");
});
