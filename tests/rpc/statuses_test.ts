import { assertEquals, assertThrows } from "../assert.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { blockStoreError, hexPrefixField } from "../../src/rpc/statuses.ts";

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

Deno.test("blockStoreError is Internal with the first line of the cause", () => {
  const err = blockStoreError(new Error("EIO: i/o error\nstack"));
  assertEquals(err.code, Code.Internal);
  assertEquals(err.rawMessage, "cannot read the block store: EIO: i/o error");
});

Deno.test("blockStoreError names no path of the node's", () => {
  assertEquals(
    blockStoreError(
      new Error("/srv/bcn/.blockstore1122/block.store line 7: bad JSON"),
    ).rawMessage,
    "cannot read the block store: block.store line 7: bad JSON",
  );
  assertEquals(
    blockStoreError(
      new Error(
        "Permission denied (os error 13): open '/srv/bcn/.blockstore1122/block.store'",
      ),
    ).rawMessage,
    "cannot read the block store: Permission denied",
  );
});
