import { assertEquals } from "../assert.ts";
import { txHash } from "../../src/chain/tx.ts";
import { formatTx, shortAccount } from "../../src/cli/format.ts";
import { TX } from "./harness.ts";

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
