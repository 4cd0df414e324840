import { assertEquals } from "../assert.ts";
import { closest, editDistance } from "../../src/util/edit_distance.ts";

Deno.test("edit distance: insertions, deletions, substitutions, swaps", () => {
  assertEquals(editDistance("", ""), 0);
  assertEquals(editDistance("send", "send"), 0);
  assertEquals(editDistance("sned", "send"), 1);
  assertEquals(editDistance("sen", "send"), 1);
  assertEquals(editDistance("sendd", "send"), 1);
  assertEquals(editDistance("sand", "send"), 1);
  assertEquals(editDistance("", "abc"), 3);
  assertEquals(editDistance("tx", "block"), 5);
  // Long words are compared on their first 100 characters.
  assertEquals(editDistance("a".repeat(10_000), "a".repeat(100)), 0);
});

Deno.test("closest: only a candidate near enough, never the word itself", () => {
  assertEquals(closest("tx sned", ["tx sign", "tx send"]), "tx send");
  assertEquals(closest("jsn", ["json", "node"]), "json");
  assertEquals(closest("bogus", ["tx send", "dev"]), undefined);
  // Two letters: one edit would match too much.
  assertEquals(closest("tz", ["tx"]), undefined);
  assertEquals(closest("dve", ["dev"]), "dev");
  assertEquals(closest("json", ["json"]), undefined);
  assertEquals(closest("x", []), undefined);
});
