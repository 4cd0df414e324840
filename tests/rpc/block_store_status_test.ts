import { assertEquals } from "../assert.ts";
import { Code } from "@connectrpc/connect";
import { blockStoreError } from "../../src/rpc/block_store_status.ts";

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
