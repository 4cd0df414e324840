/**
 * Transactions (FORMAT.md section 2): field order, round trips, hash,
 * digest and signatures.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { keccak256, keccak256Hex } from "../../src/chain/crypto.ts";
import { DecodeError, toBase64, U64_MAX } from "../../src/chain/json.ts";
import { parseTime } from "../../src/chain/time.ts";
import {
  decodeSigTx,
  encodeSigTx,
  encodeTx,
  txDigest,
  txHash,
  verifyTx,
} from "../../src/chain/tx.ts";
import { alice, bob, enc, fixedTx, makeTx, mallory, TIME } from "./samples.ts";

Deno.test("tx: fields in the order from, to, value, nonce, time, sig", () => {
  assertEquals(
    encodeTx(fixedTx),
    `{"from":"${alice.address}","to":"${bob.address}","value":5,"nonce":1,"time":"${TIME}"}`,
  );
  const stx = alice.signTx(fixedTx);
  assertEquals(
    encodeSigTx(stx),
    `{"from":"${alice.address}","to":"${bob.address}","value":5,"nonce":1,"time":"${TIME}","sig":"${
      toBase64(stx.sig)
    }"}`,
  );
  assertEquals(stx.sig.length, 65);
});

Deno.test("tx: decode(encode(x)) is x and encode is idempotent", () => {
  for (
    const tx of [
      alice.signTx(fixedTx),
      makeTx(2n, 0n),
      makeTx(U64_MAX, U64_MAX),
      alice.signTx({ ...fixedTx, to: "any <string> & \u2028 😀 \x01" }),
    ]
  ) {
    const text = encodeSigTx(tx);
    const back = decodeSigTx(text);
    assertEquals(back, tx);
    assertEquals(encodeSigTx(back), text);
    assertEquals(decodeSigTx(enc.encode(text)), tx);
    assertEquals(txHash(back), txHash(tx));
  }
});

Deno.test("tx: hash is keccak of the canonical SigTx; digest of the Tx", () => {
  const stx = alice.signTx(fixedTx);
  assertEquals(txHash(stx), keccak256Hex(encodeSigTx(stx)));
  assertEquals(txDigest(stx), keccak256(encodeTx(stx)));
  assertEquals(txDigest(stx), txDigest(fixedTx));
  // The identifier covers the signature; the digest does not.
  assert(txHash(stx) !== keccak256Hex(encodeTx(stx)));
});

Deno.test("tx: a non-canonical input hashes as its canonical form", () => {
  const stx = alice.signTx(fixedTx);
  const canonical = encodeSigTx(stx);
  const messy =
    `{ "sig" : "${
      toBase64(stx.sig)
    }",\n  "time": "2024-05-01T10:00:00.120+00:00",` +
    ` "nonce": 1, "value" :5, "to":"${bob.address}", "from":"${alice.address}",` +
    ` "unknown": {"x": [1, 2]} }\n`;
  const back = decodeSigTx(messy);
  assertEquals(encodeSigTx(back), canonical);
  assertEquals(txHash(back), keccak256Hex(canonical));
  assert(txHash(back) !== keccak256Hex(messy));
  assert(verifyTx(back));
  // The same instant in another offset is a different canonical text.
  const shifted = decodeSigTx(
    canonical.replace(TIME, "2024-05-01T12:00:00.12+02:00"),
  );
  assert(txHash(shifted) !== txHash(back));
  assert(!verifyTx(shifted));
});

Deno.test("tx: signature verification", () => {
  const stx = alice.signTx(fixedTx);
  assert(verifyTx(stx));
  // Signed by someone else than `from`.
  assert(!verifyTx({ ...mallory.signTx(fixedTx) }));
  assert(!verifyTx({ ...stx, sig: mallory.signTx(fixedTx).sig }));
  // Any changed field breaks it.
  assert(!verifyTx({ ...stx, value: 6n }));
  assert(!verifyTx({ ...stx, nonce: 2n }));
  assert(!verifyTx({ ...stx, to: alice.address }));
  assert(!verifyTx({ ...stx, time: parseTime("2024-05-01T10:00:00.121Z") }));
  // A malformed signature is a false, not a throw.
  assert(!verifyTx({ ...stx, sig: new Uint8Array(64) }));
  assert(!verifyTx({ ...stx, sig: new Uint8Array(65) }));
});

Deno.test("tx: decode errors name the field", () => {
  const text = encodeSigTx(alice.signTx(fixedTx));
  assertThrows(
    () => decodeSigTx(text.replace(`"to":"${bob.address}",`, "")),
    DecodeError,
    "tx.to: missing",
  );
  assertThrows(
    () => decodeSigTx(text.replace('"value":5', '"value":-5')),
    DecodeError,
    "tx.value: expected an unsigned 64-bit integer",
  );
  assertThrows(() => decodeSigTx("[]"), DecodeError, "tx: expected an object");
  // The caller chooses the path prefix.
  assertThrows(
    () => decodeSigTx(text.replace('"nonce":1', '"nonce":1e0'), "relay"),
    DecodeError,
    "relay.nonce: expected an unsigned 64-bit integer",
  );
});
