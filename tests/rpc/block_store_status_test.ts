import { assertEquals } from "../assert.ts";
import { Code } from "@connectrpc/connect";
import { blockStoreError } from "../../src/rpc/block_store_status.ts";

Deno.test("blockStoreError is Internal with the first line of the cause", () => {
  const err = blockStoreError(new Error("EIO: i/o error\nstack"));
  assertEquals(err.code, Code.Internal);
  assertEquals(err.rawMessage, "cannot read the block store: EIO: i/o error");
});
