import { assertEquals } from "../assert.ts";
import { txHash } from "../../src/chain/tx.ts";
import { answerLine, formatTx, shortAccount } from "../../src/cli/format.ts";
import { TX } from "./harness.ts";

const enc = new TextEncoder();

Deno.test("accounts: addresses shortened, other names in full, quoted when odd", () => {
  assertEquals(shortAccount(TX.from), TX.from.slice(0, 7));
  assertEquals(shortAccount("bob"), "bob");
  assertEquals(shortAccount("bob.smith@x:1+2-3_4"), "bob.smith@x:1+2-3_4");
  assertEquals(shortAccount("bob smith"), '"bob smith"');
  assertEquals(shortAccount(""), '""');
  // Upper-case hex is not an address: shown in full.
  assertEquals(shortAccount("AB".repeat(32)), "AB".repeat(32));
});

Deno.test("a transaction is one line", () => {
  assertEquals(
    formatTx(TX),
    `tx ${txHash(TX)}: ${TX.from.slice(0, 7)} -> ${
      TX.to.slice(0, 7)
    } ${TX.value} nonce ${TX.nonce}`,
  );
});

Deno.test("a node's answer is printed as sent, unless it spans lines", () => {
  assertEquals(answerLine(enc.encode(' {"a":1}\n'), '{"a":1}'), '{"a":1}');
  // The node's own spelling is kept (here its key order).
  assertEquals(
    answerLine(enc.encode('{"b":2,"a":1}'), '{"a":1,"b":2}'),
    '{"b":2,"a":1}',
  );
  assertEquals(answerLine(enc.encode('{\n"a":1}'), '{"a":1}'), '{"a":1}');
  assertEquals(answerLine(enc.encode('{"a":1,\r"b":2}'), "canon"), "canon");
});
