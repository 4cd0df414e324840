/**
 * Hashes, addresses and signatures (FORMAT.md section 2). The only module
 * that imports the noble libraries.
 *
 * @module
 */
import * as secp from "@noble/secp256k1";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256, shake256 } from "@noble/hashes/sha3.js";
import { toHex } from "./json.ts";
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

/**
 * The address that signed `digest`, or throws {@link SignatureError}.
 *
 * `likely` names the signer the caller expects (a transaction's `from`, the
 * authority that signed the last block). When this thread has seen that
 * signer before, its signature is checked against the known public key
 * ({@link SignerCache}) instead of recovered, several times cheaper; the
 * answer is the same either way, since a check that does not pass falls
 * back to recovery.
 */
export function recoverAddress(
  digest: Uint8Array,
  sig: Uint8Array,
  likely?: string,
): string {
  if (likely !== undefined && signerCache.signedBy(digest, sig, likely)) {
    return likely;
  }
  const pub = recover(digest, sig);
  const address = addressOf(pub);
  if (address === likely) signerCache.recovered(address, pub);
  return address;
}

/**
 * Multiples of one public key Q: `d * 16^j * Q` for digits d of 1 to 8 and
 * windows j of 0 to 64, so `k * Q` for any 256-bit k is one addition per
 * signed base-16 digit of k (64 at most) with no doublings, instead of the
 * 256 doublings and about 128 additions of a plain multiplication.
 */
type KeyTable = secp.Point[];

const TABLE_WINDOWS = 65;

function keyTable(pub: PublicKey): KeyTable {
  const table: secp.Point[] = [];
  let base = secp.Point.fromAffine(pub);
  for (let j = 0; j < TABLE_WINDOWS; j++) {
    let p = base;
    table.push(p);
    const two = base.double();
    p = two;
    table.push(p);
    for (let d = 3; d <= 8; d++) {
      p = p.add(base);
      table.push(p);
    }
    base = p.double(); // 16 * base
  }
  return table;
}

// k * Q from Q's table: k in signed base-16 digits of -7 to 8.
function tableMultiply(table: KeyTable, k: bigint): secp.Point {
  let acc = secp.Point.ZERO;
  for (let j = 0; k > 0n; j++) {
    let d = Number(k & 15n);
    k >>= 4n;
    if (d > 8) {
      d -= 16;
      k += 1n;
    }
    if (d > 0) acc = acc.add(table[j * 8 + d - 1]);
    else if (d < 0) acc = acc.add(table[j * 8 - d - 1].negate());
  }
  return acc;
}

interface KnownSigner {
  readonly pub: PublicKey;
  table?: KeyTable;
  /** The cache's clock when this signer last signed (recovered or checked). */
  lastUse: number;
}

/**
 * The public keys of signers this thread has recovered, and for the busy
 * ones a table of multiples that checks their next signature about four
 * times faster than recovering it (`deno task bench`). Both are bounded: a
 * table is about 100 KB.
 *
 * The cache counts signatures (recovered or checked) as its clock. A
 * signer gets a table when it is recovered again within `4 * maxTables`
 * signatures of its last one, and there is room: a free table, or one not
 * used for that long. So a signer seen once costs no table, a crowd of
 * senders larger than the bound keeps the tables it has and recovers the
 * rest, as without the cache, and no table is built only to be evicted
 * before its use. Keys go least recently used first.
 *
 * A check passes exactly when recovery would give the same key: with
 * u1 = h/s and u2 = r/s, recovery's `Q = (sR - hG)/r` equals the known key
 * if and only if `u1 G + u2 Q` is R itself, the point whose x is r and
 * whose y has the parity of the recovery id. So a signature that passes
 * recovers the key, and any other (malformed, another signer's, recovery
 * id 2 or 3) is left to recovery and its errors.
 */
export class SignerCache {
  readonly #known = new Map<string, KnownSigner>();
  readonly #tabled = new Set<KnownSigner>();
  #clock = 0;

  /**
   * Creates a cache of at most `maxKeys` public keys, `maxTables` of them
   * with tables.
   */
  constructor(readonly maxKeys = 4096, readonly maxTables = 32) {}

  /** How many keys, and how many tables, the cache holds. */
  get size(): { keys: number; tables: number } {
    return { keys: this.#known.size, tables: this.#tabled.size };
  }

  /** Records that a signature of `address` recovered `pub`. */
  recovered(address: string, pub: PublicKey): void {
    const now = ++this.#clock;
    const entry = this.#known.get(address);
    if (!entry) {
      if (this.#known.size >= this.maxKeys) {
        const [oldest, old] = this.#known.entries().next().value!;
        this.#tabled.delete(old);
        this.#known.delete(oldest);
      }
      this.#known.set(address, { pub, lastUse: now });
      return;
    }
    this.#known.delete(address);
    this.#known.set(address, entry); // most recently used last
    const busy = now - entry.lastUse <= this.#busyWithin;
    entry.lastUse = now;
    if (!entry.table && busy) this.#addTable(entry);
  }

  /**
   * Whether `sig` over `digest` recovers the key of `address`; false also
   * when the key has no table here or the check cannot say.
   */
  signedBy(digest: Uint8Array, sig: Uint8Array, address: string): boolean {
    const entry = this.#known.get(address);
    if (!entry?.table || sig.length !== 65 || digest.length !== 32) {
      return false;
    }
    const v = sig[64];
    if (v > 1) return false;
    const r = bytesToBigint(sig.subarray(0, 32));
    const s = bytesToBigint(sig.subarray(32, 64));
    if (r === 0n || r >= N || s === 0n || s >= N) return false;
    this.#known.delete(address);
    this.#known.set(address, entry);
    entry.lastUse = ++this.#clock;
    const si = secp.etc.invert(s, N);
    const u1 = (bytesToBigint(digest) % N) * si % N;
    const u2 = r * si % N;
    const point = secp.Point.BASE.multiply(u1, false).add(
      tableMultiply(entry.table, u2),
    );
    if (point.is0()) return false;
    const { x, y } = point.toAffine();
    return x === r && Number(y & 1n) === v;
  }

  get #busyWithin(): number {
    return 4 * this.maxTables;
  }

  #addTable(entry: KnownSigner): void {
    if (this.#tabled.size >= this.maxTables) {
      let coldest: KnownSigner | undefined;
      for (const other of this.#tabled) {
        if (!coldest || other.lastUse < coldest.lastUse) coldest = other;
      }
      if (!coldest || this.#clock - coldest.lastUse <= this.#busyWithin) {
        return;
      }
      coldest.table = undefined;
      this.#tabled.delete(coldest);
    }
    entry.table = keyTable(entry.pub);
    this.#tabled.add(entry);
  }
}

// One per thread: each verification worker learns its own signers.
const signerCache = new SignerCache();

/** Whether `sig` over `digest` recovers `address`; never throws. */
export function verifySignature(
  digest: Uint8Array,
  sig: Uint8Array,
  address: string,
): boolean {
  try {
    return recoverAddress(digest, sig) === address;
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

function bytesToBigint(b: Uint8Array): bigint {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

function bigintTo32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}
