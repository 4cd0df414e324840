/**
 * Hashes, addresses and signatures (FORMAT.md section 2).
 */
import { sha3_256, shake256 } from "@noble/hashes/sha3.js";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  addressOf,
  CURVE_ORDER,
  isHighS,
  keccak256,
  keccak256Hex,
  publicKeyOf,
  recover,
  sign,
  SignatureError,
  verifySignature,
} from "../../src/chain/crypto.ts";
import { recoverAddress } from "../../src/chain/signer_cache.ts";
import { bigOf, makeSig, modPow, P, rWithNoPoint } from "./signatures.ts";
import { toHex } from "../../src/chain/json.ts";

const N = CURVE_ORDER;
const enc = new TextEncoder();

const KEYS = [1n, 2n, 12345n, N - 1n, 0xdeadbeefcafebaben * 2n ** 100n + 7n];
const DIGESTS = ["", "a", "tx", "block 1", "genesis"].map((s) => keccak256(s));

Deno.test("keccak256 is Ethereum's Keccak, not NIST SHA3-256", () => {
  assertEquals(
    keccak256Hex(""),
    "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
  );
  assertEquals(
    toHex(keccak256(new Uint8Array())),
    "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
  );
  assertEquals(
    keccak256Hex("abc"),
    "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
  );
  // NIST SHA3-256 of "" differs.
  const nist = toHex(sha3_256(new Uint8Array()));
  assert(nist.startsWith("a7ffc6f8"));
  assert(keccak256Hex("") !== nist);
  // A string is hashed as its UTF-8.
  assertEquals(keccak256Hex("é😀"), toHex(keccak256(enc.encode("é😀"))));
});

Deno.test("address: SHAKE256-32 of the exact key JSON, 64 lowercase hex", () => {
  // d = 1: the public key is the generator G.
  const gx =
    55066263022277343669578718895168534326250603453777594175500187360389116729240n;
  const gy =
    32670510020758816978083085130507043184471273380659243275938904335757337482424n;
  assertEquals(publicKeyOf(1n), { x: gx, y: gy });
  const json = `{"curve":"P-256k1","x":${gx},"y":${gy}}`;
  const expected = toHex(shake256(enc.encode(json), { dkLen: 32 }));
  assertEquals(addressOf({ x: gx, y: gy }), expected);
  // The first 32 bytes of a longer SHAKE256 output are the same.
  assertEquals(
    expected,
    toHex(shake256(enc.encode(json), { dkLen: 64 }).subarray(0, 32)),
  );
  for (const d of KEYS) {
    const pub = publicKeyOf(d);
    const a = addressOf(pub);
    assert(/^[0-9a-f]{64}$/.test(a), a);
    assertEquals(
      a,
      toHex(
        shake256(
          enc.encode(`{"curve":"P-256k1","x":${pub.x},"y":${pub.y}}`),
          { dkLen: 32 },
        ),
      ),
    );
  }
  // Not Keccak, not another spacing.
  const spaced = `{"curve": "P-256k1", "x": ${gx}, "y": ${gy}}`;
  assert(expected !== toHex(shake256(enc.encode(spaced), { dkLen: 32 })));
  assert(expected !== keccak256Hex(json));
});

Deno.test("publicKeyOf rejects a scalar out of range", () => {
  for (const d of [0n, -1n, N, N + 1n]) {
    assertThrows(() => publicKeyOf(d), SignatureError, "out of range");
  }
});

Deno.test("sign then recover gives the signer; signatures are low-S", () => {
  for (const d of KEYS) {
    const addr = addressOf(publicKeyOf(d));
    for (const digest of DIGESTS) {
      const sig = sign(digest, d);
      assertEquals(sig.length, 65);
      assert(sig[64] === 0 || sig[64] === 1, `v = ${sig[64]}`);
      const s = bigOf(sig.subarray(32, 64));
      assert(s > 0n && s <= N / 2n, "high S");
      assert(!isHighS(sig));
      assertEquals(recover(digest, sig), publicKeyOf(d));
      assertEquals(recoverAddress(digest, sig), addr);
      assert(verifySignature(digest, sig, addr));
      // Deterministic (RFC 6979).
      assertEquals(sign(digest, d), sig);
    }
  }
});

Deno.test("a high-S variant (n - s, v ^ 1) recovers the same address", () => {
  for (const d of KEYS) {
    const addr = addressOf(publicKeyOf(d));
    for (const digest of DIGESTS) {
      const sig = sign(digest, d);
      const r = bigOf(sig.subarray(0, 32));
      const s = bigOf(sig.subarray(32, 64));
      const high = makeSig(r, N - s, sig[64] ^ 1);
      assert(isHighS(high));
      assertEquals(recoverAddress(digest, high), addr);
      assert(verifySignature(digest, high, addr));
      // Flipping s alone (keeping v) recovers someone else.
      const wrongV = makeSig(r, N - s, sig[64]);
      assert(!verifySignature(digest, wrongV, addr));
    }
  }
});

