// The explorer's pure code: no DOM, no network. The page (app.js) and the
// unit tests (tests/explorer/) import it, so every rule here is checked
// against bcn's own chain code.

/** The largest u64, for block numbers typed into the search box. */
const U64_MAX = (1n << 64n) - 1n;

/** Marks the [start, end) text span of each element of a parsed array. */
export const SPANS = Symbol("spans");

/** How deep parsed JSON may nest: the chain's values nest three levels. */
const MAX_DEPTH = 32;

/**
 * Parses JSON text, keeping every number as its decimal text (u64 values
 * pass 2^53) and, under SPANS, each array element's span in `text` (a
 * block's transactions are hashed from their exact bytes). Throws an Error
 * saying where the text is wrong.
 *
 * @param {string} text
 * @returns {unknown}
 */
export function parseJson(text) {
  let i = 0;
  const fail = (what) => {
    throw new Error(`bad JSON at offset ${i}: ${what}`);
  };
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const value = (depth) => {
    if (depth > MAX_DEPTH) fail("nested too deep");
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const obj = Object.create(null);
      ws();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a key");
        const key = string();
        ws();
        if (text[i++] !== ":") fail("expected ':'");
        obj[key] = value(depth + 1);
        ws();
        const d = text[i++];
        if (d === "}") return obj;
        if (d !== ",") fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const arr = [];
      const spans = [];
      arr[SPANS] = spans;
      ws();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        ws();
        const start = i;
        arr.push(value(depth + 1));
        spans.push([start, i]);
        ws();
        const d = text[i++];
        if (d === "]") return arr;
        if (d !== ",") fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(
      text.slice(i, i + 400),
    );
    if (m) {
      i += m[0].length;
      return m[0];
    }
    for (
      const [word, v] of [["true", true], ["false", false], ["null", null]]
    ) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    return fail("expected a value");
  };
  const string = () => {
    i++;
    let out = "";
    let start = i;
    for (;;) {
      if (i >= text.length) fail("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) fail("control character in a string");
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(start, i);
      const e = text[i + 1];
      const simple = {
        '"': '"',
        "\\": "\\",
        "/": "/",
        b: "\b",
        f: "\f",
        n: "\n",
        r: "\r",
        t: "\t",
      }[e];
      if (simple !== undefined) {
        out += simple;
        i += 2;
      } else if (
        e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))
      ) {
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else {
        fail("bad escape");
      }
      start = i;
    }
    out += text.slice(start, i);
    i++;
    return out;
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail("text after the value");
  return v;
}

// Keccak-f[1600] on 25 lanes held as (lo, hi) 32-bit pairs: Keccak-256 for
// hashes, SHAKE256 for addresses. Browsers' WebCrypto has neither.
const RC = [
  [0x00000001, 0x00000000],
  [0x00008082, 0x00000000],
  [0x0000808a, 0x80000000],
  [0x80008000, 0x80000000],
  [0x0000808b, 0x00000000],
  [0x80000001, 0x00000000],
  [0x80008081, 0x80000000],
  [0x00008009, 0x80000000],
  [0x0000008a, 0x00000000],
  [0x00000088, 0x00000000],
  [0x80008009, 0x00000000],
  [0x8000000a, 0x00000000],
  [0x8000808b, 0x00000000],
  [0x0000008b, 0x80000000],
  [0x00008089, 0x80000000],
  [0x00008003, 0x80000000],
  [0x00008002, 0x80000000],
  [0x00000080, 0x80000000],
  [0x0000800a, 0x00000000],
  [0x8000000a, 0x80000000],
  [0x80008081, 0x80000000],
  [0x00008080, 0x80000000],
  [0x80000001, 0x00000000],
  [0x80008008, 0x80000000],
];
const ROTC = [
  1,
  3,
  6,
  10,
  15,
  21,
  28,
  36,
  45,
  55,
  2,
  14,
  27,
  41,
  56,
  8,
  25,
  43,
  62,
  18,
  39,
  61,
  20,
  44,
];
const PILN = [
  10,
  7,
  11,
  17,
  18,
  3,
  5,
  16,
  8,
  21,
  24,
  4,
  15,
  23,
  19,
  13,
  12,
  2,
  20,
  14,
  22,
  9,
  6,
  1,
];

/** Lane (lo, hi) rotated left by n (1 to 63), as [lo, hi]. */
function rotl(lo, hi, n) {
  if (n === 32) return [hi, lo];
  if (n > 32) {
    [lo, hi] = [hi, lo];
    n -= 32;
  }
  return [(lo << n) | (hi >>> (32 - n)), (hi << n) | (lo >>> (32 - n))];
}

function keccakF(s) {
  const c = new Int32Array(10);
  for (let round = 0; round < 24; round++) {
    for (let x = 0; x < 5; x++) {
      c[2 * x] = s[2 * x] ^ s[2 * x + 10] ^ s[2 * x + 20] ^ s[2 * x + 30] ^
        s[2 * x + 40];
      c[2 * x + 1] = s[2 * x + 1] ^ s[2 * x + 11] ^ s[2 * x + 21] ^
        s[2 * x + 31] ^ s[2 * x + 41];
    }
    for (let x = 0; x < 5; x++) {
      const p = (x + 4) % 5;
      const q = (x + 1) % 5;
      const [rl, rh] = rotl(c[2 * q], c[2 * q + 1], 1);
      const tl = c[2 * p] ^ rl;
      const th = c[2 * p + 1] ^ rh;
      for (let y = 0; y < 25; y += 5) {
        s[2 * (y + x)] ^= tl;
        s[2 * (y + x) + 1] ^= th;
      }
    }
    let tl = s[2];
    let th = s[3];
    for (let t = 0; t < 24; t++) {
      const j = PILN[t];
      const bl = s[2 * j];
      const bh = s[2 * j + 1];
      [s[2 * j], s[2 * j + 1]] = rotl(tl, th, ROTC[t]);
      tl = bl;
      th = bh;
    }
    for (let y = 0; y < 25; y += 5) {
      for (let x = 0; x < 10; x++) c[x] = s[2 * y + x];
      for (let x = 0; x < 5; x++) {
        const a = 2 * ((x + 1) % 5);
        const b = 2 * ((x + 2) % 5);
        s[2 * (y + x)] ^= ~c[a] & c[b];
        s[2 * (y + x) + 1] ^= ~c[a + 1] & c[b + 1];
      }
    }
    s[0] ^= RC[round][0];
    s[1] ^= RC[round][1];
  }
}

/** 32 bytes of the Keccak sponge (rate 136) over `data`, with `pad`. */
function sponge32(data, pad) {
  const s = new Int32Array(50);
  const rate = 136;
  const block = new Uint8Array(rate);
  const absorb = () => {
    for (let k = 0; k < rate; k++) {
      s[k >> 2] ^= block[k] << (8 * (k & 3));
    }
    keccakF(s);
  };
  let off = 0;
  for (; off + rate <= data.length; off += rate) {
    block.set(data.subarray(off, off + rate));
    absorb();
  }
  block.fill(0);
  block.set(data.subarray(off));
  block[data.length - off] ^= pad;
  block[rate - 1] ^= 0x80;
  absorb();
  const out = new Uint8Array(32);
  for (let k = 0; k < 32; k++) out[k] = (s[k >> 2] >>> (8 * (k & 3))) & 0xff;
  return out;
}

const utf8 = new TextEncoder();

/** Bytes as lowercase hex. */
export function toHex(bytes) {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Keccak-256 (Ethereum's padding) of bytes or a string's UTF-8, as hex. */
export function keccak256Hex(data) {
  return toHex(
    sponge32(typeof data === "string" ? utf8.encode(data) : data, 0x01),
  );
}

/** SHAKE256 of bytes or a string's UTF-8, 32 bytes out, as hex. */
export function shake256Hex(data) {
  return toHex(
    sponge32(typeof data === "string" ? utf8.encode(data) : data, 0x1f),
  );
}

/** Standard padded base64 to bytes; throws on bad input. */
export function fromBase64(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let k = 0; k < bin.length; k++) out[k] = bin.charCodeAt(k);
  return out;
}

/** 64 lowercase hex characters. */
export const HASH_RE = /^[0-9a-f]{64}$/;
const ZERO_HASH = "0".repeat(64);

function merklePair(l, r) {
  return r === ZERO_HASH ? l : keccak256Hex(`"${l}${r}"`);
}

/**
 * Reads a Merkle proof (JSON text: `[{"hash": HEX, "pos": 1|2}, ...]`);
 * throws an Error naming the entry that is wrong.
 */
export function decodeMerkleProof(text) {
  const v = parseJson(text);
  if (!Array.isArray(v)) throw new Error("proof: expected an array");
  return v.map((e, k) => {
    if (e === null || typeof e !== "object" || Array.isArray(e)) {
      throw new Error(`proof[${k}]: expected an object`);
    }
    if (typeof e.hash !== "string" || !HASH_RE.test(e.hash)) {
      throw new Error(`proof[${k}].hash: expected 64 lowercase hex characters`);
    }
    if (e.pos !== "1" && e.pos !== "2") {
      throw new Error(`proof[${k}].pos: expected 1 (left) or 2 (right)`);
    }
    return { hash: e.hash, pos: Number(e.pos) };
  });
}

/**
 * Whether `proof` links transaction hash `tx` to `root`: the rules of
 * `bcn tx verify` (the node's TxVerify).
 */
export function merkleVerify(tx, proof, root) {
  if (proof.length === 0 || !proof.some((s) => s.hash === tx)) return false;
  let h = proof[0].hash;
  for (const s of proof.slice(1)) {
    h = s.pos === 1 ? merklePair(s.hash, h) : merklePair(h, s.hash);
  }
  return h === root;
}

// secp256k1 public key recovery, in Jacobian coordinates over BigInt: the
// block page names the address that signed a block.
const P = 2n ** 256n - 2n ** 32n - 977n;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const G = [
  0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n,
  0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n,
  1n,
];

const mod = (a, m = P) => ((a % m) + m) % m;

function powMod(b, e, m) {
  let r = 1n;
  b = mod(b, m);
  for (; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
  }
  return r;
}

const inv = (a, m) => powMod(a, m - 2n, m);

function dbl(p) {
  if (p === null) return null;
  const [x, y, z] = p;
  if (y === 0n) return null;
  const a = mod(x * x);
  const b = mod(y * y);
  const c = mod(b * b);
  const d = mod(2n * (mod((x + b) * (x + b)) - a - c));
  const e = mod(3n * a);
  const x3 = mod(e * e - 2n * d);
  return [x3, mod(e * (d - x3) - 8n * c), mod(2n * y * z)];
}

function add(p, q) {
  if (p === null) return q;
  if (q === null) return p;
  const [x1, y1, z1] = p;
  const [x2, y2, z2] = q;
  const z1s = mod(z1 * z1);
  const z2s = mod(z2 * z2);
  const u1 = mod(x1 * z2s);
  const u2 = mod(x2 * z1s);
  const s1 = mod(y1 * z2s * z2);
  const s2 = mod(y2 * z1s * z1);
  if (u1 === u2) return s1 === s2 ? dbl(p) : null;
  const h = mod(u2 - u1);
  const r = mod(s2 - s1);
  const h2 = mod(h * h);
  const h3 = mod(h2 * h);
  const x3 = mod(r * r - h3 - 2n * u1 * h2);
  return [x3, mod(r * (u1 * h2 - x3) - s1 * h3), mod(h * z1 * z2)];
}

function mul(p, k) {
  let r = null;
  for (let bit = BigInt(k.toString(2).length - 1); bit >= 0n; bit--) {
    r = dbl(r);
    if ((k >> bit) & 1n) r = add(r, p);
  }
  return r;
}

const bigOf = (bytes) => bytes.length === 0 ? 0n : BigInt("0x" + toHex(bytes));

/**
 * The bcn address that made the 65-byte r || s || v signature `sig` over
 * the 32-byte `digest`: SHAKE256 of `{"curve":"P-256k1","x":X,"y":Y}`.
 * Throws an Error when the signature is malformed.
 */
export function recoverAddress(digest, sig) {
  if (sig.length !== 65) {
    throw new Error(`signature of ${sig.length} bytes, expected 65`);
  }
  const v = sig[64];
  const r = bigOf(sig.subarray(0, 32));
  const s = bigOf(sig.subarray(32, 64));
  if (v > 3 || r === 0n || r >= N || s === 0n || s >= N) {
    throw new Error("malformed signature");
  }
  const x = v & 2 ? r + N : r;
  if (x >= P) throw new Error("malformed signature");
  const y2 = mod(x * x * x + 7n);
  let y = powMod(y2, (P + 1n) / 4n, P);
  if (mod(y * y) !== y2) throw new Error("no curve point for r");
  if ((y & 1n) !== BigInt(v & 1)) y = P - y;
  const z = mod(bigOf(digest), N);
  const ri = inv(r, N);
  const q = add(mul(G, mod(-z * ri, N)), mul([x, y, 1n], mod(s * ri, N)));
  if (q === null) throw new Error("signature recovers no key");
  const zi = inv(q[2], P);
  const zi2 = mod(zi * zi);
  const qx = mod(q[0] * zi2);
  const qy = mod(q[1] * zi2 * zi);
  return shake256Hex(`{"curve":"P-256k1","x":${qx},"y":${qy}}`);
}

/**
 * What the explorer reads of a block line (a SigBlock's canonical JSON):
 * its fields, its hash, the hash of each transaction and the digest its
 * signature covers. Throws an Error when the text is no block.
 */
export function readBlock(text) {
  const v = parseJson(text);
  if (v === null || typeof v !== "object" || !Array.isArray(v.txs)) {
    throw new Error("not a block");
  }
  for (const k of ["number", "parent", "merkleRoot", "time", "sig"]) {
    if (typeof v[k] !== "string") throw new Error(`block.${k} missing`);
  }
  const spans = v.txs[SPANS];
  const txs = v.txs.map((tx, k) => ({
    ...readTxFields(tx),
    hash: keccak256Hex(text.slice(spans[k][0], spans[k][1])),
  }));
  const sigAt = text.lastIndexOf(',"sig":');
  return {
    number: v.number,
    parent: v.parent,
    merkleRoot: v.merkleRoot,
    time: v.time,
    sig: v.sig,
    txs,
    hash: keccak256Hex(text),
    digest: sponge32(utf8.encode(text.slice(0, sigAt) + "}"), 0x01),
  };
}

function readTxFields(tx) {
  if (tx === null || typeof tx !== "object") {
    throw new Error("not a transaction");
  }
  for (const k of ["from", "to", "value", "nonce", "time"]) {
    if (typeof tx[k] !== "string") throw new Error(`tx.${k} missing`);
  }
  return {
    from: tx.from,
    to: tx.to,
    value: tx.value,
    nonce: tx.nonce,
    time: tx.time,
  };
}

/**
 * What the explorer reads of a SearchTx (a confirmed transaction with its
 * block's number, hash and Merkle root): its fields and its hash, over the
 * SigTx part of the text.
 */
export function readSearchTx(text) {
  const v = parseJson(text);
  const tx = readTxFields(v);
  for (const k of ["blockNumber", "blockHash", "merkleRoot"]) {
    if (typeof v[k] !== "string") throw new Error(`tx.${k} missing`);
  }
  const cut = text.lastIndexOf(',"blockNumber":');
  return {
    ...tx,
    blockNumber: v.blockNumber,
    blockHash: v.blockHash,
    merkleRoot: v.merkleRoot,
    hash: keccak256Hex(text.slice(0, cut) + "}"),
  };
}

/**
 * What a search box entry asks for:
 * - `{ kind: "block", number }` for decimal digits (a block number);
 * - `{ kind: "hex", hex, full }` for 1 to 64 hex characters, optionally
 *   after `0x` (which also makes digits a hex prefix): a block or
 *   transaction hash, an address, or a prefix of one (`full` at 64);
 * - `{ kind: "error", message }` for anything else.
 *
 * @param {string} input
 */
export function parseSearch(input) {
  let q = input.trim();
  if (q === "") {
    return {
      kind: "error",
      message: "type a block number, a hash or an address",
    };
  }
  if (/^\d+$/.test(q)) {
    const n = q.length > 20 ? U64_MAX + 1n : BigInt(q);
    if (n === 0n) {
      return {
        kind: "error",
        message: "block 0 is the genesis: blocks start at 1",
      };
    }
    if (n > U64_MAX) {
      return {
        kind: "error",
        message: `block number ${q} is past the largest (${U64_MAX})`,
      };
    }
    return { kind: "block", number: n.toString() };
  }
  if (/^0x/i.test(q)) q = q.slice(2);
  if (/^[0-9a-fA-F]{1,64}$/.test(q)) {
    return { kind: "hex", hex: q.toLowerCase(), full: q.length === 64 };
  }
  return {
    kind: "error",
    message:
      "expected a block number, or a block hash, transaction hash or address (or a prefix of one, in hex)",
  };
}

/** The largest Connect message the page reads (the node's own bound). */
export const MAX_MESSAGE = 4 * 1024 * 1024;

/** A Connect envelope: flags, 4-byte big-endian length, the message. */
export function encodeEnvelope(flags, text) {
  const body = utf8.encode(text);
  const out = new Uint8Array(5 + body.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, body.length);
  out.set(body, 5);
  return out;
}

/**
 * Splits a Connect stream's bytes into messages as they arrive: push each
 * chunk, then take the complete `{ flags, data }` messages; a message
 * larger than MAX_MESSAGE throws.
 */
export class EnvelopeReader {
  #buf = new Uint8Array(0);

  /** Adds a chunk of the stream; returns the messages now complete. */
  push(chunk) {
    const joined = new Uint8Array(this.#buf.length + chunk.length);
    joined.set(this.#buf);
    joined.set(chunk, this.#buf.length);
    const out = [];
    let at = 0;
    while (joined.length - at >= 5) {
      const len = new DataView(joined.buffer, at + 1, 4).getUint32(0);
      if (len > MAX_MESSAGE) {
        throw new Error(`stream message of ${len} bytes is too large`);
      }
      if (joined.length - at - 5 < len) break;
      out.push({ flags: joined[at], data: joined.slice(at + 5, at + 5 + len) });
      at += 5 + len;
    }
    this.#buf = joined.slice(at);
    return out;
  }

  /** Bytes held toward an incomplete message. */
  get pending() {
    return this.#buf.length;
  }
}

/** The error of a Connect answer (unary body or end-of-stream), if any. */
export function connectError(text) {
  try {
    const v = parseJson(text);
    const e = v && typeof v === "object" && "error" in v ? v.error : v;
    if (e && typeof e === "object" && typeof e.code === "string") {
      return `${e.code}: ${typeof e.message === "string" ? e.message : ""}`;
    }
  } catch {
    // Not JSON: no error to read.
  }
  return undefined;
}

/** The most characters of a name that is no address the page shows. */
export const NAME_MAX = 80;

/**
 * A receiver that is no address, as the page shows it: quoted, each
 * character outside printable ASCII escaped as `\u{...}` (and `"`, `\`
 * as in JSON), and cut after `max` characters with its length said.
 * A receiver can be any string: this way bidi controls, invisible and
 * look-alike characters cannot make it pass for an address, and a long
 * one cannot fill the page.
 *
 * @param {string} name
 * @param {number} [max]
 */
export function quoteName(name, max = NAME_MAX) {
  let out = "";
  let n = 0;
  for (const ch of name) {
    if (n++ >= max) {
      return `"${out}"… (${name.length} characters)`;
    }
    const c = ch.codePointAt(0);
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else out += `\\u{${c.toString(16)}}`;
  }
  return `"${out}"`;
}

/**
 * Whether transaction `tx` (its parsed JSON) was sent by or to exactly
 * `account`: the node's account search matches prefixes, and a receiver
 * that merely starts with an address must not show on that address's page.
 *
 * @param {unknown} tx
 * @param {string} account
 */
export function involves(tx, account) {
  return tx !== null && typeof tx === "object" &&
    (tx.from === account || tx.to === account);
}

/**
 * The nonce of `account` read off the last page of its transactions
 * (oldest first): the nonce of the last one it sent there, else "0" when
 * that page is the only one, else undefined (it sent its last one on an
 * earlier page). A sender's nonces go up by one from 1.
 *
 * @param {{ from: string, nonce: string }[]} txs
 * @param {string} account
 * @param {boolean} onlyPage
 */
export function nonceOnLastPage(txs, account, onlyPage) {
  for (let i = txs.length - 1; i >= 0; i--) {
    if (txs[i].from === account) return txs[i].nonce;
  }
  return onlyPage ? "0" : undefined;
}

/** A short form of a 64-hex value: its first 10 and last 4 characters. */
export function short(hex) {
  return hex.length > 16 ? `${hex.slice(0, 10)}…${hex.slice(-4)}` : hex;
}

/** `time` (RFC 3339) relative to `now` (ms), e.g. `12s ago`. */
export function ago(time, now) {
  const ms = Date.parse(time.replace(/(\.\d{3})\d+/, "$1"));
  if (Number.isNaN(ms)) return time;
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
