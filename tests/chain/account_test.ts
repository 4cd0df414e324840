/**
 * Private keys as the reference writes them (FORMAT.md section 3).
 */
import { assertEquals, assertThrows } from "../assert.ts";
import { Account, decodePrivateKey } from "../../src/chain/account.ts";
import { addressOf, CURVE_ORDER, publicKeyOf } from "../../src/chain/crypto.ts";
import { DecodeError } from "../../src/chain/json.ts";
import { alice, enc, fixedTx } from "./samples.ts";

Deno.test("private key: written as curve, x, y, d; round trip", () => {
  const d = 0xa11cen;
  const { x, y } = publicKeyOf(d);
  const text = alice.encodePrivateKey();
  assertEquals(text, `{"curve":"P-256k1","x":${x},"y":${y},"d":${d}}`);
  const back = decodePrivateKey(text);
  assertEquals(back.address, alice.address);
  assertEquals(back.encodePrivateKey(), text);
  assertEquals(decodePrivateKey(enc.encode(text)).address, alice.address);
  // A fresh account round-trips too, and its address is addressOf(pub).
  const fresh = Account.create();
  assertEquals(fresh.address, addressOf(fresh.publicKey));
  assertEquals(
    decodePrivateKey(fresh.encodePrivateKey()).address,
    fresh.address,
  );
  // The largest scalar.
  const top = new Account(CURVE_ORDER - 1n);
  assertEquals(decodePrivateKey(top.encodePrivateKey()).address, top.address);
});

Deno.test("private key: read with fields in another order", () => {
  const d = 0xa11cen;
  const { x, y } = publicKeyOf(d);
  for (
    const text of [
      `{"d":${d},"y":${y},"x":${x},"curve":"P-256k1"}`,
      ` { "y" : ${y} , "curve" : "P-256k1" , "d" : ${d} , "x" : ${x} } `,
      `{"x":${x},"d":${d},"curve":"P-256k1","y":${y},"extra":true}`,
    ]
  ) {
    const acc = decodePrivateKey(text);
    assertEquals(acc.address, alice.address);
    assertEquals(acc.encodePrivateKey(), alice.encodePrivateKey());
    // It signs like the original.
    assertEquals(acc.signTx(fixedTx).sig, alice.signTx(fixedTx).sig);
  }
});

Deno.test("private key: mismatched or malformed keys rejected", () => {
  const d = 0xa11cen;
  const { x, y } = publicKeyOf(d);
  const bad: [string, string][] = [
    [`{"curve":"P-256k1","x":${x + 1n},"y":${y},"d":${d}}`, "does not match"],
    [
      `{"curve":"P-256k1","x":${x},"y":${negateY(y)},"d":${d}}`,
      "does not match",
    ],
    [`{"curve":"P-256k1","x":${y},"y":${x},"d":${d}}`, "does not match"],
    [
      `{"curve":"P-256k1","x":${x},"y":${y},"d":${d + 1n}}`,
      "does not match",
    ],
    [`{"curve":"P-256","x":${x},"y":${y},"d":${d}}`, "key.curve"],
    [`{"x":${x},"y":${y},"d":${d}}`, "key.curve: missing"],
    [`{"curve":"P-256k1","x":${x},"y":${y}}`, "key.d: missing"],
    [`{"curve":"P-256k1","y":${y},"d":${d}}`, "key.x: missing"],
    [
      `{"curve":"P-256k1","x":${x},"y":${y},"d":0}`,
      "key.d: private key out of range",
    ],
    [
      `{"curve":"P-256k1","x":${x},"y":${y},"d":${CURVE_ORDER}}`,
      "key.d: private key out of range",
    ],
    [`{"curve":"P-256k1","x":${x},"y":${y},"d":-${d}}`, "key.d"],
    [`{"curve":"P-256k1","x":${x},"y":${y},"d":0${d}}`, "key.d"],
    [`{"curve":"P-256k1","x":${x},"y":${y},"d":${d}.0}`, "key.d"],
    [`{"curve":"P-256k1","x":${x},"y":${y},"d":"${d}"}`, "key.d"],
    [`{"curve":"P-256k1","x":"${x}","y":${y},"d":${d}}`, "key.x"],
  ];
  for (const [text, msg] of bad) {
    assertThrows(() => decodePrivateKey(text), DecodeError, msg);
  }
});

function negateY(y: bigint): bigint {
  // The other point with the same x: (x, p - y).
  return 2n ** 256n - 2n ** 32n - 977n - y;
}