Deno.test("a tampered digest or signature recovers a different address", () => {
  const d = 424242n;
  const addr = addressOf(publicKeyOf(d));
  const digest = keccak256("original");
  const sig = sign(digest, d);
  const other = keccak256("tampered");
  const tampered = digest.slice();
  tampered[0] ^= 1;
  for (const dg of [other, tampered]) {
    const got = recoverAddress(dg, sig);
    assert(got !== addr);
    assert(!verifySignature(dg, sig, addr));
  }
  // Wrong signer.
  assert(!verifySignature(digest, sign(digest, d + 1n), addr));
  // A flipped bit in s.
  const bad = sig.slice();
  bad[40] ^= 0x10;
  assert(!verifySignature(digest, bad, addr));
  // Address comparison is exact (lowercase).
  assert(!verifySignature(digest, sig, addr.toUpperCase()));
});

Deno.test("malformed signatures throw SignatureError with a clear message", () => {
  const digest = keccak256("m");
  const good = sign(digest, 99n);
  const r = bigOf(good.subarray(0, 32));
  const s = bigOf(good.subarray(32, 64));
  const noPoint = rWithNoPoint();
  assert(noPoint < 100n);

  const cases: [string, Uint8Array, string][] = [
    ["64 bytes", good.subarray(0, 64), "expected 65 bytes, got 64"],
    ["66 bytes", new Uint8Array([...good, 0]), "expected 65 bytes, got 66"],
    ["empty", new Uint8Array(), "expected 65 bytes, got 0"],
    ["v = 4", makeSig(r, s, 4), "recovery id 4"],
    ["v = 27", makeSig(r, s, 27), "recovery id 27"],
    ["v = 255", makeSig(r, s, 255), "recovery id 255"],
    ["r = 0", makeSig(0n, s, 0), "r or s out of range"],
    ["s = 0", makeSig(r, 0n, 0), "r or s out of range"],
    ["r = n", makeSig(N, s, 0), "r or s out of range"],
    ["r = 2^256-1", makeSig(2n ** 256n - 1n, s, 0), "r or s out of range"],
    ["s = n", makeSig(r, N, 0), "r or s out of range"],
    ["s = n + 1", makeSig(r, N + 1n, 1), "r or s out of range"],
    ["s = 2^256-1", makeSig(r, 2n ** 256n - 1n, 1), "r or s out of range"],
    ["r with no point (v 0)", makeSig(noPoint, s, 0), "no curve point"],
    ["r with no point (v 1)", makeSig(noPoint, s, 1), "no curve point"],
    // v 2/3 mean x = r + n, which is >= p for this r.
    ["r + n >= p (v 2)", makeSig(P - N, s, 2), "no curve point"],
    ["r + n >= p (v 3)", makeSig(N - 1n, s, 3), "no curve point"],
  ];
  for (const [name, sig, msg] of cases) {
    let thrown: unknown;
    try {
      recover(digest, sig);
    } catch (e) {
      thrown = e;
    }
    assert(thrown instanceof SignatureError, `${name}: got ${thrown}`);
    assert(
      thrown.message.includes("invalid signature") &&
        thrown.message.includes(msg),
      `${name}: ${thrown.message}`,
    );
    assertThrows(() => recoverAddress(digest, sig), SignatureError);
    // verifySignature never throws.
    assertEquals(
      verifySignature(digest, sig, addressOf(publicKeyOf(99n))),
      false,
    );
  }
});

Deno.test("boundary r and s values just inside the range are not range errors", () => {
  const digest = keccak256("edge");
  for (const [r, s] of [[1n, 1n], [N - 1n, N - 1n], [1n, N - 1n]]) {
    for (const v of [0, 1]) {
      try {
        recover(digest, makeSig(r, s, v));
      } catch (e) {
        assert(e instanceof SignatureError, String(e));
        assert(!e.message.includes("out of range"), e.message);
      }
    }
  }
});

Deno.test("recovery ids 2 and 3 (x = r + n) work when that x is on the curve", () => {
  const digest = keccak256("v23");
  const isSquare = (x: bigint) =>
    modPow((x ** 3n + 7n) % P, (P - 1n) / 2n, P) === 1n;
  let r = 1n;
  while (!isSquare(r) || !isSquare(r + N)) r++;
  const keys = [0, 1, 2, 3].map((v) => recover(digest, makeSig(r, 12345n, v)));
  for (const pub of keys) {
    assertEquals((pub.y * pub.y) % P, (pub.x ** 3n + 7n) % P);
  }
  assertEquals(new Set(keys.map(addressOf)).size, 4);
});

Deno.test("verifySignature never throws, whatever the input", () => {
  const digest = keccak256("v");
  const inputs: Uint8Array[] = [
    new Uint8Array(),
    new Uint8Array(65),
    new Uint8Array(65).fill(0xff),
    new Uint8Array(1000),
    sign(digest, 5n),
  ];
  for (const sig of inputs) {
    for (const dg of [digest, new Uint8Array(), new Uint8Array(32)]) {
      for (const addr of ["", "x", addressOf(publicKeyOf(5n))]) {
        const ok = verifySignature(dg, sig, addr);
        assertEquals(typeof ok, "boolean");
      }
    }
  }
  assert(verifySignature(digest, sign(digest, 5n), addressOf(publicKeyOf(5n))));
});
