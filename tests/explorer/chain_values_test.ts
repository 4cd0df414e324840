/**
 * How the explorer page treats chain values an attacker chooses: a
 * receiver can be any string, so it must not pass for an address, fill the
 * page, or show on the page of an address it merely starts with.
 */
import { assert, assertEquals } from "../assert.ts";
import {
  involves,
  NAME_MAX,
  nonceOnLastPage,
  quoteName,
} from "../../src/explorer/assets/lib.js";

const ADDR = "ab".repeat(32);

Deno.test("quoteName shows a name that is no address as quoted ASCII", () => {
  assertEquals(quoteName("bob"), '"bob"');
  assertEquals(quoteName('a"b\\c'), '"a\\"b\\\\c"');
  // A right-to-left override with the address reversed would display as
  // the address; escaped, it cannot.
  const reversed = [...ADDR].reverse().join("");
  assertEquals(quoteName(`\u202e${reversed}`), `"\\u{202e}${reversed}"`);
  // Look-alikes, invisible and control characters, a lone surrogate.
  assertEquals(
    quoteName("\u0430b\u200b\n\ud800"),
    '"\\u{430}b\\u{200b}\\u{a}\\u{d800}"',
  );
  assertEquals(quoteName("\u{1f600}"), '"\\u{1f600}"');
  // Markup stays text (the page adds it as a text node).
  assertEquals(quoteName("<b>x</b>"), '"<b>x</b>"');
});

Deno.test("quoteName cuts a long name and says how long it is", () => {
  const long = "x".repeat(4 * 1024 * 1024);
  const shown = quoteName(long);
  assertEquals(shown, `"${"x".repeat(NAME_MAX)}"… (${long.length} characters)`);
  assertEquals(quoteName("y".repeat(NAME_MAX)), `"${"y".repeat(NAME_MAX)}"`);
  assertEquals(quoteName("\u202eabc", 2), '"\\u{202e}a"… (4 characters)');
});

Deno.test("involves takes an account's own transactions, not a prefix's", () => {
  assert(involves({ from: ADDR, to: "bob" }, ADDR));
  assert(involves({ from: "cd".repeat(32), to: ADDR }, ADDR));
  // A receiver that starts with the address is another account.
  assert(!involves({ from: "cd".repeat(32), to: `${ADDR}x` }, ADDR));
  assert(!involves({ from: "cd".repeat(32), to: ADDR.slice(0, 10) }, ADDR));
  assert(!involves(null, ADDR));
  assert(!involves("x", ADDR));
});

Deno.test("nonceOnLastPage reads the nonce off the last page, or says it cannot", () => {
  const other = "cd".repeat(32);
  const txs = [
    { from: ADDR, nonce: "4" },
    { from: other, nonce: "9" },
    { from: ADDR, nonce: "5" },
    { from: other, nonce: "10" },
  ];
  assertEquals(nonceOnLastPage(txs, ADDR, false), "5");
  assertEquals(nonceOnLastPage(txs.slice(1, 2), ADDR, true), "0");
  assertEquals(nonceOnLastPage(txs.slice(1, 2), ADDR, false), undefined);
  assertEquals(nonceOnLastPage([], ADDR, true), "0");
});
