/** Byte strings joined and compared. */
import { assertEquals } from "../assert.ts";
import {
  bytesToBigint,
  concatBytes,
  equalBytes,
  joinLines,
} from "../../src/util/bytes.ts";

const b = (...xs: number[]) => new Uint8Array(xs);

Deno.test("concatBytes puts the parts one after the other", () => {
  assertEquals(concatBytes([]), b());
  assertEquals(concatBytes([b(1), b(), b(2, 3)]), b(1, 2, 3));
});

Deno.test("joinLines ends every line with a newline", () => {
  assertEquals(joinLines([]), b());
  assertEquals(joinLines([b(97), b(), b(98)]), b(97, 10, 10, 98, 10));
});

Deno.test("equalBytes compares length and every byte", () => {
  assertEquals(equalBytes(b(1, 2), b(1, 2)), true);
  assertEquals(equalBytes(b(1, 2), b(1, 3)), false);
  assertEquals(equalBytes(b(1), b(1, 0)), false);
});

Deno.test("bytesToBigint reads big-endian, 0 for no bytes", () => {
  assertEquals(bytesToBigint(b()), 0n);
  assertEquals(bytesToBigint(b(1, 0)), 256n);
  assertEquals(bytesToBigint(new Uint8Array(32).fill(255)), 2n ** 256n - 1n);
});
