/**
 * The signer cache: a repeat signer's signature checked against its known
 * key gives exactly what recovery gives, and the cache stays bounded.
 */
import { assert, assertEquals } from "../assert.ts";
import {
  addressOf,
  CURVE_ORDER,
  keccak256,
  publicKeyOf,
  sign,
  SignatureError,
} from "../../src/chain/crypto.ts";
import { recoverAddress, SignerCache } from "../../src/chain/signer_cache.ts";
import { bigOf, makeSig, rWithNoPoint } from "./signatures.ts";

const N = CURVE_ORDER;

/** Whether recovery (no cache) gives `address`; false when it throws. */
function recoversTo(digest: Uint8Array, sig: Uint8Array, address: string) {
  try {
    return recoverAddress(digest, sig) === address;
  } catch {
    return false;
  }
}

/** The signature with s replaced by n - s and v by `v`. */
function withS(sig: Uint8Array, s: bigint, v: number): Uint8Array {
  return makeSig(bigOf(sig.subarray(0, 32)), s, v);
}

Deno.test("a signer recovered twice is checked against its key, with recovery's answer for every variant", () => {
  const d = 0xc0ffeen;
  const pub = publicKeyOf(d);
  const addr = addressOf(pub);
  const other = addressOf(publicKeyOf(7n));
  const cache = new SignerCache();
  const digests = Array.from({ length: 24 }, (_, i) => keccak256(`tx ${i}`));
  const sigs = digests.map((dg) => sign(dg, d));
  // Unknown, then known once: no table, so no check.
  assert(!cache.signedBy(digests[0], sigs[0], addr));
  cache.recovered(addr, pub);
  assertEquals(cache.size, { keys: 1, tables: 0 });
  assert(!cache.signedBy(digests[0], sigs[0], addr));
  cache.recovered(addr, pub);
  assertEquals(cache.size, { keys: 1, tables: 1 });
  let passed = 0;
  for (let i = 0; i < digests.length; i++) {
    const dg = digests[i];
    const sig = sigs[i];
    const s = bigOf(sig.subarray(32, 64));
    const v = sig[64];
    assert(cache.signedBy(dg, sig, addr), `signature ${i}`);
    // High S with the other recovery id recovers the same key.
    assert(cache.signedBy(dg, withS(sig, N - s, v ^ 1), addr), `high S ${i}`);
    passed += 2;
    const variants: Uint8Array[] = [
      withS(sig, s, v ^ 1), // the other y: another key
      withS(sig, N - s, v), // high S, same id: another key
      withS(sig, s, v + 2), // x = r + n
      withS(sig, s + 1n, v),
      withS(sig, 0n, v),
      withS(sig, N, v),
      makeSig(0n, s, v),
      sig.subarray(0, 64),
      sign(dg, 7n),
    ];
    for (const [j, bad] of variants.entries()) {
      assertEquals(
        cache.signedBy(dg, bad, addr),
        recoversTo(dg, bad, addr),
        `signature ${i}, variant ${j}`,
      );
    }
    // Another digest, another claimed signer, a digest that is not 32 bytes.
    assert(!cache.signedBy(digests[(i + 1) % digests.length], sig, addr));
    assert(!cache.signedBy(dg, sig, other));
    assert(!cache.signedBy(dg.subarray(0, 31), sig, addr));
  }
  assertEquals(passed, 48);
});

Deno.test("recoverAddress with a likely signer gives what it gives without, errors included", () => {
  const d = 0xfeedn;
  const addr = addressOf(publicKeyOf(d));
  const noPoint = rWithNoPoint();
  for (let i = 0; i < 8; i++) {
    const dg = keccak256(`likely ${i}`);
    const sig = sign(dg, d);
    const s = bigOf(sig.subarray(32, 64));
    const cases = [
      sig,
      withS(sig, N - s, sig[64] ^ 1),
      withS(sig, s, sig[64] ^ 1),
      makeSig(noPoint, s, 0),
      withS(sig, N, 0),
      withS(sig, s, 9),
      sig.subarray(0, 64),
    ];
    for (const [j, c] of cases.entries()) {
      const outcome = (likely?: string) => {
        try {
          return recoverAddress(dg, c, likely);
        } catch (e) {
          assert(e instanceof SignatureError, String(e));
          return `error: ${e.message}`;
        }
      };
      assertEquals(outcome(addr), outcome(), `round ${i}, case ${j}`);
    }
  }
});

Deno.test("the signer cache is bounded; a busy table is kept, a cold one given to a busy newcomer", () => {
  const keys = [11n, 12n, 13n, 14n].map((d) => {
    const pub = publicKeyOf(d);
    const dg = keccak256(`k ${d}`);
    return { pub, addr: addressOf(pub), dg, sig: sign(dg, d) };
  });
  const [a, b, c, e] = keys;
  // Two tables: busy means signing again within 8 signatures.
  const cache = new SignerCache(3, 2);
  const twice = (k: typeof a) => {
    cache.recovered(k.addr, k.pub);
    cache.recovered(k.addr, k.pub);
  };
  twice(a);
  twice(b);
  assertEquals(cache.size, { keys: 2, tables: 2 });
  // Both tables were just used: the newcomer is recovered, without one.
  twice(c);
  assertEquals(cache.size, { keys: 3, tables: 2 });
  assert(!cache.signedBy(c.dg, c.sig, c.addr));
  // Once a's table has gone unused for more than 8 signatures, busy c
  // takes it.
  for (let i = 0; i < 6; i++) assert(cache.signedBy(b.dg, b.sig, b.addr));
  cache.recovered(c.addr, c.pub);
  assert(cache.signedBy(c.dg, c.sig, c.addr));
  assert(!cache.signedBy(a.dg, a.sig, a.addr));
  assertEquals(cache.size, { keys: 3, tables: 2 });
  // A fourth key pushes out the least recently used (a).
  cache.recovered(e.addr, e.pub);
  assertEquals(cache.size.keys, 3);
  assert(cache.signedBy(b.dg, b.sig, b.addr));
  assert(cache.signedBy(c.dg, c.sig, c.addr));
});

Deno.test("a crowd of signers taking turns builds no table that could not be used", () => {
  // 20 signers in turn, each back after 19 others: never busy (within 8).
  const crowd = Array.from({ length: 20 }, (_, i) => {
    const pub = publicKeyOf(BigInt(100 + i));
    return { pub, addr: addressOf(pub) };
  });
  const cache = new SignerCache(100, 2);
  for (let round = 0; round < 3; round++) {
    for (const k of crowd) cache.recovered(k.addr, k.pub);
  }
  assertEquals(cache.size, { keys: 20, tables: 0 });
  // One of them signing twice in a row is busy, and gets one.
  cache.recovered(crowd[5].addr, crowd[5].pub);
  assertEquals(cache.size.tables, 0);
  cache.recovered(crowd[5].addr, crowd[5].pub);
  assertEquals(cache.size.tables, 1);
});
