/**
 * Hashes, addresses and signatures (`docs/FORMAT.md`, section 2): pure
 * functions, and the only module that imports the noble libraries (the
 * stateful signer cache is `signer_cache.ts`).
 *
 * @module
 */
import * as secp from "@noble/secp256k1";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256, shake256 } from "@noble/hashes/sha3.js";
import { toHex } from "./json.ts";
import { bytesToBigint } from "../util/bytes.ts";
import { encodeUtf8 } from "../util/utf8.ts";

// noble's synchronous signing needs these hashes wired in once.
secp.hashes.sha256 = sha256;
secp.hashes.hmacSha256 = (key: Uint8Array, msg: Uint8Array) =>
  hmac(sha256, key, msg);

const N = secp.Point.CURVE().n;
const HALF_N = N >> 1n;

/** A failure to recover a signer from a malformed signature. */
export class SignatureError extends Error {
  /** Creates a signature error with a one-line reason. */
  constructor(message: string) {
    super(message);
    this.name = "SignatureError";
  }
}

/** Keccak-256 (Ethereum's padding) of bytes or of a string's UTF-8. */
export function keccak256(data: Uint8Array | string): Uint8Array {
  return keccak_256(typeof data === "string" ? encodeUtf8(data) : data);
}

/** Keccak-256 as 64 lowercase hex characters. */
export function keccak256Hex(data: Uint8Array | string): string {
  return toHex(keccak256(data));
}

/** A secp256k1 public key as affine coordinates. */
export interface PublicKey {
  /** The x coordinate. */
  readonly x: bigint;
  /** The y coordinate. */
  readonly y: bigint;
}

/**
 * The address of a public key: hex of SHAKE256 (32 bytes) of
 * `{"curve":"P-256k1","x":X,"y":Y}` with decimal coordinates.
 */
export function addressOf(pub: PublicKey): string {
  const json = `{"curve":"P-256k1","x":${pub.x},"y":${pub.y}}`;
  return toHex(shake256(encodeUtf8(json), { dkLen: 32 }));
}

/** A fresh random private scalar. */
export function randomPrivateKey(): bigint {
  return bytesToBigint(secp.utils.randomSecretKey());
}

/** The public key of a private scalar; throws when it is out of range. */
export function publicKeyOf(d: bigint): PublicKey {
  if (d <= 0n || d >= N) throw new SignatureError("private key out of range");
  const p = secp.Point.BASE.multiply(d).toAffine();
  return { x: p.x, y: p.y };
}

/**
 * Signs a 32-byte digest as it is (no further hashing), low S, as
 * r (32) || s (32) || v (1).
 */
export function sign(digest: Uint8Array, d: bigint): Uint8Array {
  const rec = secp.sign(digest, bigintTo32(d), {
    prehash: false,
    lowS: true,
    format: "recovered",
  });
  const out = new Uint8Array(65);
  out.set(rec.subarray(1), 0);
  out[64] = rec[0];
  return out;
}

/**
 * Recovers the public key from a digest and an r || s || v signature.
 * High S is accepted, as the reference does. A malformed signature throws a
 * {@link SignatureError} saying what is wrong.
 */
export function recover(digest: Uint8Array, sig: Uint8Array): PublicKey {
  if (sig.length !== 65) {
    throw new SignatureError(
      `invalid signature: expected 65 bytes, got ${sig.length}`,
    );
  }
  const v = sig[64];
  if (v > 3) throw new SignatureError(`invalid signature: recovery id ${v}`);
  const r = bytesToBigint(sig.subarray(0, 32));
  const s = bytesToBigint(sig.subarray(32, 64));
  if (r === 0n || r >= N || s === 0n || s >= N) {
    throw new SignatureError("invalid signature: r or s out of range");
  }
  const rec = new Uint8Array(65);
  rec[0] = v;
  rec.set(sig.subarray(0, 64), 1);
  try {
    // Uncompressed (04 || x || y), checked on the curve by noble: reading
    // x and y from it saves decompressing a point (a square root mod p).
    const pub = secp.recoverPublicKey(rec, digest, {
      prehash: false,
      isCompressed: false,
    });
    return {
      x: bytesToBigint(pub.subarray(1, 33)),
      y: bytesToBigint(pub.subarray(33, 65)),
    };
  } catch {
    throw new SignatureError("invalid signature: no curve point for r");
  }
}

/** Whether `sig` over `digest` recovers `address`; never throws. */
export function verifySignature(
  digest: Uint8Array,
  sig: Uint8Array,
  address: string,
): boolean {
  try {
    return addressOf(recover(digest, sig)) === address;
  } catch {
    return false;
  }
}

/** Whether a signature's S is in the upper half of the curve order. */
export function isHighS(sig: Uint8Array): boolean {
  return sig.length === 65 && bytesToBigint(sig.subarray(32, 64)) > HALF_N;
}

/** The curve order n, for tests that build edge-case signatures. */
export const CURVE_ORDER: bigint = N;

function bigintTo32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}
