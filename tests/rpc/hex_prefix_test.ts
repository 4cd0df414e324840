import { assertEquals, assertThrows } from "../assert.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { hexPrefixField } from "../../src/rpc/hex_prefix.ts";

Deno.test("hexPrefixField lowercases 1 to 64 hex characters, names the field otherwise", () => {
  assertEquals(hexPrefixField("AbC1", "Hash"), "abc1");
  assertEquals(hexPrefixField("f".repeat(64), "Parent"), "f".repeat(64));
  for (const bad of ["", "xyz", "f".repeat(65), "ab cd"]) {
    const err = assertThrows(
      () => hexPrefixField(bad, "Parent"),
      ConnectError,
      "Parent: expected a prefix of 1 to 64 hex characters",
    );
    assertEquals((err as ConnectError).code, Code.InvalidArgument);
  }
});
