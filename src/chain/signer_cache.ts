/**
 * The public keys of signers this thread has seen, so a repeat signer's
 * signature is checked against its key instead of recovered (several times
 * cheaper). The one stateful part of signature handling; the primitives
 * are in `crypto.ts`.
 *
 * @module
 */
import * as secp from "@noble/secp256k1";
import { addressOf, CURVE_ORDER, type PublicKey, recover } from "./crypto.ts";
import { bytesToBigint } from "../util/bytes.ts";

const N = CURVE_ORDER;

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
const threadSigners = new SignerCache();

/**
 * The address that signed `digest`, or throws `SignatureError`.
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
  if (likely !== undefined && threadSigners.signedBy(digest, sig, likely)) {
    return likely;
  }
  const pub = recover(digest, sig);
  const address = addressOf(pub);
  if (address === likely) threadSigners.recovered(address, pub);
  return address;
}
