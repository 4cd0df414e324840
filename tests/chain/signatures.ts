/** Building signatures, valid or not, for the tests of signatures. */

/** The secp256k1 field prime. */
export const P = 2n ** 256n - 2n ** 32n - 977n;

/** A scalar as 32 big-endian bytes. */
export function bigTo32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** The scalar of big-endian bytes. */
export function bigOf(b: Uint8Array): bigint {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

/** An r || s || v signature of the given parts. */
export function makeSig(r: bigint, s: bigint, v: number): Uint8Array {
  const out = new Uint8Array(65);
  out.set(bigTo32(r), 0);
  out.set(bigTo32(s), 32);
  out[64] = v;
  return out;
}

/** b to the e, mod m. */
export function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

/** An x in 1.. with x^3 + 7 not a square mod p: no curve point. */
export function rWithNoPoint(): bigint {
  for (let x = 1n;; x++) {
    const rhs = (x * x * x + 7n) % P;
    if (modPow(rhs, (P - 1n) / 2n, P) === P - 1n) return x;
  }
}
